// Site: the registry and policy behind `modelfs serve` (see site.h).
#include "web/site.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <iostream>
#include <vector>

#include "index/names.h"

namespace modelfs::web {

namespace {

int64_t MtimeNs(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

Result<std::unique_ptr<Site>> Site::Open(const std::string& root) {
  auto reg = Registry::Open(root);
  if (!reg.ok()) return reg.status();
  if (Status st = (*reg)->CatchUp(); !st.ok())
    std::cerr << "modelfs: warning: " << EscapeText(st.message()) << "; serving the replica\n";
  std::unique_ptr<Site> s(new Site);
  s->reg_ = std::move(*reg);
  s->policy_mtime_ns_ = MtimeNs(s->reg_->policy_path());
  auto pol = policy::Policy::Load(s->reg_->policy_path());
  if (!pol.ok()) return Status::Invalid("policy does not parse: " + pol.status().message());
  s->policy_ = *pol;
  Site* self = s.get();
  s->enforcer_ = std::make_unique<policy::Enforcer>(s->reg_.get(),
                                                    [self] { return self->CurrentPolicy(); });
  auto who = s->resolver_.ForCurrentProcess();
  if (!who.ok()) return Status::IO("cannot tell who you are: " + who.status().message());
  s->self_ = std::move(*who);
  return s;
}

// One stat per decision: cheap next to the LMDB read that follows. A policy
// that no longer parses leaves the last good one in force (said on stderr
// once per change), rather than failing every request; `modelfs policy
// check` says what is wrong.
std::shared_ptr<const policy::Policy> Site::CurrentPolicy() {
  int64_t m = MtimeNs(reg_->policy_path());
  std::lock_guard lock(mu_);
  if (m == policy_mtime_ns_) return policy_;
  policy_mtime_ns_ = m;
  auto pol = policy::Policy::Load(reg_->policy_path());
  if (pol.ok()) policy_ = *pol;
  else
    std::cerr << "modelfs: serve: policy does not parse, keeping the previous one: "
              << EscapeText(pol.status().message()) << "\n";
  return policy_;
}

Result<policy::Identity> Site::IdentityFor(const std::string& user) {
  struct passwd pw {}, *found = nullptr;
  std::vector<char> buf(16384);
  int rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0) return Status::FromErrno("getpwnam " + user, rc);
  if (!found) return Status::NotFound("no such user: " + user);
  std::vector<gid_t> gids(64);
  int n = int(gids.size());
  if (getgrouplist(user.c_str(), pw.pw_gid, gids.data(), &n) < 0) {
    gids.resize(size_t(n));
    if (getgrouplist(user.c_str(), pw.pw_gid, gids.data(), &n) < 0)
      return Status::IO("cannot list the groups of " + user);
  }
  gids.resize(size_t(n));
  std::vector<uint32_t> ids(gids.begin(), gids.end());
  return resolver_.Resolve(pw.pw_uid, pw.pw_gid, ids);
}

Status Site::Check(const policy::Identity& who, policy::Operation op, const std::string& model,
                   const std::string& object) {
  return enforcer_->Check(who, op, model, object);
}

bool Site::MayRead(const policy::Identity& who, const std::string& model) const {
  return enforcer_->MayRead(who, model);
}

bool Site::MayAdminister(const policy::Identity& who) const {
  return enforcer_->MayAdminister(who);
}

std::shared_ptr<const void> Site::Cached(const std::string& model, uint64_t seq) {
  std::lock_guard lock(cache_mu_);
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->model != model) continue;
    if (it->seq != seq) {
      cache_.erase(it);
      return nullptr;
    }
    cache_.splice(cache_.begin(), cache_, it);
    return cache_.front().view;
  }
  return nullptr;
}

void Site::Cache(const std::string& model, uint64_t seq, std::shared_ptr<const void> view) {
  std::lock_guard lock(cache_mu_);
  std::erase_if(cache_, [&](const CachedView& c) { return c.model == model; });
  cache_.push_front(CachedView{model, seq, std::move(view)});
  if (cache_.size() > kCachedModels) cache_.pop_back();
}

}  // namespace modelfs::web
