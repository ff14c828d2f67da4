// Callers: identities of the mount's requests, cached per process.
#include "fs/callers.h"

namespace modelfs::fs {

policy::Identity Callers::IdentityOf(const Caller& who) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = ids_.find(who.pid);
    if (it != ids_.end() && it->second.expires > now && it->second.id.uid == who.uid &&
        it->second.id.gid == who.gid)
      return it->second.id;
  }
  std::vector<gid_t> gids = who.groups ? who.groups() : std::vector<gid_t>{};
  std::vector<uint32_t> g32(gids.begin(), gids.end());
  policy::Identity id = resolver_.Resolve(who.uid, who.gid, g32);
  std::lock_guard<std::mutex> g(mu_);
  if (ids_.size() > 4096) ids_.clear();  // bounds memory; refilled on demand
  ids_[who.pid] = Cached{id, now + kTtl};
  return id;
}

}  // namespace modelfs::fs
