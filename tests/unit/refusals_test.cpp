// Unit tests of policy::Refusals, the per-caller memory behind
// user.registry.why, and of the Enforcer recording every denial in it.
#include "policy/refusals.h"

#include <catch2/catch.hpp>

#include "policy/enforce.h"
#include "tests/unit/fixture.h"
#include "tests/unit/identities.h"

using namespace modelfs;
using namespace modelfs::testing;
using policy::Refusals;
using namespace std::chrono_literals;

namespace {

// The text of a line "TIME TEXT": what follows the RFC 3339 time.
std::string TextOf(const std::string& line) {
  REQUIRE(line.size() > 21);
  CHECK(line[4] == '-');
  CHECK(line[19] == 'Z');
  CHECK(line[20] == ' ');
  return line.substr(21);
}

struct Clocked {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  Refusals::Limits limits;
  std::unique_ptr<Refusals> r;
  Clocked() { Make(); }
  void Make() { r = std::make_unique<Refusals>(limits, [this] { return now; }); }
};

}  // namespace

TEST_CASE("a caller reads their own most recent refusal per model, never another's",
          "[refusals]") {
  Clocked c;
  Refusals& r = *c.r;
  CHECK_FALSE(r.Latest(1001, "churn"));
  CHECK(r.All(1001).empty());
  r.Record(1001, "churn", "EINVAL mkdir churn/x: a model holds version directories v<N>");
  c.now += 1s;
  r.Record(1001, "churn", "EACCES promote churn/production -> v3: gate ...");
  c.now += 1s;
  r.Record(1001, "", "EINVAL mkdir Bad: bad model name");
  c.now += 1s;
  r.Record(1002, "churn", "EACCES read churn: denied for 1002");

  auto mine = r.Latest(1001, "churn");
  REQUIRE(mine);
  CHECK(TextOf(*mine) == "EACCES promote churn/production -> v3: gate ...");  // the latest
  REQUIRE(r.Latest(1001, ""));
  CHECK(TextOf(*r.Latest(1001, "")) == "EINVAL mkdir Bad: bad model name");
  CHECK_FALSE(r.Latest(1001, "fraud"));
  REQUIRE(r.Latest(1002, "churn"));
  CHECK(TextOf(*r.Latest(1002, "churn")) == "EACCES read churn: denied for 1002");
  CHECK_FALSE(r.Latest(1003, "churn"));
  CHECK_FALSE(r.Latest(1002, ""));

  // All of one caller's, newest first, one line each; nothing of another's.
  std::string all = r.All(1001);
  auto nl = all.find('\n');
  REQUIRE(nl != std::string::npos);
  CHECK(TextOf(all.substr(0, nl)) == "EINVAL mkdir Bad: bad model name");
  CHECK(TextOf(all.substr(nl + 1)) == "EACCES promote churn/production -> v3: gate ...");
  CHECK(all.find("1002") == std::string::npos);
}

TEST_CASE("refusals expire, stay one line each, and are bounded", "[refusals]") {
  Clocked c;
  c.limits.keep = 600s;
  c.limits.per_caller = 3;
  c.limits.max_callers = 2;
  c.limits.max_text = 100;
  c.Make();
  Refusals& r = *c.r;

  r.Record(1, "a", "first\nsecond");
  REQUIRE(r.Latest(1, "a"));
  CHECK(TextOf(*r.Latest(1, "a")) == "first\\nsecond");
  c.now += 600s;
  CHECK(r.Latest(1, "a"));
  c.now += 1s;
  CHECK_FALSE(r.Latest(1, "a"));
  CHECK(r.All(1).empty());

  // Per caller: the oldest model's refusal goes first.
  for (const char* m : {"a", "b", "c", "d"}) {
    r.Record(1, m, std::string("on ") + m);
    c.now += 1s;
  }
  CHECK_FALSE(r.Latest(1, "a"));
  CHECK(r.Latest(1, "b"));
  CHECK(r.Latest(1, "d"));
  // Callers: the one refused least recently goes first.
  r.Record(2, "a", "two");
  c.now += 1s;
  r.Record(3, "a", "three");
  CHECK_FALSE(r.Latest(1, "d"));
  CHECK(r.Latest(2, "a"));
  CHECK(r.Latest(3, "a"));

  // A long reason is cut, and says so.
  r.Record(3, "b", std::string(500, 'x'));
  auto cut = r.Latest(3, "b");
  REQUIRE(cut);
  CHECK(cut->size() <= 100);
  CHECK(cut->ends_with(" ... (cut)"));
}

TEST_CASE("every denial leaves the caller their reason, rate-limited audit or not",
          "[refusals][enforce]") {
  Fixture f;
  auto p = policy::Policy::Parse(R"(
[defaults]
read    = ["*"]
write   = ["user:writer"]
promote = ["*"]
[aliases.production]
require_approval = true
require_metrics = ["auc >= 0.9"]
)",
                                 "policy.toml");
  REQUIRE(p.ok());
  std::shared_ptr<const policy::Policy> pol = *p;
  policy::Enforcer e(f.reg.get(), [&] { return pol; });
  f.Push("churn");
  policy::Identity nobody = Id("nobody", 2004), other = Id("other", 2005);

  // Echoes of one denial are not audited again, but each is remembered.
  for (int i = 0; i < 3; ++i)
    CHECK(e.Check(nobody, policy::Operation::kPush, "churn", "churn").code() == Code::kDenied);
  auto why = e.refusals().Latest(2004, "churn");
  REQUIRE(why);
  CHECK(TextOf(*why).starts_with("EACCES write churn: denied: [defaults].write does not include"));
  CHECK_FALSE(e.refusals().Latest(2005, "churn"));

  // A gate's denial names every failing gate.
  Status st = e.WithGates(other, "churn", "production", false, "churn/production -> v1",
                          [&](const Guard& gates) {
                            return f.reg->SetAlias("churn", "production", 1,
                                                   policy::Enforcer::ActorOf(other), gates);
                          });
  CHECK(st.code() == Code::kDenied);
  why = e.refusals().Latest(2005, "churn");
  REQUIRE(why);
  CHECK(TextOf(*why) ==
        "EACCES promote churn/production -> v1: gate [aliases.production].require_approval: "
        "churn@1 is pending, not approved; gate [aliases.production].require_metrics "
        "\"auc >= 0.9\": churn@1 has no metric auc");
  // Still nobody's own, unchanged.
  CHECK(TextOf(*e.refusals().Latest(2004, "churn")).starts_with("EACCES write churn"));
}
