// Session and the exit statuses of the CLI (see session.h).
#include "cli/session.h"

#include <iostream>

#include "index/names.h"

namespace modelfs::cli {

// Only the code decides. A refusal's message already says "denied: ..."
// (see Check and AuditGates), so it is printed as it is, escaped
// (EscapeText): one line each, no stray bytes.
int Fail(const Status& s) {
  std::cerr << "modelfs: " << EscapeText(s.message()) << "\n";
  return s.code() == Code::kDenied ? kExitDenied : kExitFail;
}

int UsageError(const Status& s) {
  std::cerr << "modelfs: " << EscapeText(s.message()) << "\n";
  return kExitUsage;
}

Result<Session> Session::Open(const std::string& root) {
  auto reg = Registry::Open(root);
  if (!reg.ok()) return reg.status();
  auto pol = policy::Policy::Load((*reg)->policy_path());
  if (!pol.ok()) return Status::Invalid("policy does not parse: " + pol.status().message());
  Session s;
  s.reg_ = std::move(*reg);
  s.enforcer_ = std::make_unique<policy::Enforcer>(s.reg_.get(), [p = *pol] { return p; });
  auto who = policy::IdentityResolver().ForCurrentProcess();
  if (!who.ok()) return Status::IO("cannot tell who you are: " + who.status().message());
  s.who_ = std::move(*who);
  s.actor_ = policy::Enforcer::ActorOf(s.who_);
  return s;
}

// Policy::Decide's reason for a refusal reads "denied: RULE.ACTION does not
// include WHO" (policy.h), which is what the user is shown and what the
// audit record keeps.
Status Session::Check(policy::Operation op, const std::string& model, const std::string& object) {
  return enforcer_->Check(who_, op, model, object);
}

bool Session::MayRead(const std::string& model) const { return enforcer_->MayRead(who_, model); }

Status Session::WithGates(const std::string& model, const std::string& alias, bool force,
                          const std::string& object,
                          const std::function<Status(const Guard&)>& act) {
  Status st = enforcer_->WithGates(who_, model, alias, force, object, act);
  if (st.code() != Code::kDenied) return st;
  // A gate's reason reads "gate [aliases.A].RULE: WHY", without the
  // "denied: " of Check's reasons: the audit record keeps it as it is, the
  // user sees it prefixed like every other refusal.
  return Status::Denied("denied: " + st.message());
}

}  // namespace modelfs::cli
