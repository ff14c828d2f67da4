// mount.modelfs: the helper mount(8) runs for `mount -t modelfs` and
// /etc/fstab lines of type modelfs. It is this binary under that name (the
// package installs /sbin/mount.modelfs as a link to modelfs): main.cc sends
// argv[0] == mount.modelfs here. fs/mount_helper.h reads the command line.
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/session.h"
#include "fs/mount_helper.h"

namespace modelfs::cli {

bool InvokedAsMountHelper(const char* argv0) {
  std::string name = argv0 ? argv0 : "";
  size_t slash = name.rfind('/');
  if (slash != std::string::npos) name = name.substr(slash + 1);
  return name == "mount.modelfs";
}

int MountHelperMain(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto call = fs::ParseMountHelperArgs(args);
  if (!call.ok()) {
    std::cerr << "mount.modelfs: " << call.status().message() << "\n";
    return kExitUsage;
  }
  if (call->verbose) {
    std::cerr << "mount.modelfs: mounting " << call->opt.root << " at " << call->opt.mountpoint;
    std::string sep = " -o ";
    for (const std::string& o : call->opt.options) {
      std::cerr << sep << o;
      sep = ",";
    }
    std::cerr << "\n";
  }
  if (call->fake) return kExitOk;
  // Daemonized, as `modelfs mount` without -f: mount(8) returns once the
  // mount is up, and the daemon logs to ROOT/mount.log.
  return fs::Mount(call->opt);
}

}  // namespace modelfs::cli
