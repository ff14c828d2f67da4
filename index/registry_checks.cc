// fsck's checks of the index itself (registry.h): records and keys that do
// not decode or have the wrong size (Snapshot::ForEachDamaged), and the
// meta counters against what the tables hold (Registry::CheckCounters).
#include <lmdb.h>

#include <algorithm>
#include <string>

#include "index/lmdb_keys.h"
#include "index/registry.h"
#include "index/scan.h"
#include "index/write_txn.h"

namespace modelfs {

using namespace lmdb;

Status Snapshot::ForEachDamaged(const std::function<bool(const Damage&)>& fn) const {
  const Registry& r = *reg_;
  bool more = true;
  // Key lengths: [min, max] bytes, as the layout at the top of this file.
  auto check = [&](auto type, unsigned dbi, const char* table, size_t min_key, size_t max_key) {
    using T = typename decltype(type)::type;
    if (!more) return Status::Ok();
    return Scan(txn_, dbi, "", "", [&](std::string_view key, std::string_view val, bool* go_on) {
      T rec;
      Status d = Decode(val, &rec);
      if (d.ok() && (key.size() < min_key || key.size() > max_key))
        d = Status::Corrupt("its key is " + std::to_string(key.size()) + " bytes long");
      if (!d.ok()) {
        more = fn(Damage{table, std::string(key), RecordName(dbi, key), d.message()});
        *go_on = more;
      }
      return Status::Ok();
    });
  };
  constexpr size_t kAny = SIZE_MAX;
  using std::type_identity;
  MODELFS_RETURN_IF_ERROR(check(type_identity<Model>{}, r.dbi_models_, "models", 1, kAny));
  MODELFS_RETURN_IF_ERROR(check(type_identity<Version>{}, r.dbi_versions_, "versions", 12, 12));
  MODELFS_RETURN_IF_ERROR(check(type_identity<Entry>{}, r.dbi_entries_, "entries", 9, kAny));
  MODELFS_RETURN_IF_ERROR(check(type_identity<Alias>{}, r.dbi_aliases_, "aliases", 9, kAny));
  return check(type_identity<AuditRecord>{}, r.dbi_audit_, "audit", 8, 8);
}

namespace {

// The highest object id that a record which decodes, or a key, holds.
Status MaxIdInUse(MDB_txn* txn, const unsigned (&dbis)[4], ObjectId* max) {
  *max = kRootId;
  auto see = [&](ObjectId id) { *max = std::max(*max, id); };
  auto key_id = [&](std::string_view key) {
    if (key.size() >= 8) see(GetBE(key, 0, 8));
  };
  auto models = [&](std::string_view, std::string_view val, bool*) {
    Model m;
    if (Decode(val, &m).ok()) see(std::max(m.id, m.latest_id));
    return Status::Ok();
  };
  auto versions = [&](std::string_view key, std::string_view val, bool*) {
    key_id(key);
    Version v;
    if (Decode(val, &v).ok()) see(v.id);
    return Status::Ok();
  };
  auto entries = [&](std::string_view key, std::string_view val, bool*) {
    key_id(key);
    Entry e;
    if (Decode(val, &e).ok()) see(e.id);
    return Status::Ok();
  };
  auto aliases = [&](std::string_view key, std::string_view val, bool*) {
    key_id(key);
    Alias a;
    if (Decode(val, &a).ok()) see(a.id);
    return Status::Ok();
  };
  MODELFS_RETURN_IF_ERROR(Scan(txn, dbis[0], "", "", models));
  MODELFS_RETURN_IF_ERROR(Scan(txn, dbis[1], "", "", versions));
  MODELFS_RETURN_IF_ERROR(Scan(txn, dbis[2], "", "", entries));
  return Scan(txn, dbis[3], "", "", aliases);
}

// The sequence number of the last audit record (its key), 0 when none.
Status LastAuditKey(MDB_txn* txn, MDB_dbi dbi, uint64_t* seq) {
  *seq = 0;
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return Error("index cursor", rc);
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  if (rc == 0 && k.mv_size == 8) *seq = GetBE(View(k), 0, 8);
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return Error("index scan", rc);
  return Status::Ok();
}

}  // namespace

Status Registry::CheckCounters(bool repair, bool records_damaged, const Actor& who,
                               FsckReport* rep) {
  // With repair, one write transaction checks and fixes; without, a read.
  std::unique_ptr<WriteTxn> tx;
  std::optional<Snapshot> snap;
  MDB_txn* txn = nullptr;
  if (repair) {
    auto t = WriteTxn::Begin(this);
    if (!t.ok()) return t.status();
    tx = std::move(*t);
    txn = tx->txn_;
  } else {
    auto s = Read();
    if (!s.ok()) return s.status();
    snap.emplace(std::move(*s));
    txn = snap->txn_;
  }
  const unsigned dbis[4] = {dbi_models_, dbi_versions_, dbi_entries_, dbi_aliases_};
  ObjectId max_id = 0;
  MODELFS_RETURN_IF_ERROR(MaxIdInUse(txn, dbis, &max_id));
  uint64_t last_audit = 0;
  MODELFS_RETURN_IF_ERROR(LastAuditKey(txn, dbi_audit_, &last_audit));

  bool changed = false;
  struct Fix {
    std::string what, before, after;
  };
  std::vector<Fix> fixes;  // for the audit trail
  auto shown = [](const Result<uint64_t>& v) {
    return !v.ok() ? std::string("damaged") : *v == 0 ? std::string("missing") : std::to_string(*v);
  };
  auto stored_next = GetCounter(txn, dbi_meta_, "next_id");
  std::string next_problem;
  if (!stored_next.ok()) next_problem = stored_next.status().message();
  else if (*stored_next == 0) next_problem = "meta record \"next_id\" is missing";
  else if (*stored_next <= max_id)
    next_problem = "meta record \"next_id\" is " + std::to_string(*stored_next) +
                   ", not above the highest object id in use, " + std::to_string(max_id);
  if (!next_problem.empty()) {
    rep->problems.push_back(next_problem + " (fsck --repair rebuilds it)");
    if (repair && records_damaged) {
      rep->not_repaired.push_back(
          "meta record \"next_id\": not rebuilt while records are damaged: the ids they hold "
          "are unknown, and a new object must never reuse one");
    } else if (repair) {
      MODELFS_RETURN_IF_ERROR(tx->Put(dbi_meta_, "next_id", Key64(max_id + 1)));
      rep->repaired.push_back("meta record \"next_id\" set to " + std::to_string(max_id + 1));
      fixes.push_back({"next_id", shown(stored_next), std::to_string(max_id + 1)});
      changed = true;
    }
  }
  auto stored_seq = GetCounter(txn, dbi_meta_, "audit_seq");
  std::string seq_problem;
  if (!stored_seq.ok()) seq_problem = stored_seq.status().message();
  else if (*stored_seq < last_audit)
    seq_problem = "meta record \"audit_seq\" is " + std::to_string(*stored_seq) +
                  ", behind the last audit record, #" + std::to_string(last_audit);
  if (!seq_problem.empty()) {
    rep->problems.push_back(seq_problem + " (fsck --repair rebuilds it)");
    if (repair) {
      MODELFS_RETURN_IF_ERROR(tx->Put(dbi_meta_, "audit_seq", Key64(last_audit)));
      rep->repaired.push_back("meta record \"audit_seq\" set to " + std::to_string(last_audit));
      fixes.push_back({"audit_seq", shown(stored_seq), std::to_string(last_audit)});
      changed = true;
    }
  }
  if (!changed) return Status::Ok();
  for (const Fix& f : fixes)
    MODELFS_RETURN_IF_ERROR(
        tx->Audit(MakeAudit(who, "fsck", "", 0, "", f.what, f.before, f.after)));
  return tx->Commit();
}

}  // namespace modelfs
