// Placeholder until the FUSE adapter lands (issue 3).
#include "fs/mount.h"

#include <iostream>

namespace modelfs::fs {

int Mount(const MountOptions&) {
  std::cerr << "modelfs: mount is not available in this build yet\n";
  return 1;
}

}  // namespace modelfs::fs
