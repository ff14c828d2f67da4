// What registry.cc and registry_checks.cc share of reading LMDB tables:
// a prefix scan and the error of a record that does not decode.
#pragma once

#include <lmdb.h>

#include <string>
#include <string_view>

#include "index/lmdb_keys.h"

namespace modelfs::lmdb {

// Visits the keys of `dbi` that start with `prefix`, from `start` on
// (start ≥ prefix), in key order.
template <class F>
Status Scan(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix, std::string start, F&& fn) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return Error("index cursor", rc);
  MDB_val k = Val(start), v;
  // LMDB rejects empty keys: an empty start means the first key.
  rc = mdb_cursor_get(cur, &k, &v, start.empty() ? MDB_FIRST : MDB_SET_RANGE);
  Status st;
  while (rc == 0) {
    std::string_view key = View(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    bool more = true;
    st = fn(key, View(v), &more);
    if (!st.ok() || !more) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  if (st.ok() && rc != 0 && rc != MDB_NOTFOUND) return Error("index scan", rc);
  return st;
}

// The Corrupt status of a record that does not decode: `name` says which
// record ("versions record churn@3"), `why` what is wrong with it.
inline Status Damaged(const std::string& name, const Status& why) {
  return Status::Corrupt(name + " is damaged: " + why.message());
}

}  // namespace modelfs::lmdb
