// Comparing versions (SPEC §8): `compare` lines several versions up, one
// row per field (state, approval, metrics, params, tags, lineage, ...) with
// the rows that differ marked; `diff` says what changed from one version
// to another, file by file (by digest and mode) and field by field. The CLI
// renders both as text or JSON.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "index/registry.h"

namespace modelfs {

// One field's values across the versions compared.
struct CompareCell {
  std::optional<std::string> text;  // absent: the version has no such field
  std::optional<double> number;     // metrics and sizes, for JSON
  bool operator==(const CompareCell& o) const { return text == o.text; }
};

struct CompareRow {
  std::string key;                 // "state", "metrics.auc", "lineage.parents"
  std::vector<CompareCell> cells;  // one per version, in the order given
  bool differs = false;            // not every cell is the same (absent counts)
};

struct Comparison {
  std::vector<std::string> refs;  // "churn@3", one per version
  std::vector<CompareRow> rows;   // fixed fields first, then metrics, params, tags, lineage
};

// The rows of `versions` (at least one). Fails only when a record it needs
// (an alias) cannot be read.
Result<Comparison> Compare(const Snapshot& s, const std::vector<Version>& versions);

// One path that differs between two versions.
struct FileChange {
  enum class Kind : uint8_t { kAdded, kRemoved, kChanged, kMode };
  Kind kind = Kind::kChanged;  // kMode: the same content, another mode
  std::string path;
  std::optional<Entry> before, after;
};
std::string_view FileChangeName(FileChange::Kind k);  // "added", "removed", "changed", "mode"

struct MetaChangeSeen {
  std::string key;
  std::optional<std::string> before, after;  // absent: unset on that side
};

struct VersionDiff {
  std::string from, to;             // refs
  std::vector<FileChange> files;    // in path order
  std::vector<MetaChangeSeen> meta; // in Compare's row order
};

// What changed from `a` to `b`: files (directories, files and symlinks,
// by path; content by digest) and metadata (description, state, approval,
// aliases, metrics, params, tags, lineage).
Result<VersionDiff> Diff(const Snapshot& s, const Version& a, const Version& b);

}  // namespace modelfs
