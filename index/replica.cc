// The Registry's side of a multi-host replica (SPEC §7; replication.h):
// its position in the index of record, applying a commit as one LMDB
// transaction, and Registry::Write, the retry loop every change runs in.
// Split from registry.cc, which keeps the tables and the single-host rules.
#include <unistd.h>

#include <algorithm>
#include <random>

#include "index/lmdb_keys.h"
#include "index/registry.h"
#include "index/sys.h"
#include "index/write_txn.h"

namespace modelfs {

using namespace lmdb;

// ---------------------------------------------------------------- replica

namespace {
constexpr const char* kSeqKey = "replica.seq";
constexpr const char* kRevKey = "replica.rev";
// Commits re-run on conflict before giving up: each retry follows a commit
// of another host, so this many in a row means the registry is too busy.
constexpr int kWriteAttempts = 30;
}  // namespace

const std::string& Registry::TableName(unsigned dbi) const {
  static const std::string kNone;
  for (const auto& [name, d] : tables_)
    if (d == dbi) return name;
  return kNone;
}

Result<ReplicaPosition> Registry::PositionIn(MDB_txn* txn) const {
  auto seq = GetCounter(txn, dbi_meta_, kSeqKey);
  if (!seq.ok()) return seq.status();
  auto rev = GetCounter(txn, dbi_meta_, kRevKey);
  if (!rev.ok()) return rev.status();
  return ReplicaPosition{*seq, static_cast<int64_t>(*rev)};
}

Status Registry::PutPosition(MDB_txn* txn, const ReplicaPosition& pos) {
  std::string seq = Key64(pos.seq), rev = Key64(static_cast<uint64_t>(pos.revision));
  MDB_val sk = Val(kSeqKey), sv = Val(seq), rk = Val(kRevKey), rv = Val(rev);
  int rc = mdb_put(txn, dbi_meta_, &sk, &sv, 0);
  if (rc == 0) rc = mdb_put(txn, dbi_meta_, &rk, &rv, 0);
  if (rc != 0) return Error("recording the replica's position", rc);
  return Status::Ok();
}

Result<ReplicaPosition> Registry::Position() const {
  auto snap = Read();
  if (!snap.ok()) return snap.status();
  return PositionIn(snap->txn_);
}

Status Registry::CatchUp() {
  if (!remote_) return Status::Ok();
  MODELFS_RETURN_IF_ERROR(remote_->CatchUp(*this));
  return SyncPolicyFile();
}

Status Registry::Follow() { return remote_ ? remote_->Follow(*this) : Status::Ok(); }

Status Registry::ApplyCommit(const ReplicaPosition& pos, const std::vector<Change>& changes) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return Error("cannot begin a write transaction", rc);
  auto abort = [&](Status st) {
    mdb_txn_abort(txn);
    return st;
  };
  auto at = PositionIn(txn);
  if (!at.ok()) return abort(at.status());
  if (pos.seq <= at->seq) return abort(Status::Ok());  // applied already (another process)
  if (pos.seq != at->seq + 1)
    return abort(Status::Corrupt("replica at commit " + std::to_string(at->seq) +
                                 " cannot apply commit " + std::to_string(pos.seq) +
                                 ": commits are applied in order"));
  for (const Change& c : changes) {
    unsigned dbi = 0;
    bool found = false;
    for (const auto& [name, d] : tables_)
      if (name == c.table) dbi = d, found = true;
    if (!found || !IsReplicatedTable(c.table))
      return abort(Status::Corrupt("commit " + std::to_string(pos.seq) + " changes table \"" +
                                   c.table + "\", which this host does not replicate"));
    if (c.key.empty())
      return abort(Status::Corrupt("commit " + std::to_string(pos.seq) + " has an empty key"));
    MDB_val k = Val(c.key);
    if (c.value) {
      MDB_val v = Val(*c.value);
      rc = mdb_put(txn, dbi, &k, &v, 0);
    } else {
      rc = mdb_del(txn, dbi, &k, nullptr);
      if (rc == MDB_NOTFOUND) rc = 0;
    }
    if (rc != 0) return abort(Error("applying commit " + std::to_string(pos.seq), rc));
  }
  Status st = PutPosition(txn, pos);
  if (!st.ok()) return abort(st);
  rc = sys::TxnCommit(txn);
  if (rc != 0) return Error("applying commit " + std::to_string(pos.seq), rc);
  AfterCommit(changes);
  return Status::Ok();
}

Status Registry::Write(const std::function<Status(WriteTxn&)>& body) {
  for (int attempt = 1;; ++attempt) {
    if (remote_) MODELFS_RETURN_IF_ERROR(remote_->CatchUp(*this));
    auto tx = WriteTxn::Begin(this);
    if (!tx.ok()) return tx.status();
    Status st = body(**tx);
    if (!(*tx)->conflicted()) return st;
    if (attempt == kWriteAttempts)
      return Status::Busy("gave up after " + std::to_string(attempt) +
                          " attempts: other hosts kept committing first; try again");
    // Randomised, growing: two hosts that collided should not collide again.
    tx->reset();
    static thread_local std::mt19937 rng{std::random_device{}()};
    int most_ms = 5 * std::min(attempt, 10);
    usleep(static_cast<useconds_t>(1000 * (1 + rng() % most_ms)));
  }
}

}  // namespace modelfs
