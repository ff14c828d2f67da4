// BlobStore: streaming XXH3-128 while copying into staging/, fsync, rename.
#include "index/blob_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>

#include "index/blob_cache.h"
#include "index/sys.h"

namespace modelfs {
namespace {

// 1 MiB: large enough that syscalls cost nothing next to the copy, small
// enough to stay in L2/L3 between read, hash and write.
constexpr size_t kChunk = 1 << 20;
// Writeback is started every 8 MiB: big enough for sequential disk writes.
constexpr uint64_t kWritebackChunk = 8 << 20;

Digest FromHash(XXH128_hash_t h) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  Digest d;
  std::copy(std::begin(c.digest), std::end(c.digest), d.bytes.begin());
  return d;
}

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() { if (fd >= 0) close(fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

std::string TempName() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return "blob-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(rng() & 0xffffffff) + ".tmp";
}

Status FsyncDir(const std::string& dir) {
  int fd = sys::Open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + dir, errno);
  int rc = sys::Fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return Status::FromErrno("fsync " + dir, err);
  return Status::Ok();
}

}  // namespace

BlobStore::BlobStore(std::string root) : blobs_(root + "/blobs"), staging_(root + "/staging") {}

std::string BlobStore::PathOf(const Digest& d) const {
  std::string h = d.hex();
  return blobs_ + "/" + h.substr(0, 2) + "/" + h.substr(2);
}

bool BlobStore::Exists(const Digest& d) const {
  struct stat st;
  return stat(PathOf(d).c_str(), &st) == 0;
}

Result<BlobStore::Stored> BlobStore::PutFile(const std::string& path, const Progress& progress,
                                             std::set<Digest>* placed) {
  int fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot read " + path, errno);
  Fd in(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return PutFd(fd, path, progress, placed);
}

namespace {

Status SyncFs(const std::string& dir) {
  int fd = sys::Open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + dir, errno);
  Fd held(fd);
  if (sys::Syncfs(fd) != 0) return Status::FromErrno("syncfs " + dir, errno);
  return Status::Ok();
}

}  // namespace

Status BlobStore::Publish(const std::vector<Stored>& stored, std::set<Digest>* placed) const {
  if (std::none_of(stored.begin(), stored.end(), [](const Stored& s) { return !s.pending.empty(); }))
    return SyncFs(blobs_);  // blobs found in place may be another writer's, not yet synced
  MODELFS_RETURN_IF_ERROR(SyncFs(staging_));
  for (const Stored& s : stored) {
    if (s.pending.empty()) continue;
    std::string dst = PathOf(s.digest);
    std::string dir = dst.substr(0, dst.rfind('/'));
    if (sys::Mkdir(dir.c_str(), 0700) == 0) {
      struct stat bs;  // as in PutFd
      if (stat(blobs_.c_str(), &bs) == 0) chmod(dir.c_str(), bs.st_mode & 07777);
    } else if (errno != EEXIST) {
      return Status::FromErrno("mkdir " + dir, errno);
    }
    // Two files of the same bytes: the second rename replaces the first's
    // blob with the same bytes.
    if (sys::Rename(s.pending.c_str(), dst.c_str()) != 0)
      return Status::FromErrno("rename " + s.pending + " to " + dst, errno);
    if (placed) placed->insert(s.digest);
  }
  return SyncFs(blobs_);
}

bool BlobStore::Has(const Digest& d, uint64_t size) const {
  struct stat st;
  return stat(PathOf(d).c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == size;
}

Result<BlobStore::Stored> BlobStore::Adopt(int fd, const std::string& path, const Digest& digest,
                                           uint64_t size, std::set<Digest>* placed) {
  // The blob's mode, before any name in staging/ or blobs/ leads to it.
  // EPERM: the file is another user's (a group shares ROOT): copied.
  std::string tmp = staging_ + "/" + TempName();
  if (sys::Fchmod(fd, 0444) != 0) {
    if (errno != EPERM) return Status::FromErrno("chmod " + path, errno);
  } else if (sys::Link(path.c_str(), tmp.c_str()) == 0) {
    Stored s;
    s.digest = digest;
    s.size = size;
    s.pending = tmp;
    return s;
  } else if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != EOPNOTSUPP)
    return Status::FromErrno("link " + path + " to " + tmp, errno);
  if (lseek(fd, 0, SEEK_SET) != 0) return Status::FromErrno("seek " + path, errno);
  return PutFd(fd, path, {}, placed, Sync::kDeferred);
}

Result<BlobStore::Stored> BlobStore::PutFd(int in, const std::string& what,
                                           const Progress& progress, std::set<Digest>* placed,
                                           Sync sync) {
  std::string tmp = staging_ + "/" + TempName();
  int ofd = sys::Open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (ofd < 0) return Status::FromErrno("cannot create " + tmp, errno);
  Fd out(ofd);
  // Held until the file is renamed or removed: gc removes only staging
  // files it can lock, i.e. those whose writer died.
  flock(ofd, LOCK_EX);
  auto fail = [&](Status s) {
    sys::Unlink(tmp.c_str());
    return s;
  };

  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> st(XXH3_createState(), XXH3_freeState);
  XXH3_128bits_reset(st.get());
  std::unique_ptr<char[]> buf(new char[kChunk]);
  static const std::unique_ptr<char[]> zeros(new char[kChunk]());
  uint64_t total = 0, written = 0, flushed = 0;

  // Hashes `n` zero bytes (a hole) without reading or writing them.
  auto hash_hole = [&](uint64_t n) {
    while (n > 0) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(n, kChunk));
      XXH3_128bits_update(st.get(), zeros.get(), k);
      n -= k;
      total += k;
      if (progress) progress(total);
    }
  };
  // Hashes and stores `n` bytes read at `total`; an all-zero chunk is left
  // as a hole in the blob.
  auto take = [&](const char* p, size_t n) -> Status {
    XXH3_128bits_update(st.get(), p, n);
    if (std::memcmp(p, zeros.get(), n) != 0) {
      for (size_t off = 0; off < n;) {
        ssize_t w = sys::Pwrite(ofd, p + off, n - off, static_cast<off_t>(total + off));
        if (w < 0) {
          if (errno == EINTR) continue;
          return Status::FromErrno("cannot write " + tmp, errno);
        }
        off += static_cast<size_t>(w);
      }
      written += n;
    }
    total += n;
    // Start writeback of what is written so far, so the disk works while
    // we copy and the final fsync has little left to wait for.
    if (written - flushed >= kWritebackChunk) {
      sync_file_range(ofd, 0, 0, SYNC_FILE_RANGE_WRITE);
      flushed = written;
    }
    if (progress) progress(total);
    return Status::Ok();
  };

  // A regular file is copied extent by extent (SEEK_DATA/SEEK_HOLE), so a
  // sparse file's holes are neither read nor allocated in the blob: a
  // `truncate -s 3G` costs a hash of zeros, not 3 GiB of disk. The digest is
  // over the full logical content either way. Anything else (a pipe, a
  // filesystem without SEEK_DATA) is read to EOF.
  struct stat ist;
  bool sparse = false;
  if (fstat(in, &ist) == 0 && S_ISREG(ist.st_mode) && lseek(in, 0, SEEK_CUR) == 0) {
    // ENXIO: no data at all, the whole file is one hole.
    sparse = lseek(in, 0, SEEK_DATA) >= 0 || errno == ENXIO;
  }
  if (sparse) {
    uint64_t end = static_cast<uint64_t>(ist.st_size);
    while (total < end) {
      off_t data = lseek(in, static_cast<off_t>(total), SEEK_DATA);
      if (data < 0 && errno != ENXIO) return fail(Status::FromErrno("cannot read " + what, errno));
      uint64_t d = data < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(data), end);
      hash_hole(d - total);
      if (total >= end) break;
      off_t hole = lseek(in, static_cast<off_t>(d), SEEK_HOLE);
      if (hole < 0) return fail(Status::FromErrno("cannot read " + what, errno));
      uint64_t h = std::min<uint64_t>(static_cast<uint64_t>(hole), end);
      while (total < h) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(h - total, kChunk));
        ssize_t n = sys::Pread(in, buf.get(), want, static_cast<off_t>(total));
        if (n < 0) {
          if (errno == EINTR) continue;
          return fail(Status::FromErrno("cannot read " + what, errno));
        }
        if (n == 0) {  // shrunk while we copied: store what there was
          end = total;
          break;
        }
        Status ws = take(buf.get(), static_cast<size_t>(n));
        if (!ws.ok()) return fail(ws);
      }
    }
  } else {
    for (;;) {
      ssize_t n = sys::Read(in, buf.get(), kChunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail(Status::FromErrno("cannot read " + what, errno));
      }
      if (n == 0) break;
      Status ws = take(buf.get(), static_cast<size_t>(n));
      if (!ws.ok()) return fail(ws);
    }
  }
  // The holes (skipped zeros) at the end still count toward the size.
  if (sys::Ftruncate(ofd, static_cast<off_t>(total)) != 0)
    return fail(Status::FromErrno("cannot write " + tmp, errno));
  Stored s;
  s.digest = FromHash(XXH3_128bits_digest(st.get()));
  s.size = total;
  std::string dst = PathOf(s.digest);
  struct stat sb;
  std::string dir = dst.substr(0, dst.rfind('/'));
  if (stat(dst.c_str(), &sb) == 0 && static_cast<uint64_t>(sb.st_size) == total) {
    // Another writer may have renamed it in and not yet synced: make it
    // durable before a version that we commit names it.
    s.existed = true;
    sys::Unlink(tmp.c_str());
    if (sync == Sync::kDeferred) return s;  // Publish syncs it
    int bfd = sys::Open(dst.c_str(), O_RDONLY | O_CLOEXEC);
    if (bfd < 0 || sys::Fsync(bfd) != 0) {
      Status st = Status::FromErrno("fsync " + dst, errno);
      if (bfd >= 0) close(bfd);
      return st;
    }
    close(bfd);
    MODELFS_RETURN_IF_ERROR(FsyncDir(dir));
    return s;
  }
  if (sync == Sync::kDeferred) {
    s.pending = tmp;  // Publish renames it into place
    return s;
  }
  // A blob of the wrong size is damage (fsck reports it): replace it with
  // the bytes we have, which match the name.
  if (sys::Fsync(ofd) != 0) return fail(Status::FromErrno("fsync " + tmp, errno));
  if (sys::Mkdir(dir.c_str(), 0700) == 0) {
    // Same mode as blobs/ itself, whatever this user's umask: when the owner
    // shares ROOT with a group, every member can add blobs here too.
    struct stat bs;
    if (stat(blobs_.c_str(), &bs) == 0) chmod(dir.c_str(), bs.st_mode & 07777);
    Status synced = FsyncDir(blobs_);  // the new directory's own name
    if (!synced.ok()) return fail(synced);
  } else if (errno != EEXIST) {
    return fail(Status::FromErrno("mkdir " + dir, errno));
  }
  if (sys::Rename(tmp.c_str(), dst.c_str()) != 0)
    return fail(Status::FromErrno("rename " + tmp + " to " + dst, errno));
  if (placed) placed->insert(s.digest);
  MODELFS_RETURN_IF_ERROR(FsyncDir(dir));
  return s;
}

Result<Digest> BlobStore::HashFd(int fd, uint64_t* size) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> st(XXH3_createState(), XXH3_freeState);
  XXH3_128bits_reset(st.get());
  std::unique_ptr<char[]> buf(new char[kChunk]);
  uint64_t off = 0;
  for (;;) {
    ssize_t n = sys::Pread(fd, buf.get(), kChunk, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read", errno);
    }
    if (n == 0) break;
    XXH3_128bits_update(st.get(), buf.get(), static_cast<size_t>(n));
    off += static_cast<uint64_t>(n);
  }
  if (size) *size = off;
  return FromHash(XXH3_128bits_digest(st.get()));
}

Status BlobStore::Verify(const Digest& d) const {
  std::string p = PathOf(d);
  int fd = sys::Open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // Only ENOENT means the blob is gone; anything else (EMFILE, EACCES)
    // is said as it is.
    if (errno == ENOENT) return Status::IO("blob " + d.hex() + " missing (" + p + ")");
    return Status::FromErrno("cannot open blob " + d.hex() + " (" + p + ")", errno);
  }
  Fd f(fd);
  return VerifyFd(d, fd);
}

Status BlobStore::VerifyFd(const Digest& d, int fd) {
  auto got = HashFd(fd, nullptr);
  if (!got.ok()) return Status::IO("blob " + d.hex() + ": " + got.status().message());
  if (!(*got == d))
    return Status::Corrupt("blob " + d.hex() + " is corrupt: its bytes hash to " + got->hex());
  return Status::Ok();
}

void VersionDigest::Add(const std::string& path, uint32_t mode, const Digest& d) {
  char m[16];
  snprintf(m, sizeof m, "%o", mode & 07777);
  lines_.push_back(path + '\0' + m + '\0' + d.hex() + '\n');
}

Digest VersionDigest::Finish() {
  std::sort(lines_.begin(), lines_.end());
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  for (const auto& l : lines_) XXH3_128bits_update(st, l.data(), l.size());
  Digest d = FromHash(XXH3_128bits_digest(st));
  XXH3_freeState(st);
  return d;
}

// ------------------------------------------------------- fetching (§7)

struct BlobStore::Fetcher {
  Fetch fetch;
  std::shared_ptr<BlobCache> cache;  // may be null
  std::mutex mu;  // guards flights
  std::condition_variable done;
  // The fetches under way, by blob, and the outcome of each once it ends
  // (kept while a waiter may still read it).
  struct Flight {
    bool finished = false;
    Status result;
  };
  std::map<Digest, std::shared_ptr<Flight>> flights;
};

void BlobStore::SetFetch(Fetch fetch, std::shared_ptr<BlobCache> cache) {
  fetcher_ = std::make_shared<Fetcher>();
  fetcher_->fetch = std::move(fetch);
  fetcher_->cache = std::move(cache);
}

BlobCache* BlobStore::cache() const { return fetcher_ ? fetcher_->cache.get() : nullptr; }

namespace {

// Fetches blob `d` with `fetch` into a staging file, verifies it, makes it
// durable and renames it to `dst`. The staging file is locked while it is
// written (gc removes only staging files it can lock) and removed on any
// failure. `*size` gets the blob's size.
Status FetchInto(const BlobStore::Fetch& fetch, const Digest& d, const std::string& staging,
                 const std::string& blobs, const std::string& dst, uint64_t* size) {
  std::string tmp = staging + "/fetch-XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) return Status::FromErrno("cannot create a staging file in " + staging, errno);
  Fd held(fd);
  flock(fd, LOCK_EX);
  auto fail = [&](Status st) {
    sys::Unlink(tmp.c_str());
    return st;
  };
  Status got = fetch(d, fd, size);
  if (!got.ok()) return fail(got.WithContext("cannot fetch blob " + d.hex()));
  uint64_t n = 0;
  auto hash = BlobStore::HashFd(fd, &n);
  if (!hash.ok()) return fail(hash.status().WithContext("cannot read " + tmp));
  if (!(*hash == d) || n != *size)
    return fail(Status::Corrupt("blob " + d.hex() + " from the object store is corrupt: its " +
                                std::to_string(n) + " bytes hash to " + hash->hex()));
  if (sys::Fsync(fd) != 0) return fail(Status::FromErrno("fsync " + tmp, errno));
  if (fchmod(fd, 0444) != 0) return fail(Status::FromErrno("chmod " + tmp, errno));
  std::string dir = dst.substr(0, dst.rfind('/'));
  if (sys::Mkdir(dir.c_str(), 0700) == 0) {
    struct stat bs;
    if (stat(blobs.c_str(), &bs) == 0) chmod(dir.c_str(), bs.st_mode & 07777);
  } else if (errno != EEXIST) {
    return fail(Status::FromErrno("mkdir " + dir, errno));
  }
  if (sys::Rename(tmp.c_str(), dst.c_str()) != 0)
    return fail(Status::FromErrno("rename " + tmp + " to " + dst, errno));
  BlobCache::Touch(fd);  // the renamed file: recency starts now
  return FsyncDir(dir);
}

}  // namespace

Status BlobStore::Ensure(const Digest& d, bool* fetched) const {
  if (fetched) *fetched = false;
  if (!fetcher_) return Status::Ok();
  Fetcher& f = *fetcher_;
  std::string dst = PathOf(d);
  struct stat st;
  if (stat(dst.c_str(), &st) == 0) {
    if (f.cache) f.cache->CountHit();
    return Status::Ok();
  }
  std::shared_ptr<Fetcher::Flight> flight;
  {
    std::unique_lock<std::mutex> lk(f.mu);
    auto it = f.flights.find(d);
    if (it == f.flights.end()) {
      flight = std::make_shared<Fetcher::Flight>();
      f.flights.emplace(d, flight);
    } else {
      flight = it->second;
      f.done.wait(lk, [&] { return flight->finished; });
      return flight->result;
    }
  }
  Status result;
  uint64_t size = 0;
  bool did = false;
  if (stat(dst.c_str(), &st) != 0) {  // another process may have put it there meanwhile
    result = FetchInto(f.fetch, d, staging_, blobs_, dst, &size);
    did = result.ok();
  }
  {
    std::lock_guard<std::mutex> g(f.mu);
    flight->finished = true;
    flight->result = result;
    f.flights.erase(d);
  }
  f.done.notify_all();
  if (did && f.cache) {
    f.cache->CountFetch(size);
    // The bound holds after every fetch; the blob just fetched stays (its
    // reader is about to open it). A trim that fails leaves the cache over
    // its bound for now, which is no reason to fail this read.
    (void)f.cache->Trim(dst);
  }
  if (fetched) *fetched = did;
  return result;
}

Result<int> BlobStore::Pin(const Digest& d) const {
  if (!fetcher_) return -1;
  std::string path = PathOf(d);
  // Each round loses only to an eviction between Ensure and the lock; more
  // than a few in a row means the cache is far too small for its readers.
  constexpr int kRounds = 4;
  for (int round = 0; round < kRounds; ++round) {
    MODELFS_RETURN_IF_ERROR(Ensure(d));
    int fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) continue;  // evicted meanwhile
      return Status::FromErrno("cannot open blob " + path, errno);
    }
    // Waits only while an evictor holds LOCK_EX (an unlink's length).
    while (flock(fd, LOCK_SH) != 0 && errno == EINTR) {
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino &&
        a.st_dev == b.st_dev) {
      BlobCache::Touch(fd);
      return fd;
    }
    close(fd);  // evicted between our open and our lock
  }
  return Status::IO("blob " + d.hex() + " was evicted from the cache " + std::to_string(kRounds) +
                    " times while being opened: is the cache size too small?");
}

}  // namespace modelfs
