// Alias gates: the conditions a version must meet before an alias
// ([aliases.NAME] in policy.toml) may point at it. Gates apply to everyone;
// index/ gathers the VersionFacts, policy/ judges them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "index/status.h"

namespace modelfs::policy {

// The outcome of a policy question. `reason` always names the rule that
// decided, so it can go to the audit log and the daemon log as is.
struct Decision {
  bool allowed = false;
  std::string reason;
};

// What index/ knows about a version when someone points an alias at it.
struct VersionFacts {
  std::string model;
  uint32_t version = 0;
  std::string created_by;
  std::string approval;     // "pending", "approved" or "rejected"
  std::string approved_by;  // empty unless approved or rejected
  std::map<std::string, double> metrics;
  bool has_parents = false;
  bool has_datasets = false;
  bool has_code = false;
  bool has_run = false;
  std::vector<std::string> past_aliases;  // aliases that ever pointed here
};

enum class CompareOp { kLt, kLe, kGt, kGe, kEq, kNe };

// One entry of require_metrics, e.g. "auc >= 0.80".
struct MetricRequirement {
  std::string text;    // as written, for reasons
  std::string metric;  // ^[A-Za-z0-9_.-]{1,128}$
  CompareOp op = CompareOp::kGe;
  double threshold = 0;

  bool Holds(double value) const;
};

// Parses "NAME OP NUMBER" (spaces around OP optional; OP one of
// < <= > >= == !=; NUMBER finite). Failure: Status::Invalid whose message
// says what is wrong, without a file position (the caller adds it).
Result<MetricRequirement> ParseMetricRequirement(std::string_view text);

enum class LineageKind { kParents, kDatasets, kCode, kRun };
std::string_view LineageKindName(LineageKind kind);
std::optional<LineageKind> ParseLineageKind(std::string_view name);

// The gates of one alias, checked in this order; every one is checked.
struct AliasGates {
  std::string alias;
  bool require_approval = false;
  bool forbid_self_approval = false;
  std::vector<MetricRequirement> require_metrics;
  std::vector<LineageKind> require_lineage;
  std::optional<std::string> require_previous;
  // A command (argv) run on the candidate version's files before the
  // alias moves (Enforcer::WithGates): not a pure gate, so Check leaves
  // it out. A relative path with a '/' is taken from ROOT.
  std::vector<std::string> require_check;

  // Allowed if every gate passes; otherwise denied with a reason naming
  // each failing gate, in the order above, joined by "; ", such as
  // `gate [aliases.production].require_approval: churn@3 is pending, not
  // approved; gate [aliases.production].require_metrics "auc >= 0.80":
  // churn@3 has auc = 0.71`. A missing metric fails its requirement. Pure.
  Decision Check(const VersionFacts& facts) const;
};

}  // namespace modelfs::policy
