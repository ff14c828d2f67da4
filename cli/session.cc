// Session and the exit statuses of the CLI (see session.h).
#include "cli/session.h"

#include <iostream>

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
  s.reg = std::move(*reg);
  s.pol = *pol;
  policy::IdentityResolver resolver;
  s.who = resolver.ForCurrentProcess();
  s.actor.uid = s.who.uid;
  s.actor.name = s.who.user;
  return s;
}

Status Session::Check(policy::Action a, const std::string& model, const std::string& object) {
  policy::Decision d = pol->Decide(who, a, model);
  if (d.allowed) return Status::Ok();
  (void)reg->AuditDenied(actor, policy::ActionName(a), model, object, d.reason);
  return Status::Denied(d.reason);
}

}  // namespace modelfs::cli
