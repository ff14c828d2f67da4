// Session and the exit statuses of the CLI (see session.h).
#include "cli/session.h"

#include <iostream>

#include "cli/root.h"
#include "hooks/checks.h"
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
  if (!reg.ok()) {
    // A ROOT the command line did not name: say where it came from.
    if (RootOrigin().empty()) return reg.status();
    std::string m = reg.status().message() + " (ROOT from " + RootOrigin() + ")";
    switch (reg.status().code()) {
      case Code::kNoAccess: return Status::NoAccess(m);
      case Code::kNotFound: return Status::NotFound(m);
      case Code::kInvalid: return Status::Invalid(m);
      default: return Status::IO(m);  // the exit status is 1 all the same
    }
  }
  if (Status st = (*reg)->CatchUp(); !st.ok()) {
    // Reads go on from the replica; a write tries again, and fails.
    auto pos = (*reg)->Position();
    std::cerr << "modelfs: warning: " << EscapeText(st.message())
              << "; reading the replica as of commit "
              << (pos.ok() ? std::to_string(pos->seq) : "?") << "\n";
  }
  auto pol = policy::Policy::Load((*reg)->policy_path());
  if (!pol.ok()) return Status::Invalid("policy does not parse: " + pol.status().message());
  Session s;
  s.reg_ = std::move(*reg);
  s.enforcer_ = std::make_unique<policy::Enforcer>(s.reg_.get(), [p = *pol] { return p; });
  // Check gates run here, in the command that moves the alias.
  s.enforcer_->set_checker(hooks::MakeChecker(s.reg_.get()));
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
bool Session::MayAdminister() const { return enforcer_->MayAdminister(who_); }

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

Status Session::Explain(const Ref& ref, Status st) const {
  if (st.code() != Code::kNotFound) return st;
  auto snap = reg_->Read();
  if (!snap.ok()) return st;
  std::vector<std::string> names;
  std::string word, prefix;
  auto m = snap->GetModel(ref.model);
  if (!m.ok()) {
    if (m.status().code() != Code::kNotFound) return st;
    word = ref.model;
    Status listed = snap->ForEachModel("", [&](const Model& x) {
      if (MayRead(x.name)) names.push_back(x.name);
      return true;
    });
    if (!listed.ok()) return st;
  } else if (!ref.alias.empty() && !snap->GetAlias(m->id, ref.alias).ok()) {
    word = ref.alias;
    prefix = ref.model + "@";
    names.push_back("latest");
    Status listed = snap->ForEachAlias(m->id, "", [&](const Alias& a) {
      names.push_back(a.name);
      return true;
    });
    if (!listed.ok()) return st;
  } else {
    return st;  // a version number: nothing to spell
  }
  auto near = Nearest(word, names);
  if (near.empty()) return st;
  std::string msg = st.message() + "; did you mean ";
  for (size_t i = 0; i < near.size(); ++i) msg += (i ? " or " : "") + prefix + near[i];
  return Status::NotFound(msg + "?");
}

}  // namespace modelfs::cli
