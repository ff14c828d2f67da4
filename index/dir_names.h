// The names in a directory, sorted, without "." and "..": how push, seal,
// gc and fsck walk trees on disk, in a stable order.
#pragma once

#include <string>
#include <vector>

#include "index/status.h"

namespace modelfs {

Result<std::vector<std::string>> DirNames(const std::string& dir);

}  // namespace modelfs
