// Unit tests of the audit trail's retention by Registry::Gc ([retention]
// audit_keep and audit_ttl): the oldest records go, gc's own stay, and
// sequence numbers are never reused.
#include <catch2/catch.hpp>

#include "index/write_txn.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

std::vector<AuditRecord> Trail(Registry& reg) {
  std::vector<AuditRecord> out;
  REQUIRE(reg.Read()->ForEachAudit(0, [&](const AuditRecord& r) {
    out.push_back(r);
    return true;
  }).ok());
  return out;
}

void Deny(Registry& reg, int n, const std::string& prefix) {
  for (int i = 0; i < n; ++i)
    REQUIRE(reg.AuditDenied(Actor{2004, "nobody"}, "read", "churn", prefix + std::to_string(i),
                            "denied")
                .ok());
}

// A record dated `age_s` seconds ago.
void AuditAged(Registry& reg, int64_t age_s, const std::string& object) {
  auto tx = WriteTxn::Begin(&reg);
  REQUIRE(tx.ok());
  AuditRecord r = MakeAudit(Alice(), "set", "churn", 1, "", object, "a", "b");
  r.at_ns = NowNs() - age_s * 1000000000LL;
  REQUIRE((*tx)->Audit(r).ok());
  REQUIRE((*tx)->Commit().ok());
}

}  // namespace

TEST_CASE("gc keeps the newest audit_keep audit records, and its own", "[maintenance][audit]") {
  Fixture f;
  Deny(*f.reg, 30, "a");
  GcOptions opt;
  opt.audit_keep = 10;
  opt.dry_run = true;
  auto dry = f.reg->Gc(opt, Alice());
  REQUIRE(dry.ok());
  CHECK(dry->removed == std::vector<std::string>{"audit 20 records #1-#20"});
  CHECK(Trail(*f.reg).size() == 30);

  opt.dry_run = false;
  auto rep = f.reg->Gc(opt, Alice());
  REQUIRE(rep.ok());
  CHECK(rep->removed == std::vector<std::string>{"audit 20 records #1-#20"});
  auto trail = Trail(*f.reg);
  REQUIRE(trail.size() == 11);
  CHECK(trail.front().seq == 21);
  CHECK(trail.front().object == "a20");
  CHECK(trail.back().seq == 31);  // numbers go on; none is reused
  CHECK(trail.back().action == "gc");
  CHECK(trail.back().object == "audit trail");
  CHECK(trail.back().before == "20 records #1-#20");
  CHECK(trail.back().after == "removed");
  CHECK(f.reg->Read()->LastAuditSeq() == 31);

  // The next gc counts the last one's record among the old ones.
  Deny(*f.reg, 5, "b");
  REQUIRE(f.reg->Gc(opt, Alice()).ok());
  trail = Trail(*f.reg);
  REQUIRE(trail.size() == 11);
  CHECK(trail.front().seq == 27);
  CHECK(trail.back().seq == 37);
  CHECK(trail.back().before == "6 records #21-#26");

  // What gc writes in the same run (a version it removed) is never removed
  // by it, even with audit_keep = 1; within the limit nothing is removed.
  f.Push("churn");
  REQUIRE(f.reg->Archive("churn", 1, Alice()).ok());
  opt.audit_keep = 1;
  REQUIRE(f.reg->Gc(opt, Alice()).ok());
  trail = Trail(*f.reg);
  REQUIRE(trail.size() == 4);
  CHECK(trail[0].action == "archive");
  CHECK(trail[1].object == "churn@1");  // gc removed the version
  CHECK(trail[2].object == "blobs");
  CHECK(trail[3].object == "audit trail");
  CHECK(trail[3].before == "13 records #27-#39");  // #38-#39: the push (model, version)
  opt.audit_keep = 100;
  auto none = f.reg->Gc(opt, Alice());
  REQUIRE(none.ok());
  CHECK(none->removed.empty());
  CHECK(Trail(*f.reg).size() == 4);
}

TEST_CASE("gc removes audit records older than audit_ttl", "[maintenance][audit]") {
  Fixture f;
  AuditAged(*f.reg, 10 * 86400, "old0");
  AuditAged(*f.reg, 9 * 86400, "old1");
  AuditAged(*f.reg, 8 * 86400, "old2");
  AuditAged(*f.reg, 3600, "recent");
  Deny(*f.reg, 2, "now");
  GcOptions opt;
  opt.audit_ttl_s = 86400;
  auto rep = f.reg->Gc(opt, Alice());
  REQUIRE(rep.ok());
  CHECK(rep->removed == std::vector<std::string>{"audit 3 records #1-#3"});
  auto trail = Trail(*f.reg);
  REQUIRE(trail.size() == 4);
  CHECK(trail[0].object == "recent");
  CHECK(trail[3].seq == 7);
  CHECK(trail[3].before == "3 records #1-#3");
  // Nothing older than a day is left: a second gc removes nothing.
  auto again = f.reg->Gc(opt, Alice());
  REQUIRE(again.ok());
  CHECK(again->removed.empty());

  // Both rules: whichever lets more go decides.
  opt.audit_keep = 2;
  opt.audit_ttl_s = 7 * 86400;
  REQUIRE(f.reg->Gc(opt, Alice()).ok());
  trail = Trail(*f.reg);
  REQUIRE(trail.size() == 3);
  CHECK(trail[0].seq == 6);
  CHECK(trail[2].before == "2 records #4-#5");
}
