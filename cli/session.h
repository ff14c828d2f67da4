// What every `modelfs` subcommand shares once its command line has parsed:
// the registry opened with the caller's identity and the policy in force
// (Session, the CLI's one door to policy decisions), and the mapping of a
// Status to what the user sees on stderr and as the exit status (SPEC §5).
#pragma once

#include <memory>
#include <string>

#include <functional>

#include "index/registry.h"
#include "policy/enforce.h"
#include "policy/identity.h"
#include "policy/policy.h"

namespace modelfs::cli {

constexpr int kExitOk = 0, kExitFail = 1, kExitUsage = 2, kExitDenied = 3;

// Prints "modelfs: MESSAGE" on stderr and returns the exit status for
// `s`'s code: kExitDenied for kDenied, else kExitFail.
int Fail(const Status& s);
// For an argument that names a model or a version and does not parse as
// index/names.h reads MODEL, MODEL@N or MODEL@ALIAS: prints "modelfs:
// MESSAGE" and returns kExitUsage. A well-formed name of something that
// does not exist is found out with the registry open, and is a Fail.
int UsageError(const Status& s);

// An open registry with the caller's identity and the policy in force. The
// CLI's side of governance is only how it learns who the caller is (this
// process's ids); policy::Enforcer decides, logs nothing here, and audits.
class Session {
 public:
  // Opens ROOT and loads its policy; Invalid if the policy does not parse.
  static Result<Session> Open(const std::string& root);

  Registry& reg() { return *reg_; }
  // The caller, as the registry records it.
  const Actor& actor() const { return actor_; }

  // Ok when the caller may perform `op` on `model`; else the denial is
  // audited and returned (Denied, its message starting "denied: ").
  Status Check(policy::Operation op, const std::string& model, const std::string& object);
  // Whether the caller may read `model`: for leaving it out of a listing,
  // so a refusal is neither audited nor reported.
  bool MayRead(const std::string& model) const;
  // Whether the caller administers the registry, quietly (see MayRead).
  bool MayAdminister() const;
  // Runs `act`, a registry call that moves `alias` of `model`, with the
  // alias's gates as its guard (see Enforcer::WithGates). With `force` a
  // failing gate is let through and the override audited; the caller must
  // have passed Check(kSetAliasForced) first. A gate's refusal is audited
  // as `object` and returned as "denied: " + the gate's reason.
  Status WithGates(const std::string& model, const std::string& alias, bool force,
                   const std::string& object, const std::function<Status(const Guard&)>& act);
  // Did-you-mean: when `st` says that `ref`'s model, or its alias, does
  // not exist, adds "; did you mean X?" naming the nearest ones the caller
  // may read (index/names.h Nearest). Any other status is returned as is.
  Status Explain(const Ref& ref, Status st) const;
  const policy::Retention& retention() const { return enforcer_->policy()->retention(); }
  std::shared_ptr<const policy::Policy> policy() const { return enforcer_->policy(); }

 private:
  std::unique_ptr<Registry> reg_;
  std::unique_ptr<policy::Enforcer> enforcer_;
  policy::Identity who_;
  Actor actor_;
};

// Runs `body` with an open session, mapping errors to exit codes.
template <class F>
int WithSession(const std::string& root, F&& body) {
  auto s = Session::Open(root);
  if (!s.ok()) return Fail(s.status());
  Status st = body(*s);
  return st.ok() ? kExitOk : Fail(st);
}

}  // namespace modelfs::cli
