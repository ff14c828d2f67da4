// Unit tests of index/push.cc when a push fails: the error says what went
// wrong (a full index is NoSpace, not an I/O error) and nothing of the
// failed push stays behind, neither in the index nor in the blob store.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "index/write_txn.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

// Every blob file, by path relative to ROOT/blobs.
std::set<std::string> BlobFiles(const std::string& root) {
  std::set<std::string> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(root + "/blobs"))
    if (e.is_regular_file()) out.insert(e.path().lexically_relative(root + "/blobs").string());
  return out;
}

// A registry whose index map is `bytes` long: MODELFS_MAP_SIZE is read when
// the index is opened, so it is set only around the fixture's Open.
struct SmallIndex {
  std::unique_ptr<Fixture> f;
  explicit SmallIndex(const char* bytes) {
    setenv("MODELFS_MAP_SIZE", bytes, 1);
    f = std::make_unique<Fixture>();
    unsetenv("MODELFS_MAP_SIZE");
  }
};

}  // namespace

TEST_CASE("a full index is NoSpace saying so, and the push that hit it commits nothing",
          "[push]") {
  SmallIndex s("65536");
  Fixture& f = *s.f;
  PushRequest req;
  req.model = "churn";
  req.paths = {f.src};
  Status failed;
  int pushed = 0;
  for (int i = 0; i < 500 && failed.ok(); ++i) {
    WriteFile(f.src + "/model.onnx", "weights-" + std::to_string(i));
    req.meta = {{"tags.run", std::string(200, 'a' + i % 26)}};
    auto v = f.reg->Push(req, Alice());
    if (v.ok())
      ++pushed;
    else
      failed = v.status();
  }
  REQUIRE_FALSE(failed.ok());
  CHECK(pushed > 0);
  auto blobs = BlobFiles(f.root);
  CHECK(failed.code() == Code::kNoSpace);
  CHECK(failed.message().rfind("the index is full: ", 0) == 0);
  // The failed push left no version behind: the next number is the next one.
  auto snap = f.reg->Read();
  REQUIRE(snap.ok());
  CHECK(snap->GetModel("churn")->next_version == static_cast<uint32_t>(pushed) + 1);
  auto rep = f.reg->Fsck(false, Alice());
  REQUIRE(rep.ok());
  CHECK(rep->problems.empty());
  CHECK(rep->garbage.empty());  // the failed push's new blob is gone too
  CHECK(blobs.size() == static_cast<size_t>(pushed) + 1);  // + conf/params.json
}

TEST_CASE("a push refused at commit removes the blobs it wrote, and only those", "[push]") {
  Fixture f;
  f.Push("churn");  // model.onnx and params.json are stored now
  auto before = BlobFiles(f.root);
  WriteFile(f.src + "/model.onnx", "weights-2");  // a new blob; params.json is not
  WriteFile(f.src + "/extra.bin", "extra");       // another new one
  PushRequest req;
  req.model = "churn";
  req.paths = {f.src};
  req.alias = "production";
  Guard deny = [](const Snapshot&, const Version&, std::string*) {
    return Status::Denied("production needs an approval");
  };
  auto v = f.reg->Push(req, Alice(), {}, deny);
  CHECK(v.status().code() == Code::kDenied);
  CHECK(BlobFiles(f.root) == before);
  CHECK(f.reg->Read()->GetModel("churn")->next_version == 2);

  SECTION("a blob another push committed meanwhile is kept, though this push wrote it") {
    // A stores a.bin (new), and while it copies b.bin, B pushes the same
    // a.bin bytes (stored already: B writes nothing) and commits. A then
    // fails: a.bin's blob is B's now, b.bin's is garbage.
    std::string a = f.tmp.path + "/a", b = f.tmp.path + "/b";
    WriteFile(a + "/a.bin", "alpha");
    WriteFile(a + "/b.bin", "beta");
    WriteFile(b + "/a.bin", "alpha");
    PushRequest other;
    other.model = "other";
    other.paths = {b};
    bool pushed_b = false;
    req.paths = {a};
    auto got = f.reg->Push(req, Alice(), [&](uint64_t n) {
      if (n > 5 && !pushed_b) pushed_b = f.reg->Push(other, Alice()).ok();
    }, deny);
    CHECK(got.status().code() == Code::kDenied);
    REQUIRE(pushed_b);
    auto after = BlobFiles(f.root);
    CHECK(after.size() == before.size() + 1);
    CHECK(f.reg->Fsck(false, Alice())->problems.empty());
  }

  SECTION("while another process holds the gc lock, the blobs are left for gc") {
    auto held = GcLock::Take(f.root, false);
    REQUIRE(held.ok());
    CHECK_FALSE(f.reg->Push(req, Alice(), {}, deny).ok());
    CHECK(BlobFiles(f.root).size() == before.size() + 2);
  }
}
