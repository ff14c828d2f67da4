// Unit tests of BlobStore::OpenToServe: a blob is verified the first time it
// is served through a store (once per mount), and bytes that no longer match
// their digest are never served.
#include <fcntl.h>
#include <unistd.h>

#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

TEST_CASE("a blob is verified on its first open, and a damaged one is refused", "[blobs]") {
  Fixture f;
  Version v = f.Push("churn");
  auto e = f.reg->Read()->GetEntry(v.id, "model.onnx");
  REQUIRE(e.ok());
  std::string path = f.reg->blobs().PathOf(e->digest);

  // Damaged before its first open: refused, whatever the caller asks next.
  chmod(path.c_str(), 0644);
  WriteFile(path, "weights-X", 0444);
  auto bad = f.reg->blobs().OpenToServe(e->digest, true);
  CHECK(bad.status().code() == Code::kCorrupt);
  CHECK(f.reg->blobs().OpenToServe(e->digest, true).status().code() == Code::kCorrupt);
  // Without verification the bytes are opened as they are (--no-verify).
  auto unverified = f.reg->blobs().OpenToServe(e->digest, false);
  REQUIRE(unverified.ok());
  close(*unverified);

  // Repaired, it is verified once and then served without hashing again:
  // a later change is not seen until the next mount (a new store).
  chmod(path.c_str(), 0644);
  WriteFile(path, "weights-1", 0444);
  auto good = f.reg->blobs().OpenToServe(e->digest, true);
  REQUIRE(good.ok());
  char buf[16] = {};
  CHECK(pread(*good, buf, sizeof buf, 0) == 9);
  CHECK(std::string(buf) == "weights-1");
  close(*good);
  chmod(path.c_str(), 0644);
  WriteFile(path, "weights-Y", 0444);
  auto cached = f.reg->blobs().OpenToServe(e->digest, true);
  REQUIRE(cached.ok());
  close(*cached);
  auto reopened = Registry::Open(f.root);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->blobs().OpenToServe(e->digest, true).status().code() == Code::kCorrupt);

  // A blob the index names but that is gone is an I/O error, not "no such file".
  unlink(path.c_str());
  auto gone = (*reopened)->blobs().OpenToServe(e->digest, false);
  CHECK(gone.status().code() == Code::kIO);
}
