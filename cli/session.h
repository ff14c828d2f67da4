// What every `modelfs` subcommand shares once its command line has parsed:
// the registry opened with the caller's identity and the policy in force
// (Session, the CLI's one door to policy decisions), and the mapping of a
// Status to what the user sees on stderr and as the exit status (SPEC §5).
#pragma once

#include <memory>
#include <string>

#include "index/registry.h"
#include "policy/identity.h"
#include "policy/policy.h"

namespace modelfs::cli {

constexpr int kExitOk = 0, kExitFail = 1, kExitUsage = 2, kExitDenied = 3;

// Prints "modelfs: MESSAGE" on stderr and returns the exit status of `s`.
int Fail(const Status& s);

// An open registry with the caller's identity and the policy in force.
struct Session {
  std::unique_ptr<Registry> reg;
  std::shared_ptr<const policy::Policy> pol;
  policy::Identity who;
  Actor actor;

  // Opens ROOT and loads its policy; Invalid if the policy does not parse.
  static Result<Session> Open(const std::string& root);

  // Ok when allowed; else the denial is audited and returned.
  Status Check(policy::Action a, const std::string& model, const std::string& object);
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
