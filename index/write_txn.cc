// WriteTxn (write_txn.h): one LMDB write transaction and the typed puts of
// the registry's records, with the helpers every change shares (new models
// and versions, a version's tree of entries, audit records).
#include "index/write_txn.h"
#include "index/sys.h"

#include <map>

#include "index/links.h"

namespace modelfs {

using namespace lmdb;

WriteTxn::WriteTxn(Registry* reg, MDB_txn* txn) : reg_(reg), txn_(txn), view_(reg, txn, false) {}

WriteTxn::~WriteTxn() {
  if (!done_) mdb_txn_abort(txn_);
}

Result<std::unique_ptr<WriteTxn>> WriteTxn::Begin(Registry* reg) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(reg->env_, nullptr, 0, &txn);
  if (rc != 0) return Error("cannot begin a write transaction", rc);
  return std::unique_ptr<WriteTxn>(new WriteTxn(reg, txn));
}

void WriteTxn::Record(unsigned dbi, std::string_view key, std::optional<std::string_view> val) {
  if (!reg_->remote_) return;
  const std::string& table = reg_->TableName(dbi);
  if (!IsReplicatedTable(table)) return;
  Change c{table, std::string(key), {}};
  if (val) c.value = std::string(*val);
  changes_.changes.push_back(std::move(c));
}

Status WriteTxn::Put(unsigned dbi, std::string_view key, std::string_view val) {
  MDB_val k = Val(key), v = Val(val);
  int rc = mdb_put(txn_, dbi, &k, &v, 0);
  if (rc != 0) return Error("index write", rc);
  Record(dbi, key, val);
  return Status::Ok();
}

// Deleting an absent record is an error, as mdb_del makes it.
Status WriteTxn::Del(unsigned dbi, std::string_view key) {
  MDB_val k = Val(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc != 0) return Error("index delete", rc);
  Record(dbi, key, std::nullopt);
  return Status::Ok();
}

Result<ObjectId> WriteTxn::NextId() {
  auto stored = GetCounter(txn_, reg_->dbi_meta_, "next_id");
  if (!stored.ok()) return stored.status();
  // Init writes next_id; without it, ids already given out are unknown and
  // one could name two objects (fsck --repair rebuilds it).
  if (*stored <= kRootId)
    return Status::Corrupt("meta record \"next_id\" is missing or zero: the next free object id "
                           "is unknown (run modelfs fsck --repair)");
  ObjectId id = *stored;
  MODELFS_RETURN_IF_ERROR(Put(reg_->dbi_meta_, "next_id", Key64(id + 1)));
  return id;
}

Status WriteTxn::PutModel(const Model& m) { return Put(reg_->dbi_models_, m.name, Encode(m)); }

Status WriteTxn::PutVersion(const Version& v) {
  auto stored = view_.GetVersion(v.model_id, v.number);
  MODELFS_RETURN_IF_ERROR(UpdateChildren(v, stored, &v));
  MODELFS_RETURN_IF_ERROR(IndexVersion(v, stored, &v));
  return Put(reg_->dbi_versions_, VersionKey(v.model_id, v.number), Encode(v));
}

Status WriteTxn::PutEntry(const Entry& e) {
  // The object store must hold a file's blob before any host sees it.
  if (reg_->remote_ && e.is_file()) changes_.blobs.push_back(e.digest);
  return Put(reg_->dbi_entries_, Key64Name(e.parent, e.name), Encode(e));
}

Status WriteTxn::PutAlias(ObjectId model_id, const Alias& a) {
  return Put(reg_->dbi_aliases_, Key64Name(model_id, a.name), Encode(a));
}

Status WriteTxn::DelAlias(ObjectId model_id, std::string_view name) {
  return Del(reg_->dbi_aliases_, Key64Name(model_id, name));
}

Status WriteTxn::DelEntries(ObjectId parent) {
  std::vector<std::pair<std::string, Entry>> children;
  MODELFS_RETURN_IF_ERROR(view_.ForEachEntry(parent, "", [&](const Entry& e) {
    children.emplace_back(Key64Name(parent, e.name), e);
    return true;
  }));
  for (auto& [key, e] : children) {
    if (e.is_dir()) MODELFS_RETURN_IF_ERROR(DelEntries(e.id));
    MODELFS_RETURN_IF_ERROR(Del(reg_->dbi_entries_, key));
  }
  return Status::Ok();
}

Status WriteTxn::DelVersion(const Version& v) {
  auto stored = view_.GetVersion(v.model_id, v.number);
  MODELFS_RETURN_IF_ERROR(UpdateChildren(v, stored, nullptr));
  MODELFS_RETURN_IF_ERROR(DelEntries(v.id));
  MODELFS_RETURN_IF_ERROR(IndexVersion(v, stored, nullptr));
  std::string key = VersionKey(v.model_id, v.number);
  MODELFS_RETURN_IF_ERROR(Del(reg_->dbi_versions_, key));
  // Its use counts go with it (a never-used version has none). They are
  // this host's own: not replicated.
  MDB_val k = Val(key);
  int rc = mdb_del(txn_, reg_->dbi_usage_, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return Error("index delete", rc);
  return Status::Ok();
}

Status WriteTxn::Audit(AuditRecord r) {
  auto stored = GetCounter(txn_, reg_->dbi_meta_, "audit_seq");  // absent before the first
  if (!stored.ok()) return stored.status();
  uint64_t seq = *stored + 1;
  r.seq = seq;
  if (r.at_ns == 0) r.at_ns = NowNs();
  if (r.host.empty()) r.host = reg_->host();
  MODELFS_RETURN_IF_ERROR(Put(reg_->dbi_meta_, "audit_seq", Key64(seq)));
  return Put(reg_->dbi_audit_, Key64(seq), Encode(r));
}

Status WriteTxn::Commit() {
  if (reg_->remote_ && !changes_.empty()) {
    // The index of record first: the replica follows it, never leads.
    auto base = reg_->PositionIn(txn_);
    if (!base.ok()) return base.status();
    auto pos = reg_->remote_->Commit(*reg_, changes_, *base);
    if (!pos.ok()) return pos.status();
    if (!*pos) {
      conflicted_ = true;
      return Status::Busy("another host committed a change first");
    }
    MODELFS_RETURN_IF_ERROR(reg_->PutPosition(txn_, **pos));
  }
  done_ = true;
  int rc = sys::TxnCommit(txn_);
  if (rc != 0) return Error("index commit", rc);
  reg_->AfterCommit(changes_.changes);
  return Status::Ok();
}

Result<Model> NewModel(WriteTxn& t, std::string_view name, const Actor& who) {
  auto id = t.NextId();
  if (!id.ok()) return id.status();
  auto latest_id = t.NextId();
  if (!latest_id.ok()) return latest_id.status();
  Model m;
  m.id = *id;
  m.latest_id = *latest_id;
  m.name = std::string(name);
  m.created_at_ns = NowNs();
  m.created_by = who.name;
  m.owner = who.name;
  return m;
}

Result<Model> ModelOrNew(WriteTxn& t, std::string_view name, const Actor& who, bool* created) {
  auto m = t.view().GetModel(name);
  *created = !m.ok();
  if (m.ok() || m.status().code() != Code::kNotFound) return m;
  return NewModel(t, name, who);
}

Result<Version> NewVersion(WriteTxn& t, Model* m, State state, const Actor& who) {
  auto id = t.NextId();
  if (!id.ok()) return id.status();
  Version v;
  v.id = *id;
  v.model_id = m->id;
  v.model = m->name;
  v.number = m->next_version++;
  v.state = state;
  v.created_at_ns = NowNs();
  v.created_by = who.name;
  v.created_uid = who.uid;
  return v;
}

Digest TreeDigest(const std::vector<TreeItem>& items) {
  VersionDigest vd;
  for (const auto& it : items) {
    if (it.dir) continue;
    vd.Add(it.rel, it.mode, it.mode == kSymlinkMode ? LinkDigest(it.target) : it.digest);
  }
  return vd.Finish();
}

Status PutTree(WriteTxn& t, Version* v, const std::vector<TreeItem>& items) {
  std::map<std::string, ObjectId> dir_ids{{"", v->id}};
  v->size = 0;
  v->files = 0;
  for (const auto& it : items) {
    auto slash = it.rel.rfind('/');
    auto parent = dir_ids.find(slash == std::string::npos ? "" : it.rel.substr(0, slash));
    if (parent == dir_ids.end()) return Status::Invalid(it.rel + ": its directory is missing");
    auto id = t.NextId();
    if (!id.ok()) return id.status();
    Entry e;
    e.id = *id;
    e.parent = parent->second;
    e.name = slash == std::string::npos ? it.rel : it.rel.substr(slash + 1);
    e.mode = it.mode;
    if (it.dir) {
      dir_ids[it.rel] = e.id;
    } else if (e.is_link()) {
      // Listed like a file, holding no bytes of the version's size.
      e.target = it.target;
      e.size = it.target.size();
      e.digest = LinkDigest(it.target);
      ++v->files;
    } else {
      e.size = it.size;
      e.digest = it.digest;
      v->size += e.size;
      ++v->files;
    }
    MODELFS_RETURN_IF_ERROR(t.PutEntry(e));
  }
  v->digest = TreeDigest(items);
  return Status::Ok();
}

AuditRecord MakeAudit(const Actor& who, std::string_view action, std::string_view model,
                      uint32_t version, std::string_view alias, std::string_view object,
                      std::string before, std::string after) {
  AuditRecord r;
  r.uid = who.uid;
  r.user = who.name;
  r.action = std::string(action);
  r.model = std::string(model);
  r.version = version;
  r.alias = std::string(alias);
  r.object = std::string(object);
  r.before = std::move(before);
  r.after = std::move(after);
  return r;
}

}  // namespace modelfs
