// PendingLinks: ln -sfn's temporaries, in memory (see pending_links.h).
#include "fs/pending_links.h"

#include <algorithm>
#include <cctype>

namespace modelfs::fs {

void PendingLinks::ExpireLocked(Clock::time_point now) {
  for (auto it = links_.begin(); it != links_.end();)
    it = it->second.expires <= now ? links_.erase(it) : std::next(it);
}

Result<PendingLinks::Link> PendingLinks::Add(uint64_t model_id, const std::string& name,
                                             const std::string& target) {
  auto now = Clock::now();
  std::lock_guard<std::mutex> g(mu_);
  ExpireLocked(now);
  auto key = std::make_pair(model_id, name);
  if (links_.count(key)) return Status::Exists(name + " exists");
  Link l;
  l.ino = kPendingInoBit | next_++;
  l.target = target;
  l.created_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  links_[key] = Slot{l, now + kTtl};
  return l;
}

std::optional<PendingLinks::Link> PendingLinks::Get(uint64_t model_id, const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  ExpireLocked(Clock::now());
  auto it = links_.find({model_id, name});
  if (it == links_.end()) return std::nullopt;
  return it->second.link;
}

bool PendingLinks::Remove(uint64_t model_id, const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  ExpireLocked(Clock::now());
  return links_.erase({model_id, name}) != 0;
}

Status PendingLinks::Rename(uint64_t model_id, const std::string& from, const std::string& to,
                            bool noreplace) {
  std::lock_guard<std::mutex> g(mu_);
  ExpireLocked(Clock::now());
  auto it = links_.find({model_id, from});
  if (it == links_.end()) return Status::NotFound(from + " does not exist");
  if (from == to) return Status::Ok();
  if (noreplace && links_.count({model_id, to})) return Status::Exists(to + " exists");
  Slot s = it->second;
  links_.erase(it);
  links_[{model_id, to}] = s;
  return Status::Ok();
}

bool IsLnTemporary(const std::string& name) {
  if (name.size() != 8 || name.compare(0, 2, "Cu") != 0) return false;
  return std::all_of(name.begin() + 2, name.end(),
                     [](char c) { return isalnum(static_cast<unsigned char>(c)); });
}

}  // namespace modelfs::fs
