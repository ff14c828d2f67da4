// Parsing of gate expressions and the check of a version against the gates
// of one alias. Reasons quote the rule as written in policy.toml.
#include "policy/gates.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "index/names.h"

namespace modelfs::policy {

namespace {

constexpr size_t kMaxMetricName = 128;  // SPEC §3: keys ^[A-Za-z0-9_.-]{1,128}$

bool IsMetricNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == '-';
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string VersionName(const VersionFacts& f) {
  return FormatRef(f.model, f.version);
}

}  // namespace

bool MetricRequirement::Holds(double value) const {
  switch (op) {
    case CompareOp::kLt: return value < threshold;
    case CompareOp::kLe: return value <= threshold;
    case CompareOp::kGt: return value > threshold;
    case CompareOp::kGe: return value >= threshold;
    case CompareOp::kEq: return value == threshold;
    case CompareOp::kNe: return value != threshold;
  }
  return false;
}

Result<MetricRequirement> ParseMetricRequirement(std::string_view text) {
  MetricRequirement req;
  req.text = std::string(text);
  size_t i = 0;
  const size_t n = text.size();
  while (i < n && IsSpace(text[i])) ++i;
  size_t name_begin = i;
  while (i < n && IsMetricNameChar(text[i])) ++i;
  req.metric = std::string(text.substr(name_begin, i - name_begin));
  if (req.metric.empty()) {
    return Status::Invalid("bad metric requirement \"" + EscapeText(req.text) +
                           "\": expected \"NAME OP NUMBER\", e.g. \"auc >= 0.8\"");
  }
  if (req.metric.size() > kMaxMetricName) {
    return Status::Invalid("bad metric requirement \"" + EscapeText(req.text) +
                           "\": metric name longer than 128 characters");
  }
  while (i < n && IsSpace(text[i])) ++i;
  std::string_view rest = text.substr(i);
  struct OpName {
    std::string_view token;
    CompareOp op;
  };
  // Two-character operators first, so "<=" is not read as "<".
  static constexpr OpName kOps[] = {
      {"<=", CompareOp::kLe}, {">=", CompareOp::kGe}, {"==", CompareOp::kEq},
      {"!=", CompareOp::kNe}, {"<", CompareOp::kLt},  {">", CompareOp::kGt},
  };
  bool found = false;
  for (const OpName& o : kOps) {
    if (rest.starts_with(o.token)) {
      req.op = o.op;
      i += o.token.size();
      found = true;
      break;
    }
  }
  if (!found) {
    return Status::Invalid("bad metric requirement \"" + EscapeText(req.text) +
                           "\": expected one of < <= > >= == != after \"" +
                           req.metric + "\"");
  }
  while (i < n && IsSpace(text[i])) ++i;
  size_t end = n;
  while (end > i && IsSpace(text[end - 1])) --end;
  std::string_view number = text.substr(i, end - i);
  if (number.starts_with('+')) number.remove_prefix(1);
  double value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || ptr != number.data() + number.size() ||
      !std::isfinite(value)) {
    return Status::Invalid("bad metric requirement \"" + EscapeText(req.text) +
                           "\": expected a finite number after the operator");
  }
  req.threshold = value;
  return req;
}

std::string_view LineageKindName(LineageKind kind) {
  switch (kind) {
    case LineageKind::kParents: return "parents";
    case LineageKind::kDatasets: return "datasets";
    case LineageKind::kCode: return "code";
    case LineageKind::kRun: return "run";
  }
  return "?";
}

std::optional<LineageKind> ParseLineageKind(std::string_view name) {
  for (LineageKind k : {LineageKind::kParents, LineageKind::kDatasets,
                        LineageKind::kCode, LineageKind::kRun}) {
    if (LineageKindName(k) == name) return k;
  }
  return std::nullopt;
}

Decision AliasGates::Check(const VersionFacts& facts) const {
  // Every failing gate is named, not only the first: whoever is refused
  // learns all that stands between the version and the alias at once.
  const std::string gate = "gate [aliases." + alias + "].";
  std::string reasons;
  auto deny = [&](const std::string& rule, const std::string& why) {
    if (!reasons.empty()) reasons += "; ";
    reasons += gate + rule + ": " + VersionName(facts) + " " + why;
  };
  if (require_approval && facts.approval != "approved") {
    deny("require_approval",
         "is " + (facts.approval.empty() ? std::string("pending") : facts.approval) +
             ", not approved");
  }
  // Without an approver there is no self-approval to forbid; whether an
  // approval is needed at all is require_approval's business.
  if (forbid_self_approval && !facts.approved_by.empty() &&
      facts.approved_by == facts.created_by) {
    deny("forbid_self_approval", "was approved by " + facts.approved_by + ", who created it");
  }
  for (const MetricRequirement& req : require_metrics) {
    std::string rule = "require_metrics \"" + req.text + "\"";
    auto it = facts.metrics.find(req.metric);
    if (it == facts.metrics.end()) deny(rule, "has no metric " + req.metric);
    else if (!req.Holds(it->second)) deny(rule, "has " + req.metric + " = " + FormatMetric(it->second));
  }
  for (LineageKind kind : require_lineage) {
    bool present = false;
    switch (kind) {
      case LineageKind::kParents: present = facts.has_parents; break;
      case LineageKind::kDatasets: present = facts.has_datasets; break;
      case LineageKind::kCode: present = facts.has_code; break;
      case LineageKind::kRun: present = facts.has_run; break;
    }
    if (!present) {
      std::string name(LineageKindName(kind));
      deny("require_lineage \"" + name + "\"", "has no lineage " + name);
    }
  }
  if (require_previous) {
    const auto& past = facts.past_aliases;
    if (std::find(past.begin(), past.end(), *require_previous) == past.end())
      deny("require_previous \"" + *require_previous + "\"", "was never " + *require_previous);
  }
  if (!reasons.empty()) return Decision{false, std::move(reasons)};
  return Decision{true, "all gates of [aliases." + alias + "] pass"};
}

}  // namespace modelfs::policy
