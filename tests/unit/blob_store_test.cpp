// Unit tests of BlobStore: sparse files are stored sparse, with the digest
// of their full content. (Serving blobs: blob_fds_test.cpp.)
#include <fcntl.h>
#include <unistd.h>

#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

void PwriteAll(int fd, const std::string& data, off_t off) {
  REQUIRE(pwrite(fd, data.data(), data.size(), off) == static_cast<ssize_t>(data.size()));
}

}  // namespace

TEST_CASE("a sparse file is stored with its holes and the digest of its full content",
          "[blobs][sparse]") {
  Fixture f;
  constexpr off_t kGiB = off_t{1} << 30;
  std::string sparse = f.tmp.path + "/sparse.bin";
  int fd = open(sparse.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(ftruncate(fd, kGiB) == 0);
  std::string block(4096, 'x');
  PwriteAll(fd, block, 0);
  PwriteAll(fd, std::string(4096, 'y'), kGiB / 2 + 100);  // unaligned
  PwriteAll(fd, std::string(4096, 'z'), kGiB - 4096);
  uint64_t src_size = 0;
  auto want = BlobStore::HashFd(fd, &src_size);  // the dense reading: every byte
  REQUIRE(want.ok());
  CHECK(src_size == static_cast<uint64_t>(kGiB));
  close(fd);

  auto s = f.reg->blobs().PutFile(sparse);
  REQUIRE(s.ok());
  CHECK(s->size == static_cast<uint64_t>(kGiB));
  CHECK(s->digest == *want);
  std::string blob = f.reg->blobs().PathOf(s->digest);
  struct stat st;
  REQUIRE(stat(blob.c_str(), &st) == 0);
  CHECK(st.st_size == kGiB);
  CHECK(static_cast<uint64_t>(st.st_blocks) * 512 < (16u << 20));  // a few blocks, not 1 GiB
  CHECK(f.reg->blobs().Verify(s->digest).ok());

  int bfd = open(blob.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(bfd >= 0);
  auto read_at = [&](off_t off, size_t n) {
    std::string b(n, '\1');
    CHECK(pread(bfd, b.data(), n, off) == static_cast<ssize_t>(n));
    return b;
  };
  CHECK(read_at(0, 4096) == block);
  CHECK(read_at(4096, 8192) == std::string(8192, '\0'));
  CHECK(read_at(kGiB / 2, 100) == std::string(100, '\0'));
  CHECK(read_at(kGiB / 2 + 100, 4096) == std::string(4096, 'y'));
  CHECK(read_at(kGiB - 8192, 4096) == std::string(4096, '\0'));
  CHECK(read_at(kGiB - 4096, 4096) == std::string(4096, 'z'));
  close(bfd);
}

TEST_CASE("sparse and dense copies of the same bytes are the same blob", "[blobs][sparse]") {
  Fixture f;
  constexpr off_t kSize = 8 << 20;
  std::string content(kSize, '\0');
  for (off_t off : {off_t{0}, off_t{3 << 20} + 7, kSize - 10})
    for (off_t i = 0; i < 10; ++i) content[off + i] = static_cast<char>('a' + i);

  std::string dense = f.tmp.path + "/dense.bin", sparse = f.tmp.path + "/sparse.bin";
  WriteFile(dense, content);
  int fd = open(sparse.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(ftruncate(fd, kSize) == 0);
  for (off_t off : {off_t{0}, off_t{3 << 20} + 7, kSize - 10})
    PwriteAll(fd, content.substr(off, 10), off);
  close(fd);

  auto a = f.reg->blobs().PutFile(dense);
  REQUIRE(a.ok());
  CHECK_FALSE(a->existed);
  auto b = f.reg->blobs().PutFile(sparse);
  REQUIRE(b.ok());
  CHECK(b->existed);
  CHECK(a->digest == b->digest);
  CHECK(a->size == static_cast<uint64_t>(kSize));
  CHECK(ReadFile(f.reg->blobs().PathOf(a->digest)) == content);

  // A file that is one hole, and an empty one.
  std::string hole = f.tmp.path + "/hole.bin", empty = f.tmp.path + "/empty.bin";
  REQUIRE(truncate((WriteFile(hole, ""), hole).c_str(), 3 << 20) == 0);
  WriteFile(empty, "");
  auto h = f.reg->blobs().PutFile(hole);
  REQUIRE(h.ok());
  CHECK(h->size == (3u << 20));
  CHECK(ReadFile(f.reg->blobs().PathOf(h->digest)) == std::string(3 << 20, '\0'));
  auto e = f.reg->blobs().PutFile(empty);
  REQUIRE(e.ok());
  CHECK(e->size == 0);
  CHECK(ReadFile(f.reg->blobs().PathOf(e->digest)).empty());
}
