// Requests that may take minutes (an alias move that runs a check gate)
// are finished off the FUSE worker threads, so that the mount keeps
// serving everyone else: the handler hands the rest of the request to
// Start() and returns; that thread replies when it is done. At unmount
// StopAll() cancels what runs (a check is killed) and waits for it.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "index/status.h"

namespace modelfs::fs {

class SlowOps {
 public:
  static constexpr size_t kMaxRunning = 8;
  ~SlowOps() { StopAll(); }
  // Runs `fn` on a thread of its own; Busy when kMaxRunning already run.
  Status Start(std::function<void()> fn);
  // Set while stopping: a running check polls it and is killed.
  const std::atomic<bool>* cancel() const { return &cancel_; }
  void StopAll();

 private:
  struct Op {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  void ReapDone();  // requires mu_
  std::mutex mu_;
  std::list<Op> ops_;
  std::atomic<bool> cancel_{false};
};

}  // namespace modelfs::fs
