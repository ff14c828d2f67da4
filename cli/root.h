// Which registry a command works on. ROOT may be given as the first
// argument (as SPEC §5 writes it), with -R/--root, by $MODELFS_ROOT, or by
// `root = "..."` in $XDG_CONFIG_HOME/modelfs/config.toml (~/.config when
// unset), then /etc/modelfs/config.toml: the first of these wins. A
// mountpoint of a running modelfs mount stands for the ROOT it serves.
//
// The first argument is ROOT only when it cannot be anything else, so that
// `modelfs show churn@production` needs no ROOT and means one thing: it holds
// a '/' (`./reg`, `/srv/registry`: a model name or reference never does), or
// the command is given one argument more than it takes without ROOT
// (`show reg churn@1`). mount, whose own first argument is a path too, takes
// ROOT only by the count.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "index/status.h"

namespace modelfs::cli {

// How AddRoot's command reads its first argument (see above).
enum class RootPlace {
  kLeading,        // ROOT if it holds a '/' or is one argument too many
  kLeadingByCount,  // ROOT only if it is one argument too many (mount)
  kLeadingDir       // ROOT if one argument too many, or it holds a '/' and is a directory
                    // (find: an expression may hold a '/' too)
};

// Defines -R/--root on subcommand `c`, bound to `root`, and marks `c` as
// one that takes ROOT: main.cc then fills `root` from the first argument or
// the defaults above before the command runs.
void AddRoot(CLI::App* c, std::string& root, RootPlace place = RootPlace::kLeading);

// The words of a command line (without the program name) as the parser
// will read them: the chosen (sub)command and the positions in `args` of
// its positional arguments, found from the options each command declares
// (which take a value, which do not). For completion and the ROOT rule.
struct CommandWords {
  CLI::App* sub = nullptr;             // the innermost subcommand named, if any
  size_t sub_index = 0;                // its position in args
  std::vector<size_t> positionals;     // positions of its positional arguments
  bool after_dashdash = false;         // a "--" came before the end
  const CLI::Option* pending = nullptr;  // the last word is an option still missing its value
};
CommandWords ReadWords(CLI::App& app, const std::vector<std::string>& args);

// When the chosen command takes ROOT and its first argument is ROOT by the
// rule above, removes that argument from `args` and returns it in *root.
// Usage error (Invalid) when a bare word that is not taken as ROOT names a
// registry or a modelfs mount in the current directory: `push reg churn x`
// must not push a model called "reg" by accident.
Status TakeLeadingRoot(CLI::App& app, std::vector<std::string>& args, std::string* root);

// After parsing: fills the chosen command's ROOT from, in order, the first
// argument (`positional`), its -R, the -R given before the command
// (`global`), $MODELFS_ROOT and the config files; then, if it is the
// mountpoint of a running modelfs mount, replaces it by that mount's ROOT.
// Sets *usage when the command line is at fault: none gives a ROOT, or two
// of the command line do. Otherwise a config file that does not parse is
// Invalid as FILE:LINE:COL: message, and NoAccess, saying what to do, when
// a mount's ROOT may not be opened. Ok and nothing done for a command that
// takes no ROOT.
Status ResolveRoot(const CLI::App* sub, const std::string& positional, const std::string& global,
                   bool* usage);
// Where the ROOT in use came from when not the command line
// ("$MODELFS_ROOT", a config file, "the mount at /models"); else empty.
const std::string& RootOrigin();

// Whether `sub` takes ROOT (was given to AddRoot).
bool TakesRoot(const CLI::App* sub);

// The ROOT a command given no ROOT on its command line would use ($MODELFS_ROOT,
// the config files), mountpoints resolved; empty if none. For completion:
// errors are not reported.
std::string DefaultRootQuietly();

// The ROOT of the running modelfs mount whose mountpoint is `path`, from
// /proc/self/mountinfo; empty when `path` is not one.
std::string MountSource(const std::string& path);

}  // namespace modelfs::cli
