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
#include <vector>

#include "index/registry.h"
#include "policy/identity.h"
#include "policy/policy.h"
#include "policy/refusals.h"

namespace modelfs::policy {

// What a caller asks of the registry, through the mount or the CLI.
enum class Operation : uint8_t {
  kRead,              // look up, list, stat, read files and metadata, show, log MODEL
  kReadRoot,          // stat, list and statfs the registry root: its listing shows
                      // only the models the caller may read
  kCreateModel,       // mkdir MODEL
  kPush,              // push (or copy) a version into an existing model
  kPushNewModel,      // push that creates its model
  kCreateDraft,       // mkdir MODEL/vN
  kWriteDraft,        // create, write, rename, remove files of a draft
  kDiscardDraft,      // rm -r of a draft
  kSeal,              // state=ready
  kSetMeta,           // metrics, params, tags, lineage, description
  kSetMetaChecked,    // the same with XATTR_CREATE/REPLACE: whether a key exists is for readers
  kApprove,           // approve or reject
  kArchive,           // state=archived
  kUnarchive,         // archived -> ready again (as archive)
  kSetModelMeta,      // a model's own description and owner
  kSetAlias,          // create or move an alias (the gates apply too)
  kSetAliasForced,    // the same past failing gates (audited)
  kDeleteAlias,       // rm ALIAS
  kReadAudit,         // the whole audit trail (log without a model)
  kGc,
  kFsck,
  kPolicySet,  // policy set: replace the registry's policy
  kHooks,  // hooks run, status, test, retry: hooks see every event
};
std::string_view OperationName(Operation op);

VersionFacts FactsOf(const Version& v);

class Enforcer {
 public:
  using PolicySource = std::function<std::shared_ptr<const Policy>()>;
  using LogFn = std::function<void(const std::string&)>;

  // The trail of denials. A denial is logged and audited unless
  //  - the same caller, action and object was within kDenialEchoSeconds
  //    (`ls -l` of a forbidden directory repeats each name): dropped
  //    silently, it says nothing new; or
  //  - the caller (by uid) has used up its budget of records, a token
  //    bucket of `burst` records refilled at one per `refill`: then it is
  //    counted, and once per `summary_window` (from the first one counted)
  //    one "denied-summary" record and log line per caller says how many
  //    were not recorded individually. So one caller stating distinct
  //    missing names cannot fill the disk, and cannot use up anyone else's
  //    budget.
  // Summaries that are due are written by the next denial of anyone, by
  // Flush() (the mount calls it every ~200 ms) and by the destructor.
  struct Limits {
    // 20 records cover what a person does by hand before giving up (a few
    // commands, a listing's worth of distinct names) in full detail.
    int burst = 20;
    // Past the burst, one record per 10 s per caller: at most 8,640 a day
    // (a few MB) from a caller that never stops, enough to see what it
    // keeps trying, and [retention] audit_keep/audit_ttl bounds the total.
    std::chrono::milliseconds refill{10'000};
    // One summary per minute per flooding caller: 1,440 a day at most.
    std::chrono::milliseconds summary_window{60'000};
    // Callers whose budgets are tracked; past it, due or not, every
    // pending summary is written and the budgets start afresh (uids are
    // the host's users: this is only reached by hosts with many of them).
    size_t max_callers = 1024;
    // (caller, action, object) pairs remembered for the echo rule.
    size_t max_echoes = 4096;
  };
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `reg` receives the audit records of denials and must outlive the
  // Enforcer; `policy` gives the policy in force at each call; `log`
  // (optional) receives a line per recorded denial and per summary.
  // `clock` is for tests (default: steady_clock::now).
  Enforcer(Registry* reg, PolicySource policy, LogFn log = {});
  Enforcer(Registry* reg, PolicySource policy, LogFn log, Limits limits, Clock clock = {});
  // Writes every pending summary, due or not.
  ~Enforcer();
  Enforcer(const Enforcer&) = delete;
  Enforcer& operator=(const Enforcer&) = delete;

  // Writes the summaries that are due (their window has passed), so a
  // caller that stops still leaves its count in the trail. Thread-safe;
  // cheap when none is due.
  void Flush();

  // Ok when `who` may perform `op` on `model` ("" for the registry itself);
  // otherwise Status::Denied with the reason naming the rule, after logging
  // it and recording it in the audit trail (see "The trail of denials"
  // below for how often). `object` names what was asked for. The caller
  // always gets the denial; only its record is rate-limited.
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
  // Whether `who` administers the registry (reads the whole audit trail),
  // quietly, like MayRead.
  bool MayAdminister(const Identity& who) const;

  // Runs a check gate's command (`argv`, ROOT-relative when it holds a
  // '/') on the files of version `v` as `user`, bounded by `timeout_s`:
  // Ok when it passed, else why not (its last lines). `summary` gets a
  // note for the audit record. Set by the CLI and the mount (hooks/checks.h).
  using Checker = std::function<Status(const Version& v, const std::vector<std::string>& argv,
                                       const std::string& user, int64_t timeout_s,
                                       std::string* summary)>;
  void set_checker(Checker c) { checker_ = std::move(c); }
  // Whether moving `alias` runs a check command under the policy in force
  // (the mount moves such aliases off its request threads).
  bool HasCheck(std::string_view alias) const;

  // Runs `act` (a registry change that moves `alias` of `model`) with the
  // gates of the alias as its Guard, checked at commit time. A
  // require_check gate runs its command outside the transaction, on the
  // version `act` would move the alias to, then `act` runs again and
  // commits only if the alias goes to that same version (else the new
  // candidate is checked: at most 3 rounds). With `force`
  // (the caller has passed Check(kSetAliasForced)) a failing gate is let
  // through and "forced past <reason>" becomes the audit note. A gate's
  // denial is logged and audited as `object`, and returned.
  Status WithGates(const Identity& who, std::string_view model, std::string_view alias,
                   bool force, std::string_view object,
                   const std::function<Status(const Guard&)>& act);

  // What each caller was refused most recently, per model: every denial
  // is recorded here, whether or not its audit record was rate-limited
  // (the caller always learns their own reason), and the mount adds its
  // other refusals.
  Refusals& refusals() { return refusals_; }

  std::shared_ptr<const Policy> policy() const { return policy_(); }
  static Actor ActorOf(const Identity& who) { return Actor{who.uid, who.user}; }

  static constexpr int kDenialEchoSeconds = 10;
  // The audit action of a summary; its object is "uid U", its reason
  // "N further denials of uid U (USER) suppressed in the last S s".
  static constexpr std::string_view kDenialSummaryAction = "denied-summary";

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  // One caller's budget of denial records.
  struct Budget {
    double tokens = 0;       // records it may write now (up to limits_.burst)
    TimePoint refilled;      // when `tokens` was last brought up to date
    uint64_t suppressed = 0;  // denials counted, not recorded, since `since`
    TimePoint since;         // the first of them
    std::string user;        // for the summary's record
  };
  struct Summary {
    Actor who;
    uint64_t count = 0;
    int64_t seconds = 0;
  };

  // Whether `pol` lets `who` do `op` on `model`, quietly.
  static bool Permits(const Policy& pol, const Identity& who, Operation op,
                      std::string_view model);
  void Deny(const Identity& who, Action action, std::string_view model, std::string_view object,
            const std::string& reason, bool always);
  // Moves the summaries due at `now` (every pending one with `all`) out of
  // the budgets. Requires mu_.
  void TakeSummaries(TimePoint now, bool all, std::vector<Summary>* out);
  // Logs and audits them. Called without mu_.
  void WriteSummaries(const std::vector<Summary>& sums);

  Checker checker_;
  Registry* reg_;
  Refusals refusals_;  // thread-safe on its own
  PolicySource policy_;
  LogFn log_;
  const Limits limits_;
  const Clock clock_;
  std::mutex mu_;  // guards the members below; a leaf lock (audits are written without it)
  std::map<std::tuple<uint32_t, int, std::string>, TimePoint> echoed_;
  std::map<uint32_t, Budget> budgets_;  // by uid
  TimePoint next_due_ = TimePoint::max();  // the earliest summary due; max when none
};

}  // namespace modelfs::policy
