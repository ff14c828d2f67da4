// Where the registry meets the policy: the one entry point through which the
// CLI and the mount ask whether a caller may do something (SPEC §6). Which
// policy actions each operation needs is one table (enforce.cc); deciding,
// logging and auditing a denial, and running and auditing the alias gates,
// happen here and nowhere else. The CLI and the mount keep only how they
// learn who the caller is.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "index/registry.h"
#include "policy/identity.h"
#include "policy/policy.h"

namespace modelfs::policy {

// What a caller asks of the registry, through the mount or the CLI.
enum class Operation : uint8_t {
  kRead,              // look up, list, stat, read files and metadata, show, log MODEL
  kReadRoot,          // stat, list and statfs the registry root: its listing shows
                      // only the models the caller may read
  kCreateModel,       // mkdir MODEL
  kPush,              // push a version into an existing model
  kPushNewModel,      // push that creates its model
  kCreateDraft,       // mkdir MODEL/vN
  kWriteDraft,        // create, write, rename, remove files of a draft
  kDiscardDraft,      // rm -r of a draft
  kSeal,              // state=ready
  kSetMeta,           // metrics, params, tags, lineage, description
  kSetMetaChecked,    // the same with XATTR_CREATE/REPLACE: whether a key exists is for readers
  kApprove,           // approve or reject
  kArchive,           // state=archived
  kSetAlias,          // create or move an alias (the gates apply too)
  kSetAliasForced,    // the same past failing gates (audited)
  kDeleteAlias,       // rm ALIAS
  kReadAudit,         // the whole audit trail (log without a model)
  kGc,
  kFsck,
};
std::string_view OperationName(Operation op);

VersionFacts FactsOf(const Version& v);

class Enforcer {
 public:
  using PolicySource = std::function<std::shared_ptr<const Policy>()>;
  using LogFn = std::function<void(const std::string&)>;

  // `reg` receives the audit records of denials; `policy` gives the policy
  // in force at each call; `log` (optional) receives a line per denial.
  Enforcer(Registry* reg, PolicySource policy, LogFn log = {});

  // Ok when `who` may perform `op` on `model` ("" for the registry itself);
  // otherwise Status::Denied with the reason naming the rule, after logging
  // it and recording it in the audit trail (at most once per caller,
  // action and object every kDenialEchoSeconds, so `ls -l` of a forbidden
  // directory floods neither). `object` names what was asked for.
  Status Check(const Identity& who, Operation op, std::string_view model,
               std::string_view object);

  // A lookup of `model` in the registry root, which the kernel makes before
  // mkdir too: Ok when `who` may read it; NotFound when `who` may create it
  // and `exists` says it does not exist, so mkdir goes on to create it (it
  // would tell them as much anyway); otherwise the read's denial, logged and
  // audited, whether or not the model exists: a model the caller may not
  // read stays hidden. `exists` is asked only in the second case; its error
  // is returned.
  Status CheckRootLookup(const Identity& who, std::string_view model,
                         const std::function<Result<bool>()>& exists);

  // Whether `who` may read `model`: for listings, which leave out what the
  // caller may not see instead of refusing (nothing is audited).
  bool MayRead(const Identity& who, std::string_view model) const;

  // Runs `act` (a registry change that moves `alias` of `model`) with the
  // gates of the alias as its Guard, checked at commit time. With `force`
  // (the caller has passed Check(kSetAliasForced)) a failing gate is let
  // through and "forced past <reason>" becomes the audit note. A gate's
  // denial is logged and audited as `object`, and returned.
  Status WithGates(const Identity& who, std::string_view model, std::string_view alias,
                   bool force, std::string_view object,
                   const std::function<Status(const Guard&)>& act);

  std::shared_ptr<const Policy> policy() const { return policy_(); }
  static Actor ActorOf(const Identity& who) { return Actor{who.uid, who.user}; }

  static constexpr int kDenialEchoSeconds = 10;

 private:
  // Whether `pol` lets `who` do `op` on `model`, quietly.
  static bool Permits(const Policy& pol, const Identity& who, Operation op,
                      std::string_view model);
  void Deny(const Identity& who, Action action, std::string_view model, std::string_view object,
            const std::string& reason, bool always);

  Registry* reg_;
  PolicySource policy_;
  LogFn log_;
  std::mutex mu_;  // guards echoed_; a leaf lock
  std::map<std::tuple<uint32_t, int, std::string>, std::chrono::steady_clock::time_point> echoed_;
};

}  // namespace modelfs::policy
