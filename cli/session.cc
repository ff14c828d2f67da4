// Session and the exit statuses of the CLI (see session.h).
#include "cli/session.h"

#include <iostream>

#include "policy/enforce.h"

namespace modelfs::cli {

int Fail(const Status& s) {
  bool says_denied = s.message().rfind("denied", 0) == 0;  // policy reasons may already
  std::cerr << "modelfs: " << (s.code() == Code::kDenied && !says_denied ? "denied: " : "")
            << s.message() << "\n";
  return s.code() == Code::kDenied ? kExitDenied : kExitFail;
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
  if (st.code() == Code::kDenied)
    (void)reg_->AuditDenied(actor_, policy::ActionName(a), model, object, st.message());
  return st;
}

}  // namespace modelfs::cli
