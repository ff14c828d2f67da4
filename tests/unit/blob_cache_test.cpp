// Unit tests of the multi-host blob cache (index/blob_cache.h): the LRU
// choice, the cache size syntax, the trim of a real blobs/ directory (open
// blobs kept, across descriptors as across processes) and the counters
// shared through ROOT/cache.stats.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "index/blob_cache.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

CachedBlob B(const std::string& path, uint64_t bytes, int64_t used) { return {path, bytes, used}; }

// A blob file of `kib` KiB under ROOT/blobs with atime `atime_s`.
std::string MakeBlob(const std::string& root, const std::string& name, int kib, time_t atime_s) {
  std::string dir = root + "/blobs/" + name.substr(0, 2);
  mkdir((root + "/blobs").c_str(), 0755);
  mkdir(dir.c_str(), 0755);
  std::string path = dir + "/" + name.substr(2);
  std::ofstream(path) << std::string(static_cast<size_t>(kib) * 1024, 'x');
  struct timespec ts[2] = {{atime_s, 0}, {0, UTIME_OMIT}};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), ts, 0) == 0);
  return path;
}

bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

}  // namespace

TEST_CASE("eviction takes the least recently used first, only until under the limit",
          "[cache][lru]") {
  std::vector<CachedBlob> blobs = {B("a", 10, 300), B("b", 10, 100), B("c", 10, 200),
                                   B("d", 10, 400)};
  std::vector<size_t> tried;
  auto evicted = PlanEviction(blobs, 40, 20, [&](size_t i) {
    tried.push_back(i);
    return true;
  });
  CHECK(evicted == std::vector<size_t>{1, 2});  // b (100), then c (200)
  CHECK(tried == evicted);
  CHECK(PlanEviction(blobs, 40, 40, [](size_t) { return true; }).empty());
}

TEST_CASE("a blob that cannot be evicted (open) is skipped for the next", "[cache][lru]") {
  std::vector<CachedBlob> blobs = {B("a", 10, 1), B("b", 10, 2), B("c", 10, 3)};
  auto evicted = PlanEviction(blobs, 30, 20, [&](size_t i) { return i != 0; });
  CHECK(evicted == std::vector<size_t>{1});
  // Nothing evictable: nothing evicted, and no endless loop.
  CHECK(PlanEviction(blobs, 30, 0, [](size_t) { return false; }).empty());
}

TEST_CASE("cache sizes take binary units and refuse nonsense", "[cache]") {
  CHECK(*ParseCacheSize("4096") == 4096);
  CHECK(*ParseCacheSize("64M") == uint64_t{64} << 20);
  CHECK(*ParseCacheSize("20G") == uint64_t{20} << 30);
  CHECK(*ParseCacheSize("2GB") == uint64_t{2} << 30);
  CHECK(*ParseCacheSize("1t") == uint64_t{1} << 40);
  for (const char* bad : {"", "0", "G", "12Q", "-5", "1.5G", "99999999999T"}) {
    INFO(bad);
    CHECK(ParseCacheSize(bad).status().code() == Code::kInvalid);
  }
}

TEST_CASE("a trim evicts the oldest blobs down to the limit and keeps pinned ones",
          "[cache][trim]") {
  TempDir tmp;
  std::string root = tmp.path + "/r";
  mkdir(root.c_str(), 0755);
  std::string old1 = MakeBlob(root, "aa0001", 64, 1000);
  std::string old2 = MakeBlob(root, "bb0002", 64, 2000);
  std::string mid = MakeBlob(root, "cc0003", 64, 3000);
  std::string recent = MakeBlob(root, "dd0004", 64, 4000);
  // old1 is open and pinned (LOCK_SH), as the mount holds an open file's blob.
  int pin = open(old1.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(pin >= 0);
  REQUIRE(flock(pin, LOCK_SH) == 0);

  BlobCache cache(root, 150 * 1024);  // room for two of the four
  auto use = cache.Measure(true);
  REQUIRE(use.ok());
  CHECK(use->blobs == 4);
  CHECK(use->open == 1);
  auto t = cache.Trim();
  REQUIRE(t.ok());
  CHECK(Exists(old1));     // open: kept although the oldest
  CHECK(!Exists(old2));    // the oldest not open
  CHECK(!Exists(mid));     // the next: still over the limit with old1 kept
  CHECK(Exists(recent));
  CHECK(t->evicted == 2);
  CHECK(t->skipped_open == 1);
  CHECK(cache.Read().evicted == 2);
  close(pin);
  // Unpinned, old1 goes at the next trim that needs room.
  BlobCache small(root, 70 * 1024);
  REQUIRE(small.Trim().ok());
  CHECK(!Exists(old1));
  CHECK(Exists(recent));
}

TEST_CASE("the counters are shared by every BlobCache of a ROOT", "[cache][stats]") {
  TempDir tmp;
  std::string root = tmp.path;
  {
    BlobCache a(root, 0);
    a.CountHit();
    a.CountFetch(100);
  }
  BlobCache b(root, 0);
  b.CountHit();
  BlobCache::Counters c = b.Read();
  CHECK(c.hits == 2);
  CHECK(c.misses == 1);
  CHECK(c.bytes_fetched == 100);
}

TEST_CASE("no limit: a trim evicts nothing", "[cache][trim]") {
  TempDir tmp;
  std::string p = MakeBlob(tmp.path, "ee0005", 8, 1);
  BlobCache cache(tmp.path, 0);
  REQUIRE(cache.Trim().ok());
  CHECK(Exists(p));
}
