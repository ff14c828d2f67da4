// Replication of the index (SPEC §7): what index/ knows of a multi-host
// registry, whatever engine holds its index of record. Every change goes
// through WriteTxn, which records it as a ChangeSet of (table, key, value)
// puts and deletes; in a multi-host ROOT the Registry hands that set to its
// Replication to commit (after the blobs it names are uploaded) before the
// LMDB transaction commits, and applies the sets other hosts committed, in
// order, each as one LMDB transaction. The engine (etcd + S3) is in
// index/remote/engine.h; tests use an in-memory one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "index/records.h"
#include "index/status.h"

namespace modelfs {

class Registry;

// The LMDB tables whose records are the registry's shared state: every put
// and delete to one of them is replicated. Anything else (drafts' files, the
// blob cache, the replica's own position) is the host's own. A new table
// that every host must see is added here, by name, as in OpenEnv.
inline constexpr std::string_view kReplicatedTables[] = {
    "meta", "models", "versions", "entries", "aliases", "audit",
    // Derived from the versions, kept in the same transactions: find's
    // index and the lineage children. (usage is each host's own.)
    "children", "find",
};
bool IsReplicatedTable(std::string_view table);

// One change: a put of `value` at `key` of `table`, or its delete.
struct Change {
  std::string table;
  std::string key;
  std::optional<std::string> value;  // nullopt: delete
  bool operator==(const Change&) const = default;
};

// The changes of one committed write transaction, in the order they were
// made, and the blobs the new file entries name (which must reach the
// object store before the changes do).
struct ChangeSet {
  std::vector<Change> changes;
  std::vector<Digest> blobs;
  bool empty() const { return changes.empty(); }
};

// The bytes of a change set as it is stored in the index of record (blobs
// are not part of it): "MFC1", then per change a kind byte ('P' put, 'D'
// delete) and its table, key and (puts) value, each as a u32 big-endian
// length and the bytes. DecodeChanges is Corrupt on anything else.
std::string EncodeChanges(const std::vector<Change>& changes);
Result<std::vector<Change>> DecodeChanges(std::string_view bytes);

// The position of a replica in the index of record: the sequence number of
// the last commit it applied (commits are numbered 1, 2, ... in the order
// the index of record took them) and that commit's engine revision.
struct ReplicaPosition {
  uint64_t seq = 0;
  int64_t revision = 0;
};

// The engine of a multi-host registry, as the Registry uses it. Thread-safe.
class Replication {
 public:
  virtual ~Replication() = default;

  // Applies to `reg` every commit the index of record holds beyond the
  // replica's position (Registry::ApplyCommit), in order. IO when the
  // index of record cannot be reached.
  virtual Status CatchUp(Registry& reg) = 0;

  // Uploads the blobs of `set` that the object store lacks (read from
  // `reg`'s blob store), then commits `set` as commit base.seq + 1, only if
  // the index of record's last commit is still base.seq. Returns the new
  // position; nullopt when another commit came first (a conflict: nothing
  // was written but blobs, and the caller re-decides on fresh state).
  virtual Result<std::optional<ReplicaPosition>> Commit(Registry& reg, const ChangeSet& set,
                                                        const ReplicaPosition& base) = 0;

  // Writes the bytes of blob `d` from the object store into `fd`, an empty
  // file, at their offsets (pwrite; never the whole body in memory), and
  // sets `*size` to the object's size. Unverified: the caller checks them
  // against `d`. NotFound when the store has no such object; IO when it
  // cannot be read (after bounded retries).
  virtual Status FetchBlobTo(const Digest& d, int fd, uint64_t* size) = 0;

  // The bound of the local blob cache in bytes (registry.toml's
  // cache_size), 0 for none.
  virtual uint64_t CacheLimit() const { return 0; }

  // Catches up, then follows the index of record on a thread of its own
  // (the mount): each commit is applied within about a second. Stops when
  // the Replication is destroyed. The first catch-up's error is returned
  // (the thread starts all the same, and keeps trying).
  virtual Status Follow(Registry& reg) = 0;
};

// Makes the Replication of a multi-host ROOT (one with registry.toml), for
// Registry::Open; installed by the binary that links an engine
// (index/remote/engine.h). Without one, such a ROOT cannot be opened.
using ReplicationFactory =
    std::function<Result<std::unique_ptr<Replication>>(const std::string& root)>;
void SetReplicationFactory(ReplicationFactory f);
ReplicationFactory GetReplicationFactory();  // empty when none is installed

}  // namespace modelfs
