// The mount's side of governance (SPEC §6): who is asking (uid, gid and
// supplementary groups of the FUSE request), what the policy in force says,
// and the trail a denial leaves (daemon log and audit log). No FUSE types:
// ops.cc passes the request's ids in and maps a denial to EACCES.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "index/registry.h"
#include "policy/policy.h"

namespace modelfs::fs {

class Gatekeeper {
 public:
  // `policy` is ROOT/policy.toml, reloaded when it changes.
  Gatekeeper(Registry* reg, std::unique_ptr<policy::PolicyFile> policy);

  // The caller of one request. `groups` fetches the supplementary groups,
  // which costs a read of /proc/PID/status: it is called only on a miss of
  // the per-process identity cache.
  struct Caller {
    uid_t uid;
    gid_t gid;
    pid_t pid;
    std::function<std::vector<gid_t>()> groups;
  };

  // Ok when the policy allows `action` on `model` ("" for the registry
  // itself); otherwise Status::Denied with the reason naming the rule,
  // after logging it and recording it in the audit trail (at most once per
  // caller, action and object every kDenialEchoSeconds, so `ls -l` of a
  // forbidden directory does not flood either).
  Status Check(const Caller& who, policy::Action action, const std::string& model,
               const std::string& object);

  // The caller as the policy sees it (cached per process for a second).
  policy::Identity IdentityOf(const Caller& who);
  Actor ActorOf(const Caller& who);
  std::shared_ptr<const policy::Policy> policy() { return policy_->current(); }

 private:
  // How long a process's groups are trusted: group changes of a running
  // process are rare, and a second bounds how stale a decision can be.
  static constexpr auto kIdentityTtl = std::chrono::seconds(1);
  static constexpr int kDenialEchoSeconds = 10;

  struct CachedIdentity {
    policy::Identity id;
    std::chrono::steady_clock::time_point expires;
  };

  Registry* reg_;
  std::unique_ptr<policy::PolicyFile> policy_;
  policy::IdentityResolver resolver_;
  std::mutex mu_;  // guards ids_ and echoed_; a leaf lock
  std::unordered_map<pid_t, CachedIdentity> ids_;
  std::map<std::tuple<uid_t, int, std::string>, std::chrono::steady_clock::time_point> echoed_;
};

}  // namespace modelfs::fs
