// The blob cache of a multi-host ROOT (SPEC §7): ROOT/blobs/ holds copies of
// the object store's blobs, bounded by `cache_size` (registry.toml) and
// evicted least-recently-used, never a blob that is open.
//
// Across processes (the mount, the CLI, another mount of the same ROOT):
// - Open: a reader pins a blob by holding flock(LOCK_SH) on a descriptor of
//   it (BlobStore::Pin); the evictor unlinks a blob only while it holds
//   flock(LOCK_EX|LOCK_NB) on it, and skips it when that fails. A pinner
//   checks, once locked, that the path still names its inode (else the blob
//   was evicted meanwhile and is fetched again).
// - Recency: the blob file's atime, set explicitly (utimensat) on every pin
//   and fetch. relatime/noatime mounts do not update atime on reads, but an
//   explicit utimensat is always honoured, costs one syscall per open, and
//   needs no table of its own that could disagree with the directory.
// - Counters: ROOT/cache.stats, a few 64-bit counters in a shared mmap,
//   updated with atomic adds (no lock, no syscall on the open path).
// A single-host ROOT has no BlobCache: its blobs are the data of record.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "index/status.h"

namespace modelfs {

// "4096", "512K", "512M", "64G", "1T" (binary units) → bytes (> 0).
Result<uint64_t> ParseCacheSize(std::string_view text);

// One cached blob, as a trim sees it.
struct CachedBlob {
  std::string path;
  uint64_t bytes = 0;      // disk space (allocated blocks)
  int64_t used_ns = 0;     // atime: the last pin or fetch
};

// The order a trim tries blobs in: least recently used first (ties by path,
// so the order is stable). Then evicts, in that order, until `total` is at
// most `limit`: `evict(i)` removes blob i and returns false when it could
// not (open). Returns the indices evicted. Pure but for `evict`.
std::vector<size_t> PlanEviction(const std::vector<CachedBlob>& blobs, uint64_t total,
                                 uint64_t limit, const std::function<bool(size_t)>& evict);

class BlobCache {
 public:
  // `limit`: bytes of ROOT/blobs to keep at most (0 = unbounded).
  BlobCache(const std::string& root, uint64_t limit);
  ~BlobCache();
  BlobCache(const BlobCache&) = delete;
  BlobCache& operator=(const BlobCache&) = delete;

  uint64_t limit() const { return limit_; }

  struct Counters {
    uint64_t hits = 0;           // an open (or prefetch) found the blob cached
    uint64_t misses = 0;         // ... fetched it
    uint64_t bytes_fetched = 0;
    uint64_t evicted = 0;        // blobs evicted
    uint64_t evicted_bytes = 0;
  };
  void CountHit();
  void CountFetch(uint64_t bytes);
  Counters Read() const;  // zeros when ROOT/cache.stats cannot be used

  // Marks the open blob `fd` as used now (its atime).
  static void Touch(int fd);

  struct Usage {
    uint64_t bytes = 0;
    uint64_t blobs = 0;
    uint64_t open = 0;  // pinned by some process (only when asked)
  };
  Result<Usage> Measure(bool count_open) const;

  struct Trimmed {
    uint64_t evicted = 0;
    uint64_t evicted_bytes = 0;
    uint64_t skipped_open = 0;
    uint64_t bytes_left = 0;
  };
  // Evicts least-recently-used blobs that are not open until ROOT/blobs
  // holds at most limit() bytes (nothing with no limit). `keep` (a blob
  // path, e.g. the one just fetched for a reader) is never evicted. One
  // trim at a time per process; a trim asked for while one runs returns at
  // once (that one does the work).
  Result<Trimmed> Trim(const std::string& keep = "");

 private:
  struct Shared;  // the layout of ROOT/cache.stats
  Shared* Map() const;
  Result<std::vector<CachedBlob>> Scan() const;

  std::string blobs_;
  std::string stats_path_;
  uint64_t limit_;
  mutable std::once_flag mapped_;
  mutable Shared* shared_ = nullptr;  // nullptr when the file cannot be mapped
  std::mutex trim_mu_;
};

}  // namespace modelfs
