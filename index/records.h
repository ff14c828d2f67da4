// The registry's data model: models, versions, the entries (files and
// directories) of a version, aliases and audit records. These are plain
// values; registry.h stores them in LMDB (encoded by records.cc as CBOR).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "index/names.h"
#include "index/status.h"

namespace modelfs {

// Persistent, monotonic, never reused: the mount uses it as the inode number.
using ObjectId = uint64_t;
inline constexpr ObjectId kRootId = 1;  // the registry root directory

// An XXH3-128 digest, most significant byte first (the order of its hex).
struct Digest {
  std::array<uint8_t, 16> bytes{};
  std::string hex() const;
  static Result<Digest> FromHex(std::string_view hex);
  bool operator==(const Digest&) const = default;
  auto operator<=>(const Digest&) const = default;
};

enum class State : uint8_t { kDraft = 0, kReady = 1, kArchived = 2 };
std::string_view StateName(State s);

// Who did it: the caller's uid and user name, recorded in audits.
struct Actor {
  uint32_t uid = 0;
  std::string name;
};

struct Approval {
  std::string status = "pending";  // pending | approved | rejected
  std::string by;
  int64_t at_ns = 0;
  std::string comment;
  bool operator==(const Approval&) const = default;
};

struct Lineage {
  std::vector<std::string> parents;   // "model@N"
  std::vector<std::string> datasets;  // URIs, optionally "#xxh3:<digest>"
  std::string code;
  std::string run;
  bool operator==(const Lineage&) const = default;
};

struct Model {
  ObjectId id = 0;
  ObjectId latest_id = 0;  // inode of the computed `latest` symlink
  std::string name;
  int64_t created_at_ns = 0;
  std::string created_by;
  std::string owner;
  std::string description;
  uint32_t next_version = 1;
  bool operator==(const Model&) const = default;
};

struct Version {
  ObjectId id = 0;
  ObjectId model_id = 0;
  std::string model;
  uint32_t number = 0;
  State state = State::kReady;
  Digest digest;
  uint64_t size = 0;
  uint64_t files = 0;
  int64_t created_at_ns = 0;
  std::string created_by;
  uint32_t created_uid = 0;
  std::string description;
  std::map<std::string, double> metrics;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> tags;
  Lineage lineage;
  Approval approval;
  std::vector<std::string> past_aliases;  // every alias that ever named it
  std::string ref() const { return FormatRef(model, number); }
  bool operator==(const Version&) const = default;
};

// A file, directory or symlink inside a version, keyed by (parent id,
// name). The parent of a top-level entry is the version itself. A symlink
// (S_IFLNK|0777) holds its target, a relative path that resolves inside
// the version (CheckVersionLinks); its size is the target's length and its
// digest the XXH3-128 of the target (LinkDigest), so that the version's
// digest covers it, and it names no blob. Records written before symlinks
// existed have no target field and decode as before.
struct Entry {
  ObjectId id = 0;
  ObjectId parent = 0;
  std::string name;
  uint32_t mode = 0;  // full st_mode: S_IFREG|0444, S_IFREG|0555, S_IFDIR|0555, S_IFLNK|0777
  uint64_t size = 0;
  Digest digest;       // files and symlinks
  std::string target;  // symlinks only
  bool is_dir() const { return (mode & 0170000) == 0040000; }
  bool operator==(const Entry&) const = default;
  bool is_link() const { return (mode & 0170000) == 0120000; }
  bool is_file() const { return !is_dir() && !is_link(); }
};

inline constexpr uint32_t kSymlinkMode = 0120777;  // S_IFLNK|0777

struct Alias {
  ObjectId id = 0;
  std::string name;
  uint32_t version = 0;
  int64_t updated_at_ns = 0;
  std::string updated_by;
  bool operator==(const Alias&) const = default;
};

struct AuditRecord {
  uint64_t seq = 0;
  int64_t at_ns = 0;
  uint32_t uid = 0;
  std::string user;
  std::string action;  // push, alias, set, approve, archive, gc, ...
  std::string model;   // affected model, empty for registry-wide actions
  uint32_t version = 0;  // affected version (an alias's new target), 0 for none
  std::string alias;     // affected alias, empty for none
  std::string object;  // for people: "churn@12", "churn/production", "churn@1 metrics.auc"
  std::string before;
  std::string after;
  bool allowed = true;
  std::string reason;
  // The host that made the change (SPEC §7: Registry::host()); empty in
  // records written before hosts were recorded.
  std::string host;
  bool operator==(const AuditRecord&) const = default;
};

// RFC 3339 UTC with seconds: 2026-11-27T02:28:16Z
std::string FormatTime(int64_t ns);
int64_t NowNs();

// CBOR encoding of the records for LMDB values.
std::string Encode(const Model&);
std::string Encode(const Version&);
std::string Encode(const Entry&);
std::string Encode(const Alias&);
std::string Encode(const AuditRecord&);
Status Decode(std::string_view bytes, Model*);
Status Decode(std::string_view bytes, Version*);
Status Decode(std::string_view bytes, Entry*);
Status Decode(std::string_view bytes, Alias*);
Status Decode(std::string_view bytes, AuditRecord*);

}  // namespace modelfs
