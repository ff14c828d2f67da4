// Fuzzes the values inside policy.toml that policy/ parses itself:
// durations ("7d"), sizes ("64G"), gate expressions ("auc >= 0.8"),
// lineage and action names. Beyond "no crash": what is accepted reads back
// the same after formatting, and a refusal is one printable line.
#include <cmath>
#include <string>

#include "policy/policy.h"
#include "tests/fuzz/check.h"

using namespace modelfs;
using namespace modelfs::policy;

namespace {

bool Printable(std::string_view s) { return CheckEntryPath(s).ok(); }

std::string_view OpToken(CompareOp op) {
  switch (op) {
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
    case CompareOp::kEq: return "==";
    case CompareOp::kNe: return "!=";
  }
  return "?";
}

void CheckDuration(std::string_view text) {
  auto d = ParseDuration(text);
  if (!d.ok()) {
    FUZZ_CHECK(d.status().code() == Code::kInvalid && Printable(d.status().message()), text);
    return;
  }
  FUZZ_CHECK(*d > 0, text);
  auto s = ParseDuration(std::to_string(*d) + "s");
  FUZZ_CHECK(s.ok() && *s == *d, text);
}

void CheckSize(std::string_view text) {
  auto n = ParseSize(text);
  if (!n.ok()) {
    FUZZ_CHECK(n.status().code() == Code::kInvalid && Printable(n.status().message()), text);
    return;
  }
  FUZZ_CHECK(*n > 0 && *n <= static_cast<uint64_t>(INT64_MAX), text);
  auto back = ParseSize(FormatSize(*n));
  FUZZ_CHECK(back.ok() && *back == *n, text);
}

void CheckRequirement(std::string_view text) {
  auto r = ParseMetricRequirement(text);
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == Code::kInvalid && Printable(r.status().message()), text);
    return;
  }
  FUZZ_CHECK(CheckMetaKey(r->metric).ok() && std::isfinite(r->threshold), text);
  std::string again = r->metric + " " + std::string(OpToken(r->op)) + " " +
                      FormatMetric(r->threshold);
  auto back = ParseMetricRequirement(again);
  FUZZ_CHECK(back.ok() && back->metric == r->metric && back->op == r->op &&
                 back->threshold == r->threshold,
             text);
  bool inclusive = r->op == CompareOp::kLe || r->op == CompareOp::kGe || r->op == CompareOp::kEq;
  FUZZ_CHECK(r->Holds(r->threshold) == inclusive, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::Text(data, size);
  CheckDuration(text);
  CheckSize(text);
  CheckRequirement(text);
  if (auto k = ParseLineageKind(text)) FUZZ_CHECK(LineageKindName(*k) == text, text);
  if (auto a = ActionFromName(text)) FUZZ_CHECK(ActionName(*a) == text, text);
  return 0;
}
