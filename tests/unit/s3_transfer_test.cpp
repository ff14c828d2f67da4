// Unit tests of the S3 client's transfer arithmetic (index/remote/
// s3_transfer.cc): how an object is split into ranged GETs and how a
// Content-Range answer is read. The transfers themselves run against a
// real store in tests/multihost/cache_*.sh.
#include <catch2/catch.hpp>

#include "index/remote/s3.h"

using namespace modelfs::remote;
using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

TEST_CASE("an object is split into parts that cover it exactly", "[remote][ranges]") {
  CHECK(SplitRanges(0, 0, 8) == Ranges{});
  CHECK(SplitRanges(0, 5, 8) == Ranges{{0, 5}});
  CHECK(SplitRanges(0, 8, 8) == Ranges{{0, 8}});
  CHECK(SplitRanges(0, 17, 8) == Ranges{{0, 8}, {8, 16}, {16, 17}});
  // After the first part (fetched alone, to learn the size).
  CHECK(SplitRanges(8, 24, 8) == Ranges{{8, 16}, {16, 24}});
  CHECK(SplitRanges(8, 8, 8) == Ranges{});
  CHECK(SplitRanges(0, 10, 0) == Ranges{});
  uint64_t covered = 0;
  const uint64_t total = (uint64_t{40} << 20) + 12345, part = uint64_t{8} << 20;
  auto r = SplitRanges(0, total, part);
  CHECK(r.size() == 6);
  for (const auto& [b, e] : r) {
    CHECK(b == covered);
    CHECK(e - b <= part);
    covered = e;
  }
  CHECK(covered == total);
}

TEST_CASE("Content-Range gives the part and the object's size", "[remote][ranges]") {
  auto r = ParseContentRange("bytes 0-8388607/41943040");
  REQUIRE(r);
  CHECK(r->first == 0);
  CHECK(r->last == 8388607);
  CHECK(r->total == 41943040);
  CHECK(ParseContentRange("bytes 5-5/6"));
  for (const char* bad : {"", "bytes */100", "bytes 5-4/10", "bytes 0-10/10", "items 0-1/2",
                          "bytes 0-1/", "bytes 0-1/2x"}) {
    INFO(bad);
    CHECK(!ParseContentRange(bad));
  }
}
