// The `modelfs` command (SPEC §5): builds the command line from the
// subcommands in commands_*.cc, parses it, finds the registry it works on
// (root.h), and runs the one chosen. Exit status: 0 ok, 1 failure, 2 usage,
// 3 denied by policy (see session.h).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"
#include "index/names.h"
#include "index/remote/engine.h"

namespace modelfs::cli {
namespace {

// CLI11's help, with "[ROOT]" in the usage line of the commands that take
// it (it is not a positional CLI11 knows: see root.h).
class Formatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    std::string u = CLI::Formatter::make_usage(app, name);
    if (!TakesRoot(app)) return u;
    std::string head = get_label("Usage") + ": " + name;
    if (u.rfind(head, 0) == 0) u.insert(head.size(), " [ROOT]");
    return u;
  }
};

// "; did you mean X?" when `word` is near one of `names`, else "".
std::string DidYouMean(const std::string& word, const std::vector<std::string>& names) {
  auto near = Nearest(word, names);
  if (near.empty()) return "";
  std::string s = "; did you mean ";
  for (size_t i = 0; i < near.size(); ++i) s += (i ? " or " : "") + near[i];
  return s + "?";
}

std::vector<std::string> SubcommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* c : app.get_subcommands({}))
    if (!c->get_group().empty()) names.push_back(c->get_name());
  return names;
}

// The first option word of `args` that the command it is given to does
// not have, and what it may have meant.
std::string UnknownOptionHint(CLI::App& app, const std::vector<std::string>& args) {
  CommandWords w = ReadWords(app, args);
  const CLI::App* scope = w.sub ? w.sub : &app;
  for (const std::string& a : args) {
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9')) continue;
    std::string name = a.substr(0, a.find('='));
    bool known = false;
    std::vector<std::string> names;
    for (const CLI::App* s = scope; s; s = s->get_parent()) {
      for (const CLI::Option* o : s->get_options()) {
        for (const auto& l : o->get_lnames()) {
          names.push_back("--" + l);
          known = known || name == "--" + l;
        }
        for (const auto& sn : o->get_snames()) known = known || name == "-" + sn;
      }
    }
    if (!known) return DidYouMean(name, names);
  }
  return "";
}

}  // namespace

int Main(int argc, char** argv) {
  // Named, so that help says "Usage: modelfs ..." and not argv[0]'s path.
  CLI::App app{"modelfs: a model registry you use as a filesystem", "modelfs"};
  app.formatter(std::make_shared<Formatter>());
  app.require_subcommand(1);
  app.fallthrough();  // -R, --quiet after the command as well as before
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.set_version_flag("--version", std::string("modelfs ") + kVersion);
  std::string global_root;
  app.add_option("-R,--root", global_root, "Registry root or a mountpoint of it (see `modelfs show --help`)");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "Print only results and errors: no progress, no confirmations");
  app.footer("Examples:\n  modelfs init /srv/registry && export MODELFS_ROOT=/srv/registry\n"
             "  modelfs show churn@production\n  modelfs COMMAND --help");
  // In the order `modelfs --help` lists them.
  const std::vector<Command> commands = {
      AddInit(app),     AddPush(app),   AddShow(app),    AddList(app),    AddFind(app),
      AddCard(app),
      AddGet(app),      AddSet(app),    AddAlias(app),   AddApprove(app),
      AddSeal(app),     AddArchive(app), AddUnarchive(app), AddCopy(app),
      AddLog(app),      AddEvents(app), AddHooks(app), AddCompare(app),
      AddDiff(app),     AddLineage(app), AddGc(app),    AddFsck(app),    AddMount(app),
      AddPolicyCheck(app), AddWhy(app), AddStatus(app), AddPrefetch(app), AddCache(app), AddVersion(app), AddCompletion(app),
  };

  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "__complete") return Complete(app, args);
  CommandWords words = ReadWords(app, args);
  if (!words.sub && !words.positionals.empty()) {
    const std::string& w = args[words.positionals[0]];
    std::cerr << "modelfs: unknown command '" << EscapeText(w) << "'"
              << DidYouMean(w, SubcommandNames(app)) << "\n"
              << "Run 'modelfs --help' for the list of commands.\n";
    return kExitUsage;
  }
  std::string leading_root;
  if (Status st = TakeLeadingRoot(app, args, &leading_root); !st.ok()) {
    std::cerr << "modelfs: " << st.message() << "\n";
    return kExitUsage;
  }
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "modelfs: " << e.what() << UnknownOptionHint(app, args) << "\n";
    std::cerr << "Run 'modelfs --help' or 'modelfs COMMAND --help' for usage.\n";
    return kExitUsage;
  }
  SetQuiet(quiet);
  for (const Command& c : commands) {
    if (!*c.sub) continue;
    bool usage = false;
    Status st = ResolveRoot(c.sub, leading_root, global_root, &usage);
    if (!st.ok()) return usage ? UsageError(st) : Fail(st);
    return c.run();
  }
  return kExitUsage;
}

}  // namespace modelfs::cli

int main(int argc, char** argv) {
  // Sealing a draft holds every file of it open until the commit: raise the
  // soft limit on descriptors to the hard one, as the mount does.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  modelfs::remote::InstallEngine();  // multi-host ROOTs (SPEC §7)
  if (modelfs::cli::InvokedAsMountHelper(argv[0])) return modelfs::cli::MountHelperMain(argc, argv);
  return modelfs::cli::Main(argc, argv);
}
