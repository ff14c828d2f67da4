// The Enforcer: the action table, decisions, and the trail a denial leaves.
#include "policy/enforce.h"

#include <algorithm>
#include <initializer_list>

namespace modelfs::policy {
namespace {

struct OperationInfo {
  Operation op;
  std::string_view name;
  std::initializer_list<Action> needs;  // checked in order; the first refused decides
};

// The one table of what each operation needs (SPEC §6: read, create,
// write, promote, approve, admin).
const OperationInfo kOperations[] = {
    {Operation::kRead, "read", {Action::kRead}},
    // Anyone who reaches the mount: the listing itself leaves out what the
    // caller may not read, as `modelfs list` does, so the root tells nobody
    // more than their readable models.
    {Operation::kReadRoot, "read root", {}},
    {Operation::kCreateModel, "create model", {Action::kCreate}},
    {Operation::kPush, "push", {Action::kWrite}},
    {Operation::kPushNewModel, "push new model", {Action::kCreate, Action::kWrite}},
    {Operation::kCreateDraft, "create draft", {Action::kWrite}},
    {Operation::kWriteDraft, "write draft", {Action::kWrite}},
    {Operation::kDiscardDraft, "discard draft", {Action::kWrite}},
    {Operation::kSeal, "seal", {Action::kWrite}},
    {Operation::kSetMeta, "set metadata", {Action::kWrite}},
    {Operation::kSetMetaChecked, "set metadata", {Action::kRead, Action::kWrite}},
    {Operation::kApprove, "approve", {Action::kApprove}},
    {Operation::kArchive, "archive", {Action::kAdmin}},
    {Operation::kUnarchive, "unarchive", {Action::kAdmin}},
    {Operation::kSetModelMeta, "set model metadata", {Action::kWrite}},
    {Operation::kSetAlias, "set alias", {Action::kPromote}},
    {Operation::kSetAliasForced, "force alias", {Action::kPromote, Action::kAdmin}},
    {Operation::kDeleteAlias, "delete alias", {Action::kPromote}},
    {Operation::kReadAudit, "read audit trail", {Action::kAdmin}},
    {Operation::kGc, "gc", {Action::kAdmin}},
    {Operation::kFsck, "fsck", {Action::kAdmin}},
    {Operation::kPolicySet, "policy set", {Action::kAdmin}},
    {Operation::kHooks, "hooks", {Action::kAdmin}},
};

const OperationInfo& Info(Operation op) {
  for (const auto& i : kOperations)
    if (i.op == op) return i;
  abort();  // every operation has a row: a missing one is a bug
}

}  // namespace

std::string_view OperationName(Operation op) { return Info(op).name; }

VersionFacts FactsOf(const Version& v) {
  VersionFacts f;
  f.model = v.model;
  f.version = v.number;
  f.created_by = v.created_by;
  f.approval = v.approval.status;
  f.approved_by = v.approval.by;
  f.metrics = v.metrics;
  f.has_parents = !v.lineage.parents.empty();
  f.has_datasets = !v.lineage.datasets.empty();
  f.has_code = !v.lineage.code.empty();
  f.has_run = !v.lineage.run.empty();
  f.past_aliases = v.past_aliases;
  return f;
}

Enforcer::Enforcer(Registry* reg, PolicySource policy, LogFn log)
    : Enforcer(reg, std::move(policy), std::move(log), Limits{}) {}

Enforcer::Enforcer(Registry* reg, PolicySource policy, LogFn log, Limits limits, Clock clock)
    : reg_(reg),
      policy_(std::move(policy)),
      log_(std::move(log)),
      limits_(limits),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {
  // A budget that never refills or a summary never due would lose counts.
  if (limits_.burst < 1 || limits_.refill.count() <= 0 || limits_.summary_window.count() <= 0 ||
      limits_.max_callers < 1)
    abort();
}

Enforcer::~Enforcer() {
  std::vector<Summary> sums;
  {
    std::lock_guard<std::mutex> g(mu_);
    TakeSummaries(clock_(), /*all=*/true, &sums);
  }
  WriteSummaries(sums);
}

void Enforcer::Flush() {
  auto now = clock_();
  std::vector<Summary> sums;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (now < next_due_) return;
    TakeSummaries(now, /*all=*/false, &sums);
  }
  WriteSummaries(sums);
}

Status Enforcer::Check(const Identity& who, Operation op, std::string_view model,
                       std::string_view object) {
  std::shared_ptr<const Policy> pol = policy_();
  for (Action a : Info(op).needs) {
    Decision d = pol->Decide(who, a, model);
    if (d.allowed) continue;
    Deny(who, a, model, object, d.reason, /*always=*/false);
    return Status::Denied(d.reason);
  }
  return Status::Ok();
}

bool Enforcer::Permits(const Policy& pol, const Identity& who, Operation op,
                       std::string_view model) {
  for (Action a : Info(op).needs)
    if (!pol.Decide(who, a, model).allowed) return false;
  return true;
}

Status Enforcer::CheckRootLookup(const Identity& who, std::string_view model,
                                 const std::function<Result<bool>()>& exists) {
  std::shared_ptr<const Policy> pol = policy_();
  if (!Permits(*pol, who, Operation::kRead, model) &&
      Permits(*pol, who, Operation::kCreateModel, model)) {
    auto e = exists();
    if (!e.ok()) return e.status();
    if (!*e) return Status::NotFound("no model " + std::string(model));
  }
  return Check(who, Operation::kRead, model, model);
}

bool Enforcer::MayRead(const Identity& who, std::string_view model) const {
  return policy_()->Decide(who, Action::kRead, model).allowed;
}

bool Enforcer::MayAdminister(const Identity& who) const {
  return policy_()->Decide(who, Action::kAdmin, "").allowed;
}

bool Enforcer::HasCheck(std::string_view alias) const {
  const AliasGates* g = policy_()->gates(alias);
  return g != nullptr && !g->require_check.empty();
}

Status Enforcer::WithGates(const Identity& who, std::string_view model, std::string_view alias,
                           bool force, std::string_view object,
                           const std::function<Status(const Guard&)>& act) {
  auto pol = policy_();
  const AliasGates* g = pol->gates(alias);
  const std::vector<std::string> check = g ? g->require_check : std::vector<std::string>{};
  std::string where = "gate [aliases." + std::string(alias) + "].require_check";
  // The version whose check passed in this call, and its note; the
  // version the guard found unchecked.
  struct Passed {
    ObjectId id;
    Digest digest;
    std::string note;
  };
  std::optional<Passed> passed;
  std::optional<Version> unchecked;
  Guard gates = [&](const Snapshot&, const Version& v, std::string* note) -> Status {
    Decision d = pol->CheckGates(alias, FactsOf(v));
    if (!d.allowed) {
      if (!force) return Status::Denied(d.reason);
      *note = "forced past " + d.reason;
    }
    if (check.empty()) return Status::Ok();
    if (force) {
      *note += std::string(note->empty() ? "" : "; ") + "forced past " + where + " (not run)";
      return Status::Ok();
    }
    if (passed && passed->id == v.id && passed->digest == v.digest) {
      *note = passed->note;
      return Status::Ok();
    }
    unchecked = v;
    return Status::Busy(v.ref() + " has not passed " + where + " yet");
  };
  for (int round = 0; round < 3; ++round) {
    unchecked.reset();
    Status st = act(gates);
    if (!unchecked) {
      // Only the gates deny inside `act`: its other failures are not denials.
      if (st.code() == Code::kDenied) Deny(who, Action::kPromote, model, object, st.message(), true);
      return st;
    }
    // The check runs here, with no transaction open: it may take minutes.
    std::string reason;
    if (!checker_) {
      reason = where + ": checks cannot run here";
    } else {
      std::string summary;
      Status c = checker_(*unchecked, check, pol->check_user(), pol->check_timeout_seconds(), &summary);
      if (c.ok()) {
        passed = Passed{unchecked->id, unchecked->digest, where + " passed: " + summary};
        continue;
      }
      reason = where + " failed on " + unchecked->ref() + ": " + c.message();
    }
    Deny(who, Action::kPromote, model, object, reason, true);
    return Status::Denied(reason);
  }
  return Status::Busy(std::string(alias) + ": the candidate version changed while its check ran, "
                      "three times in a row; try again");
}

void Enforcer::Deny(const Identity& who, Action action, std::string_view model,
                    std::string_view object, const std::string& reason, bool always) {
  refusals_.Record(who.uid, model,
                   "EACCES " + std::string(ActionName(action)) + " " + std::string(object) + ": " +
                       reason);
  auto now = clock_();
  std::vector<Summary> due;
  bool record = true;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (now >= next_due_) TakeSummaries(now, /*all=*/false, &due);
    if (!always) {
      auto key = std::make_tuple(who.uid, static_cast<int>(action), std::string(object));
      auto it = echoed_.find(key);
      if (it != echoed_.end() && now - it->second <= std::chrono::seconds(kDenialEchoSeconds)) {
        record = false;  // an echo: neither recorded nor counted
      } else {
        if (echoed_.size() >= limits_.max_echoes) {
          std::erase_if(echoed_, [&](const auto& e) {
            return now - e.second > std::chrono::seconds(kDenialEchoSeconds);
          });
          // Forgetting an echo costs at most one more record, which the
          // caller's budget still pays for.
          if (echoed_.size() >= limits_.max_echoes) echoed_.clear();
        }
        echoed_[key] = now;
      }
    }
    if (record) {
      if (budgets_.size() >= limits_.max_callers && !budgets_.count(who.uid)) {
        TakeSummaries(now, /*all=*/true, &due);  // no count is lost with the budgets
        budgets_.clear();
      }
      auto [it, fresh] = budgets_.try_emplace(who.uid);
      Budget& b = it->second;
      if (fresh) {
        b.tokens = limits_.burst;
      } else {
        double earned = std::chrono::duration<double>(now - b.refilled) /
                        std::chrono::duration<double>(limits_.refill);
        b.tokens = std::min<double>(limits_.burst, b.tokens + std::max(0.0, earned));
      }
      b.refilled = now;
      b.user = who.user;
      if (b.tokens >= 1) {
        b.tokens -= 1;
      } else {
        record = false;
        if (b.suppressed++ == 0) {
          b.since = now;
          next_due_ = std::min(next_due_, now + limits_.summary_window);
        }
      }
    }
  }
  WriteSummaries(due);
  if (!record) return;
  if (log_)
    log_("denied: " + who.Describe() + " " + std::string(ActionName(action)) + " " +
         std::string(object) + ": " + reason);
  Status st = reg_->AuditDenied(ActorOf(who), ActionName(action), model, object, reason);
  if (!st.ok() && log_) log_("error: cannot audit a denial: " + st.message());
}

void Enforcer::TakeSummaries(TimePoint now, bool all, std::vector<Summary>* out) {
  next_due_ = TimePoint::max();
  for (auto& [uid, b] : budgets_) {
    if (b.suppressed == 0) continue;
    TimePoint due_at = b.since + limits_.summary_window;
    if (!all && now < due_at) {
      next_due_ = std::min(next_due_, due_at);
      continue;
    }
    // Whole seconds, rounded up: "in the last 60 s" covers them all.
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - b.since).count();
    out->push_back(Summary{Actor{uid, b.user}, b.suppressed, std::max<int64_t>(1, (ms + 999) / 1000)});
    b.suppressed = 0;
  }
}

void Enforcer::WriteSummaries(const std::vector<Summary>& sums) {
  for (const Summary& s : sums) {
    std::string object = "uid " + std::to_string(s.who.uid);
    std::string reason = std::to_string(s.count) + " further denial" + (s.count == 1 ? "" : "s") +
                         " of uid " + std::to_string(s.who.uid) + " (" + s.who.name +
                         ") suppressed in the last " + std::to_string(s.seconds) + " s";
    if (log_) log_("denied-summary: " + reason);
    Status st = reg_->AuditDenied(s.who, kDenialSummaryAction, "", object, reason);
    if (!st.ok() && log_) log_("error: cannot audit a summary of denials: " + st.message());
  }
}

}  // namespace modelfs::policy
