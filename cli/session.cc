// Session and the exit statuses of the CLI (see session.h).
#include "cli/session.h"

#include <iostream>

#include "policy/enforce.h"

namespace modelfs::cli {

// Only the code decides. A refusal's message already says "denied: ..."
// (see Check and AuditGates), so it is printed as it is.
int Fail(const Status& s) {
  std::cerr << "modelfs: " << s.message() << "\n";
  return s.code() == Code::kDenied ? kExitDenied : kExitFail;
}

int UsageError(const Status& s) {
  std::cerr << "modelfs: " << s.message() << "\n";
  return kExitUsage;
}

Result<Session> Session::Open(const std::string& root) {
  auto reg = Registry::Open(root);
  if (!reg.ok()) return reg.status();
  auto pol = policy::Policy::Load((*reg)->policy_path());
  if (!pol.ok()) return Status::Invalid("policy does not parse: " + pol.status().message());
  Session s;
  s.reg_ = std::move(*reg);
  s.pol_ = *pol;
  policy::IdentityResolver resolver;
  s.who_ = resolver.ForCurrentProcess();
  s.actor_.uid = s.who_.uid;
  s.actor_.name = s.who_.user;
  return s;
}

policy::Decision Session::Decide(policy::Action a, const std::string& model) const {
  return pol_->Decide(who_, a, model);
}

// Policy::Decide's reason for a refusal reads "denied: RULE.ACTION does not
// include WHO" (policy.h), which is what the user is shown and what the
// audit record keeps.
Status Session::Check(policy::Action a, const std::string& model, const std::string& object) {
  policy::Decision d = Decide(a, model);
  if (d.allowed) return Status::Ok();
  (void)reg_->AuditDenied(actor_, policy::ActionName(a), model, object, d.reason);
  return Status::Denied(d.reason);
}

bool Session::MayRead(const std::string& model) const {
  return Decide(policy::Action::kRead, model).allowed;
}

Guard Session::Gates(const std::string& alias, bool force) const {
  return policy::GateGuard(pol_, alias, force);
}

Status Session::AuditGates(policy::Action a, const std::string& model, const std::string& object,
                           Status st) {
  if (st.code() != Code::kDenied) return st;
  // A gate's reason reads "gate [aliases.A].RULE: WHY", without the "denied: "
  // of Check's reasons: the audit record keeps it as it is, the user sees
  // it prefixed like every other refusal.
  (void)reg_->AuditDenied(actor_, policy::ActionName(a), model, object, st.message());
  return Status::Denied("denied: " + st.message());
}

}  // namespace modelfs::cli
