// The metadata of models and versions, named once (SPEC §3): for each field
// the key `modelfs set` takes ("metrics.auc", "lineage.code"), which is also
// its path in `show --json` ({"metrics": {"auc": …}}, {"lineage": {"code":
// …}}), the xattr the mount shows ("user.metrics.auc"), and how a value is
// validated and stored in a Version. The mount, the CLI and show --json all
// read this table; nothing else spells these names.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "index/records.h"
#include "index/status.h"

namespace modelfs {

class Snapshot;

// The user-settable fields of a version. Metrics, params and tags are
// families: one field per key <k>.
enum class MetaField : uint8_t {
  kMetric, kParam, kTag, kParents, kDatasets, kCode, kRun, kDescription
};

// One settable name: a field, and for families its key <k>.
struct MetaKey {
  MetaField field = MetaField::kDescription;
  std::string sub;  // the <k> of metrics.<k>; empty for the other fields

  std::string name() const;   // "metrics.auc", "lineage.code", "description"
  std::string xattr() const;  // "user.metrics.auc", "user.registry.description"
  bool operator==(const MetaKey&) const = default;
};

// What can be set, for messages: "description, metrics.K, …" or, with
// `xattrs`, "user.registry.description, user.metrics.K, …".
std::string SettableNames(bool xattrs);

// Parses a key as `modelfs set` takes it ("registry.description" is
// accepted for description). Invalid names the settable keys; read-only
// registry fields ("state", "approval", …) are Invalid saying so.
Result<MetaKey> ParseMetaKey(std::string_view key);
// The settable metadata an xattr name stands for; nullopt for any other name.
std::optional<MetaKey> MetaKeyOfXattr(std::string_view xattr);

// What a metadata write expects of the current value (xattr(7) flags).
enum class MetaExpect : uint8_t {
  kAny,      // set or remove whatever is there (removing a family key that is unset is NoData)
  kAbsent,   // XATTR_CREATE: Exists when the key is set
  kPresent,  // XATTR_REPLACE, removexattr: NoData when the key is not set
};

// One metadata change: value nullopt removes the key.
struct MetaChange {
  std::string key;  // as ParseMetaKey takes it
  std::optional<std::string> value;
  MetaExpect expect = MetaExpect::kAny;
};

// The value of `key` on `v` as text (metrics in FormatMetric's form, lists
// joined by commas); nullopt when unset (an empty list or text is unset).
std::optional<std::string> GetMeta(const Version& v, const MetaKey& key);

// listxattr(2) returns at most XATTR_LIST_MAX bytes of names (NULs
// included), or fails with E2BIG: getfattr -d of a version whose names did
// not fit would fail for all of them.
inline constexpr size_t kMaxXattrList = 65536;

// Applies `c` to `v` after validating it against `s` (parents must exist);
// sets the old and new values as text for the audit trail. TooBig when a
// value is over kMaxMetaValue, or when `c` would make the names of v's
// xattrs (the user.registry.* ones counted as if all were shown) take more
// than kMaxXattrList bytes; on any error `v` is to be dropped.
Status ApplyMeta(const Snapshot& s, Version* v, const MetaChange& c, std::string* before,
                 std::string* after);

// Whether two versions carry the same metadata: description, metrics,
// params, tags and lineage (push --if-changed).
bool SameMeta(const Version& a, const Version& b);

// A model's own fields, set with `modelfs set ROOT MODEL K=V` and
// setfattr on the model directory: "description" (free text, removable)
// and "owner" (a name, never empty). The key is taken as for versions
// ("registry.owner" too); ModelMetaKeyOfXattr maps user.registry.description
// and user.registry.owner to it, nullopt for any other name.
std::optional<std::string> ModelMetaKeyOfXattr(std::string_view xattr);
// Applies `c` to `m` as ApplyMeta does to a version (expect, UTF-8, size),
// setting the old and new values for the audit trail.
Status ApplyModelMeta(Model* m, const MetaChange& c, std::string* before, std::string* after);

// A node's extended attributes as the mount lists them, in listing order:
// the read-only user.registry.* attributes, then every metadata field set.
// Corrupt when a record they are made of is damaged.
using Attributes = std::vector<std::pair<std::string, std::string>>;
Result<Attributes> VersionAttributes(const Snapshot& s, const Version& v);
Result<Attributes> ModelAttributes(const Snapshot& s, const Model& m);
Attributes FileAttributes(const Entry& e);

// The metadata of `v` as show --json prints it: "description", "metrics",
// "params", "tags" and "lineage", each present even when empty.
nlohmann::json MetaJson(const Version& v);

}  // namespace modelfs
