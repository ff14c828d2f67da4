// Unit tests of policy::Enforcer: the action table of every operation,
// denials decided, logged and audited in one place, and the alias gates
// run in the transaction with their denials audited.
#include "tests/unit/identities.h"
#include "policy/enforce.h"

#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;
using policy::Enforcer;
using policy::Identity;
using policy::Operation;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPolicy = R"(
[groups]
leads = ["lead"]
[defaults]
read    = ["*"]
create  = ["user:creator"]
write   = ["user:writer", "user:creator"]
promote = ["group:leads"]
approve = ["group:leads"]
admin   = ["user:root"]

[[models]]
match = "secret-*"
read = ["user:lead"]

[aliases.production]
require_approval = true
)";

using modelfs::testing::Id;

struct EnforcerFixture : Fixture {
  std::shared_ptr<const policy::Policy> pol;
  std::vector<std::string> log;
  std::unique_ptr<Enforcer> enforcer;
  explicit EnforcerFixture(const char* text = kPolicy) {
    auto p = policy::Policy::Parse(text, "policy.toml");
    REQUIRE(p.ok());
    pol = *p;
    enforcer = std::make_unique<Enforcer>(
        reg.get(), [this] { return pol; }, [this](const std::string& l) { log.push_back(l); });
  }
  std::vector<AuditRecord> Denials() {
    std::vector<AuditRecord> out;
    REQUIRE(reg->Read()->ForEachAudit(0, [&](const AuditRecord& r) {
      if (!r.allowed) out.push_back(r);
      return true;
    }).ok());
    return out;
  }
};

}  // namespace

TEST_CASE("each operation needs the actions of its row", "[enforce]") {
  EnforcerFixture f;
  Identity writer = Id("writer", 2001), creator = Id("creator", 2002),
           lead = Id("lead", 2003, {"leads"}), root = Id("root", 0), nobody = Id("nobody", 2004);
  struct Row {
    Operation op;
    std::vector<const Identity*> allowed;
  };
  const std::vector<Row> table = {
      {Operation::kRead, {&writer, &creator, &lead, &root, &nobody}},
      {Operation::kReadRoot, {&writer, &creator, &lead, &root, &nobody}},
      {Operation::kCreateModel, {&creator}},
      {Operation::kPush, {&writer, &creator}},
      {Operation::kPushNewModel, {&creator}},  // create and write
      {Operation::kCreateDraft, {&writer, &creator}},
      {Operation::kWriteDraft, {&writer, &creator}},
      {Operation::kDiscardDraft, {&writer, &creator}},
      {Operation::kSeal, {&writer, &creator}},
      {Operation::kSetMeta, {&writer, &creator}},
      {Operation::kSetMetaChecked, {&writer, &creator}},
      {Operation::kApprove, {&lead, &root}},
      {Operation::kArchive, {&root}},
      {Operation::kUnarchive, {&root}},
      {Operation::kSetModelMeta, {&writer, &creator}},
      {Operation::kSetAlias, {&lead, &root}},
      {Operation::kSetAliasForced, {&root}},  // promote and admin
      {Operation::kDeleteAlias, {&lead, &root}},
      {Operation::kReadAudit, {&root}},
      {Operation::kGc, {&root}},
      {Operation::kFsck, {&root}},
  };
  for (const auto& row : table) {
    for (const Identity* who : {&writer, &creator, &lead, &root, &nobody}) {
      // Admin implies every action (SPEC §6).
      bool want = who == &root ||
                  std::find(row.allowed.begin(), row.allowed.end(), who) != row.allowed.end();
      INFO(policy::OperationName(row.op) << " by " << who->user);
      Status st = f.enforcer->Check(*who, row.op, "churn", "churn");
      CHECK(st.ok() == want);
      if (!want) CHECK(st.code() == Code::kDenied);
    }
  }
  // Writing with XATTR_CREATE/REPLACE tells whether a key exists: readers only.
  CHECK(f.enforcer->Check(writer, Operation::kSetMeta, "secret-x", "secret-x").ok());
  CHECK(f.enforcer->Check(writer, Operation::kSetMetaChecked, "secret-x", "secret-x").code() ==
        Code::kDenied);
  CHECK(f.enforcer->MayRead(Id("lead", 2003), "secret-x"));
  CHECK_FALSE(f.enforcer->MayRead(writer, "secret-x"));
}

TEST_CASE("the registry root is readable by anyone; its listing shows what they may read",
          "[enforce]") {
  // carol may read one model only: `ls` of the root must work for her, as
  // `modelfs list` does, and show churn alone.
  EnforcerFixture f(R"(
[defaults]
read  = ["user:root"]
admin = ["user:root"]
[[models]]
match = "churn"
read = ["user:carol"]
)");
  Identity carol = Id("carol", 2005), nobody = Id("nobody", 2004);
  for (const Identity* who : {&carol, &nobody}) {
    INFO(who->user);
    CHECK(f.enforcer->Check(*who, Operation::kReadRoot, "", "/").ok());
    CHECK(f.enforcer->Check(*who, Operation::kRead, "fraud", "fraud").code() == Code::kDenied);
    CHECK_FALSE(f.enforcer->MayRead(*who, "fraud"));
  }
  CHECK(f.enforcer->MayRead(carol, "churn"));
  CHECK_FALSE(f.enforcer->MayRead(nobody, "churn"));
}

TEST_CASE("looking up a model: absent to one who may create it, hidden from the others",
          "[enforce]") {
  // maker may create models but read none: mkdir's lookup must answer
  // ENOENT for a new name, so that mkdir reaches create. For anyone else
  // who may not read, absent and present names are denied alike.
  EnforcerFixture f(R"(
[defaults]
read   = ["user:root", "user:reader"]
create = ["user:maker"]
admin  = ["user:root"]
)");
  Identity maker = Id("maker", 2006), nobody = Id("nobody", 2004), reader = Id("reader", 2007);
  int asked = 0;
  auto absent = [&]() -> Result<bool> { return ++asked, false; };
  auto present = [&]() -> Result<bool> { return ++asked, true; };
  CHECK(f.enforcer->CheckRootLookup(maker, "new-model", absent).code() == Code::kNotFound);
  CHECK(f.Denials().empty());
  CHECK(f.enforcer->CheckRootLookup(maker, "churn", present).code() == Code::kDenied);
  CHECK(asked == 2);
  CHECK(f.enforcer->CheckRootLookup(nobody, "new-model", absent).code() == Code::kDenied);
  CHECK(f.enforcer->CheckRootLookup(nobody, "churn", present).code() == Code::kDenied);
  CHECK(f.enforcer->CheckRootLookup(reader, "churn", present).ok());
  CHECK(asked == 2);  // only a creator who may not read learns whether it exists
  auto denials = f.Denials();
  REQUIRE(denials.size() == 3);
  for (const auto& d : denials) CHECK(d.action == "read");
  // An index error while finding out is returned as it is.
  auto broken = []() -> Result<bool> { return Status::Corrupt("models record is damaged"); };
  CHECK(f.enforcer->CheckRootLookup(maker, "x", broken).code() == Code::kCorrupt);
}

TEST_CASE("a denial is logged and audited, once per caller and object for a while",
          "[enforce]") {
  EnforcerFixture f;
  Identity nobody = Id("nobody", 2004);
  for (int i = 0; i < 3; ++i)
    CHECK(f.enforcer->Check(nobody, Operation::kPush, "churn", "churn").code() == Code::kDenied);
  CHECK(f.enforcer->Check(nobody, Operation::kPush, "fraud", "fraud").code() == Code::kDenied);
  auto denials = f.Denials();
  REQUIRE(denials.size() == 2);
  CHECK(denials[0].action == "write");
  CHECK(denials[0].object == "churn");
  CHECK(denials[0].user == "nobody");
  CHECK(denials[0].uid == 2004);
  CHECK(denials[0].reason.find("[defaults].write") != std::string::npos);
  CHECK(denials[1].object == "fraud");
  REQUIRE(f.log.size() == 2);
  CHECK(f.log[0].rfind("denied: ", 0) == 0);
  CHECK(f.log[0].find("write churn") != std::string::npos);
}

TEST_CASE("alias gates run at commit time; their denials are audited", "[enforce]") {
  EnforcerFixture f;
  f.Push("churn");
  Identity lead = Id("lead", 2003, {"leads"});
  auto move = [&](bool force) {
    return f.enforcer->WithGates(lead, "churn", "production", force, "churn/production -> v1",
                                 [&](const Guard& gates) {
                                   return f.reg->SetAlias("churn", "production", 1,
                                                          Enforcer::ActorOf(lead), gates);
                                 });
  };
  Status st = move(false);
  CHECK(st.code() == Code::kDenied);
  CHECK(st.message().find("require_approval") != std::string::npos);
  auto denials = f.Denials();
  REQUIRE(denials.size() == 1);
  CHECK(denials[0].action == "promote");
  CHECK(denials[0].object == "churn/production -> v1");
  CHECK_FALSE(f.reg->Read()->GetAlias(f.reg->Read()->GetModel("churn")->id, "production").ok());
  // Forced: passes, and the audit record of the move says what was forced.
  REQUIRE(move(true).ok());
  AuditRecord last;
  REQUIRE(f.reg->Read()->ForEachAudit(0, [&](const AuditRecord& r) {
    last = r;
    return true;
  }).ok());
  CHECK(last.action == "alias");
  CHECK(last.reason.rfind("forced past ", 0) == 0);
  // A failure that is not a gate's is not a denial.
  Status other = f.enforcer->WithGates(lead, "churn", "staging", false, "x", [&](const Guard& g) {
    return f.reg->SetAlias("churn", "staging", 9, Enforcer::ActorOf(lead), g);
  });
  CHECK(other.code() == Code::kInvalid);
  CHECK(f.Denials().size() == 1);
}

namespace {

// An Enforcer with the default limits on a clock the test moves.
struct FloodFixture : EnforcerFixture {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  Enforcer::Limits limits;
  std::unique_ptr<Enforcer> flood;
  FloodFixture() {
    flood = std::make_unique<Enforcer>(
        reg.get(), [this] { return pol; }, [this](const std::string& l) { log.push_back(l); },
        limits, [this] { return now; });
  }
  std::vector<AuditRecord> Summaries() {
    std::vector<AuditRecord> out;
    for (const auto& r : Denials())
      if (r.action == Enforcer::kDenialSummaryAction) out.push_back(r);
    return out;
  }
  size_t Individual(uint32_t uid) {
    size_t n = 0;
    for (const auto& r : Denials())
      if (r.uid == uid && r.action != Enforcer::kDenialSummaryAction) ++n;
    return n;
  }
  // N of "N further denials of uid U (USER) suppressed in the last S s".
  static uint64_t Count(const AuditRecord& r) { return std::stoull(r.reason); }
};

}  // namespace

TEST_CASE("one caller's distinct denials are recorded up to its budget, then summarized",
          "[enforce][flood]") {
  FloodFixture f;
  Identity nobody = Id("nobody", 2004);
  for (int i = 0; i < 10000; ++i)
    REQUIRE(f.flood->Check(nobody, Operation::kRead, "secret-x", "secret-x/m" + std::to_string(i))
                .code() == Code::kDenied);
  // All within an instant: the burst is recorded, nothing else yet.
  const size_t burst = static_cast<size_t>(f.limits.burst);
  CHECK(f.Individual(2004) == burst);
  CHECK(f.Summaries().empty());
  CHECK(f.log.size() == burst);  // the daemon's log is spared too
  f.flood->Flush();              // not due before the window has passed
  CHECK(f.Summaries().empty());

  f.now += f.limits.summary_window;
  f.flood->Flush();
  auto sums = f.Summaries();
  REQUIRE(sums.size() == 1);
  CHECK(sums[0].uid == 2004);
  CHECK(sums[0].user == "nobody");
  CHECK(sums[0].object == "uid 2004");
  CHECK(sums[0].model.empty());
  CHECK(sums[0].reason == std::to_string(10000 - burst) +
                              " further denials of uid 2004 (nobody) suppressed in the last 60 s");
  CHECK(f.log.back() == "denied-summary: " + sums[0].reason);
  CHECK(f.Denials().size() == burst + 1);
  f.flood->Flush();  // written once
  CHECK(f.Denials().size() == burst + 1);
}

TEST_CASE("a flood over time: records bounded by the rate, every denial accounted for",
          "[enforce][flood]") {
  FloodFixture f;
  Identity nobody = Id("nobody", 2004);
  // 10,000 distinct denials over 100 s, with the mount's periodic Flush.
  for (int i = 0; i < 10000; ++i) {
    f.now += std::chrono::milliseconds(10);
    CHECK(f.flood->Check(nobody, Operation::kPush, "churn", "churn/f" + std::to_string(i)).code() ==
          Code::kDenied);
    if (i % 20 == 0) f.flood->Flush();
  }
  const auto secs = 100s / std::chrono::duration_cast<std::chrono::seconds>(f.limits.refill);
  size_t individual = f.Individual(2004);
  CHECK(individual <= static_cast<size_t>(f.limits.burst + secs + 1));
  CHECK(individual >= static_cast<size_t>(f.limits.burst + secs - 1));
  // One summary a minute while it lasts, and the rest when the Enforcer goes.
  CHECK(f.Summaries().size() == 1);
  f.flood.reset();
  auto sums = f.Summaries();
  REQUIRE(sums.size() == 2);
  uint64_t summarized = 0;
  for (const auto& s : sums) summarized += FloodFixture::Count(s);
  CHECK(individual + summarized == 10000);
}

TEST_CASE("a flooding caller does not starve another; echoes are not counted", "[enforce][flood]") {
  FloodFixture f;
  Identity nobody = Id("nobody", 2004), writer = Id("writer", 2001);
  // Fewer distinct names than the echo rule remembers (max_echoes).
  for (int i = 0; i < 3000; ++i)
    (void)f.flood->Check(nobody, Operation::kPush, "churn", "churn/f" + std::to_string(i));
  // Repeating a name already denied (recorded or counted) counts nothing.
  for (int i = 0; i < 100; ++i) (void)f.flood->Check(nobody, Operation::kPush, "churn", "churn/f1");
  for (int i = 0; i < 100; ++i)
    (void)f.flood->Check(nobody, Operation::kPush, "churn", "churn/f2999");
  // The other caller has its own, untouched budget.
  for (int i = 0; i < f.limits.burst; ++i)
    CHECK(f.flood->Check(writer, Operation::kReadAudit, "", "log " + std::to_string(i)).code() ==
          Code::kDenied);
  CHECK(f.Individual(2001) == static_cast<size_t>(f.limits.burst));
  CHECK(f.Individual(2004) == static_cast<size_t>(f.limits.burst));
  // A summary that is due is written by the next denial of anyone.
  f.now += f.limits.summary_window + 1s;
  (void)f.flood->Check(writer, Operation::kReadAudit, "", "log again");
  auto sums = f.Summaries();
  REQUIRE(sums.size() == 1);
  CHECK(sums[0].uid == 2004);
  CHECK(FloodFixture::Count(sums[0]) == 3000 - static_cast<uint64_t>(f.limits.burst));
  CHECK(sums[0].reason.find("in the last 61 s") != std::string::npos);
  CHECK(f.Individual(2001) == static_cast<size_t>(f.limits.burst) + 1);  // refilled meanwhile
}

TEST_CASE("budgets are capped in number without losing a count", "[enforce][flood]") {
  FloodFixture f;
  f.limits.max_callers = 4;
  f.limits.burst = 1;
  f.flood = std::make_unique<Enforcer>(
      f.reg.get(), [&] { return f.pol; }, Enforcer::LogFn{}, f.limits, [&] { return f.now; });
  uint64_t denials = 0;
  for (uint32_t uid = 3000; uid < 3010; ++uid)
    for (int i = 0; i < 3; ++i, ++denials)
      (void)f.flood->Check(Id("u" + std::to_string(uid), uid), Operation::kPush, "churn",
                           "churn/" + std::to_string(i));
  f.flood.reset();
  uint64_t accounted = 0;
  for (const auto& r : f.Denials())
    accounted += r.action == Enforcer::kDenialSummaryAction ? FloodFixture::Count(r) : 1;
  CHECK(accounted == denials);
}
