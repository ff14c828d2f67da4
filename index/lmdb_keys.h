// The index's LMDB keys and errors, for the code in index/ that talks to
// LMDB: keys built from big-endian integers (so they sort by number) as
// registry.cc's layout comment describes, LMDB return codes as Status, and
// the meta table's counters.
#pragma once

#include <lmdb.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "index/status.h"

namespace modelfs::lmdb {

inline void PutBE64(std::string* k, uint64_t v) {
  for (int i = 7; i >= 0; --i) k->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void PutBE32(std::string* k, uint32_t v) {
  for (int i = 3; i >= 0; --i) k->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint64_t GetBE(std::string_view s, size_t off, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(s[off + i]);
  return v;
}
inline std::string Key64(uint64_t a) {
  std::string k;
  PutBE64(&k, a);
  return k;
}
inline std::string Key64Name(uint64_t a, std::string_view name) {
  std::string k = Key64(a);
  k.append(name);
  return k;
}
inline std::string VersionKey(uint64_t model_id, uint32_t number) {
  std::string k = Key64(model_id);
  PutBE32(&k, number);
  return k;
}

inline MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// An LMDB return code (its own MDB_* codes, or an errno from the OS) as a
// Status. Running out of room, whether the map (MODELFS_MAP_SIZE) or the
// disk under it, is NoSpace and says so first: the CLI prints it, the mount
// replies ENOSPC. LMDB aborts the transaction, so nothing is half-committed.
inline Status Error(const std::string& what, int rc) {
  std::string m = what + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL)
    return Status::NoSpace("the index is full: " + what +
                           ": its map size is reached (set MODELFS_MAP_SIZE higher)");
  if (rc == ENOSPC || rc == EDQUOT) return Status::NoSpace("the index is full: " + m);
  if (rc == MDB_NOTFOUND) return Status::NotFound(m);
  if (rc == EACCES) return Status::NoAccess(m);
  return Status::IO(m);
}

// A counter in the meta table: 0 when absent; Corrupt when it is not the
// 8-byte big-endian integer it must be.
inline Result<uint64_t> GetCounter(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return uint64_t{0};
  std::string name = "meta record \"" + std::string(key) + "\"";
  if (rc != 0) return Error("reading " + name, rc);
  if (v.mv_size != 8)
    return Status::Corrupt(name + " is damaged: " + std::to_string(v.mv_size) +
                           " bytes, not an 8-byte counter");
  return GetBE(View(v), 0, 8);
}

}  // namespace modelfs::lmdb
