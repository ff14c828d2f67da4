// The Enforcer: the action table, decisions, and the trail a denial leaves.
#include "policy/enforce.h"

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
    {Operation::kSetAlias, "set alias", {Action::kPromote}},
    {Operation::kSetAliasForced, "force alias", {Action::kPromote, Action::kAdmin}},
    {Operation::kDeleteAlias, "delete alias", {Action::kPromote}},
    {Operation::kReadAudit, "read audit trail", {Action::kAdmin}},
    {Operation::kGc, "gc", {Action::kAdmin}},
    {Operation::kFsck, "fsck", {Action::kAdmin}},
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
    : reg_(reg), policy_(std::move(policy)), log_(std::move(log)) {}

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

Status Enforcer::WithGates(const Identity& who, std::string_view model, std::string_view alias,
                           bool force, std::string_view object,
                           const std::function<Status(const Guard&)>& act) {
  Guard gates = [pol = policy_(), alias = std::string(alias), force](
                    const Snapshot&, const Version& v, std::string* note) -> Status {
    Decision d = pol->CheckGates(alias, FactsOf(v));
    if (d.allowed) return Status::Ok();
    if (force) {
      *note = "forced past " + d.reason;
      return Status::Ok();
    }
    return Status::Denied(d.reason);
  };
  Status st = act(gates);
  // Only the gates deny inside `act`: its other failures are not denials.
  if (st.code() == Code::kDenied) Deny(who, Action::kPromote, model, object, st.message(), true);
  return st;
}

void Enforcer::Deny(const Identity& who, Action action, std::string_view model,
                    std::string_view object, const std::string& reason, bool always) {
  if (!always) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> g(mu_);
    auto key = std::make_tuple(who.uid, static_cast<int>(action), std::string(object));
    auto it = echoed_.find(key);
    if (it != echoed_.end() && now - it->second <= std::chrono::seconds(kDenialEchoSeconds))
      return;
    if (echoed_.size() > 4096) echoed_.clear();  // bounds memory
    echoed_[key] = now;
  }
  if (log_)
    log_("denied: " + who.Describe() + " " + std::string(ActionName(action)) + " " +
         std::string(object) + ": " + reason);
  Status st = reg_->AuditDenied(ActorOf(who), ActionName(action), model, object, reason);
  if (!st.ok() && log_) log_("error: cannot audit a denial: " + st.message());
}

}  // namespace modelfs::policy
