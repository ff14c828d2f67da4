#include "fs/slow_ops.h"

namespace modelfs::fs {

void SlowOps::ReapDone() {
  for (auto it = ops_.begin(); it != ops_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = ops_.erase(it);
    } else {
      ++it;
    }
  }
}

Status SlowOps::Start(std::function<void()> fn) {
  std::lock_guard<std::mutex> g(mu_);
  ReapDone();
  if (cancel_.load()) return Status::Busy("the mount is stopping");
  if (ops_.size() >= kMaxRunning)
    return Status::Busy(std::to_string(kMaxRunning) + " checks are running already; try again when one ends");
  auto done = std::make_shared<std::atomic<bool>>(false);
  ops_.push_back(Op{std::thread([fn = std::move(fn), done] {
                      fn();
                      done->store(true);
                    }),
                    done});
  return Status::Ok();
}

void SlowOps::StopAll() {
  cancel_.store(true);
  std::list<Op> ops;
  {
    std::lock_guard<std::mutex> g(mu_);
    ops.swap(ops_);
  }
  for (auto& op : ops) op.thread.join();
}

}  // namespace modelfs::fs
