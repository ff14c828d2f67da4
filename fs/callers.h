// How the mount learns who is asking (SPEC §6): the uid, gid and
// supplementary groups of a FUSE request, as a policy::Identity. What the
// caller may do is policy::Enforcer's to decide. No FUSE types: the handlers
// pass the request's ids in.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "policy/identity.h"

namespace modelfs::fs {

class Callers {
 public:
  // The caller of one request. `groups` fetches the supplementary groups
  // (GroupsOf below, for the mount), which costs a read of /proc: it is
  // called only on a miss of the per-process cache.
  struct Caller {
    uid_t uid;
    gid_t gid;
    pid_t pid;
    std::function<Result<std::vector<gid_t>>()> groups;
  };

  // The caller as the policy sees it (cached per process for kTtl). An
  // error when its groups or names cannot be learnt now (the daemon out of
  // descriptors, NSS down): the request is refused with that errno, and
  // nothing of it is cached, so the next request asks again. A process
  // that has gone (its /proc entry with it) has no supplementary groups,
  // and that answer is not cached either.
  Result<policy::Identity> IdentityOf(const Caller& who);

  // The supplementary groups of thread `tid` (as FUSE names a caller),
  // from /proc/TID/task/TID/status; NotFound when it has gone, else the
  // errno of what failed (EMFILE ...).
  static Result<std::vector<gid_t>> GroupsOf(pid_t tid);

 private:
  // How long a process's groups are trusted: group changes of a running
  // process are rare, and a second bounds how stale a decision can be.
  static constexpr auto kTtl = std::chrono::seconds(1);

  struct Cached {
    policy::Identity id;
    std::chrono::steady_clock::time_point expires;
  };
  policy::IdentityResolver resolver_;
  std::mutex mu_;  // guards ids_; a leaf lock
  std::unordered_map<pid_t, Cached> ids_;
};

}  // namespace modelfs::fs
