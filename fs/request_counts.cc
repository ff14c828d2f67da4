// Request counters (see request_counts.h).
#include "fs/request_counts.h"

namespace modelfs::fs {

const char* RequestCounts::Name(Request r) {
  static constexpr const char* kNames[] = {
      "lookup",  "forget",     "getattr",  "readlink", "statfs",    "opendir",  "readdir",
      "readdirplus", "releasedir", "open", "read",     "write",     "flush",    "fsync",
      "release", "getxattr",   "listxattr", "setxattr", "removexattr", "setattr", "mkdir",
      "mknod",   "symlink",    "unlink",   "rmdir",    "rename",    "link",     "create"};
  static_assert(std::size(kNames) == static_cast<size_t>(Request::kCount_),
                "one name per request kind");
  auto i = static_cast<size_t>(r);
  return i < std::size(kNames) ? kNames[i] : "?";
}

std::string RequestCounts::Format() const {
  uint64_t total = 0;
  std::string kinds;
  for (size_t i = 0; i < n_.size(); ++i) {
    uint64_t n = n_[i].load(std::memory_order_relaxed);
    if (n == 0) continue;
    total += n;
    kinds += " " + std::string(Name(static_cast<Request>(i))) + "=" + std::to_string(n);
  }
  return "requests: total=" + std::to_string(total) + kinds;
}

}  // namespace modelfs::fs
