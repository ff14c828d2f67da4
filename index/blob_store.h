// The content-addressed store of file contents: ROOT/blobs/<2 hex>/<30 hex>,
// named by the XXH3-128 of the bytes, mode 0444, written once. New bytes are
// streamed into ROOT/staging/ while hashed, fsynced, then renamed into place,
// so a blob file that exists is always complete; a draft's file is instead
// hashed and linked into place itself (Adopt). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "index/records.h"
#include "index/status.h"

namespace modelfs {

class BlobCache;

class BlobStore {
 public:
  explicit BlobStore(std::string root);

  // Called with the bytes copied so far, for progress bars.
  using Progress = std::function<void(uint64_t bytes)>;

  struct Stored {
    Digest digest;
    uint64_t size = 0;
    bool existed = false;  // the blob was already there: nothing new written
    std::string pending;   // kDeferred: the staging file Publish puts in place
  };

  // When a blob is made durable and put in place: before Put returns
  // (kNow: fsyncs of the blob and its directory, two disk flushes per
  // file), or by Publish, for many files at once (kDeferred, e.g. a seal:
  // the bytes wait in a staging file, which gc leaves alone while the
  // caller holds GcLock).
  enum class Sync : uint8_t { kNow, kDeferred };

  // Copies the file at `path` into the store, hashing while copying. A
  // blob this call moves into the store (new bytes) is added to `placed`,
  // even when the call then fails (syncing its directory): a caller that
  // commits no version naming it can remove it (Registry::DropFreshBlobs).
  Result<Stored> PutFile(const std::string& path, const Progress& progress = {},
                         std::set<Digest>* placed = nullptr);
  // Same, from an open descriptor positioned at 0 (read to EOF).
  Result<Stored> PutFd(int fd, const std::string& what, const Progress& progress = {},
                       std::set<Digest>* placed = nullptr, Sync sync = Sync::kNow);
  // Whether blob `d` is stored with `size` bytes (one of another size is
  // damage, which a put replaces).
  bool Has(const Digest& d, uint64_t size) const;
  // Makes the file at `path`, open as `fd`, whose bytes hash to `digest`
  // (`size` bytes), the pending blob of a kDeferred put without copying a
  // byte: chmod 0444, then a hard link in staging/ that Publish renames
  // into place. From then on the inode is (or will be) a blob: the caller
  // must make sure nobody writes it again (drafts.cc). Where staging/
  // cannot link it (EXDEV: another filesystem; EPERM, EMLINK, ENOTSUP), or
  // the file is another user's (chmod EPERM), the bytes are copied as PutFd
  // does.
  Result<Stored> Adopt(int fd, const std::string& path, const Digest& digest, uint64_t size,
                       std::set<Digest>* placed = nullptr);
  // Puts the blobs of kDeferred puts in place, durably, in three steps
  // whatever their number: syncfs (their bytes), rename each, syncfs (their
  // names). A blob file that exists is still always complete. Each blob
  // renamed in is added to `placed` (as PutFile does). Call it before
  // committing anything that names them; on failure what is left in
  // staging is gc's.
  Status Publish(const std::vector<Stored>& stored, std::set<Digest>* placed = nullptr) const;

  std::string PathOf(const Digest& d) const;

  // Multi-host (SPEC §7): blobs/ is a cache of the object store, and
  // `fetch` writes a blob's bytes (unverified) into `fd`, an empty file,
  // at their offsets, setting `*size` to the object's size.
  using Fetch = std::function<Status(const Digest& d, int fd, uint64_t* size)>;
  // `cache` (may be null: no bound, no counters) is told of hits and
  // fetches, and trimmed after each fetch (blob_cache.h).
  void SetFetch(Fetch fetch, std::shared_ptr<BlobCache> cache = nullptr);
  // Ok when blob `d` is in blobs/ (what every reader of a blob calls
  // first). Without a Fetch that is all; with one, a missing blob is
  // fetched into a staging file, checked against `d` BEFORE it is made
  // visible, fsynced and renamed into place (0444): a reader never sees a
  // partial or wrong blob. Concurrent calls for one blob in this process
  // fetch it once and share the outcome. Corrupt when the fetched bytes do
  // not hash to `d`, else the fetch's error; either way nothing is left
  // behind. `*fetched` (when given) says whether this call fetched it.
  Status Ensure(const Digest& d, bool* fetched = nullptr) const;
  // Multi-host: Ensure, then a descriptor of the blob pinned against
  // eviction (flock LOCK_SH, held until the descriptor is closed) and
  // marked used now; a blob evicted between the two is fetched again.
  // Only for a store with a Fetch (cache()): else -1 (nothing to pin).
  Result<int> Pin(const Digest& d) const;
  BlobCache* cache() const;
  bool Exists(const Digest& d) const;
  // Recomputes the digest of a stored blob; Corrupt when it does not match.
  Status Verify(const Digest& d) const;
  // Verify of an open descriptor of blob `d` (pread: the offset stays).
  // The mount serves blobs through BlobFds (blob_fds.h), which verifies
  // each once per mount with this.
  static Status VerifyFd(const Digest& d, int fd);
  // Hashes a whole descriptor from offset 0 (pread; does not move the offset).
  static Result<Digest> HashFd(int fd, uint64_t* size);

  const std::string& staging_dir() const { return staging_; }
  const std::string& blobs_dir() const { return blobs_; }

 private:
  std::string blobs_;
  std::string staging_;
  struct Fetcher;  // the Fetch and its fetches in flight (blob_store.cc)
  std::shared_ptr<Fetcher> fetcher_;
};

// Helpers for the version digest (SPEC §3): XXH3-128 over the sorted list of
// "<path>\0<mode in octal>\0<file digest hex>\n" lines, one per file.
class VersionDigest {
 public:
  void Add(const std::string& path, uint32_t mode, const Digest& d);
  Digest Finish();

 private:
  std::vector<std::string> lines_;
};

}  // namespace modelfs
