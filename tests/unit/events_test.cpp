// The event log (index/events.h): the committed changes of the audit
// trail as typed events, in order; refusals are not events.
#include "index/events.h"

#include <nlohmann/json.hpp>

#include "tests/unit/fixture.h"

namespace modelfs {
namespace {

using testing::Alice;
using testing::Fixture;

std::vector<std::string> Types(Registry& reg, uint64_t after = 0) {
  auto snap = reg.Read();
  REQUIRE(snap.ok());
  std::vector<std::string> out;
  uint64_t last = after;
  REQUIRE(ForEachEvent(*snap, after, [&](const AuditRecord& r, const std::string& type) {
            CHECK(r.seq > last);  // strictly increasing
            last = r.seq;
            out.push_back(type);
            return true;
          }).ok());
  return out;
}

TEST_CASE("every committed change is one event of its type, in order") {
  Fixture f;
  Version v1 = f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  testing::WriteFile(f.reg->DraftDir(*d) + "/w.bin", "draft bytes");
  REQUIRE(f.reg->Seal("churn", d->number, Alice()).ok());
  auto d2 = f.reg->CreateDraft("churn", 3, Alice());
  REQUIRE(d2.ok());
  REQUIRE(f.reg->DiscardDraft("churn", d2->number, Alice()).ok());
  {
    auto snap = f.reg->Read();
    REQUIRE(snap.ok());
    REQUIRE(f.reg->Copy(*snap, f.reg->blobs(), v1, "churn-copy", "", Alice()).ok());
  }
  CHECK(Types(*f.reg) == std::vector<std::string>{"model.created", "version.ready", "version.draft",
                                                  "version.ready", "version.draft",
                                                  "version.discarded", "model.created",
                                                  "version.ready"});
}

TEST_CASE("a refusal is audited but is no event; --since resumes after a sequence number") {
  Fixture f;
  f.Push("churn");
  uint64_t seq = 0;
  {
    auto snap = f.reg->Read();
    REQUIRE(snap.ok());
    seq = snap->LastAuditSeq();
  }
  REQUIRE(f.reg->AuditDenied(Alice(), "promote", "churn", "churn/production", "not allowed").ok());
  CHECK(Types(*f.reg, seq).empty());
  CHECK(Types(*f.reg, 1) == std::vector<std::string>{"version.ready"});
}

TEST_CASE("event JSON: fields of SPEC §8, nulls for what a change does not name") {
  AuditRecord r;
  r.seq = 7;
  r.at_ns = 1'764'210'496'000'000'123;
  r.uid = 1001;
  r.user = "alice";
  r.action = "alias";
  r.model = "churn";
  r.version = 3;
  r.alias = "production";
  r.object = "churn/production";
  r.before = "v2";
  r.after = "v3";
  auto j = EventJson(r);
  CHECK(j["type"] == "alias.production");
  CHECK(j["seq"] == 7);
  CHECK(j["version"] == 3);
  CHECK(j["actor"]["user"] == "alice");
  CHECK(j["at"] == "2025-11-27T02:28:16.000000123Z");
  r.action = "unalias";
  r.after.clear();
  CHECK(EventJson(r)["after"].is_null());
  CHECK(EventJson(r)["type"] == "alias.production");
  r.action = "gc";
  r.version = 0;
  r.model.clear();
  r.alias.clear();
  CHECK(EventType(r) == "gc");
  CHECK(EventJson(r)["model"].is_null());
  r.version = 4;
  r.model = "churn";
  CHECK(EventType(r) == "version.removed");
  r.action = "something-new";
  CHECK(EventType(r) == "something-new");  // never dropped
  r.allowed = false;
  CHECK(EventType(r).empty());
}

}  // namespace
}  // namespace modelfs
