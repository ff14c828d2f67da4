// Registry: the LMDB index of a registry ROOT (SPEC §2) and the only code
// that changes it. Every change is one LMDB write transaction, which is the
// single commit point: blobs are in place before the transaction that names
// them commits, so a crash leaves each version fully present or absent.
//
// Reads go through a Snapshot (an LMDB read transaction): consistent, never
// blocked by writers, in this or another process. Registry and Snapshot
// objects are thread-safe in the sense of LMDB: one Registry per process may
// be shared by all threads; a Snapshot is used by one thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "index/blob_store.h"
#include "index/draft_writers.h"
#include "index/metadata.h"
#include "index/names.h"
#include "index/records.h"
#include "index/replication.h"
#include "index/status.h"
#include "index/usage.h"

struct MDB_env;
struct MDB_txn;

namespace modelfs {

class Registry;
class WriteTxn;

// A read view of the index. Visitors return false to stop early.
//
// Damaged records: a record that does not decode is Corrupt, with a message
// naming its table and key in readable form and what is wrong with it
// ("versions record churn@3 is damaged: field \"lp\" should be an array of
// strings, not a number (3)"). Get* return that status. ForEach* skip such
// a record and go on, so the others are still served, then return the
// first one skipped; an error from a ForEach* therefore means the visitor
// did not see everything, not that it saw nothing.
class Snapshot {
 public:
  Snapshot(Snapshot&&) noexcept;
  Snapshot& operator=(Snapshot&&) = delete;
  ~Snapshot();

  Result<Model> GetModel(std::string_view name) const;
  // Models in name order, starting after `after` ("" = from the first).
  Status ForEachModel(std::string_view after, const std::function<bool(const Model&)>& fn) const;

  Result<Version> GetVersion(ObjectId model_id, uint32_t number) const;
  Result<Version> GetVersion(std::string_view model, uint32_t number) const;
  // Versions of a model in number order, starting after `after`.
  Status ForEachVersion(ObjectId model_id, uint32_t after,
                        const std::function<bool(const Version&)>& fn) const;
  // Versions of a model newest (highest number) first, while fn returns
  // true. A record that does not decode ends the scan with its error: it
  // may be the newest.
  Status ForEachVersionNewestFirst(ObjectId model_id,
                                   const std::function<bool(const Version&)>& fn) const;
  // How many versions the model has; keys only, no record decoded.
  Result<uint32_t> CountVersions(ObjectId model_id) const;
  // The highest ready version of the model, 0 when it has none. Also 0,
  // with *error set (when given), when a version record newer than any
  // ready one cannot be read: it may be the latest.
  uint32_t LatestReady(ObjectId model_id, Status* error = nullptr) const;
  // MODEL, MODEL@N, MODEL@ALIAS, MODEL@latest (MODEL alone means latest).
  Result<Version> Resolve(const Ref& ref) const;

  Result<Alias> GetAlias(ObjectId model_id, std::string_view name) const;
  Status ForEachAlias(ObjectId model_id, std::string_view after,
                      const std::function<bool(const Alias&)>& fn) const;
  // Ok when `alias` of model `m` may point at version `number`: a ready
  // version of the same model (SPEC §4), else Invalid saying why.
  Status CheckAliasTarget(const Model& m, std::string_view alias, uint32_t number) const;
  // Names of the aliases now pointing at `number`, sorted. A damaged alias
  // record is left out, and reported in *error when given.
  std::vector<std::string> AliasesOf(ObjectId model_id, uint32_t number,
                                     Status* error = nullptr) const;

  // Entries (files, directories) of a version: parent is the version's id
  // for the top level, else the directory entry's id.
  Result<Entry> GetEntry(ObjectId parent, std::string_view name) const;
  Status ForEachEntry(ObjectId parent, std::string_view after,
                      const std::function<bool(const Entry&)>& fn) const;
  // Every entry below a version, depth first, with its path ("a/b.bin").
  Status ForEachPath(const Version& v,
                     const std::function<bool(const std::string& path, const Entry&)>& fn) const;

  // The audit trail in order, starting after sequence number `after`.
  Status ForEachAudit(uint64_t after, const std::function<bool(const AuditRecord&)>& fn) const;
  // The sequence number of the newest audit record: it grows with every
  // change, so a reader can poll it to learn that something changed.
  uint64_t LastAuditSeq() const;
  // A helper's own small record (Registry::PutState), "" when absent.
  Result<std::string> GetState(std::string_view key) const;

  // The versions that name version `number` of model `model_id` in their
  // lineage.parents, from the children table (lineage.cc), in key order:
  // the child's model id and number. No scan of the versions.
  Status ForEachChild(ObjectId model_id, uint32_t number,
                      const std::function<bool(ObjectId model_id, uint32_t number)>& fn) const;

  // The use of version `number` of a model, as mounts flushed it
  // (usage.h); nullopt when never used. A damaged record is nullopt too,
  // with *error (when given) saying so. usage.cc.
  std::optional<Usage> UsageOf(ObjectId model_id, uint32_t number,
                               Status* error = nullptr) const;
  // Grows with every flush of use counts (which the audit trail does not
  // record): a reader caching what it shows of them polls it.
  uint64_t UsageSeq() const;

  // Every record that does not decode, or whose key is malformed, in the
  // tables of models, versions, entries, aliases and audit records, table
  // by table in key order: what the ForEach* visitors skip. For fsck; the
  // meta counters are Registry::Fsck's to check.
  struct Damage {
    std::string table;    // "versions"
    std::string key;      // its LMDB key, as stored
    std::string name;     // "versions record churn@3"
    std::string problem;  // "field \"lp\" should be an array of strings, not a number (3)"
  };
  Status ForEachDamaged(const std::function<bool(const Damage&)>& fn) const;

  // The find index (find_index.h): its keys in order from `start` (or
  // from `prefix` when empty) while they start with `prefix`.
  Status ForEachFindKey(std::string_view prefix, std::string_view start,
                        const std::function<bool(std::string_view key)>& fn) const;
  // How many version records there are (LMDB's count: no scan).
  uint64_t VersionCount() const;

 private:
  friend class Registry;
  friend class WriteTxn;
  Snapshot(const Registry* reg, MDB_txn* txn, bool owned);
  // "versions record churn@3": the record at `key` of table `dbi`, named
  // for messages (slow: looks ids up; for errors only).
  std::string RecordName(unsigned dbi, std::string_view key) const;
  std::function<std::string(std::string_view key)> Namer(unsigned dbi) const;
  std::string ModelNameOf(ObjectId model_id) const;  // "" when unknown
  const Registry* reg_;
  MDB_txn* txn_;
  bool owned_;  // a pooled read transaction that we must give back
};

struct PushRequest {
  std::string model;
  std::vector<std::string> paths;  // laid out as `cp -r` would (SPEC §5)
  std::vector<MetaChange> meta;    // metrics, params, tags, lineage, description
  std::string alias;  // optional: point this alias at the new version
  // Follow symlinks inside the input and store what they lead to, rather
  // than keep them as symlinks (which must then resolve inside it).
  bool dereference = false;
  // Make no new version when the files (the version digest) and the
  // metadata are those of the model's latest ready version: that version
  // is returned instead (with the alias, if asked for, pointed at it).
  bool if_changed = false;
};

// A check run inside a write transaction, against the records as they are
// at commit time (e.g. policy gates for an alias). Non-ok aborts the change;
// a note it sets is kept as the reason in the change's audit record.
using Guard = std::function<Status(const Snapshot&, const Version&, std::string* note)>;

// What SetAlias expects of the alias as it is (checked in its transaction).
enum class AliasMode : uint8_t {
  kSet,      // create or move
  kCreate,   // Exists when the alias exists (`ln -s`, rename with RENAME_NOREPLACE)
  kReplace,  // NotFound when it does not
};

// What DiscardDraft expects of the draft's files.
enum class DiscardMode : uint8_t {
  kWithFiles,    // drop whatever the draft holds
  kMustBeEmpty,  // NotEmpty when the draft holds any file or directory (rmdir)
};

struct GcOptions {
  bool dry_run = false;
  std::optional<uint64_t> keep_last;   // ready versions per model without alias
  std::optional<int64_t> draft_ttl_s;  // drop drafts older than this
  bool drop_archived = true;           // archived versions are kept until gc
  // The audit trail as it was when gc began: the newest audit_keep records
  // are kept and none older than audit_ttl_s; what gc itself writes is
  // never removed by it. Sequence numbers are never reused.
  std::optional<uint64_t> audit_keep;
  std::optional<int64_t> audit_ttl_s;
  // Multi-host: a blob object no committed version names is deleted only
  // once it is this old, so that an upload whose commit is in flight (its
  // blobs go up first) is never deleted (SPEC §7). `gc --grace`.
  int64_t object_grace_s = 3600;
};

struct GcReport {
  std::vector<std::string> removed;  // one line per thing removed (or to be)
  uint64_t bytes = 0;                // bytes freed (or to be)
  // Multi-host: blob objects deleted from the object store (or to be), and
  // their bytes (not in `bytes`: the host's disk is not what they free).
  uint64_t objects = 0;
  uint64_t object_bytes = 0;
};

struct FsckReport {
  std::vector<std::string> problems;      // inconsistencies: exit 1
  std::vector<std::string> garbage;       // leftovers gc would remove
  std::vector<std::string> repaired;      // with repair: what was fixed
  std::vector<std::string> not_repaired;  // with repair: what was left as is, and why
};

class Registry {
 public:
  ~Registry();

  // Creates ROOT (mode 0700) with index/, blobs/, staging/ and policy.toml
  // holding `policy_text`. ROOT may exist if empty.
  static Status Init(const std::string& root, std::string_view policy_text);
  // Opens an existing registry. NoAccess when this user may not open it,
  // Invalid when ROOT is not a registry.
  static Result<std::unique_ptr<Registry>> Open(const std::string& root);

  const std::string& root() const { return root_; }
  BlobStore& blobs() { return blobs_; }
  std::string policy_path() const { return root_ + "/policy.toml"; }
  // The host this ROOT speaks for, recorded in every audit record it writes
  // (SPEC §7): a multi-host ROOT's `host` of registry.toml, else (and on a
  // single-host ROOT) the machine's hostname.
  const std::string& host() const { return host_; }

  Result<Snapshot> Read() const;

  // ---- Multi-host (SPEC §7; replication.h). A ROOT holding registry.toml
  // is a replica of an index of record on other engines; Open attaches its
  // Replication (SetReplicationFactory must have been called).
  bool multi_host() const { return remote_ != nullptr; }
  Replication* replication() { return remote_.get(); }
  // Applies what the index of record holds beyond the replica (Ok at once
  // on a single-host ROOT); IO when it cannot be reached.
  Status CatchUp();
  // Follows the index of record on a thread of its own (the mount).
  Status Follow();
  // The replica's position: the last commit it applied.
  Result<ReplicaPosition> Position() const;
  // Applies commit `pos.seq` of the index of record, made of `changes`, as
  // one LMDB transaction that also records `pos`. A commit applied already
  // is skipped; one that does not follow the replica's position is
  // Corrupt (commits are applied in order). For Replication engines.
  Status ApplyCommit(const ReplicaPosition& pos, const std::vector<Change>& changes);
  // Replaces the registry's policy with `text` (which the caller has
  // parsed: index/ does not know the policy's language) and audits it as
  // `policy.set`, the digests of the old and new text as before -> after.
  // Multi-host: committed to the index of record like every change, and
  // ROOT/policy.toml of every host follows (policy_record.cc). Single-host:
  // ROOT/policy.toml is replaced atomically. On failure nothing changed.
  Status SetPolicy(const std::string& text, const Actor& who);
  // Runs `body` on a new write transaction (it ends with Commit, or returns
  // an error to abort). Multi-host: the replica is caught up first, and
  // when another host commits first (WriteTxn::conflicted) the whole body
  // runs again, decisions, policy gates and all, on the fresh state, a
  // bounded number of times. Single-host: it runs once.
  Status Write(const std::function<Status(WriteTxn&)>& body);

  // Stores the files and commits a new ready version with the next number.
  // Creates the model when it does not exist. `alias_guard` is run for the
  // alias, when one is asked for.
  // With req.if_changed, *reused (when given) says whether an existing
  // version was returned rather than a new one made.
  Result<Version> Push(const PushRequest& req, const Actor& who,
                       const BlobStore::Progress& progress = {},
                       const Guard& alias_guard = {}, bool* reused = nullptr);
  // Copies version `src` (ready), read from `from` and its blob store
  // `from_blobs`, as the next version of `model` in this registry (created
  // when absent): the same files (blobs stored here only when missing,
  // each checked against its digest: Corrupt if it does not match), its
  // description, metrics, params, tags and lineage. Within one registry
  // (`from_blobs` is this one's) the source is added to its parents; from
  // another, whose MODEL@N names mean nothing here, the parents are left
  // out and the source is recorded as tags.copied_from = `from_label`
  // ("ROOT:MODEL@N"). Approval and aliases are not copied.
  // Audited as "copy".
  Result<Version> Copy(const Snapshot& from, const BlobStore& from_blobs, const Version& src,
                       std::string_view model, std::string_view from_label, const Actor& who);
  Result<Model> CreateModel(std::string_view name, const Actor& who);
  Status SetMeta(std::string_view model, uint32_t number, const std::vector<MetaChange>& changes,
                 const Actor& who);
  // Points `alias` at ready version `number` of the same model: Invalid
  // when that is no ready version of it; `guard` (the gates) runs at commit
  // time. Moving an alias to where it points already changes nothing.
  Status SetAlias(std::string_view model, std::string_view alias, uint32_t number,
                  const Actor& who, const Guard& guard = {}, AliasMode mode = AliasMode::kSet);
  Status DeleteAlias(std::string_view model, std::string_view alias, const Actor& who);
  Status Approve(std::string_view model, uint32_t number, bool approve, std::string_view comment,
                 const Actor& who);
  Status Archive(std::string_view model, uint32_t number, const Actor& who);
  // Makes an archived version ready again (archiving is reversible until
  // gc removes it). A ready version: nothing to do, Ok; a draft: Invalid.
  Status Unarchive(std::string_view model, uint32_t number, const Actor& who);
  // A model's own description and owner (ApplyModelMeta), audited as set
  // or unset of "MODEL description".
  Status SetModelMeta(std::string_view model, const std::vector<MetaChange>& changes,
                      const Actor& who);
  // Drafts (SPEC §4): a version being written through the mount. Its files
  // live in DraftDir() until Seal() stores them as blobs and commits the
  // version as ready in one transaction. `number` must be the model's
  // next_version; numbers of discarded drafts are never reused.
  Result<Version> CreateDraft(std::string_view model, uint32_t number, const Actor& who);
  std::string DraftDir(const Version& v) const;
  // The bytes a draft holds so far: the sum of the sizes (st_size, holes
  // included) of the regular files under DraftDir(). Files that vanish while
  // it is counted are skipped; 0 when the directory is gone.
  uint64_t DraftSize(const Version& draft) const;
  // Ok when a file or directory of `draft` at `rel` (its path inside the
  // version) can be sealed: its staging path, DraftDir()/rel, fits PATH_MAX.
  // Otherwise an error with errno ENAMETOOLONG naming the limit, which the
  // mount checks when a name is made and seal checks again.
  Status CheckDraftPath(const Version& draft, std::string_view rel) const;
  // Busy while any file of the draft is open for writing or its names are
  // being changed (see draft_writers.h); Corrupt naming a file a crashed
  // writer left torn. Sealing a version that is ready already does nothing
  // and returns it; an archived one is Invalid.
  Result<Version> Seal(std::string_view model, uint32_t number, const Actor& who);
  // Drops a draft and its files. A ready or archived version is ReadOnly,
  // or Busy when an alias points at it; Busy while the draft's names are
  // being changed or it is being sealed.
  Status DiscardDraft(std::string_view model, uint32_t number, const Actor& who,
                      DiscardMode mode = DiscardMode::kWithFiles);
  // Ok while `draft` (by its id) is still a draft in the index; NotFound
  // once it has been sealed or discarded.
  Status CheckDraft(const Version& draft) const;
  // Opens a file of `draft` for writing by the protocol of draft_writers.h:
  // `open_fd` opens or creates the staging file (-1 and errno on failure).
  // Busy while the draft is being sealed; NotFound when it no longer is a
  // draft once the writer's lock is held.
  Result<DraftWriter> OpenDraftWriter(const Version& draft, const std::function<int()>& open_fd,
                                      bool truncate);
  // Held while a request changes the names in `draft` (Busy while it is
  // being sealed or discarded).
  Result<DraftLock> BeginDraftNameChange(const Version& draft) const;
  // The xattr a writer sets on a draft file while it has it open for
  // writing: a file that still carries it after a crash may be torn.
  static constexpr const char* kWritingXattr = "user.modelfs.writing";
  // A seal makes each new file of a draft its own blob (a hard link: no
  // byte copied, see drafts.cc). From the first such file until the commit
  // (or until a failed seal is undone) the draft's staging directory
  // carries kSealingXattr, and each file it adopted kSealModeXattr (its
  // draft mode, octal; the inode is then 0444). A writer never writes an
  // inode that carries kSealModeXattr: a draft marked kSealingXattr is
  // restored first (RestoreDraftFiles), by the writer's open, the seal,
  // the mount's start and fsck --repair.
  static constexpr const char* kSealingXattr = "user.modelfs.sealing";
  static constexpr const char* kSealModeXattr = "user.modelfs.draft_mode";
  // Draft files still marked as being written by a writer that is gone (no
  // lock held): "MODEL@N path (SIZE bytes)". With `remove`, they are
  // deleted, so the draft keeps only complete files (the mount does this
  // when it starts; fsck --repair too), and each draft an interrupted seal
  // left marked is restored (RestoreDraftFiles). An error when the drafts or their
  // files cannot all be read (then some may be unchecked; seal still
  // refuses a torn file) or a torn file cannot be removed.
  Result<std::vector<std::string>> TornDraftFiles(bool remove);

  // Small records the registry's helpers keep for themselves (a hook's
  // delivery cursor), in the meta table under "state/KEY": not audited and
  // not a change to the registry (the mount's tree does not refresh for
  // them), but committed durably like the rest. An empty value deletes.
  Status PutState(std::string_view key, std::string_view value);

  // Records a refused action in the audit trail; `version` and `alias`, when
  // known, are the version (0: none) and alias ("": none) it was about.
  Status AuditDenied(const Actor& who, std::string_view action, std::string_view model,
                     std::string_view object, std::string_view reason, uint32_t version = 0,
                     std::string_view alias = {});

  // Gc removes nothing while a record it must read is damaged (Corrupt):
  // it could not tell what that record still references.
  Result<GcReport> Gc(const GcOptions& opt, const Actor& who);
  // Every damaged record is a problem of its own, and the check goes on
  // over the rest. Repair never drops a damaged record: those it cannot
  // rebuild are listed in not_repaired, and while any exists it removes no
  // garbage (a damaged record may still name it).
  Result<FsckReport> Fsck(bool repair, const Actor& who);

  // Adds a batch of counted uses to the usage table in one write
  // transaction, not audited (usage.h); versions gone since are skipped.
  Status AddUsage(const std::vector<UseBatchItem>& batch);

  // Total bytes and count of regular files a push of `paths` would store;
  // Invalid/NotFound for paths push would reject. `each_file`, when given,
  // is called with every file's source path and size: its first error is
  // returned (the policy's file size limit).
  using FileCheck = std::function<Status(const std::string& path, uint64_t size)>;
  static Status PlanPush(const std::vector<std::string>& paths, bool dereference, uint64_t* bytes,
                         uint64_t* files, const FileCheck& each_file = {});

 private:
  friend class Snapshot;
  friend class WriteTxn;
  Registry(std::string root);
  Status OpenEnv();
  // Fsck's check of the meta counters against the records: next_id above
  // every object id in use, audit_seq at the last audit record. With
  // `repair`, rebuilds them (next_id only when no record is damaged, for
  // a damaged record's ids are unknown).
  Status CheckCounters(bool repair, bool records_damaged, const Actor& who, FsckReport* rep);
  // Gc's last step: removes the audit records that opt's audit_keep and
  // audit_ttl_s let go, among those up to sequence number `upto`, and
  // audits that it did (unless dry).
  Status TrimAudit(const GcOptions& opt, uint64_t upto, const Actor& who, GcReport* rep);
  // Multi-host: the object store's blob objects that no version but those
  // in `dropped` names, once older than opt.object_grace_s (gc_objects.cc).
  Status GcObjects(const GcOptions& opt, const std::set<ObjectId>& dropped, const Actor& who,
                   GcReport* rep);
  // Removes the blobs in `fresh`, written by a push or seal that did not
  // commit, so that it leaves nothing for gc; best effort (push.cc).
  void DropFreshBlobs(std::set<Digest> fresh);
  // Undoes what an unfinished seal did to the draft whose staging directory
  // is `dir` (see kSealingXattr), when it is so marked: a file adopted by
  // the seal gets its draft mode back and, if its inode is still linked
  // elsewhere (a blob), is first replaced by a private copy, so no later
  // write reaches a blob. Idempotent, and safe to interrupt at any point.
  // The caller holds the draft's DraftLock exclusively (no writer).
  Status RestoreDraftFiles(const std::string& dir, int dir_fd);
  // The children table (lineage.cc): built from the versions when the
  // meta table does not say it is (an index older than the table); fsck's
  // check of it against the versions, and with `repair` its rebuild.
  Status EnsureChildren();
  Status CheckChildren(bool repair, const Actor& who, FsckReport* rep);
  // The find index (find_index.cc): rebuilt from the versions within
  // `txn`, and marked built in meta (kFindIndexMeta); fsck's check of it
  // (with `repair`, a rebuild when it does not match).
  static constexpr const char* kFindIndexMeta = "find_index";
  Status BuildFindIndex(MDB_txn* txn);
  Status CheckFindIndex(bool repair, FsckReport* rep);
  MDB_txn* TakeReadTxn() const;
  void GiveBackReadTxn(MDB_txn* txn) const;
  // The name of table `dbi` ("models"), as in OpenEnv's list; 0 when unknown.
  const std::string& TableName(unsigned dbi) const;
  // The replica's position as transaction `txn` sees it, and its update.
  Result<ReplicaPosition> PositionIn(MDB_txn* txn) const;
  Status PutPosition(MDB_txn* txn, const ReplicaPosition& pos);

  std::string root_;
  BlobStore blobs_;
  MDB_env* env_ = nullptr;
  unsigned dbi_meta_ = 0, dbi_models_ = 0, dbi_versions_ = 0, dbi_entries_ = 0,
           dbi_aliases_ = 0, dbi_audit_ = 0, dbi_children_ = 0, dbi_usage_ = 0;
  unsigned dbi_find_ = 0;  // find_index.h
  mutable std::mutex pool_mu_;                  // guards read_pool_
  mutable std::vector<MDB_txn*> read_pool_;     // reset read txns for reuse
  DraftWriters writers_;                        // this process's draft writers
  std::vector<std::pair<std::string, unsigned>> tables_;  // name → dbi, all tables
  // After a change set is committed here (made by this host or applied):
  // the files that follow records (ROOT/policy.toml) are brought in step.
  void AfterCommit(const std::vector<Change>& changes);
  // Rewrites ROOT/policy.toml when it differs from the policy record (a
  // crash between a commit and AfterCommit, a hand edit); Ok when none.
  Status SyncPolicyFile();
  std::string host_;
  std::unique_ptr<Replication> remote_;         // multi-host: the engine
};

}  // namespace modelfs
