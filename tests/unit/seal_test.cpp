// The seal that copies nothing (drafts.cc, BlobStore::Adopt): each new
// draft file becomes its own blob by a hard link, bytes already stored are
// dropped, and a seal that fails gives back a draft whose later writes
// reach no blob.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <map>

#include "index/sys.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;
namespace stdfs = std::filesystem;

namespace {

std::string Bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>((seed = seed * 1103515245 + 12345) >> 16);
  return s;
}

struct stat Stat(const std::string& p) {
  struct stat st {};
  REQUIRE(stat(p.c_str(), &st) == 0);
  return st;
}

size_t BlobCount(const std::string& root) {
  size_t n = 0;
  for (auto& e : stdfs::recursive_directory_iterator(root + "/blobs"))
    if (e.is_regular_file()) ++n;
  return n;
}

bool HasXattr(const std::string& p, const char* name) {
  char c;
  return getxattr(p.c_str(), name, &c, 1) >= 0 || errno == ERANGE;
}

// path -> entry of a ready version.
std::map<std::string, Entry> Entries(Registry& reg, const Version& v) {
  std::map<std::string, Entry> out;
  auto snap = reg.Read();
  REQUIRE(snap.ok());
  REQUIRE(snap->ForEachPath(v, [&](const std::string& p, const Entry& e) {
    out[p] = e;
    return true;
  }).ok());
  return out;
}

// A draft churn@2 (after a push of v1) holding: big.bin (new bytes, 0644),
// run.sh (new, 0755), same.bin (big.bin's bytes again) and old.onnx (the
// bytes of v1's model.onnx, stored already).
struct DraftFixture : Fixture {
  Version draft;
  std::string dir;
  std::string big = Bytes(3 << 19, 7);
  DraftFixture() {
    Push("churn");
    auto d = reg->CreateDraft("churn", 2, Alice());
    REQUIRE(d.ok());
    draft = *d;
    dir = reg->DraftDir(draft);
    WriteFile(dir + "/big.bin", big, 0644);
    WriteFile(dir + "/sub/run.sh", "#!/bin/sh\n", 0755);
    WriteFile(dir + "/same.bin", big, 0640);
    WriteFile(dir + "/old.onnx", "weights-1", 0600);
  }
};

// The position (from 1) of the first call `c` a seal of a DraftFixture makes.
uint64_t PositionOfFirst(sys::Call c) {
  DraftFixture f;
  sys::ArmFaults(0, 0);
  auto v = f.reg->Seal("churn", 2, Alice());
  auto calls = sys::DisarmFaults();
  REQUIRE(v.ok());
  for (size_t i = 0; i < calls.size(); ++i)
    if (calls[i].call == c) return i + 1;
  FAIL("the seal made no " << sys::CallName(c));
  return 0;
}

}  // namespace

TEST_CASE("seal makes each new draft file its own blob: no byte copied, dedup kept", "[seal]") {
  DraftFixture f;
  ino_t big_ino = Stat(f.dir + "/big.bin").st_ino;
  ino_t run_ino = Stat(f.dir + "/sub/run.sh").st_ino;
  size_t blobs_before = BlobCount(f.root);

  sys::ArmFaults(0, 0);  // counts every call through the seam
  auto v = f.reg->Seal("churn", 2, Alice());
  auto calls = sys::DisarmFaults();
  REQUIRE(v.ok());
  size_t writes = 0;
  for (const auto& c : calls) writes += c.call == sys::Call::kPwrite;
  CHECK(writes == 0);  // not a byte written: the files are linked

  auto e = Entries(*f.reg, *v);
  REQUIRE(e.size() == 5);  // 4 files and sub/
  // The blob is the draft file's inode itself, now 0444 and its only name.
  struct stat bs = Stat(f.reg->blobs().PathOf(e["big.bin"].digest));
  CHECK(bs.st_ino == big_ino);
  CHECK((bs.st_mode & 07777) == 0444);
  CHECK(bs.st_nlink == 1);
  CHECK(!HasXattr(f.reg->blobs().PathOf(e["big.bin"].digest), Registry::kWritingXattr));
  CHECK(Stat(f.reg->blobs().PathOf(e["sub/run.sh"].digest)).st_ino == run_ino);
  CHECK(e["sub/run.sh"].mode == 0100555u);  // the executable bit is kept
  CHECK(e["big.bin"].mode == 0100444u);
  // Dedup: same.bin is big.bin's blob; old.onnx is v1's; two blobs are new.
  CHECK(e["same.bin"].digest == e["big.bin"].digest);
  CHECK(BlobCount(f.root) == blobs_before + 2);
  CHECK(ReadFile(f.reg->blobs().PathOf(e["big.bin"].digest)) == f.big);
  CHECK(f.reg->blobs().Verify(e["old.onnx"].digest).ok());
  CHECK(!stdfs::exists(f.dir));  // the draft directory went after the commit
  auto fr = f.reg->Fsck(false, Alice());
  REQUIRE(fr.ok());
  CHECK(fr->problems.empty());
  CHECK(fr->garbage.empty());
}

TEST_CASE("a seal that fails at its commit gives back the draft as it was", "[seal]") {
  uint64_t commit = PositionOfFirst(sys::Call::kTxnCommit);
  DraftFixture f;
  sys::ArmFaults(commit, ENOSPC);
  auto v = f.reg->Seal("churn", 2, Alice());
  sys::DisarmFaults();
  REQUIRE(v.status().code() == Code::kNoSpace);
  // Every file where it was, with its bytes and draft mode, shared with no
  // blob, unmarked.
  CHECK(ReadFile(f.dir + "/big.bin") == f.big);
  CHECK(ReadFile(f.dir + "/same.bin") == f.big);
  CHECK((Stat(f.dir + "/big.bin").st_mode & 0777) == 0644);
  CHECK((Stat(f.dir + "/same.bin").st_mode & 0777) == 0640);
  CHECK((Stat(f.dir + "/sub/run.sh").st_mode & 0777) == 0755);
  CHECK((Stat(f.dir + "/old.onnx").st_mode & 0777) == 0600);
  for (const char* p : {"big.bin", "same.bin", "sub/run.sh", "old.onnx"}) {
    INFO(p);
    CHECK(Stat(f.dir + "/" + p).st_nlink == 1);
    CHECK(!HasXattr(f.dir + "/" + p, Registry::kSealModeXattr));
  }
  CHECK(!HasXattr(f.dir, Registry::kSealingXattr));
  // Writable, and sealing then works.
  {
    std::string path = f.dir + "/big.bin";
    auto w = f.reg->OpenDraftWriter(f.draft, [&] { return open(path.c_str(), O_RDWR); }, false);
    REQUIRE(w.ok());
    REQUIRE(pwrite(w->fd(), "X", 1, 0) == 1);
  }
  auto sealed = f.reg->Seal("churn", 2, Alice());
  REQUIRE(sealed.ok());
  auto fr = f.reg->Fsck(false, Alice());
  REQUIRE(fr.ok());
  CHECK(fr->problems.empty());
}

TEST_CASE("a draft left sharing its files with blobs is unshared before it is written",
          "[seal]") {
  // A disk that stays broken from the commit on: the seal can undo nothing
  // (neither its marks nor its blobs), as after a crash between Publish
  // and the commit.
  uint64_t commit = PositionOfFirst(sys::Call::kTxnCommit);
  DraftFixture f;
  sys::ArmFaults(commit, EIO, true);
  auto v = f.reg->Seal("churn", 2, Alice());
  sys::DisarmFaults();
  REQUIRE(!v.ok());
  std::string big = f.dir + "/big.bin";
  REQUIRE(Stat(big).st_nlink == 2);  // the draft file is a blob too
  REQUIRE(HasXattr(f.dir, Registry::kSealingXattr));
  int bfd = open(big.c_str(), O_RDONLY);
  Digest d = *BlobStore::HashFd(bfd, nullptr);
  close(bfd);
  std::string blob = f.reg->blobs().PathOf(d);
  ino_t blob_ino = Stat(blob).st_ino;
  REQUIRE(Stat(big).st_ino == blob_ino);

  SECTION("a writer's open") {
    auto w = f.reg->OpenDraftWriter(f.draft, [&] { return open(big.c_str(), O_RDWR); }, true);
    REQUIRE(w.ok());
    REQUIRE(pwrite(w->fd(), "changed", 7, 0) == 7);
  }
  SECTION("the mount's start") {
    REQUIRE(f.reg->TornDraftFiles(true).ok());
    CHECK(Stat(big).st_ino != blob_ino);
    int fd = open(big.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, "changed", 7, 0) == 7);
    close(fd);
  }
  SECTION("a writer holding a descriptor of the blob's inode is refused") {
    auto w = f.reg->OpenDraftWriter(f.draft, [&] { return open(blob.c_str(), O_RDWR); }, false);
    CHECK(w.status().code() == Code::kNotFound);
  }
  // The blob is untouched; the draft has its own copy, its mode back.
  CHECK(Stat(blob).st_ino == blob_ino);
  CHECK((Stat(blob).st_mode & 07777) == 0444);
  CHECK(f.reg->blobs().Verify(d).ok());
  CHECK(ReadFile(blob) == f.big);
  CHECK((Stat(big).st_mode & 0777) == 0644);
  CHECK(Stat(big).st_nlink == 1);
  CHECK(!HasXattr(f.dir, Registry::kSealingXattr));
  auto fr = f.reg->Fsck(false, Alice());
  REQUIRE(fr.ok());
  CHECK(fr->problems.empty());
  REQUIRE(f.reg->Seal("churn", 2, Alice()).ok());
}
