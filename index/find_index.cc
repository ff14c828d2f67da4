// The find index's keys (find_index.h), its upkeep by WriteTxn, its build
// on open, and fsck's check of it against the versions.
#include "index/find_index.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>

#include "index/lmdb_keys.h"
#include "index/registry.h"
#include "index/write_txn.h"

namespace modelfs {
namespace findindex {

using namespace lmdb;

std::string EncodeDouble(double d) {
  if (d == 0) d = 0;  // -0 and 0 are one value
  uint64_t bits = std::bit_cast<uint64_t>(d);
  // Negative: flip every bit (larger magnitude sorts first); else set the sign bit.
  bits = (bits >> 63) ? ~bits : bits | (uint64_t{1} << 63);
  return Key64(bits);
}

double DecodeDouble(std::string_view b) {
  uint64_t bits = GetBE(b, 0, 8);
  bits = (bits >> 63) ? bits & ~(uint64_t{1} << 63) : ~bits;
  return std::bit_cast<double>(bits);
}

std::string MetricPrefix(std::string_view key) {
  std::string k = "m";
  k.append(key);
  k.push_back('\0');
  return k;
}

std::string TextPrefix(char kind, std::string_view key) {
  std::string k(1, kind);
  k.append(key);
  k.push_back('\0');
  return k;
}

std::string TextValuePrefix(char kind, std::string_view key, std::string_view value) {
  std::string k = TextPrefix(kind, key);
  for (char c : value.substr(0, kIndexedTextBytes)) {
    k.push_back(c);
    if (c == '\0') k.push_back('\xff');
  }
  k.push_back('\0');
  k.push_back('\x01');
  return k;
}

VersionRef RefOf(std::string_view key) {
  if (key.size() < 12) return {};
  return {GetBE(key, key.size() - 12, 8), static_cast<uint32_t>(GetBE(key, key.size() - 4, 4))};
}

std::vector<std::string> KeysOf(const Version& v) {
  std::string vk = VersionKey(v.model_id, v.number);
  std::vector<std::string> keys;
  for (const auto& [k, d] : v.metrics) keys.push_back(MetricPrefix(k) + EncodeDouble(d) + vk);
  for (const auto& [k, s] : v.params) keys.push_back(TextValuePrefix('p', k, s) + vk);
  for (const auto& [k, s] : v.tags) keys.push_back(TextValuePrefix('t', k, s) + vk);
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace findindex

using namespace lmdb;

namespace {

Status DelKey(MDB_txn* txn, MDB_dbi dbi, const std::string& key) {
  MDB_val k = Val(key);
  int rc = mdb_del(txn, dbi, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return Error("find index delete", rc);
  return Status::Ok();
}

Status PutKey(MDB_txn* txn, MDB_dbi dbi, const std::string& key) {
  MDB_val k = Val(key), v = Val("");
  int rc = mdb_put(txn, dbi, &k, &v, 0);
  if (rc != 0) return Error("find index write", rc);
  return Status::Ok();
}

}  // namespace

Status WriteTxn::IndexVersion(const Version& key, const Result<Version>& stored,
                              const Version* now) {
  // A damaged record's entries cannot be known; a stale entry only adds a
  // candidate that the expression then rejects.
  std::vector<std::string> old;
  if (stored.ok()) old = findindex::KeysOf(*stored);
  if (!now) {
    auto more = findindex::KeysOf(key);
    old.insert(old.end(), more.begin(), more.end());
    std::sort(old.begin(), old.end());
    old.erase(std::unique(old.begin(), old.end()), old.end());
  }
  std::vector<std::string> keys;
  if (now) keys = findindex::KeysOf(*now);
  std::vector<std::string> gone, added;
  std::set_difference(old.begin(), old.end(), keys.begin(), keys.end(), std::back_inserter(gone));
  std::set_difference(keys.begin(), keys.end(), old.begin(), old.end(), std::back_inserter(added));
  // Recorded like every other write, so that a multi-host replica's index
  // follows the versions it applies.
  for (const auto& k : gone) {
    MODELFS_RETURN_IF_ERROR(DelKey(txn_, reg_->dbi_find_, k));
    Record(reg_->dbi_find_, k, std::nullopt);
  }
  for (const auto& k : added) {
    MODELFS_RETURN_IF_ERROR(PutKey(txn_, reg_->dbi_find_, k));
    Record(reg_->dbi_find_, k, std::string_view());
  }
  return Status::Ok();
}

Status Registry::BuildFindIndex(MDB_txn* txn) {
  int rc = mdb_drop(txn, dbi_find_, 0);  // empty it, keep the table
  if (rc != 0) return Error("emptying the find index", rc);
  MDB_cursor* cur = nullptr;
  rc = mdb_cursor_open(txn, dbi_versions_, &cur);
  if (rc != 0) return Error("index cursor", rc);
  MDB_val k, v;
  Status st;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && st.ok();
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    Version ver;
    if (!Decode(View(v), &ver).ok()) continue;  // fsck reports it
    for (const auto& key : findindex::KeysOf(ver)) {
      st = PutKey(txn, dbi_find_, key);
      if (!st.ok()) break;
    }
  }
  mdb_cursor_close(cur);
  MODELFS_RETURN_IF_ERROR(st);
  if (rc != MDB_NOTFOUND) return Error("index scan", rc);
  MDB_val mk = Val(kFindIndexMeta), mv = Val("1");
  rc = mdb_put(txn, dbi_meta_, &mk, &mv, 0);
  if (rc != 0) return Error("index write", rc);
  return Status::Ok();
}

Status Registry::CheckFindIndex(bool repair, FsckReport* rep) {
  std::vector<std::string> want, have;
  {
    auto snap = Read();
    if (!snap.ok()) return snap.status();
    MDB_txn* txn = snap->txn_;
    std::set<std::string> damaged;  // version keys whose records do not decode
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi_versions_, &cur);
    if (rc != 0) return Error("index cursor", rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      Version ver;
      if (!Decode(View(v), &ver).ok()) {
        damaged.insert(std::string(View(k)));
        continue;
      }
      auto keys = findindex::KeysOf(ver);
      want.insert(want.end(), keys.begin(), keys.end());
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return Error("index scan", rc);
    rc = mdb_cursor_open(txn, dbi_find_, &cur);
    if (rc != 0) return Error("index cursor", rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      std::string_view key = View(k);
      // A damaged version's entries are unknown: neither wanted nor stale.
      if (key.size() >= 12 && damaged.count(std::string(key.substr(key.size() - 12)))) continue;
      have.emplace_back(key);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return Error("index scan", rc);
  }
  std::sort(want.begin(), want.end());
  std::vector<std::string> missing, stale;
  std::set_difference(want.begin(), want.end(), have.begin(), have.end(), std::back_inserter(missing));
  std::set_difference(have.begin(), have.end(), want.begin(), want.end(), std::back_inserter(stale));
  if (missing.empty() && stale.empty()) return Status::Ok();
  rep->problems.push_back("the find index does not match the versions: " +
                          std::to_string(missing.size()) + " entries missing, " +
                          std::to_string(stale.size()) + " stale (fsck --repair rebuilds it)");
  if (!repair) return Status::Ok();
  auto t = WriteTxn::Begin(this);
  if (!t.ok()) return t.status();
  MODELFS_RETURN_IF_ERROR(BuildFindIndex((*t)->txn_));
  MODELFS_RETURN_IF_ERROR((*t)->Commit());
  rep->repaired.push_back("the find index: rebuilt from the versions");
  return Status::Ok();
}

Status Snapshot::ForEachFindKey(std::string_view prefix, std::string_view start,
                                const std::function<bool(std::string_view key)>& fn) const {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn_, reg_->dbi_find_, &cur);
  if (rc != 0) return Error("index cursor", rc);
  std::string from(start.empty() ? prefix : start);
  MDB_val k = Val(from), v;
  rc = mdb_cursor_get(cur, &k, &v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0) {
    std::string_view key = View(k);
    if (key.substr(0, prefix.size()) != prefix || !fn(key)) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return Error("index scan", rc);
  return Status::Ok();
}

uint64_t Snapshot::VersionCount() const {
  MDB_stat st;
  if (mdb_stat(txn_, reg_->dbi_versions_, &st) != 0) return 0;
  return st.ms_entries;
}

}  // namespace modelfs
