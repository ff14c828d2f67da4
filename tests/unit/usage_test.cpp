// Use counts (index/usage.h): the in-memory counter, the usage table that
// flushes write, and its consistency with gc, on a real registry.
#include <catch2/catch.hpp>

#include "index/registry.h"
#include "index/usage.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

std::optional<Usage> UsageOf(Registry& reg, const Version& v) {
  auto s = reg.Read();
  REQUIRE(s.ok());
  Status err;
  auto u = s->UsageOf(v.model_id, v.number, &err);
  REQUIRE(err.ok());
  return u;
}

uint64_t AuditSeq(Registry& reg) {
  auto s = reg.Read();
  REQUIRE(s.ok());
  return s->LastAuditSeq();
}

uint64_t UsageSeq(Registry& reg) {
  auto s = reg.Read();
  REQUIRE(s.ok());
  return s->UsageSeq();
}

}  // namespace

TEST_CASE("UseCounts counts opens per version and hands them over once", "[usage]") {
  UseCounts c;
  c.Record(7, 1, 100);
  c.Record(7, 1, 300);
  c.Record(7, 1, 200);
  c.Record(7, 2, 50);
  c.Record(8, 1, 10);
  auto batch = c.Take();
  REQUIRE(batch.size() == 3);
  CHECK(batch[0].model_id == 7);
  CHECK(batch[0].number == 1);
  CHECK(batch[0].add == Usage{300, 3});  // the latest open, and how many
  CHECK(batch[1].add == Usage{50, 1});
  CHECK(batch[2].add == Usage{10, 1});
  CHECK(c.Take().empty());  // taken once

  // A batch that could not be written goes back, merged with newer opens.
  c.Record(7, 1, 400);
  c.Restore(batch);
  auto again = c.Take();
  REQUIRE(again.size() == 3);
  CHECK(again[0].add == Usage{400, 4});
}

TEST_CASE("the usage record round-trips and a damaged one is named", "[usage]") {
  Usage u{1764268800123456789, 42};
  Usage back;
  REQUIRE(DecodeUsage(EncodeUsage(u), &back).ok());
  CHECK(back == u);
  Status bad = DecodeUsage("short", &back);
  CHECK(bad.code() == Code::kCorrupt);
  CHECK(bad.message().find("5 bytes") != std::string::npos);
}

TEST_CASE("AddUsage adds to what is stored, in one unaudited transaction", "[usage]") {
  Fixture f;
  Version v1 = f.Push("churn");
  Version v2 = f.Push("churn");
  CHECK_FALSE(UsageOf(*f.reg, v1).has_value());  // never used

  uint64_t audit = AuditSeq(*f.reg);
  uint64_t flushes = UsageSeq(*f.reg);
  REQUIRE(f.reg->AddUsage({{v1.model_id, 1, Usage{1000, 3}}, {v2.model_id, 2, Usage{500, 1}}}).ok());
  CHECK(UsageOf(*f.reg, v1) == Usage{1000, 3});
  CHECK(UsageOf(*f.reg, v2) == Usage{500, 1});
  // Counts add up; last_used_at keeps the latest even from an older batch.
  REQUIRE(f.reg->AddUsage({{v1.model_id, 1, Usage{900, 2}}}).ok());
  CHECK(UsageOf(*f.reg, v1) == Usage{1000, 5});
  REQUIRE(f.reg->AddUsage({{v1.model_id, 1, Usage{2000, 1}}}).ok());
  CHECK(UsageOf(*f.reg, v1) == Usage{2000, 6});

  // Not a change a user made: no audit record (the mount's freshness
  // thread follows the audit trail), but its own counter moves.
  CHECK(AuditSeq(*f.reg) == audit);
  CHECK(UsageSeq(*f.reg) == flushes + 3);
  // An empty batch writes nothing.
  REQUIRE(f.reg->AddUsage({}).ok());
  CHECK(UsageSeq(*f.reg) == flushes + 3);
}

TEST_CASE("gc removes a version's usage record with it; a flush skips versions gone", "[usage]") {
  Fixture f;
  Version v1 = f.Push("churn");
  Version v2 = f.Push("churn");
  REQUIRE(f.reg->AddUsage({{v1.model_id, 1, Usage{1000, 3}}, {v2.model_id, 2, Usage{1000, 1}}}).ok());
  REQUIRE(f.reg->Archive("churn", 1, Alice()).ok());
  CHECK(UsageOf(*f.reg, v1) == Usage{1000, 3});  // archived: kept until gc
  REQUIRE(f.reg->Gc(GcOptions{}, Alice()).ok());
  {
    auto s = f.reg->Read();
    REQUIRE(s.ok());
    CHECK(s->GetVersion(v1.model_id, 1).status().code() == Code::kNotFound);
  }
  CHECK_FALSE(UsageOf(*f.reg, v1).has_value());
  CHECK(UsageOf(*f.reg, v2) == Usage{1000, 1});  // the other version's stays

  // Opens counted before gc, flushed after: no record for what is gone.
  uint64_t flushes = UsageSeq(*f.reg);
  REQUIRE(f.reg->AddUsage({{v1.model_id, 1, Usage{3000, 1}}}).ok());
  CHECK_FALSE(UsageOf(*f.reg, v1).has_value());
  CHECK(UsageSeq(*f.reg) == flushes);  // nothing written
  auto fsck = f.reg->Fsck(false, Alice());
  REQUIRE(fsck.ok());
  CHECK(fsck->problems.empty());
}

TEST_CASE("a discarded draft leaves no usage record", "[usage]") {
  Fixture f;
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  REQUIRE(f.reg->AddUsage({{d->model_id, 2, Usage{10, 1}}}).ok());
  CHECK(UsageOf(*f.reg, *d) == Usage{10, 1});
  REQUIRE(f.reg->DiscardDraft("churn", 2, Alice()).ok());
  CHECK_FALSE(UsageOf(*f.reg, *d).has_value());
}
