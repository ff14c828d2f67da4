// How many FUSE requests of each kind the mount has served since it
// started: what a walk (find, ls -lR, getfattr -R) costs in round trips to
// the daemon, the figure to cut. Counted always (one relaxed atomic add per
// request, nothing next to the system call each request is), written to
// the log on SIGUSR1 and at unmount (fs/mount.cc). Free of FUSE types.
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace modelfs::fs {

// The requests the mount implements, named as libfuse's operations are.
// Those it does not implement (access, flock, fallocate ...) are answered
// ENOSYS by libfuse once, and the kernel stops sending them.
enum class Request : uint8_t {
  kLookup, kForget, kGetAttr, kReadLink, kStatFs, kOpenDir, kReadDir, kReadDirPlus,
  kReleaseDir, kOpen, kRead, kWrite, kFlush, kFsync, kRelease, kGetXattr, kListXattr,
  kSetXattr, kRemoveXattr, kSetAttr, kMkDir, kMkNod, kSymLink, kUnlink, kRmDir, kRename,
  kLink, kCreate,
  kCount_,  // not a request: the number of kinds
};

class RequestCounts {
 public:
  void Add(Request r) { n_[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
  uint64_t Get(Request r) const { return n_[static_cast<size_t>(r)].load(std::memory_order_relaxed); }
  // "requests: total=N lookup=N getattr=N ..." in the enum's order, kinds
  // never asked for left out: one line for the log, stable for scripts.
  std::string Format() const;
  static const char* Name(Request r);

 private:
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Request::kCount_)> n_{};
};

}  // namespace modelfs::fs
