// Use counts (see usage.h): the in-memory counter, the usage table's record,
// and the Registry and Snapshot calls that write and read it.
#include "index/usage.h"

#include <algorithm>

#include "index/lmdb_keys.h"
#include "index/registry.h"
#include "index/write_txn.h"

namespace modelfs {

using namespace lmdb;

namespace {

void Merge(Usage* into, const Usage& add) {
  into->use_count += add.use_count;
  into->last_used_at_ns = std::max(into->last_used_at_ns, add.last_used_at_ns);
}

}  // namespace

std::string EncodeUsage(const Usage& u) {
  std::string s;
  PutBE64(&s, static_cast<uint64_t>(u.last_used_at_ns));
  PutBE64(&s, u.use_count);
  return s;
}

Status DecodeUsage(std::string_view bytes, Usage* u) {
  if (bytes.size() != 16)
    return Status::Corrupt(std::to_string(bytes.size()) +
                           " bytes, not 16 (last_used_at, use_count)");
  u->last_used_at_ns = static_cast<int64_t>(GetBE(bytes, 0, 8));
  u->use_count = GetBE(bytes, 8, 8);
  return Status::Ok();
}

void UseCounts::Record(ObjectId model_id, uint32_t number, int64_t now_ns) {
  std::lock_guard<std::mutex> g(mu_);
  Merge(&pending_[{model_id, number}], Usage{now_ns, 1});
}

std::vector<UseBatchItem> UseCounts::Take() {
  std::map<std::pair<ObjectId, uint32_t>, Usage> taken;
  {
    std::lock_guard<std::mutex> g(mu_);
    taken.swap(pending_);
  }
  std::vector<UseBatchItem> out;
  out.reserve(taken.size());
  for (const auto& [key, u] : taken) out.push_back(UseBatchItem{key.first, key.second, u});
  return out;
}

void UseCounts::Restore(const std::vector<UseBatchItem>& batch) {
  std::lock_guard<std::mutex> g(mu_);
  for (const UseBatchItem& it : batch) Merge(&pending_[{it.model_id, it.number}], it.add);
}

// ------------------------------------------------------------ the index

std::optional<Usage> Snapshot::UsageOf(ObjectId model_id, uint32_t number, Status* error) const {
  if (error) *error = Status::Ok();
  std::string key = VersionKey(model_id, number);
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn_, reg_->dbi_usage_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  Status st;
  Usage u;
  if (rc != 0) st = Error("reading the usage of " + FormatRef(ModelNameOf(model_id), number), rc);
  else if (Status d = DecodeUsage(View(v), &u); !d.ok())
    st = Status::Corrupt("usage record " + FormatRef(ModelNameOf(model_id), number) +
                         " is damaged: " + d.message());
  if (!st.ok()) {
    if (error) *error = st;
    return std::nullopt;
  }
  return u;
}

uint64_t Snapshot::UsageSeq() const {
  auto seq = GetCounter(txn_, reg_->dbi_meta_, "usage_seq");
  return seq.ok() ? *seq : 0;
}

Status Registry::AddUsage(const std::vector<UseBatchItem>& batch) {
  if (batch.empty()) return Status::Ok();
  auto t = WriteTxn::Begin(this);
  if (!t.ok()) return t.status();
  WriteTxn& tx = **t;
  bool wrote = false;
  for (const UseBatchItem& it : batch) {
    // A version gc removed since its files were opened keeps no record
    // (DelVersion removed it, and numbers are never reused).
    auto v = tx.view().GetVersion(it.model_id, it.number);
    if (!v.ok() && v.status().code() == Code::kNotFound) continue;
    Status read;
    Usage u = tx.view().UsageOf(it.model_id, it.number, &read).value_or(Usage{});
    if (!read.ok() && read.code() != Code::kCorrupt) return read;
    // A damaged record is replaced: counts are advisory, and what it held
    // cannot be read back anyway.
    Merge(&u, it.add);
    MODELFS_RETURN_IF_ERROR(tx.Put(dbi_usage_, VersionKey(it.model_id, it.number), EncodeUsage(u)));
    wrote = true;
  }
  if (!wrote) return Status::Ok();
  // usage_seq, like the usage table, is this host's own: written past the
  // change set, so a multi-host registry commits nothing for a flush.
  auto seq = GetCounter(tx.txn_, dbi_meta_, "usage_seq");
  std::string next = Key64((seq.ok() ? *seq : 0) + 1);
  MDB_val sk = Val("usage_seq"), sv = Val(next);
  int rc = mdb_put(tx.txn_, dbi_meta_, &sk, &sv, 0);
  if (rc != 0) return Error("index write", rc);
  // Not audited: a use is no change a user made (see usage.h).
  return tx.Commit();
}

}  // namespace modelfs
