// Unit tests of BlobFds, the mount's shared blob descriptors: one descriptor
// per blob however many leases, a bound on idle ones (LRU), errors said as
// the OS said them (never "missing" for EMFILE), and verification once per
// cache (once per mount) with damaged bytes never served.
#include "index/blob_fds.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

// The paths this process holds open under `dir` (from /proc/self/fd).
std::multiset<std::string> OpenUnder(const std::string& dir) {
  std::multiset<std::string> out;
  DIR* d = opendir("/proc/self/fd");
  REQUIRE(d != nullptr);
  while (dirent* e = readdir(d)) {
    char target[4096];
    std::string link = std::string("/proc/self/fd/") + e->d_name;
    ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    std::string t(target, static_cast<size_t>(n));
    if (t.rfind(dir, 0) == 0) out.insert(t);
  }
  closedir(d);
  return out;
}

// `n` distinct blobs in the fixture's store.
std::vector<Digest> PutBlobs(Fixture& f, int n) {
  std::vector<Digest> out;
  for (int i = 0; i < n; ++i) {
    std::string p = f.tmp.path + "/in" + std::to_string(i);
    WriteFile(p, "blob number " + std::to_string(i));
    auto s = f.reg->blobs().PutFile(p);
    REQUIRE(s.ok());
    out.push_back(s->digest);
  }
  return out;
}

std::string ReadAll(int fd) {
  char buf[64] = {};
  ssize_t n = pread(fd, buf, sizeof buf, 0);
  REQUIRE(n >= 0);
  return std::string(buf, static_cast<size_t>(n));
}

// Lowers this process's soft RLIMIT_NOFILE for a scope.
struct LowFdLimit {
  rlimit saved{};
  explicit LowFdLimit(rlim_t n) {
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit low = saved;
    low.rlim_cur = n;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  }
  ~LowFdLimit() { setrlimit(RLIMIT_NOFILE, &saved); }
};

}  // namespace

TEST_CASE("20,000 leases of one blob share one descriptor", "[blobfds]") {
  Fixture f;
  std::vector<Digest> d = PutBlobs(f, 1);
  BlobFds fds(&f.reg->blobs(), 16);
  const std::string blobs = f.reg->blobs().blobs_dir();
  std::vector<BlobFds::Lease> leases;
  for (int i = 0; i < 20000; ++i) {
    auto l = fds.Acquire(d[0]);
    REQUIRE(l.ok());
    leases.push_back(std::move(*l));
  }
  CHECK(fds.open_fds() == 1);
  CHECK(OpenUnder(blobs).size() == 1);
  CHECK(ReadAll(leases.back().fd()) == "blob number 0");
  CHECK(leases.front().fd() == leases.back().fd());
  leases.clear();
  // Idle now, and kept for the next reader.
  CHECK(fds.open_fds() == 1);
  CHECK(OpenUnder(blobs).size() == 1);
}

TEST_CASE("idle descriptors are bounded, least recently used closed first", "[blobfds]") {
  Fixture f;
  std::vector<Digest> d = PutBlobs(f, 10);
  const std::string blobs = f.reg->blobs().blobs_dir();
  BlobFds fds(&f.reg->blobs(), 4);
  for (int i = 0; i < 10; ++i) {
    auto l = fds.Acquire(d[i]);
    REQUIRE(l.ok());
    CHECK(ReadAll(l->fd()) == "blob number " + std::to_string(i));
  }
  CHECK(fds.open_fds() == 4);
  CHECK(OpenUnder(blobs).size() == 4);
  // 6..9 are cached; using 6 again makes 7 the least recently used.
  std::set<std::string> expect;
  for (int i : {0, 6, 8, 9}) expect.insert(f.reg->blobs().PathOf(d[i]));
  { auto l = fds.Acquire(d[6]); REQUIRE(l.ok()); }
  { auto l = fds.Acquire(d[0]); REQUIRE(l.ok()); CHECK(ReadAll(l->fd()) == "blob number 0"); }
  auto open = OpenUnder(blobs);
  CHECK(std::set<std::string>(open.begin(), open.end()) == expect);

  SECTION("descriptors in use are never closed, and the bound returns once they are idle") {
    std::vector<BlobFds::Lease> held;
    for (int i = 0; i < 7; ++i) {
      auto l = fds.Acquire(d[i]);
      REQUIRE(l.ok());
      held.push_back(std::move(*l));
    }
    CHECK(fds.open_fds() == 7);
    for (int i = 0; i < 7; ++i) CHECK(ReadAll(held[i].fd()) == "blob number " + std::to_string(i));
    held.clear();
    CHECK(fds.open_fds() == 4);
    CHECK(OpenUnder(blobs).size() == 4);
  }
  SECTION("CloseIdle closes what has been idle that long, not what is in use") {
    auto l = fds.Acquire(d[9]);
    REQUIRE(l.ok());
    fds.CloseIdle(0);
    CHECK(fds.open_fds() == 1);
    CHECK(OpenUnder(blobs).size() == 1);
    CHECK(ReadAll(l->fd()) == "blob number 9");
  }
}

TEST_CASE("a blob an open file holds keeps its descriptor, so it reads after gc removes it",
          "[blobfds]") {
  Fixture f;
  std::vector<Digest> d = PutBlobs(f, 6);
  const std::string blobs = f.reg->blobs().blobs_dir();
  BlobFds fds(&f.reg->blobs(), 4);
  BlobFds::Hold hold;
  { auto l = fds.OpenToServe(d[0], true, &hold); REQUIRE(l.ok()); }
  // Idle and the least recently used, yet the others go first.
  for (int i = 1; i < 6; ++i) { auto l = fds.Acquire(d[i]); REQUIRE(l.ok()); }
  CHECK(fds.open_fds() == 4);
  CHECK(OpenUnder(blobs).count(f.reg->blobs().PathOf(d[0])) == 1);
  fds.CloseIdle(0);
  CHECK(fds.open_fds() == 1);
  // gc removes the blob: the open file still reads it, as on a native disk.
  REQUIRE(unlink(f.reg->blobs().PathOf(d[0]).c_str()) == 0);
  {
    auto l = fds.Acquire(d[0]);
    REQUIRE(l.ok());
    CHECK(ReadAll(l->fd()) == "blob number 0");
  }
  SECTION("the bound still closes it when every other idle descriptor is gone") {
    std::vector<BlobFds::Lease> busy;
    for (int i = 1; i < 5; ++i) {
      auto l = fds.Acquire(d[i]);
      REQUIRE(l.ok());
      busy.push_back(std::move(*l));
    }
    CHECK(fds.open_fds() == 4);
    CHECK(OpenUnder(blobs).count(f.reg->blobs().PathOf(d[0])) == 0);
  }
  SECTION("once the file is closed, it is idle like any other") {
    hold.Reset();
    fds.CloseIdle(0);
    CHECK(fds.open_fds() == 0);
    CHECK(fds.Acquire(d[0]).status().code() == Code::kIO);
  }
}

TEST_CASE("running out of descriptors is said as such, never as a missing blob", "[blobfds]") {
  Fixture f;
  std::vector<Digest> d = PutBlobs(f, 3);
  BlobFds fds(&f.reg->blobs(), 16);
  // While no descriptor is left, nothing but BlobFds runs (the checks
  // come after: even UBSan's checks may want a descriptor).
  Result<BlobFds::Lease> l1 = Status::Ok(), l2 = Status::Ok(), again = Status::Ok();
  std::string l1_bytes;
  size_t open_after_l1 = 0;
  Status verify;
  int filled_errno = 0;
  {
    LowFdLimit low(256);
    // One blob cached and idle, then every other descriptor taken.
    { auto l = fds.Acquire(d[0]); REQUIRE(l.ok()); }
    std::vector<int> filler;
    for (;;) {
      int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      filler.push_back(fd);
    }
    filled_errno = errno;
    // The idle descriptor is given up so that the new blob can be opened.
    l1 = fds.Acquire(d[1]);
    open_after_l1 = fds.open_fds();
    if (l1.ok()) {
      char buf[64] = {};
      ssize_t n = pread(l1->fd(), buf, sizeof buf, 0);
      if (n > 0) l1_bytes.assign(buf, static_cast<size_t>(n));
    }
    // With nothing idle left to give up: EMFILE.
    l2 = fds.OpenToServe(d[2], true);
    // A shared descriptor needs none: the blob in use is still served.
    again = fds.Acquire(d[1]);
    // Verify(), which fsck uses, says the same.
    verify = f.reg->blobs().Verify(d[0]);
    for (int fd : filler) close(fd);
  }
  CHECK(filled_errno == EMFILE);
  REQUIRE(l1.ok());
  CHECK(l1_bytes == "blob number 1");
  CHECK(open_after_l1 == 1);
  REQUIRE_FALSE(l2.ok());
  CHECK(l2.status().sys_errno() == EMFILE);
  CHECK(l2.status().code() == Code::kIO);
  CHECK(l2.status().message().find("out of file descriptors") != std::string::npos);
  CHECK(l2.status().message().find("missing") == std::string::npos);
  REQUIRE(again.ok());
  CHECK(again->fd() == l1->fd());
  CHECK(verify.sys_errno() == EMFILE);
  CHECK(verify.message().find("missing") == std::string::npos);
  // And once descriptors are free the same blob opens.
  CHECK(fds.Acquire(d[2]).ok());
}

TEST_CASE("a blob is verified on its first serve, and a damaged one is refused", "[blobfds]") {
  Fixture f;
  Version v = f.Push("churn");
  auto e = f.reg->Read()->GetEntry(v.id, "model.onnx");
  REQUIRE(e.ok());
  std::string path = f.reg->blobs().PathOf(e->digest);
  BlobFds fds(&f.reg->blobs(), 16);

  // Damaged before its first open: refused, whatever the caller asks next.
  chmod(path.c_str(), 0644);
  WriteFile(path, "weights-X", 0444);
  CHECK(fds.OpenToServe(e->digest, true).status().code() == Code::kCorrupt);
  CHECK(fds.OpenToServe(e->digest, true).status().code() == Code::kCorrupt);
  // Without verification the bytes are opened as they are (--no-verify).
  auto unverified = fds.OpenToServe(e->digest, false);
  REQUIRE(unverified.ok());
  unverified->Reset();

  // Repaired, it is verified once and then served without hashing again:
  // a later change is not seen until the next mount (a new cache).
  fds.CloseIdle(0);  // the repair is a new file: drop the old one's descriptor
  chmod(path.c_str(), 0644);
  WriteFile(path, "weights-1", 0444);
  auto good = fds.OpenToServe(e->digest, true);
  REQUIRE(good.ok());
  CHECK(ReadAll(good->fd()) == "weights-1");
  good->Reset();
  chmod(path.c_str(), 0644);
  WriteFile(path, "weights-Y", 0444);
  CHECK(fds.OpenToServe(e->digest, true).ok());
  BlobFds next_mount(&f.reg->blobs(), 16);
  CHECK(next_mount.OpenToServe(e->digest, true).status().code() == Code::kCorrupt);

  // A blob the index names but that is gone is an I/O error, not "no such file".
  unlink(path.c_str());
  BlobFds after(&f.reg->blobs(), 16);
  auto gone = after.OpenToServe(e->digest, false);
  CHECK(gone.status().code() == Code::kIO);
  CHECK(gone.status().sys_errno() == 0);
  CHECK(gone.status().message().find("missing") != std::string::npos);
}
