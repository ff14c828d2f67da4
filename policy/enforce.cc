// Bridging index/ records and policy/ decisions.
#include "policy/enforce.h"

namespace modelfs::policy {

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

Guard GateGuard(std::shared_ptr<const Policy> policy, std::string alias, bool force) {
  return [policy = std::move(policy), alias = std::move(alias), force](
             const Snapshot&, const Version& v, std::string* note) -> Status {
    Decision d = policy->CheckGates(alias, FactsOf(v));
    if (d.allowed) return Status::Ok();
    if (force) {
      *note = "forced past " + d.reason;
      return Status::Ok();
    }
    return Status::Denied(d.reason);
  };
}

}  // namespace modelfs::policy
