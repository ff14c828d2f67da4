// Hooks without a mount or a network: the [[hooks]] of the policy file,
// the delivery record, and the deliverer's at-least-once, in-order
// delivery through a command hook that fails until told otherwise.
#include "hooks/deliver.h"

#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "index/events.h"
#include "policy/enforce.h"
#include "tests/unit/fixture.h"

namespace modelfs {
namespace {

using testing::Fixture;

std::shared_ptr<const policy::Policy> ParseOk(const std::string& text) {
  auto p = policy::Policy::Parse(text, "p.toml");
  INFO((p.ok() ? "" : p.status().message()));
  REQUIRE(p.ok());
  return *p;
}

std::string Me() { return getpwuid(geteuid())->pw_name; }

std::string ParseError(const std::string& text) {
  auto p = policy::Policy::Parse(text, "p.toml");
  REQUIRE_FALSE(p.ok());
  return p.status().message();
}

TEST_CASE("[[hooks]] parse, with defaults, and match event types by glob") {
  auto p = ParseOk(
      "hook_user = \"mf-hooks\"\n"
      "[[hooks]]\nname = \"deploy\"\non = [\"alias.production\", \"version.*\"]\n"
      "url = \"https://x/\"\nsecret_file = \"/k\"\ntimeout = \"5s\"\nmax_attempts = 3\n"
      "[[hooks]]\nname = \"n\"\non = [\"approval\"]\nrun = [\"notify\", \"--all\"]\n");
  REQUIRE(p->hooks().size() == 2);
  CHECK(p->hook_user() == "mf-hooks");
  const policy::Hook* d = p->hook("deploy");
  REQUIRE(d != nullptr);
  CHECK(d->timeout_seconds == 5);
  CHECK(d->max_attempts == 3);
  CHECK(d->Matches("alias.production"));
  CHECK(d->Matches("version.ready"));
  CHECK_FALSE(d->Matches("alias.staging"));
  const policy::Hook* n = p->hook("n");
  REQUIRE(n != nullptr);
  CHECK(n->run == std::vector<std::string>{"notify", "--all"});
  CHECK(n->timeout_seconds == 30);
  CHECK(n->max_attempts == 8);
  CHECK(ParseOk("")->hook_user() == "nobody");
}

TEST_CASE("bad [[hooks]] are refused at the line and column of the mistake") {
  CHECK(ParseError("[[hooks]]\nname = \"a\"\non = [\"x\"]\nrun = [\"t\"]\nurl = \"http://h\"\n") ==
        "p.toml:5:7: [[hooks]] #1 has both run and url: a hook does one of them");
  CHECK(ParseError("[[hooks]]\nname = \"a\"\non = [\"x\"]\n").find("needs run") != std::string::npos);
  CHECK(ParseError("[[hooks]]\nname = \"a b\"\non = [\"x\"]\nrun = [\"t\"]\n").find("p.toml:2:8:") == 0);
  CHECK(ParseError("[[hooks]]\nname = \"a\"\non = []\nrun = [\"t\"]\n").find("non-empty array") !=
        std::string::npos);
  CHECK(ParseError("[[hooks]]\nname = \"a\"\non = [\"x\"]\nrun = [\"t\"]\n[[hooks]]\nname = \"a\"\n"
                   "on = [\"x\"]\nrun = [\"t\"]\n")
            .find("another hook is named \"a\"") != std::string::npos);
  CHECK(ParseError("[[hooks]]\nname = \"a\"\non = [\"x\"]\nrun = [\"t\"]\nmax_attempts = 0\n")
            .find("from 1 to 1000") != std::string::npos);
  CHECK(ParseError("[[hooks]]\nname = \"a\"\non = [\"x\"]\nrun = [\"t\"]\nsecret_file = \"/k\"\n")
            .find("a run hook has none") != std::string::npos);
  // when = EXPR: a malformed one points at its column inside the string.
  CHECK(ParseError("[[hooks]]\nname = \"a\"\non = [\"x\"]\nrun = [\"t\"]\nwhen = \"metrics.auc >= \\\"hi\\\"\"\n")
            .rfind("p.toml:5:24: [[hooks]] #1.when: metrics.auc is a number", 0) == 0);
  // ... in the file, past escapes that are shorter in the string's value.
  const std::string kHook = "[[hooks]]\nname = \"a\"\non = [\"x\"]\nrun = [\"t\"]\n";
  CHECK(ParseError(kHook + R"(when = "tags.t = \"a\" and metrics.auc >= \"hi\"")" "\n")
            .rfind("p.toml:5:43: [[hooks]] #1.when: metrics.auc is a number", 0) == 0);
  CHECK(ParseError(kHook + R"(when = "tags.t = \"\u00e9\" and metrics.auc >= \"hi\"")" "\n")
            .rfind("p.toml:5:48: [[hooks]] #1.when: metrics.auc is a number", 0) == 0);
  CHECK(ParseError(kHook + "wen = \"x\"\n").find("max_attempts or when") != std::string::npos);
  CHECK(ParseOk("[[hooks]]\nname = \"a\"\non = [\"x\"]\nrun = [\"t\"]\nwhen = \"metrics.auc >= 0.9\"\n")
            ->hook("a")->when != nullptr);
}

TEST_CASE("backoff doubles from 1 s, with jitter, up to 5 min") {
  for (int i = 0; i < 20; ++i) {
    CHECK(hooks::Backoff(1).count() >= 800);
    CHECK(hooks::Backoff(1).count() <= 1200);
    CHECK(hooks::Backoff(3).count() >= 3200);
    CHECK(hooks::Backoff(3).count() <= 4800);
    CHECK(hooks::Backoff(40).count() <= 360000);
    CHECK(hooks::Backoff(40).count() >= 240000);
  }
}

TEST_CASE("the deliverer sends each matching event once it succeeds, in order, and resumes") {
  Fixture f;
  std::string out = f.tmp.path + "/out";
  std::string gate = f.tmp.path + "/open";
  std::filesystem::create_directories(out);
  // Fails (exit 3) until `gate` exists; appends the event's seq to out/log.
  // Runs as this user: the fixture's directory is private.
  auto pol = ParseOk("hook_user = \"" + Me() + "\"\n[[hooks]]\nname = \"rec\"\non = [\"version.*\"]\nmax_attempts = 2\nrun = [\"/bin/sh\", \"-c\", \"test -e " +
                     gate + " || { echo closed; exit 3; }; echo $MODELFS_EVENT_SEQ >>" + out +
                     "/log\"]\n");
  std::vector<std::string> log;
  hooks::Deliverer d(f.reg.get(), [&] { return pol; }, [&](const std::string& l) { log.push_back(l); });
  d.RunOnce();  // a new hook starts at the newest event
  f.Push("churn");
  uint64_t s1 = 0, s2 = 0;
  {
    auto snap = f.reg->Read();
    REQUIRE(snap.ok());
    s1 = snap->LastAuditSeq();
  }
  auto wait = d.RunOnce();  // fails: the gate is closed; retried after ~1 s
  CHECK(wait.count() >= 700);
  CHECK(wait.count() <= 1300);
  {
    auto snap = f.reg->Read();
    REQUIRE(snap.ok());
    auto st = hooks::LoadState(*snap, "rec");
    REQUIRE(st.ok());
    CHECK(st->attempts == 1);
    CHECK(st->last_error == "exit 3: closed");
    CHECK(st->done < s1);
  }
  CHECK(d.RunOnce().count() > 0);  // not due yet: nothing sent
  CHECK_FALSE(std::filesystem::exists(out + "/log"));
  testing::WriteFile(gate, "");
  f.Push("churn");
  {
    auto snap = f.reg->Read();
    REQUIRE(snap.ok());
    s2 = snap->LastAuditSeq();
    auto st = hooks::LoadState(*snap, "rec");
    REQUIRE(st.ok());
    hooks::HookState due = *st;
    due.next_at_ns = 0;  // as if the backoff had passed
    REQUIRE(hooks::SaveState(*f.reg, "rec", due).ok());
  }
  d.RunOnce();
  CHECK(testing::ReadFile(out + "/log") == std::to_string(s1) + "\n" + std::to_string(s2) + "\n");
  d.RunOnce();  // done: nothing is sent twice
  CHECK(testing::ReadFile(out + "/log") == std::to_string(s1) + "\n" + std::to_string(s2) + "\n");
}

TEST_CASE("a delivery that keeps failing is given up after max_attempts and listed") {
  Fixture f;
  auto pol = ParseOk("[[hooks]]\nname = \"no\"\non = [\"*\"]\nmax_attempts = 1\nrun = [\"false\"]\n");
  hooks::Deliverer d(f.reg.get(), [&] { return pol; }, [](const std::string&) {});
  d.RunOnce();
  f.Push("churn");  // model.created and version.ready
  d.RunOnce();
  auto snap = f.reg->Read();
  REQUIRE(snap.ok());
  auto st = hooks::LoadState(*snap, "no");
  REQUIRE(st.ok());
  REQUIRE(st->failed.size() == 2);
  CHECK(st->failed[0].type == "model.created");
  CHECK(st->failed[1].type == "version.ready");
  CHECK(st->failed[1].id == "no-" + std::to_string(st->failed[1].seq));
  CHECK(st->failed[1].last_error == "exit 1");
  CHECK(st->done == snap->LastAuditSeq());
}

TEST_CASE("a command that outlives its timeout is killed with its process group") {
  policy::Hook h;
  h.name = "hang";
  h.run = {"/bin/sh", "-c", "sleep 30 & sleep 30"};
  h.timeout_seconds = 1;
  auto t0 = std::chrono::steady_clock::now();
  hooks::Attempt a = hooks::Send(h, nlohmann::json{{"type", "test"}}, "hang-1", "nobody");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK_FALSE(a.status.ok());
  CHECK(a.status.message().rfind("timed out after 1 s", 0) == 0);
  CHECK(secs < 5);
}

}  // namespace
}  // namespace modelfs

namespace modelfs {
namespace {

TEST_CASE("check gates: require_check, check_user and check_timeout parse") {
  auto p = ParseOk("check_user = \"mf-check\"\ncheck_timeout = \"2m\"\n[aliases.production]\n"
                   "require_check = [\"scripts/smoke.sh\", \"--fast\"]\n");
  CHECK(p->check_user() == "mf-check");
  CHECK(p->check_timeout_seconds() == 120);
  REQUIRE(p->gates("production") != nullptr);
  CHECK(p->gates("production")->require_check == std::vector<std::string>{"scripts/smoke.sh", "--fast"});
  CHECK(ParseOk("")->check_timeout_seconds() == 600);
  CHECK(ParseOk("")->check_user() == "nobody");
  CHECK(ParseError("[aliases.production]\nrequire_check = \"smoke.sh\"\n").find("p.toml:2:17:") == 0);
  CHECK(ParseError("check_timeout = \"soon\"\n").find("check_timeout must be a duration") != std::string::npos);
}

TEST_CASE("check gates: the check runs outside the transaction, once, on the version the alias gets") {
  Fixture f;
  f.Push("churn");
  f.Push("churn");
  auto pol = ParseOk("[aliases.production]\nrequire_check = [\"smoke\"]\n");
  policy::Enforcer e(f.reg.get(), [&] { return pol; });
  std::vector<std::string> checked;
  bool pass = true;
  e.set_checker([&](const Version& v, const std::vector<std::string>& argv, const std::string& user,
                    int64_t timeout_s, std::string* summary) -> Status {
    CHECK(argv == std::vector<std::string>{"smoke"});
    CHECK(user == "nobody");
    CHECK(timeout_s == 600);
    checked.push_back(v.ref());
    *summary = "smoke (0.01 s)";
    return pass ? Status::Ok() : Status::IO("smoke: exit 1: broken");
  });
  CHECK(e.HasCheck("production"));
  CHECK_FALSE(e.HasCheck("staging"));
  policy::Identity who;
  who.uid = 0;
  who.user = "root";
  auto move = [&](uint32_t n) {
    return e.WithGates(who, "churn", "production", false, "churn/production", [&](const Guard& g) {
      return f.reg->SetAlias("churn", "production", n, testing::Alice(), g);
    });
  };
  REQUIRE(move(1).ok());
  CHECK(checked == std::vector<std::string>{"churn@1"});
  pass = false;
  Status st = move(2);
  CHECK(st.code() == Code::kDenied);
  CHECK(st.message() == "gate [aliases.production].require_check failed on churn@2: smoke: exit 1: broken");
  CHECK(checked == std::vector<std::string>{"churn@1", "churn@2"});
  auto snap = f.reg->Read();
  REQUIRE(snap.ok());
  auto m = snap->GetModel("churn");
  REQUIRE(m.ok());
  CHECK(snap->GetAlias(m->id, "production")->version == 1);
}

}  // namespace
}  // namespace modelfs

namespace modelfs {
namespace {

TEST_CASE("when = EXPR: only events whose version satisfies it are delivered; others pass by") {
  Fixture f;
  std::string out = f.tmp.path + "/out";
  std::filesystem::create_directories(out);
  auto pol = ParseOk("hook_user = \"" + Me() + "\"\n[[hooks]]\nname = \"good\"\non = [\"version.ready\"]\n"
                     "when = \"metrics.auc >= 0.9 and model ~ \\\"churn*\\\"\"\n"
                     "run = [\"/bin/sh\", \"-c\", \"echo $MODELFS_MODEL@$MODELFS_VERSION >>" + out + "/log\"]\n");
  hooks::Deliverer d(f.reg.get(), [&] { return pol; }, [](const std::string&) {});
  d.RunOnce();
  f.Push("churn", {{"metrics.auc", "0.8"}});
  f.Push("churn", {{"metrics.auc", "0.95"}});
  f.Push("fraud", {{"metrics.auc", "0.99"}});
  d.RunOnce();
  CHECK(testing::ReadFile(out + "/log") == "churn@2\n");
  auto snap = f.reg->Read();
  REQUIRE(snap.ok());
  auto st = hooks::LoadState(*snap, "good");
  REQUIRE(st.ok());
  CHECK(st->done == snap->LastAuditSeq());  // the others were passed by, not left pending
}

}  // namespace
}  // namespace modelfs
