// The model card (SPEC §8): a generated, read-only markdown text about a
// model, made from the index alone, which the mount shows as
// /models/MODEL/README.md and `modelfs card` prints. One function makes it,
// so that both show the same bytes.
//
// The text depends on nothing but the snapshot (no "generated at" time, no
// use counts): two reads of an unchanged index give the same bytes, and
// every change that alters it is in the audit trail, which is what the
// mount's freshness thread follows.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "index/records.h"
#include "index/status.h"

namespace modelfs {

class Snapshot;

// The card's name in a model directory. No version or alias can have it:
// version directories are v<N>, and alias names allow neither '.' nor
// capitals (CheckAliasName), so the name never hides one.
inline constexpr std::string_view kCardName = "README.md";

struct CardOptions {
  // The newest versions the table shows; a line says how many more exist.
  // 20 keeps the table one screen wide of rows.
  size_t max_versions = 20;
};

// The card of model `m`: its description, owner, aliases (→ version), a
// table of the newest versions (state, approval, aliases, created by/at,
// one column per metric key any of them has, sorted, blank where absent,
// numbers in FormatMetric's form, and a link to the version's own
// README.md when it has one at its top level), their approvals and a
// lineage summary (parents, datasets, code, run per version). Corrupt when
// a record it needs is damaged. `newest_ns`, when given, is set to the time
// of the newest event the card shows (the model's creation, a version's
// creation or approval, an alias's move): the mount's mtime for it.
Result<std::string> ModelCard(const Snapshot& s, const Model& m, const CardOptions& opt = {},
                              int64_t* newest_ns = nullptr);

// Why MODEL/README.md cannot be written, removed, renamed or replaced:
// ReadOnly (EROFS through the mount), naming `what` was tried.
Status CardReadOnly(std::string_view model, std::string_view what);

}  // namespace modelfs
