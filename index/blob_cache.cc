// BlobCache (blob_cache.h): sizes, the eviction plan, the shared counters,
// the scan of ROOT/blobs and the trim.
#include "index/blob_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <numeric>

#include "index/sys.h"

namespace modelfs {

Result<uint64_t> ParseCacheSize(std::string_view text) {
  auto bad = [&] {
    return Status::Invalid("cache size \"" + std::string(text) +
                           "\": expected a number of bytes with an optional unit K, M, G or T "
                           "(e.g. 20G)");
  };
  if (text.empty()) return bad();
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data()) return bad();
  std::string_view unit = text.substr(static_cast<size_t>(p - text.data()));
  int shift = 0;
  if (unit.size() == 2 && (unit[1] == 'B' || unit[1] == 'b')) unit = unit.substr(0, 1);
  if (unit.size() == 1) {
    switch (std::toupper(static_cast<unsigned char>(unit[0]))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default: return bad();
    }
  } else if (!unit.empty()) {
    return bad();
  }
  if (n == 0 || n > (uint64_t{1} << (63 - shift))) return bad();
  return n << shift;
}

std::vector<size_t> PlanEviction(const std::vector<CachedBlob>& blobs, uint64_t total,
                                 uint64_t limit, const std::function<bool(size_t)>& evict) {
  std::vector<size_t> order(blobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (blobs[a].used_ns != blobs[b].used_ns) return blobs[a].used_ns < blobs[b].used_ns;
    return blobs[a].path < blobs[b].path;
  });
  std::vector<size_t> out;
  for (size_t i : order) {
    if (total <= limit) break;
    if (!evict(i)) continue;
    total -= std::min(total, blobs[i].bytes);
    out.push_back(i);
  }
  return out;
}

// ------------------------------------------------------------ counters

// ROOT/cache.stats: a little-endian array of 64-bit counters, padded to one
// page. Fields are only ever added at the end; a file written by an older
// program is extended (ftruncate) with zeros.
struct BlobCache::Shared {
  uint64_t hits;
  uint64_t misses;
  uint64_t bytes_fetched;
  uint64_t evicted;
  uint64_t evicted_bytes;
};
static_assert(sizeof(uint64_t) == 8 && std::atomic_ref<uint64_t>::is_always_lock_free,
              "the shared counters need lock-free 64-bit atomics (shared across processes)");

namespace {
constexpr size_t kStatsSize = 4096;

void Add(uint64_t& field, uint64_t n) {
  std::atomic_ref<uint64_t>(field).fetch_add(n, std::memory_order_relaxed);
}
uint64_t Load(uint64_t& field) {
  return std::atomic_ref<uint64_t>(field).load(std::memory_order_relaxed);
}
}  // namespace

BlobCache::BlobCache(const std::string& root, uint64_t limit)
    : blobs_(root + "/blobs"), stats_path_(root + "/cache.stats"), limit_(limit) {}

BlobCache::~BlobCache() {
  if (shared_ != nullptr) munmap(shared_, kStatsSize);
}

BlobCache::Shared* BlobCache::Map() const {
  // Mapped on first use: a command that never opens a blob pays nothing.
  std::call_once(mapped_, [this] {
    int fd = sys::Open(stats_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;  // counting is best-effort: a read-only ROOT counts nothing
    struct stat st;
    // Every process extends it to the same size: racing ftruncates agree.
    if (fstat(fd, &st) == 0 &&
        (static_cast<size_t>(st.st_size) >= kStatsSize || ftruncate(fd, kStatsSize) == 0)) {
      void* p = mmap(nullptr, kStatsSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) shared_ = static_cast<Shared*>(p);
    }
    close(fd);
  });
  return shared_;
}

void BlobCache::CountHit() {
  if (Shared* s = Map()) Add(s->hits, 1);
}

void BlobCache::CountFetch(uint64_t bytes) {
  if (Shared* s = Map()) {
    Add(s->misses, 1);
    Add(s->bytes_fetched, bytes);
  }
}

BlobCache::Counters BlobCache::Read() const {
  Counters c;
  if (Shared* s = Map()) {
    c.hits = Load(s->hits);
    c.misses = Load(s->misses);
    c.bytes_fetched = Load(s->bytes_fetched);
    c.evicted = Load(s->evicted);
    c.evicted_bytes = Load(s->evicted_bytes);
  }
  return c;
}

void BlobCache::Touch(int fd) {
  struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  futimens(fd, ts);  // best-effort: another user's blob keeps its old atime
}

// ------------------------------------------------------------ scan, trim

Result<std::vector<CachedBlob>> BlobCache::Scan() const {
  std::vector<CachedBlob> out;
  DIR* top = opendir(blobs_.c_str());
  if (top == nullptr) {
    if (errno == ENOENT) return out;
    return Status::FromErrno("cannot read " + blobs_, errno);
  }
  while (struct dirent* de = readdir(top)) {
    std::string name = de->d_name;
    if (name.size() != 2 || !std::isxdigit(static_cast<unsigned char>(name[0])) ||
        !std::isxdigit(static_cast<unsigned char>(name[1])))
      continue;
    std::string dir = blobs_ + "/" + name;
    DIR* sub = opendir(dir.c_str());
    if (sub == nullptr) continue;  // removed meanwhile
    while (struct dirent* be = readdir(sub)) {
      if (be->d_name[0] == '.') continue;
      CachedBlob b;
      b.path = dir + "/" + be->d_name;
      struct stat st;
      if (stat(b.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      b.bytes = static_cast<uint64_t>(st.st_blocks) * 512;
      b.used_ns = int64_t{st.st_atim.tv_sec} * 1000000000 + st.st_atim.tv_nsec;
      out.push_back(std::move(b));
    }
    closedir(sub);
  }
  closedir(top);
  return out;
}

namespace {

// Whether some process holds a pin (LOCK_SH) on `fd`'s blob; with `evict`,
// a blob nobody pins is unlinked while our LOCK_EX keeps pinners out.
enum class Probe { kOpen, kFree, kEvicted, kGone };
Probe ProbeBlob(const std::string& path, bool evict) {
  int fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Probe::kGone;
  Probe r;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    r = Probe::kOpen;
  } else if (!evict) {
    r = Probe::kFree;
  } else {
    r = sys::Unlink(path.c_str()) == 0 ? Probe::kEvicted : Probe::kGone;
  }
  close(fd);  // releases the lock
  return r;
}

}  // namespace

Result<BlobCache::Usage> BlobCache::Measure(bool count_open) const {
  auto blobs = Scan();
  if (!blobs.ok()) return blobs.status();
  Usage u;
  for (const CachedBlob& b : *blobs) {
    u.bytes += b.bytes;
    ++u.blobs;
    if (count_open && ProbeBlob(b.path, false) == Probe::kOpen) ++u.open;
  }
  return u;
}

Result<BlobCache::Trimmed> BlobCache::Trim(const std::string& keep) {
  Trimmed t;
  if (limit_ == 0) return t;
  std::unique_lock<std::mutex> lk(trim_mu_, std::try_to_lock);
  if (!lk.owns_lock()) return t;
  auto blobs = Scan();
  if (!blobs.ok()) return blobs.status();
  uint64_t total = 0;
  for (const CachedBlob& b : *blobs) total += b.bytes;
  t.bytes_left = total;
  if (total <= limit_) return t;
  auto evicted = PlanEviction(*blobs, total, limit_, [&](size_t i) {
    const CachedBlob& b = (*blobs)[i];
    if (b.path == keep) return false;
    switch (ProbeBlob(b.path, true)) {
      case Probe::kEvicted:
        return true;
      case Probe::kGone:
        return true;  // another trim took it: its bytes are gone all the same
      case Probe::kOpen:
        ++t.skipped_open;
        return false;
      case Probe::kFree:
        break;
    }
    return false;
  });
  for (size_t i : evicted) {
    ++t.evicted;
    t.evicted_bytes += (*blobs)[i].bytes;
  }
  t.bytes_left = total - std::min(total, t.evicted_bytes);
  if (Shared* s = Map()) {
    Add(s->evicted, t.evicted);
    Add(s->evicted_bytes, t.evicted_bytes);
  }
  return t;
}

}  // namespace modelfs
