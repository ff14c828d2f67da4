// The mount: `modelfs mount ROOT MOUNTPOINT` serves a registry through FUSE
// (SPEC §3, §4). This header is all cli/ sees of fs/: no FUSE types.
#pragma once

#include <string>
#include <vector>

namespace modelfs::fs {

struct MountOptions {
  std::string root;
  std::string mountpoint;
  bool foreground = false;          // -f: do not daemonize
  std::vector<std::string> options;  // -o OPT[,OPT]: allow_other, ro, ...
  unsigned threads = 0;             // 0: libfuse's default
  bool verify = true;               // --no-verify turns digest checks off
};

// Mounts and serves until unmounted (fusermount3 -u) or SIGTERM/SIGINT.
// Returns the process exit status (0 ok, 1 failure); errors are printed
// on stderr as "modelfs: ..." lines.
int Mount(const MountOptions& opt);

}  // namespace modelfs::fs
