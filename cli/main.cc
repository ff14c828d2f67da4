// The `modelfs` command (SPEC §5): builds the command line from the
// subcommands in commands_*.cc, parses it, and runs the one chosen. Exit
// status: 0 ok, 1 failure, 2 usage, 3 denied by policy (see session.h).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "cli/session.h"

namespace modelfs::cli {

int Main(int argc, char** argv) {
  CLI::App app{"modelfs: a model registry you use as a filesystem"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  // In the order `modelfs --help` lists them.
  const std::vector<Command> commands = {
      AddInit(app),    AddPush(app), AddShow(app),    AddList(app),
      AddSet(app),     AddAlias(app), AddApprove(app), AddSeal(app),
      AddArchive(app), AddLog(app),  AddGc(app),      AddFsck(app),
      AddMount(app),   AddPolicyCheck(app),
      AddGet(app),
      AddCopy(app),
      AddUnarchive(app),
  };

  auto known = [&](const std::string& name) {
    for (const CLI::App* c : app.get_subcommands([](CLI::App*) { return true; }))
      if (c->get_name() == name) return true;
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    std::cerr << "modelfs: unknown command '" << argv[1] << "'\n"
              << "Run 'modelfs --help' for the list of commands.\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "modelfs: " << e.what() << "\n";
    std::cerr << "Run 'modelfs --help' or 'modelfs COMMAND --help' for usage.\n";
    return kExitUsage;
  }
  for (const Command& c : commands)
    if (*c.sub) return c.run();
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
  return modelfs::cli::Main(argc, argv);
}
