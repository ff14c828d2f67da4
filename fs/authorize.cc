// Gatekeeper: policy decisions for the mount's requests.
#include "fs/authorize.h"

#include "fs/server.h"

namespace modelfs::fs {

using Clock = std::chrono::steady_clock;

Gatekeeper::Gatekeeper(Registry* reg, std::unique_ptr<policy::PolicyFile> policy)
    : reg_(reg), policy_(std::move(policy)) {
  policy_->set_log([](const std::string& line) { Log(line); });
}

policy::Identity Gatekeeper::IdentityOf(const Caller& who) {
  auto now = Clock::now();
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
  ids_[who.pid] = CachedIdentity{id, now + kIdentityTtl};
  return id;
}

Actor Gatekeeper::ActorOf(const Caller& who) {
  return Actor{who.uid, resolver_.UserName(who.uid)};
}

Status Gatekeeper::Check(const Caller& who, policy::Action action, const std::string& model,
                         const std::string& object) {
  policy::Identity id = IdentityOf(who);
  policy::Decision d = policy_->current()->Decide(id, action, model);
  if (d.allowed) return Status::Ok();
  bool echo = false;
  {
    auto now = Clock::now();
    std::lock_guard<std::mutex> g(mu_);
    auto key = std::make_tuple(who.uid, static_cast<int>(action), object);
    auto it = echoed_.find(key);
    if (it == echoed_.end() || now - it->second > std::chrono::seconds(kDenialEchoSeconds)) {
      if (echoed_.size() > 4096) echoed_.clear();
      echoed_[key] = now;
      echo = true;
    }
  }
  if (echo) {
    Log("denied: " + id.Describe() + " " + std::string(policy::ActionName(action)) + " " +
        object + ": " + d.reason);
    (void)reg_->AuditDenied(Actor{id.uid, id.user}, policy::ActionName(action), model, object,
                            d.reason);
  }
  return Status::Denied(d.reason);
}

}  // namespace modelfs::fs
