// Test-only: damages a record of a registry's index the way a bad disk, a
// stray write or a buggy older modelfs would, by rewriting its value
// straight through the LMDB C API. The registry must not be open in this
// process (LMDB allows one environment per file per process).
#pragma once

#include <lmdb.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace modelfs::testing {

// Calls `edit` with the record's value bytes, then stores what it left
// there. Returns "" or what went wrong.
inline std::string EditRawRecord(const std::string& root, const char* table, std::string_view key,
                                 const std::function<void(std::string*)>& edit) {
  MDB_env* env = nullptr;
  if (mdb_env_create(&env) != 0) return "mdb_env_create failed";
  mdb_env_set_maxdbs(env, 8);
  std::string err;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v{};
  int rc = mdb_env_open(env, (root + "/index").c_str(), 0, 0660);
  if (rc == 0) rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, table, 0, &dbi);
  if (rc == 0) rc = mdb_get(txn, dbi, &k, &v);
  if (rc != 0) {
    err = std::string("reading the record: ") + mdb_strerror(rc);
  } else {
    std::string value(static_cast<const char*>(v.mv_data), v.mv_size);
    edit(&value);
    MDB_val nv{value.size(), value.data()};
    rc = mdb_put(txn, dbi, &k, &nv, 0);
    if (rc == 0) rc = mdb_txn_commit(txn);
    else mdb_txn_abort(txn);
    txn = nullptr;
    if (rc != 0) err = std::string("writing the record: ") + mdb_strerror(rc);
  }
  if (txn) mdb_txn_abort(txn);
  mdb_env_close(env);
  return err;
}

// Sets field `field` of the CBOR record to `value` (removes it when
// value is discarded).
inline std::string SetRecordField(const std::string& root, const char* table, std::string_view key,
                                  const std::string& field, const nlohmann::json& value) {
  std::string err;
  std::string e = EditRawRecord(root, table, key, [&](std::string* bytes) {
    auto j = nlohmann::json::from_cbor(*bytes, true, false);
    if (j.is_discarded() || !j.is_object()) {
      err = "the record is not a CBOR map";
      return;
    }
    if (value.is_discarded()) j.erase(field);
    else j[field] = value;
    std::vector<uint8_t> out = nlohmann::json::to_cbor(j);
    bytes->assign(out.begin(), out.end());
  });
  return e.empty() ? err : e;
}

}  // namespace modelfs::testing
