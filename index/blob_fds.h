// The mount's read descriptors of blobs: one shared descriptor per blob,
// however many opens and reads use it, so no caller can exhaust the daemon's
// descriptors by opening the same file (or many files) many times. Open
// files record which blob they serve; each read leases the blob's descriptor
// for its own length, and the cache reopens a descriptor it closed.
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include "index/blob_store.h"

namespace modelfs {

class BlobFds {
  struct Entry;

 public:
  // `max_fds` bounds the descriptors kept open: those no read is using
  // (idle) are closed, least recently used first, once there are more. A
  // descriptor in use is never closed, so the bound can be exceeded by the
  // number of reads running at once (at most the mount's worker threads).
  // Idle descriptors of held blobs (see Hold) are closed after the others.
  BlobFds(const BlobStore* store, size_t max_fds);
  ~BlobFds();
  BlobFds(const BlobFds&) = delete;
  BlobFds& operator=(const BlobFds&) = delete;

  // A blob's descriptor, in use until the Lease is destroyed. O_RDONLY and
  // shared: use pread/splice at an offset, never the file position.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept : owner_(o.owner_), entry_(o.entry_) { o.owner_ = nullptr; }
    Lease& operator=(Lease&& o) noexcept;
    ~Lease() { Reset(); }
    int fd() const;
    void Reset();

   private:
    friend class BlobFds;
    Lease(BlobFds* owner, Entry* entry) : owner_(owner), entry_(entry) {}
    BlobFds* owner_ = nullptr;
    Entry* entry_ = nullptr;
  };

  // The descriptor of blob `d`, opened if none is cached. Errors carry the
  // errno of open(2): ENOENT is a blob the index names but the store lacks
  // (IO, "missing"), EMFILE/ENFILE say the daemon is out of descriptors
  // (after closing every idle one and trying again). Never NotFound.
  Result<Lease> Acquire(const Digest& d);
  // An open file's claim on its blob: while any is held, the blob's cached
  // descriptor outlives the idle timeout and is the last to go when the
  // bound must close one. So a file open across a gc that removed its blob
  // keeps reading, as on a native filesystem, unless more distinct blobs are
  // open at once than the bound allows.
  class Hold {
   public:
    Hold() = default;
    Hold(Hold&& o) noexcept : owner_(o.owner_), digest_(o.digest_) { o.owner_ = nullptr; }
    Hold& operator=(Hold&& o) noexcept;
    ~Hold() { Reset(); }
    void Reset();

   private:
    friend class BlobFds;
    Hold(BlobFds* owner, const Digest& d) : owner_(owner), digest_(d) {}
    BlobFds* owner_ = nullptr;
    Digest digest_;
  };

  // Acquire for an open(2) of a file: with `verify`, the blob's digest is
  // checked the first time it is served through this cache (SPEC §5: once
  // per mount): Corrupt when the bytes no longer match. `hold`, when given,
  // receives the open file's Hold on the blob.
  Result<Lease> OpenToServe(const Digest& d, bool verify, Hold* hold = nullptr);

  // Closes idle descriptors unused for `idle_ns` or more: a blob that gc
  // removed is not kept alive on disk by our descriptor for longer than that.
  void CloseIdle(int64_t idle_ns);

  size_t max_fds() const { return max_fds_; }
  // Descriptors open now (idle and in use), for tests and the log.
  size_t open_fds() const;
  // A bound for `max_fds` from the process's RLIMIT_NOFILE: a fraction of
  // it, so that the rest of the daemon (drafts, the index, /dev/fuse,
  // identity lookups) keeps most of its descriptors.
  static size_t DefaultMax();

 private:
  struct DigestHash {
    size_t operator()(const Digest& d) const;
  };
  void Release(Entry* e);
  void Unhold(const Digest& d);
  bool HeldLocked(const Entry* e) const;
  // Unlinks the idle entries beyond the bound (all idle ones with
  // `all`), returning their descriptors to close outside mu_.
  std::vector<int> TakeExcessLocked(bool all);

  const BlobStore* store_;
  const size_t max_fds_;
  mutable std::mutex mu_;  // a leaf lock: guards entries_, idle_, verified_
  std::unordered_map<Digest, std::unique_ptr<Entry>, DigestHash> entries_;  // owns
  std::list<Entry*> idle_;   // users == 0, most recently used first
  std::set<Digest> verified_;  // blobs whose digest was checked by this cache
  std::unordered_map<Digest, int, DigestHash> holds_;  // open files per blob (> 0)
  // Multi-host: per held blob, the descriptor that pins it in the cache
  // (BlobStore::Pin), closed when its last Hold goes.
  std::unordered_map<Digest, int, DigestHash> pins_;
};

}  // namespace modelfs
