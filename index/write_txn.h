// WriteTxn: one LMDB write transaction of a Registry, with the typed puts the
// write operations need. Internal to index/. The transaction aborts unless
// Commit() succeeds, so an early return never leaves a half change.
#pragma once

#include <lmdb.h>

#include "index/lmdb_keys.h"
#include "index/registry.h"
#include "index/replication.h"

namespace modelfs {

class WriteTxn {
 public:
  static Result<std::unique_ptr<WriteTxn>> Begin(Registry* reg);
  ~WriteTxn();

  const Snapshot& view() const { return view_; }
  // A new object id (an inode number: never reused). Corrupt when the
  // counter is damaged or missing; the failure of its write is returned too.
  Result<ObjectId> NextId();
  Status PutModel(const Model& m);
  Status PutVersion(const Version& v);
  Status PutEntry(const Entry& e);
  Status PutAlias(ObjectId model_id, const Alias& a);
  Status DelAlias(ObjectId model_id, std::string_view name);
  Status DelVersion(const Version& v);  // with all its entries and its usage record
  Status Audit(AuditRecord r);          // fills seq and time when unset
  // Commits. In a multi-host ROOT the change set is first committed to the
  // index of record (Replication::Commit); when another host committed
  // first, nothing is committed, conflicted() is set and Registry::Write
  // runs the whole change again on the caught-up replica.
  Status Commit();
  bool conflicted() const { return conflicted_; }
  // What this transaction changed so far (replicated tables only).
  const ChangeSet& changes() const { return changes_; }

  Registry* reg() { return reg_; }

 private:
  friend class Registry;  // fsck's repair of the meta counters
  WriteTxn(Registry* reg, MDB_txn* txn);
  // Every put and delete of a record goes through these two, which record
  // it in changes_ when its table is replicated.
  Status Put(unsigned dbi, std::string_view key, std::string_view val);
  Status Del(unsigned dbi, std::string_view key);
  void Record(unsigned dbi, std::string_view key, std::optional<std::string_view> val);
  Status DelEntries(ObjectId parent);
  // The derived tables follow a version record about to change from
  // `stored` (the record as stored now, read once by PutVersion and
  // DelVersion: NotFound when new, another error when damaged) to `now`
  // (nullptr: deleted; `key` names the version either way).
  // The children table: lineage.cc.
  Status UpdateChildren(const Version& key, const Result<Version>& stored, const Version* now);
  // The find index (find_index.h); for a deletion, the keys of `key` are
  // removed too, in case the stored record was damaged.
  Status IndexVersion(const Version& key, const Result<Version>& stored, const Version* now);
  Registry* reg_;
  MDB_txn* txn_;
  Snapshot view_;
  bool done_ = false;
  bool conflicted_ = false;
  ChangeSet changes_;
};

// A new model named `name`, owned and created by `who` now (not yet put).
Result<Model> NewModel(WriteTxn& t, std::string_view name, const Actor& who);

// Model `name` as the transaction sees it, or a new one (NewModel, not yet
// put) when there is none; `*created` says which.
Result<Model> ModelOrNew(WriteTxn& t, std::string_view name, const Actor& who, bool* created);

// A new version of `m` in state `state`, created by `who` now, taking the
// model's next number (the caller writes `m` back: next_version moved on).
Result<Version> NewVersion(WriteTxn& t, Model* m, State state, const Actor& who);

// One file, directory or symlink (mode kSymlinkMode) of a version being
// committed, by its path.
struct TreeItem {
  std::string rel;  // "a/b.bin"; a directory comes before what it contains
  bool dir = false;
  uint32_t mode = 0;
  uint64_t size = 0;
  Digest digest;
  std::string target;  // symlinks: checked by CheckVersionLinks first
};

// The version digest (SPEC §3) of a tree: what PutTree sets, computed
// without writing (push --if-changed compares it with the latest's).
Digest TreeDigest(const std::vector<TreeItem>& items);

// Writes the entries of version `v` for `items`, and sets its size, file
// count and digest (SPEC §3) from them. Used by push and seal alike.
Status PutTree(WriteTxn& t, Version* v, const std::vector<TreeItem>& items);

// Points `alias` of model `m` at ready version `v` (recording it in the
// version's past aliases) and audits the move; `note` is kept as its reason.
Status MoveAlias(WriteTxn& t, const Model& m, Version* v, std::string_view alias,
                 const Actor& who, std::string_view note);

// A shared (push, seal, new draft) or exclusive (gc) hold of ROOT/gc.lock,
// so gc never removes a blob or draft directory that exists but is not yet
// committed. Released when destroyed.
class GcLock {
 public:
  // Waits for the lock; with `wait` false, Busy when another holds it.
  static Result<std::unique_ptr<GcLock>> Take(const std::string& root, bool exclusive,
                                              bool wait = true);
  ~GcLock();
  GcLock(const GcLock&) = delete;
  GcLock& operator=(const GcLock&) = delete;

 private:
  explicit GcLock(int fd) : fd_(fd) {}
  int fd_;
};

// Digests named by any version except those in `dropped` (version ids), as
// the snapshot `s` sees them; any read error is returned (gc must not
// remove a blob a version it could not read names). maintenance.cc.
Status ReferencedBlobs(const Snapshot& s, const std::set<ObjectId>& dropped,
                       std::set<Digest>* refs);

// The audit record of a change made by `who` to `model` ("" for the
// registry), naming the version (0: none) and alias ("": none) it touched
// as fields, so readers need not parse `object`, the text shown to people.
AuditRecord MakeAudit(const Actor& who, std::string_view action, std::string_view model,
                      uint32_t version, std::string_view alias, std::string_view object,
                      std::string before, std::string after);

}  // namespace modelfs
