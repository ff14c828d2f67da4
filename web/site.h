// What every request of `modelfs serve` shares: the registry, opened once,
// and the policy's Enforcer, which decides for the identity the request is
// served as (SPEC §9). Pages (pages.h) and the API (api.h) ask here, as the
// CLI asks its Session: one door to policy decisions per front end.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "index/registry.h"
#include "policy/enforce.h"
#include "policy/identity.h"

namespace modelfs::web {

class Site {
 public:
  // Opens ROOT and its policy (Invalid when it does not parse). The policy
  // file is read again when its mtime changes, so an edit applies to the
  // next request, as it does for the next `modelfs` command.
  static Result<std::unique_ptr<Site>> Open(const std::string& root);

  Registry& reg() { return *reg_; }
  // The user running serve: every request's identity unless an
  // --auth-header names another (IdentityFor).
  const policy::Identity& serve_user() const { return self_; }
  // The identity of `user` (a passwd name): its uid, gid and groups.
  // NotFound when there is no such user.
  Result<policy::Identity> IdentityFor(const std::string& user);

  // As Session::Check: Ok, or the audited denial ("denied: ...").
  Status Check(const policy::Identity& who, policy::Operation op, const std::string& model,
               const std::string& object);
  // Quietly: whether `who` may read `model` (listings leave it out).
  bool MayRead(const policy::Identity& who, const std::string& model) const;
  bool MayAdminister(const policy::Identity& who) const;

  // What a page made of a model's versions (pages.cc's ModelView), kept
  // for the next request while the index's newest audit sequence number
  // (Snapshot::LastAuditSeq, which every change advances) is `seq`: a model
  // of 10,000 versions is decoded once per change, not once per view.
  // nullptr when absent or stale. The newest kCachedModels are kept.
  std::shared_ptr<const void> Cached(const std::string& model, uint64_t seq);
  void Cache(const std::string& model, uint64_t seq, std::shared_ptr<const void> view);
  static constexpr size_t kCachedModels = 8;

 private:
  std::shared_ptr<const policy::Policy> CurrentPolicy();

  std::unique_ptr<Registry> reg_;
  std::unique_ptr<policy::Enforcer> enforcer_;
  policy::IdentityResolver resolver_;
  policy::Identity self_;
  std::mutex mu_;  // guards the two below
  std::shared_ptr<const policy::Policy> policy_;
  int64_t policy_mtime_ns_ = 0;
  struct CachedView {
    std::string model;
    uint64_t seq;
    std::shared_ptr<const void> view;
  };
  std::mutex cache_mu_;
  std::list<CachedView> cache_;  // guarded by cache_mu_; most recently used first
};

}  // namespace modelfs::web
