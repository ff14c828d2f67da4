// Registry: opening the LMDB environment, read snapshots and write
// transactions. The changes themselves are in changes.cc (models, metadata,
// aliases, approvals, archive), push.cc, drafts.cc, and maintenance.cc (gc
// and fsck).
//
// LMDB layout (named databases; big-endian integers so keys sort by number):
//   meta      "next_id" → u64, "audit_seq" → u64, "format" → "1"
//   models    name → Model
//   versions  model_id(8) number(4) → Version
//   entries   parent_id(8) name → Entry   (files and directories of versions)
//   aliases   model_id(8) name → Alias
//   audit     seq(8) → AuditRecord
//   children  parent model_id(8) number(4) child model_id(8) number(4) → ""
//             (lineage.parents turned around: lineage.cc; "children" in
//             meta says it is built)
//   find      value keys → ""  (find_index.h; meta "find_index" → "1" once built)
//   usage     model_id(8) number(4) → Usage (usage.cc; meta "usage_seq" counts flushes)
// and, in a multi-host ROOT only, the replica's own position (never
// replicated: written by ApplyCommit and WriteTxn::Commit directly):
//   meta      "replica.seq" → u64, "replica.rev" → u64
#include "index/registry.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <type_traits>

#include "index/blob_cache.h"
#include "index/lmdb_keys.h"
#include "index/names.h"
#include "index/scan.h"
#include "index/write_txn.h"
#include "index/sys.h"

namespace modelfs {

using namespace lmdb;

namespace {

// Virtual address space reserved for the index; the file grows only as
// pages are used. 64 GiB holds tens of millions of versions.
constexpr size_t kDefaultMapSize = size_t{64} << 30;
// Readers: the mount's threads plus concurrent CLI processes.
constexpr unsigned kMaxReaders = 1024;

// MODELFS_MAP_SIZE, a whole number of bytes, or the default. Anything else
// (a suffix such as "64G", a sign, garbage) is refused rather than read as
// some other size.
Result<size_t> MapSize() {
  const char* s = getenv("MODELFS_MAP_SIZE");
  if (!s || !*s) return kDefaultMapSize;
  std::string_view text(s);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0 ||
      v > std::numeric_limits<size_t>::max())
    return Status::Invalid("MODELFS_MAP_SIZE \"" + EscapeText(text) +
                           "\" is not a size in bytes (a whole number such as 68719476736)");
  return static_cast<size_t>(v);
}


// Visits the records of type T whose keys start with `prefix`, from key
// `start` on, decoded, in key order. A record that does not decode is
// skipped and the scan goes on, so one damaged record hides no other; the
// first one skipped is then returned, named by `name_of(key)`.
template <class T, class NameOf>
Status ScanRecords(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix, std::string start,
                   const std::function<bool(const T&)>& fn, NameOf&& name_of) {
  Status damage;
  Status st = Scan(txn, dbi, prefix, std::move(start),
                   [&](std::string_view key, std::string_view val, bool* more) {
                     T rec;
                     Status d = Decode(val, &rec);
                     if (!d.ok()) {
                       if (damage.ok()) damage = Damaged(name_of(key), d);
                       return Status::Ok();
                     }
                     *more = fn(rec);
                     return Status::Ok();
                   });
  return st.ok() ? damage : st;
}

// The first key of a name-keyed table under `prefix` that sorts after
// prefix + `after` ("" = the first key under prefix).
std::string KeyAfter(const std::string& prefix, std::string_view after) {
  std::string k = prefix + std::string(after);
  if (!after.empty()) k.push_back('\0');
  return k;
}

// The record at `key`: NotFound naming it as `what` ("model churn") when
// absent, Corrupt named by `name_of(key)` when it does not decode.
template <class T, class NameOf>
Result<T> GetRecord(MDB_txn* txn, MDB_dbi dbi, std::string_view key, const std::string& what,
                    NameOf&& name_of) {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return Status::NotFound(what + " does not exist");
  if (rc != 0) return Error("reading " + what, rc);
  T rec;
  Status d = Decode(View(v), &rec);
  if (!d.ok()) return Damaged(name_of(key), d);
  return rec;
}

// A name or key as text for a message: printable bytes as they are, others
// (a damaged key may hold anything) as \xNN, in quotes.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

// ------------------------------------------------------- naming records
//
// Messages about a damaged record name it in the registry's words
// ("versions record churn@3"), not as raw key bytes. Keys hold ids, so this
// looks the ids up: slow (a scan), but only ever on the way to an error.

std::string Snapshot::ModelNameOf(ObjectId model_id) const {
  std::string name;
  auto match = [&](std::string_view, std::string_view val, bool* more) {
    Model m;
    // A name that is not a valid one (damage) would make a poor label.
    if (Decode(val, &m).ok() && m.id == model_id && CheckModelName(m.name).ok()) {
      name = m.name;
      *more = false;
    }
    return Status::Ok();
  };
  (void)Scan(txn_, reg_->dbi_models_, "", "", match);  // an unreadable table names nothing
  return name;
}

std::string Snapshot::RecordName(unsigned dbi, std::string_view key) const {
  const Registry& r = *reg_;
  if (dbi == r.dbi_models_) return "models record " + Quoted(key);
  if (dbi == r.dbi_meta_) return "meta record " + Quoted(key);
  if (dbi == r.dbi_audit_)
    return key.size() == 8 ? "audit record #" + std::to_string(GetBE(key, 0, 8))
                           : "audit record with malformed key " + Quoted(key);
  if (dbi == r.dbi_versions_) {
    if (key.size() != 12) return "versions record with malformed key " + Quoted(key);
    ObjectId id = GetBE(key, 0, 8);
    auto number = static_cast<uint32_t>(GetBE(key, 8, 4));
    std::string name = ModelNameOf(id);
    if (name.empty())
      return "versions record of model id " + std::to_string(id) + " number " +
             std::to_string(number);
    return "versions record " + FormatRef(name, number);
  }
  if (key.size() < 8) return "record with malformed key " + Quoted(key);
  ObjectId id = GetBE(key, 0, 8);
  std::string_view name = key.substr(8);
  if (dbi == r.dbi_aliases_) {
    std::string alias = CheckAliasName(name).ok() ? std::string(name) : Quoted(name);
    std::string model = ModelNameOf(id);
    if (model.empty()) return "aliases record " + alias + " of model id " + std::to_string(id);
    return "aliases record " + model + "/" + alias;
  }
  if (dbi == r.dbi_entries_) {
    // The parent is a version (a top-level entry) or a directory entry.
    std::string parent;
    auto match = [&](std::string_view, std::string_view val, bool* more) {
      Version v;
      if (Decode(val, &v).ok() && v.id == id) {
        parent = v.ref();
        *more = false;
      }
      return Status::Ok();
    };
    (void)Scan(txn_, r.dbi_versions_, "", "", match);
    if (parent.empty()) parent = "directory id " + std::to_string(id);
    return "entries record " + Quoted(name) + " in " + parent;
  }
  return "record " + Quoted(key);
}

// ---------------------------------------------------------------- Snapshot

Snapshot::Snapshot(const Registry* reg, MDB_txn* txn, bool owned)
    : reg_(reg), txn_(txn), owned_(owned) {}

Snapshot::Snapshot(Snapshot&& o) noexcept : reg_(o.reg_), txn_(o.txn_), owned_(o.owned_) {
  o.txn_ = nullptr;
}

Snapshot::~Snapshot() {
  if (txn_ && owned_) reg_->GiveBackReadTxn(txn_);
}

std::function<std::string(std::string_view)> Snapshot::Namer(unsigned dbi) const {
  return [this, dbi](std::string_view key) { return RecordName(dbi, key); };
}

Result<Model> Snapshot::GetModel(std::string_view name) const {
  return GetRecord<Model>(txn_, reg_->dbi_models_, name, "model " + std::string(name),
                          Namer(reg_->dbi_models_));
}

Status Snapshot::ForEachModel(std::string_view after,
                              const std::function<bool(const Model&)>& fn) const {
  return ScanRecords<Model>(txn_, reg_->dbi_models_, "", KeyAfter("", after), fn,
                            Namer(reg_->dbi_models_));
}

Result<Version> Snapshot::GetVersion(ObjectId model_id, uint32_t number) const {
  return GetRecord<Version>(txn_, reg_->dbi_versions_, VersionKey(model_id, number),
                            "version " + std::to_string(number), Namer(reg_->dbi_versions_));
}

Result<Version> Snapshot::GetVersion(std::string_view model, uint32_t number) const {
  auto m = GetModel(model);
  if (!m.ok()) return m.status();
  auto v = GetVersion(m->id, number);
  if (!v.ok() && v.status().code() == Code::kNotFound)
    return Status::NotFound(FormatRef(model, number) + " does not exist");
  return v;
}

Status Snapshot::ForEachVersion(ObjectId model_id, uint32_t after,
                                const std::function<bool(const Version&)>& fn) const {
  if (after == UINT32_MAX) return Status::Ok();
  return ScanRecords<Version>(txn_, reg_->dbi_versions_, Key64(model_id),
                              VersionKey(model_id, after + 1), fn, Namer(reg_->dbi_versions_));
}

Status Snapshot::ForEachVersionNewestFirst(ObjectId model_id,
                                           const std::function<bool(const Version&)>& fn) const {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn_, reg_->dbi_versions_, &cur);
  if (rc != 0) return Error("index cursor", rc);
  std::string prefix = Key64(model_id);
  std::string next = Key64(model_id + 1);
  MDB_val k = Val(next), v;
  // Position at the last version of this model, then walk backwards.
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  rc = (rc == 0) ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
  Status st;
  while (rc == 0 && View(k).substr(0, 8) == prefix) {
    Version ver;
    if (Status d = Decode(View(v), &ver); !d.ok()) {
      st = Damaged(RecordName(reg_->dbi_versions_, View(k)), d);
      break;
    }
    if (!fn(ver)) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
  }
  if (st.ok() && rc != 0 && rc != MDB_NOTFOUND) st = Error("index scan", rc);
  mdb_cursor_close(cur);
  return st;
}

Result<uint32_t> Snapshot::CountVersions(ObjectId model_id) const {
  uint32_t n = 0;
  MODELFS_RETURN_IF_ERROR(Scan(txn_, reg_->dbi_versions_, Key64(model_id), Key64(model_id),
                               [&](std::string_view, std::string_view, bool*) {
                                 ++n;
                                 return Status::Ok();
                               }));
  return n;
}

uint32_t Snapshot::LatestReady(ObjectId model_id, Status* error) const {
  uint32_t found = 0;
  // A damaged record newer than any ready one may be the latest: naming an
  // older version as latest would be a silent lie, so the error stands.
  Status st = ForEachVersionNewestFirst(model_id, [&](const Version& v) {
    if (v.state != State::kReady) return true;
    found = v.number;
    return false;
  });
  if (error) *error = st;
  return st.ok() ? found : 0;
}

Result<Version> Snapshot::Resolve(const Ref& ref) const {
  auto m = GetModel(ref.model);
  if (!m.ok()) return m.status();
  uint32_t n = ref.version;
  if (n == 0 && (ref.alias.empty() || ref.alias == "latest")) {
    Status st;
    n = LatestReady(m->id, &st);
    if (!st.ok()) return st;
    if (n == 0) return Status::NotFound("model " + ref.model + " has no ready version");
  } else if (n == 0) {
    auto a = GetAlias(m->id, ref.alias);
    if (!a.ok() && a.status().code() == Code::kNotFound)
      return Status::NotFound("alias " + ref.model + "/" + ref.alias + " does not exist");
    if (!a.ok()) return a.status();
    n = a->version;
  }
  return GetVersion(ref.model, n);
}

Result<Alias> Snapshot::GetAlias(ObjectId model_id, std::string_view name) const {
  return GetRecord<Alias>(txn_, reg_->dbi_aliases_, Key64Name(model_id, name),
                          "alias " + std::string(name), Namer(reg_->dbi_aliases_));
}

Status Snapshot::ForEachAlias(ObjectId model_id, std::string_view after,
                              const std::function<bool(const Alias&)>& fn) const {
  std::string prefix = Key64(model_id);
  return ScanRecords<Alias>(txn_, reg_->dbi_aliases_, prefix, KeyAfter(prefix, after), fn,
                            Namer(reg_->dbi_aliases_));
}

std::vector<std::string> Snapshot::AliasesOf(ObjectId model_id, uint32_t number,
                                             Status* error) const {
  std::vector<std::string> out;
  Status st = ForEachAlias(model_id, "", [&](const Alias& a) {
    if (a.version == number) out.push_back(a.name);
    return true;
  });
  if (error) *error = st;
  return out;
}

Status Snapshot::CheckAliasTarget(const Model& m, std::string_view alias,
                                  uint32_t number) const {
  auto v = GetVersion(m.id, number);
  if (!v.ok() && v.status().code() != Code::kNotFound) return v.status();
  std::string why = "alias " + m.name + "/" + std::string(alias) + " cannot point at " +
                    FormatRef(m.name, number) + ": ";
  if (!v.ok()) return Status::Invalid(why + "it does not exist");
  if (v->state != State::kReady)
    return Status::Invalid(why + "it is " + std::string(StateName(v->state)) + ", not ready");
  return Status::Ok();
}

Result<Entry> Snapshot::GetEntry(ObjectId parent, std::string_view name) const {
  return GetRecord<Entry>(txn_, reg_->dbi_entries_, Key64Name(parent, name),
                          "file " + std::string(name), Namer(reg_->dbi_entries_));
}

Status Snapshot::ForEachEntry(ObjectId parent, std::string_view after,
                              const std::function<bool(const Entry&)>& fn) const {
  std::string prefix = Key64(parent);
  return ScanRecords<Entry>(txn_, reg_->dbi_entries_, prefix, KeyAfter(prefix, after), fn,
                            Namer(reg_->dbi_entries_));
}

Status Snapshot::ForEachPath(
    const Version& v, const std::function<bool(const std::string&, const Entry&)>& fn) const {
  // Iterative depth-first walk; `stop` carries an early exit out.
  bool stop = false;
  std::function<Status(ObjectId, const std::string&)> walk = [&](ObjectId parent,
                                                                 const std::string& prefix) {
    std::vector<Entry> dirs;
    MODELFS_RETURN_IF_ERROR(ForEachEntry(parent, "", [&](const Entry& e) {
      std::string path = prefix.empty() ? e.name : prefix + "/" + e.name;
      if (!fn(path, e)) {
        stop = true;
        return false;
      }
      if (e.is_dir()) dirs.push_back(e);
      return true;
    }));
    for (const Entry& d : dirs) {
      if (stop) break;
      MODELFS_RETURN_IF_ERROR(walk(d.id, prefix.empty() ? d.name : prefix + "/" + d.name));
    }
    return Status::Ok();
  };
  return walk(v.id, "");
}

Status Snapshot::ForEachAudit(uint64_t after,
                              const std::function<bool(const AuditRecord&)>& fn) const {
  return ScanRecords<AuditRecord>(txn_, reg_->dbi_audit_, "", Key64(after + 1), fn,
                                  Namer(reg_->dbi_audit_));
}

uint64_t Snapshot::LastAuditSeq() const {
  auto seq = GetCounter(txn_, reg_->dbi_meta_, "audit_seq");
  return seq.ok() ? *seq : 0;
}

Result<std::string> Snapshot::GetState(std::string_view key) const {
  std::string k = "state/" + std::string(key);
  MDB_val mk = Val(k), v;
  int rc = mdb_get(txn_, reg_->dbi_meta_, &mk, &v);
  if (rc == MDB_NOTFOUND) return std::string();
  if (rc != 0) return Error("reading meta record \"" + k + "\"", rc);
  return std::string(View(v));
}

// ---------------------------------------------------------------- Registry

Registry::Registry(std::string root) : root_(std::move(root)), blobs_(root_) {}

Registry::~Registry() {
  remote_.reset();  // its follower applies to this registry: stopped first
  for (MDB_txn* t : read_pool_) mdb_txn_abort(t);
  if (env_) mdb_env_close(env_);
}

Status Registry::Init(const std::string& root, std::string_view policy_text) {
  if (root.empty()) return Status::Invalid("ROOT is empty");
  if (mkdir(root.c_str(), 0700) != 0) {
    if (errno != EEXIST) return Status::FromErrno("cannot create registry " + root, errno);
    struct stat st;
    if (stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Status::Exists(root + " exists and is not a directory");
    struct stat ist;
    if (stat((root + "/index").c_str(), &ist) == 0)
      return Status::Exists(root + " is already a modelfs registry");
    // Never take over a directory with something in it (think `init ~`).
    std::error_code ec;
    if (!std::filesystem::is_empty(root, ec))
      return Status::Exists(root + " is not empty: give a new or empty directory");
    if (chmod(root.c_str(), 0700) != 0)
      return Status::FromErrno("cannot set permissions on " + root, errno);
  }
  for (const char* d : {"/index", "/blobs", "/staging"}) {
    std::string p = root + d;
    if (mkdir(p.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::FromErrno("cannot create " + p, errno);
  }
  std::string pol = root + "/policy.toml";
  {
    std::ofstream f(pol);
    f << policy_text;
    if (!f) return Status::IO("cannot write " + pol);
  }
  int lock = open((root + "/gc.lock").c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0660);
  if (lock < 0) return Status::FromErrno("cannot create " + root + "/gc.lock", errno);
  close(lock);
  auto reg = Open(root);  // creates the LMDB databases
  return reg.status();
}

Result<std::unique_ptr<Registry>> Registry::Open(const std::string& root) {
  struct stat st;
  if (stat(root.c_str(), &st) != 0) {
    if (errno == EACCES)
      return Status::NoAccess("cannot open registry " + root +
                              ": permission denied (ROOT is private to its owner; use the mount)");
    return Status::FromErrno("cannot open registry " + root, errno);
  }
  if (!S_ISDIR(st.st_mode)) return Status::Invalid(root + " is not a modelfs registry (not a directory)");
  std::string idx = root + "/index";
  if (stat(idx.c_str(), &st) != 0) {
    if (errno == EACCES)
      return Status::NoAccess("cannot open registry " + root +
                              ": permission denied (ROOT is private to its owner; use the mount)");
    return Status::Invalid(root + " is not a modelfs registry (no index/; create one with `modelfs init`)");
  }
  if (access(idx.c_str(), R_OK | W_OK | X_OK) != 0)
    return Status::NoAccess("cannot open registry " + root + ": permission denied on " + idx);
  std::unique_ptr<Registry> reg(new Registry(root));
  MODELFS_RETURN_IF_ERROR(reg->OpenEnv());
  if (stat((root + "/registry.toml").c_str(), &st) == 0) {
    ReplicationFactory make = GetReplicationFactory();
    if (!make)
      return Status::Invalid(root + " is a multi-host registry (registry.toml), which this "
                             "program cannot open");
    auto remote = make(root);
    if (!remote.ok()) return remote.status();
    reg->remote_ = std::move(*remote);
    Replication* r = reg->remote_.get();
    reg->blobs_.SetFetch(
        [r](const Digest& d, int fd, uint64_t* size) { return r->FetchBlobTo(d, fd, size); },
        std::make_shared<BlobCache>(root, r->CacheLimit()));
    reg->host_ = r->HostName();
  }
  if (reg->host_.empty()) reg->host_ = MachineHostName();
  return reg;
}

Status Registry::OpenEnv() {
  auto map_size = MapSize();
  if (!map_size.ok()) return map_size.status();
  int rc = mdb_env_create(&env_);
  if (rc != 0) return Error("mdb_env_create", rc);
  std::string idx = root_ + "/index";
  if ((rc = mdb_env_set_mapsize(env_, *map_size)) != 0 ||
      (rc = mdb_env_set_maxreaders(env_, kMaxReaders)) != 0 ||
      (rc = mdb_env_set_maxdbs(env_, 16)) != 0)
    return Error("cannot set up the index " + idx, rc);
  // MDB_NOTLS: read transactions are bound to Snapshot objects, not threads,
  // so the mount's worker threads can share a pool of them. Mode 0660 (less
  // the umask): ROOT's own permissions decide who gets in (SPEC §6), and a
  // group of trusted accounts given ROOT by its owner can share the index.
  rc = mdb_env_open(env_, idx.c_str(), MDB_NOTLS, 0660);
  if (rc != 0) {
    if (rc == EACCES) return Status::NoAccess("cannot open registry " + root_ + ": " + mdb_strerror(rc));
    return Error("cannot open the index " + idx, rc);
  }
  int dead = 0;
  mdb_reader_check(env_, &dead);  // free slots of readers that died
  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return Error("cannot open the index " + idx, rc);
  struct {
    const char* name;
    unsigned* dbi;
  } dbs[] = {{"meta", &dbi_meta_},       {"models", &dbi_models_},   {"versions", &dbi_versions_},
             {"entries", &dbi_entries_}, {"aliases", &dbi_aliases_}, {"audit", &dbi_audit_},
             {"children", &dbi_children_}, {"find", &dbi_find_}, {"usage", &dbi_usage_}};
  for (auto& d : dbs) {
    MDB_dbi dbi;
    rc = mdb_dbi_open(txn, d.name, MDB_CREATE, &dbi);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return Error(std::string("cannot open index table ") + d.name, rc);
    }
    *d.dbi = dbi;
    tables_.emplace_back(d.name, dbi);
  }
  // A new index: ids start after the root's; the format is 1. (An index
  // whose next_id went missing later is not new: it has models.)
  MDB_val k = Val("next_id"), v;
  rc = mdb_get(txn, dbi_meta_, &k, &v);
  if (rc == MDB_NOTFOUND) {
    MDB_cursor* cur = nullptr;
    MDB_val mk, mv;
    rc = mdb_cursor_open(txn, dbi_models_, &cur);
    if (rc == 0) {
      int first = mdb_cursor_get(cur, &mk, &mv, MDB_FIRST);
      mdb_cursor_close(cur);
      rc = first == MDB_NOTFOUND ? MDB_NOTFOUND : 0;
    }
    if (rc == MDB_NOTFOUND) {
      std::string first = Key64(kRootId + 1);
      MDB_val fv = Val(first);
      MDB_val fk = Val("format"), fmt = Val("1");
      rc = mdb_put(txn, dbi_meta_, &k, &fv, 0);
      if (rc == 0) rc = mdb_put(txn, dbi_meta_, &fk, &fmt, 0);
    }
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return Error("cannot set up the index " + idx, rc);
  }
  // An index made before the find index existed: build it once.
  MDB_val fk = Val(kFindIndexMeta), fv;
  rc = mdb_get(txn, dbi_meta_, &fk, &fv);
  if (rc == MDB_NOTFOUND) {
    Status built = BuildFindIndex(txn);
    if (!built.ok()) {
      mdb_txn_abort(txn);
      return built;
    }
  }
  rc = sys::TxnCommit(txn);
  if (rc != 0) return Error("cannot open the index " + idx, rc);
  return EnsureChildren();
}

MDB_txn* Registry::TakeReadTxn() const {
  {
    std::lock_guard<std::mutex> g(pool_mu_);
    while (!read_pool_.empty()) {
      MDB_txn* t = read_pool_.back();
      read_pool_.pop_back();
      if (mdb_txn_renew(t) == 0) return t;
      mdb_txn_abort(t);
    }
  }
  MDB_txn* t = nullptr;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t) != 0) return nullptr;
  return t;
}

void Registry::GiveBackReadTxn(MDB_txn* txn) const {
  mdb_txn_reset(txn);
  std::lock_guard<std::mutex> g(pool_mu_);
  read_pool_.push_back(txn);
}

Result<Snapshot> Registry::Read() const {
  MDB_txn* t = TakeReadTxn();
  if (!t) return Status::IO("cannot begin a read transaction on " + root_);
  return Snapshot(this, t, true);
}

Status Registry::PutState(std::string_view key, std::string_view value) {
  // Through Write: on a multi-host registry the record is the registry's
  // (a hook's cursor goes with whichever host delivers), retried on conflict.
  std::string k = "state/" + std::string(key);
  return Write([&](WriteTxn& tx) -> Status {
    if (value.empty()) {
      auto cur = tx.view().GetState(key);
      if (!cur.ok()) return cur.status();
      if (!cur->empty()) MODELFS_RETURN_IF_ERROR(tx.Del(dbi_meta_, k));
    } else {
      MODELFS_RETURN_IF_ERROR(tx.Put(dbi_meta_, k, value));
    }
    return tx.Commit();
  });
}

}  // namespace modelfs
