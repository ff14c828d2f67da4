// Find: the versions that satisfy an expression (expr.h), read through the
// find index (find_index.h) when the expression lets it, else by a scan.
//
// The planner looks at the tests joined by `and` at the top of the
// expression. Those an index can answer are: a metric compared with a
// number (= < <= > >= in) or exists(metrics.K); a param or tag equal to a
// string (= in) or exists(params.K / tags.K); model = / in / ~ "prefix*"
// (read through the models table). It reads the candidates of each
// indexed test (leaving out one with more than a quarter of all versions:
// a scan is then about as cheap, and streams) and decodes only their
// intersection, within the models a model test names; with no indexed
// test, the versions of those models; with neither, it scans every model.
// Every candidate is checked against the whole expression, so the index
// only ever narrows what is read.
//
// Order: by model name then version number, unless sort keys are given.
// Matches are streamed as found when read model by model without sort keys
// (a scan, or models chosen by name); otherwise gathered, ordered, then
// given out.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "index/expr.h"
#include "index/registry.h"

namespace modelfs {

struct SortKey {
  expr::Key key;
  bool descending = false;  // "-metrics.auc"
};
// "metrics.auc" or "-metrics.auc" (a leading "+" is allowed too).
Result<SortKey> ParseSortKey(std::string_view text);

// When the version was last used, as the expression's last_used_at reads
// it: the use counts' table (usage.h), nullopt when never used.
std::optional<int64_t> LastUsedAt(const Snapshot& s, const Version& v);

struct FindOptions {
  std::vector<SortKey> sort;  // missing values sort last, whichever the direction
  uint64_t limit = 0;         // 0: no limit
  // Whether the caller may read the model (policy); empty: every model.
  std::function<bool(const std::string& model)> may_read;
  int64_t now_ns = NowNs();  // what relative times count from
};

struct FindStats {
  std::string plan;         // "scan", "models model ~ \"churn*\"", "index metrics.auc >= 0.9"
  uint64_t candidates = 0;  // versions the plan gave
  uint64_t decoded = 0;     // version records read
  uint64_t matched = 0;
};

// Called with each match and the context it was evaluated in (its aliases
// are ctx.aliases(v), cached per model); false stops the search.
using FindVisitor = std::function<bool(const Version& v, const expr::EvalContext& ctx)>;

// Damaged version records are skipped (the rest is still searched) and the
// first is returned, as Snapshot's ForEach* do.
Status Find(const Snapshot& s, const expr::Expr& e, const FindOptions& opt,
            const FindVisitor& fn, FindStats* stats = nullptr);

}  // namespace modelfs
