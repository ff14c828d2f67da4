// Unit tests of index/push.cc when a push fails: the error says what went
// wrong (a full index is NoSpace, not an I/O error) and nothing of the
// failed push stays behind, neither in the index nor in the blob store.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

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
  CHECK(failed.code() == Code::kNoSpace);
  CHECK(failed.message().rfind("the index is full: ", 0) == 0);
  // The failed push left no version behind: the next number is the next one.
  auto snap = f.reg->Read();
  REQUIRE(snap.ok());
  CHECK(snap->GetModel("churn")->next_version == static_cast<uint32_t>(pushed) + 1);
  auto rep = f.reg->Fsck(false, Alice());
  REQUIRE(rep.ok());
  CHECK(rep->problems.empty());
}
