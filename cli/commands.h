// The subcommands of `modelfs` (SPEC §5). Each Add* function defines one
// subcommand on the app, binding its options to a struct of its own, and
// returns the Command that runs it once the whole command line has parsed:
// parse the arguments into registry terms, call index/, render the result.
// main.cc adds them in the order `modelfs --help` lists them.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "cli/root.h"

namespace modelfs::cli {

inline constexpr const char* kVersion = MODELFS_VERSION;  // CMake's project version

struct Command {
  CLI::App* sub;             // the subcommand, owned by the app
  std::function<int()> run;  // returns the exit status
};

// Options most commands share. ROOT: AddRoot (root.h), which makes it
// optional. Every --help ends with an example: Example(c, "show churn@production").
inline void AddJson(CLI::App* c, bool& json) { c->add_flag("--json", json, "Print JSON"); }

// Ends `c`'s --help with examples, one command line each (without the
// leading "modelfs "), under "Examples:".
void Example(CLI::App* c, std::initializer_list<const char*> lines);

// commands_read.cc
Command AddShow(CLI::App& app);
Command AddList(CLI::App& app);
Command AddLog(CLI::App& app);
Command AddCard(CLI::App& app);  // `card`: the model card the mount shows as MODEL/README.md

// commands_events.cc
Command AddEvents(CLI::App& app);  // `events`: the event log, --follow streams it

// commands_hooks.cc
Command AddHooks(CLI::App& app);  // `hooks run|status|test|retry`

// commands_write.cc
Command AddPush(CLI::App& app);
Command AddSet(CLI::App& app);
Command AddAlias(CLI::App& app);
Command AddApprove(CLI::App& app);
Command AddSeal(CLI::App& app);
Command AddArchive(CLI::App& app);

// commands_find.cc
Command AddFind(CLI::App& app);  // `find`: versions by an expression (index/expr.h)

// commands_get.cc
Command AddGet(CLI::App& app);  // `get`: a version's files into a directory, no mount

// commands_lifecycle.cc
Command AddCopy(CLI::App& app);       // `copy`: a version into another model or ROOT
Command AddUnarchive(CLI::App& app);  // `unarchive`: archived -> ready

// commands_admin.cc
Command AddInit(CLI::App& app);
Command AddStatus(CLI::App& app);
Command AddPrefetch(CLI::App& app);  // `prefetch`: versions' blobs into a multi-host cache
Command AddCache(CLI::App& app);     // `cache`: the multi-host blob cache's state, --trim
Command AddGc(CLI::App& app);
Command AddFsck(CLI::App& app);
Command AddMount(CLI::App& app);
Command AddPolicyCheck(CLI::App& app);  // `policy check`, under a `policy` group

// commands_insight.cc
Command AddCompare(CLI::App& app);  // `compare`: versions side by side
Command AddDiff(CLI::App& app);     // `diff`: files and metadata changed between two versions
Command AddLineage(CLI::App& app);  // `lineage`: parents and children, as a tree, JSON, dot, SVG

// commands_why.cc
Command AddWhy(CLI::App& app);  // why the mount refused the caller (user.registry.why)

// mount_helper.cc: mount(8)'s helper, this binary run as mount.modelfs
bool InvokedAsMountHelper(const char* argv0);
int MountHelperMain(int argc, char** argv);

// commands_shell.cc
Command AddVersion(CLI::App& app);     // `version`, as --version
Command AddCompletion(CLI::App& app);  // `completion bash|zsh|fish`: the script to source
// `modelfs __complete CWORD WORDS...` (hidden, called by the scripts): the
// candidates for WORDS[CWORD], one per line, or :files / :dirs.
int Complete(CLI::App& app, const std::vector<std::string>& args);

}  // namespace modelfs::cli
