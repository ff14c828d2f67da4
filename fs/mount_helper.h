// mount(8)'s side of the mount: `mount -t modelfs ROOT DIR -o OPTS` and
// /etc/fstab lines (`/srv/registry /models modelfs allow_other,_netdev 0 0`)
// run the helper /sbin/mount.modelfs (the modelfs binary under that name)
// as `mount.modelfs SRC DIR [-sfnv] [-o OPTS] [-t TYPE]`. This turns that
// command line into the MountOptions of `modelfs mount`: mount(8)'s own
// options, which FUSE does not know, are dropped. No FUSE types.
#pragma once

#include <string>
#include <vector>

#include "fs/mount.h"
#include "index/status.h"

namespace modelfs::fs {

struct MountHelperCall {
  MountOptions opt;      // never foreground: mount(8) waits for the helper
  bool fake = false;     // -f: check the arguments, mount nothing
  bool verbose = false;  // -v: say what is mounted
};

// Options mount(8) and fstab use for themselves (when and by whom to
// mount), never meaningful to FUSE: dropped. `rw` is the default.
bool IsMountCommandOption(const std::string& o);

// Parses the helper's arguments (argv[1..]). -o may repeat; besides
// mount(8)'s options it takes every option of `modelfs mount -o` and
// `threads=N` and `noverify` for --threads and --no-verify. A usage
// error (a missing DIR, an unknown flag, -N) is an Invalid status.
Result<MountHelperCall> ParseMountHelperArgs(const std::vector<std::string>& args);

}  // namespace modelfs::fs
