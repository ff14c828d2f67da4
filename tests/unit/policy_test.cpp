// Tests for policy/: decisions for many identities, every parse error with
// its exact FILE:LINE:COL, every gate, durations, the default policy text,
// and name resolution. PolicyFile's reload is in policy_file_test.cpp.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "index/names.h"
#include "index/status.h"
#include "tests/unit/identities.h"
#include "policy/policy.h"

namespace {

using modelfs::Code;
using modelfs::policy::Action;
using modelfs::policy::ActionFromName;
using modelfs::policy::ActionName;
using modelfs::policy::DefaultPolicyText;
using modelfs::policy::Identity;
using modelfs::policy::IdentityResolver;
using modelfs::Status;
using modelfs::policy::ParseDuration;
using modelfs::policy::ParseSize;
using modelfs::policy::ParseMetricRequirement;
using modelfs::policy::Policy;
using modelfs::policy::PolicyFile;
using modelfs::policy::VersionFacts;

using modelfs::testing::Id;

template <class T>
T Must(modelfs::Result<T> r) {
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(*r);
}

std::shared_ptr<const Policy> MustParse(std::string_view text) {
  auto r = Policy::Parse(text, "p.toml");
  INFO(r.status().message());
  REQUIRE(r.ok());
  return r.value();
}

std::string ParseError(std::string_view text) {
  auto r = Policy::Parse(text, "p.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalid);
  return r.status().message();
}

constexpr Action kAllActions[] = {Action::kRead,    Action::kCreate,  Action::kWrite,
                                  Action::kPromote, Action::kApprove, Action::kAdmin};

}  // namespace

TEST_CASE("action names round-trip", "[policy]") {
  const char* names[] = {"read", "create", "write", "promote", "approve", "admin"};
  for (size_t i = 0; i < 6; ++i) {
    CHECK(ActionName(kAllActions[i]) == names[i]);
    REQUIRE(ActionFromName(names[i]).has_value());
    CHECK(*ActionFromName(names[i]) == kAllActions[i]);
  }
  CHECK_FALSE(ActionFromName("Read").has_value());
  CHECK_FALSE(ActionFromName("").has_value());
}

TEST_CASE("decisions name the rule and the principal", "[policy]") {
  auto policy = MustParse(R"(
[groups]
ml-leads = ["alice", "bob"]

[defaults]
read    = ["*"]
create  = ["group:ml"]
write   = ["group:ml", "uid:2001"]
promote = ["group:ml-leads"]
approve = ["group:ml-leads"]
admin   = ["user:root", "group:ops"]

[[models]]
match = "fraud-*"
read  = ["group:fraud", "user:svc-serving"]

[[models]]
match = "fraud-legacy"
read  = ["*"]

[[models]]
match = "secret-?"
admin = ["user:carol"]
)");
  const Identity root = Id("root", 0, {"root"});
  const Identity alice = Id("alice", 1001, {"ml"});
  const Identity bob = Id("bob", 1002, {"staff"});
  const Identity carol = Id("carol", 1003, {"ml", "fraud"});
  const Identity dave = Id("dave", 1004, {"ops"});
  const Identity eve = Id("eve", 1005, {"eve"});
  const Identity frank = Id("frank", 1006, {"ml-leads"});  // unix group, same name
  const Identity svc = Id("svc-serving", 1500, {"svc"});
  const Identity ci = Id("2001", 2001, {});  // a uid without a passwd entry

  struct Case {
    const Identity* who;
    Action action;
    const char* model;
    bool allowed;
    const char* reason;
  };
  const Case cases[] = {
      {&eve, Action::kRead, "churn", true, R"(allowed by [defaults].read "*")"},
      {&eve, Action::kCreate, "churn", false,
       "denied: [defaults].create does not include user eve (uid 1005, groups eve)"},
      {&alice, Action::kCreate, "churn", true, R"(allowed by [defaults].create "group:ml")"},
      {&carol, Action::kCreate, "", true, R"(allowed by [defaults].create "group:ml")"},
      {&ci, Action::kWrite, "churn", true, R"(allowed by [defaults].write "uid:2001")"},
      {&ci, Action::kCreate, "churn", false,
       "denied: [defaults].create does not include user 2001 (uid 2001, no groups)"},
      // Registry group membership by user name, and a unix group of that name.
      {&bob, Action::kPromote, "churn", true,
       R"(allowed by [defaults].promote "group:ml-leads")"},
      {&frank, Action::kApprove, "churn", true,
       R"(allowed by [defaults].approve "group:ml-leads")"},
      {&carol, Action::kPromote, "churn", false,
       "denied: [defaults].promote does not include user carol (uid 1003, groups ml,fraud)"},
      // [[models]] overrides by glob; the later matching entry wins.
      {&alice, Action::kRead, "fraud-cards", false,
       R"(denied: [[models]] #1 (match "fraud-*").read does not include user alice (uid 1001, groups ml))"},
      {&carol, Action::kRead, "fraud-cards", true,
       R"(allowed by [[models]] #1 (match "fraud-*").read "group:fraud")"},
      {&svc, Action::kRead, "fraud-cards", true,
       R"(allowed by [[models]] #1 (match "fraud-*").read "user:svc-serving")"},
      {&alice, Action::kRead, "fraud-legacy", true,
       R"(allowed by [[models]] #2 (match "fraud-legacy").read "*")"},
      {&alice, Action::kRead, "fraudster", true, R"(allowed by [defaults].read "*")"},
      // An entry overrides only the actions it names.
      {&alice, Action::kWrite, "fraud-cards", true, R"(allowed by [defaults].write "group:ml")"},
      // Admin implies every other action.
      {&root, Action::kRead, "fraud-cards", true,
       R"(allowed by [defaults].admin "user:root" (admin implies read))"},
      {&dave, Action::kApprove, "churn", true,
       R"(allowed by [defaults].admin "group:ops" (admin implies approve))"},
      {&dave, Action::kAdmin, "churn", true, R"(allowed by [defaults].admin "group:ops")"},
      {&alice, Action::kAdmin, "churn", false,
       "denied: [defaults].admin does not include user alice (uid 1001, groups ml)"},
      {&carol, Action::kAdmin, "secret-1", true,
       R"(allowed by [[models]] #3 (match "secret-?").admin "user:carol")"},
      {&carol, Action::kPromote, "secret-1", true,
       R"(allowed by [[models]] #3 (match "secret-?").admin "user:carol" (admin implies promote))"},
      {&carol, Action::kAdmin, "secret-10", false,
       "denied: [defaults].admin does not include user carol (uid 1003, groups ml,fraud)"},
      {&root, Action::kAdmin, "secret-1", false,
       R"(denied: [[models]] #3 (match "secret-?").admin does not include user root (uid 0, groups root))"},
      // Registry-level actions (no model) see only [defaults].
      {&carol, Action::kAdmin, "", false,
       "denied: [defaults].admin does not include user carol (uid 1003, groups ml,fraud)"},
  };
  for (const Case& c : cases) {
    auto d = policy->Decide(*c.who, c.action, c.model);
    INFO(c.who->user << " " << ActionName(c.action) << " " << c.model);
    CHECK(d.allowed == c.allowed);
    CHECK(d.reason == c.reason);
  }
}

TEST_CASE("the first matching principal in file order is named", "[policy]") {
  auto policy = MustParse(R"(
[defaults]
read = ["uid:7", "group:g", "*"]
)");
  CHECK(policy->Decide(Id("x", 7, {"g"}), Action::kRead, "m").reason ==
        R"(allowed by [defaults].read "uid:7")");
  CHECK(policy->Decide(Id("x", 8, {"g"}), Action::kRead, "m").reason ==
        R"(allowed by [defaults].read "group:g")");
  CHECK(policy->Decide(Id("x", 8, {"h"}), Action::kRead, "m").reason ==
        R"(allowed by [defaults].read "*")");
}

TEST_CASE("an empty list allows nobody but admins", "[policy]") {
  auto policy = MustParse("[defaults]\nwrite = []\n");
  auto d = policy->Decide(Id("alice", 1001, {"ml"}), Action::kWrite, "churn");
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == "denied: [defaults].write does not include user alice (uid 1001, groups ml)");
  CHECK(policy->Decide(Id("root", 0, {"root"}), Action::kWrite, "churn").allowed);
}

TEST_CASE("an omitted policy is permissive except admin", "[policy]") {
  // Empty file, and a file that sets only one action: the rest default.
  for (const char* text : {"", "[defaults]\nread = [\"user:alice\"]\n"}) {
    auto policy = MustParse(text);
    const Identity bob = Id("bob", 1002, {"staff"});
    for (Action a : {Action::kCreate, Action::kWrite, Action::kPromote, Action::kApprove}) {
      auto d = policy->Decide(bob, a, "churn");
      CHECK(d.allowed);
      CHECK(d.reason == "allowed by [defaults]." + std::string(ActionName(a)) + " \"*\"");
    }
    auto admin = policy->Decide(bob, Action::kAdmin, "churn");
    CHECK_FALSE(admin.allowed);
    CHECK(admin.reason ==
          "denied: [defaults].admin does not include user bob (uid 1002, groups staff)");
    CHECK(policy->Decide(Id("root", 0, {"root"}), Action::kAdmin, "churn").reason ==
          R"(allowed by [defaults].admin "user:root")");
    CHECK_FALSE(policy->retention().keep_last.has_value());
    CHECK_FALSE(policy->retention().draft_ttl_seconds.has_value());
    CHECK(policy->gates("production") == nullptr);
  }
  auto partial = MustParse("[defaults]\nread = [\"user:alice\"]\n");
  CHECK_FALSE(partial->Decide(Id("bob", 1002, {}), Action::kRead, "churn").allowed);
  CHECK(partial->Decide(Id("alice", 1001, {}), Action::kRead, "churn").allowed);
}

TEST_CASE("parse errors say FILE:LINE:COL: what", "[policy]") {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      // TOML syntax, positioned by toml++.
      {"read = [", "p.toml:1:9: Error while parsing array: encountered end-of-file"},
      {"[defaults]\nread = [\"*\"\n",
       "p.toml:2:13: Error while parsing array: encountered end-of-file"},
      // Unknown keys and tables, at the key.
      {"[default]\nread = [\"*\"]\n",
       "p.toml:1:2: unknown key \"default\"; expected groups, defaults, models, aliases, "
       "retention, limits, hooks, hook_user, check_user or check_timeout"},
      {"[defaults]\nreed = [\"*\"]\n",
       "p.toml:2:1: unknown key \"reed\" in [defaults]; expected read, create, write, "
       "promote, approve or admin"},
      {"[[models]]\nmatch = \"a*\"\nowner = [\"x\"]\n",
       "p.toml:3:1: unknown key \"owner\" in [[models]] #1; expected match, read, create, "
       "write, promote, approve or admin"},
      {"[aliases.production]\nrequire_aproval = true\n",
       "p.toml:2:1: unknown key \"require_aproval\" in [aliases.production]; expected "
       "require_approval, forbid_self_approval, require_metrics, require_lineage, "
       "require_previous or require_check"},
      {"[retention]\nkeep = 3\n",
       "p.toml:2:1: unknown key \"keep\" in [retention]; expected keep_last, draft_ttl, "
       "audit_keep or audit_ttl"},
      {"[retention]\nkeep_last = 2\n  audit_kept = 3\n",
       "p.toml:3:3: unknown key \"audit_kept\" in [retention]; expected keep_last, draft_ttl, "
       "audit_keep or audit_ttl"},
      // Wrong types, at the value.
      {"defaults = 3\n", "p.toml:1:12: [defaults] must be a table, not an integer"},
      {"[defaults]\nread = \"*\"\n",
       "p.toml:2:8: [defaults].read must be an array of principals, not a string"},
      {"[defaults]\nread = [\"*\", 3]\n",
       "p.toml:2:14: [defaults].read: principal must be a string, not an integer"},
      {"[models]\nmatch = \"x\"\n",
       "p.toml:1:1: models must be an array of tables: write [[models]], not a table"},
      {"models = [1]\n", "p.toml:1:11: [[models]] #1 must be a table, not an integer"},
      {"[[models]]\nmatch = 3\n",
       "p.toml:2:9: [[models]] #1.match must be a string, not an integer"},
      {"[groups]\nml = \"alice\"\n",
       "p.toml:2:6: [groups].ml must be an array of user names, not a string"},
      {"[aliases]\nproduction = 1\n",
       "p.toml:2:14: [aliases.production] must be a table, not an integer"},
      {"[aliases.production]\nrequire_approval = \"yes\"\n",
       "p.toml:2:20: [aliases.production].require_approval must be true or false, not a "
       "string"},
      {"[retention]\nkeep_last = 1.5\n",
       "p.toml:2:13: [retention].keep_last must be an integer, not a float"},
      {"[retention]\ndraft_ttl = 7\n",
       "p.toml:2:13: [retention].draft_ttl must be a duration string such as \"7d\", not an "
       "integer"},
      {"[retention]\naudit_keep = \"1000\"\n",
       "p.toml:2:14: [retention].audit_keep must be an integer, not a string"},
      {"[retention]\naudit_ttl = 30\n",
       "p.toml:2:13: [retention].audit_ttl must be a duration string such as \"7d\", not an "
       "integer"},
      // Bad principals, at the element.
      {"[defaults]\nwrite = [\"*\", \"usr:bob\"]\n",
       "p.toml:2:15: [defaults].write: bad principal \"usr:bob\": expected \"*\", "
       "\"user:NAME\", \"group:NAME\" or \"uid:N\""},
      {"[defaults]\nwrite = [\"uid:-1\"]\n",
       "p.toml:2:10: [defaults].write: bad principal \"uid:-1\": N must be a decimal number "
       "below 4294967295"},
      {"[defaults]\nwrite = [\"uid:4294967295\"]\n",
       "p.toml:2:10: [defaults].write: bad principal \"uid:4294967295\": N must be a "
       "decimal number below 4294967295"},
      {"[defaults]\nwrite = [\"user:\"]\n",
       "p.toml:2:10: [defaults].write: bad principal \"user:\": name is empty"},
      {"[defaults]\nwrite = [\"group:a b\"]\n",
       "p.toml:2:10: [defaults].write: bad principal \"group:a b\": name contains a space or "
       "control character"},
      {"[[models]]\nmatch = \"x\"\nread = [\"all\"]\n",
       "p.toml:3:9: [[models]] #1.read: bad principal \"all\": expected \"*\", "
       "\"user:NAME\", \"group:NAME\" or \"uid:N\""},
      {"[groups]\nml = [\"alice\", \"b:ob\"]\n",
       "p.toml:2:16: [groups].ml: bad user name \"b:ob\": name contains ':' or ','"},
      // Globs.
      {"[[models]]\nread = [\"*\"]\n", "p.toml:1:1: [[models]] #1 has no match = \"GLOB\""},
      {"[[models]]\nmatch = \"fraud-[ab\"\n",
       "p.toml:2:9: [[models]] #1.match: glob \"fraud-[ab\" has an unclosed '['"},
      {"[[models]]\nmatch = \"Fraud-*\"\n",
       "p.toml:2:9: [[models]] #1.match: glob \"Fraud-*\" can never match: 'F' cannot "
       "appear in a model name"},
      {"[[models]]\nmatch = \"x\\\\\"\n",
       "p.toml:2:9: [[models]] #1.match: glob \"x\\\" ends with a lone '\\'"},
      {"[[models]]\nmatch = \"\"\n", "p.toml:2:9: [[models]] #1.match: glob is empty"},
      {"[[models]]\nmatch = \"a*\"\n[[models]]\nmatch = \"b/*\"\n",
       "p.toml:4:9: [[models]] #2.match: glob \"b/*\" can never match: '/' cannot appear "
       "in a model name"},
      // Gate expressions.
      {"[aliases.production]\nrequire_metrics = [\"auc => 0.8\"]\n",
       "p.toml:2:20: [aliases.production].require_metrics: bad metric requirement "
       "\"auc => 0.8\": expected one of < <= > >= == != after \"auc\""},
      {"[aliases.production]\nrequire_metrics = [\"auc >= 0.8\", \"auc >= nan\"]\n",
       "p.toml:2:34: [aliases.production].require_metrics: bad metric requirement "
       "\"auc >= nan\": expected a finite number after the operator"},
      {"[aliases.production]\nrequire_metrics = [\"auc >=\"]\n",
       "p.toml:2:20: [aliases.production].require_metrics: bad metric requirement "
       "\"auc >=\": expected a finite number after the operator"},
      {"[aliases.production]\nrequire_metrics = [\"auc >= 0.8x\"]\n",
       "p.toml:2:20: [aliases.production].require_metrics: bad metric requirement "
       "\"auc >= 0.8x\": expected a finite number after the operator"},
      {"[aliases.production]\nrequire_metrics = [\">= 0.8\"]\n",
       "p.toml:2:20: [aliases.production].require_metrics: bad metric requirement "
       "\">= 0.8\": expected \"NAME OP NUMBER\", e.g. \"auc >= 0.8\""},
      {"[aliases.production]\nrequire_metrics = [\"a$c >= 0.8\"]\n",
       "p.toml:2:20: [aliases.production].require_metrics: bad metric requirement "
       "\"a$c >= 0.8\": expected one of < <= > >= == != after \"a\""},
      {"[aliases.production]\nrequire_lineage = [\"code\", \"dataset\"]\n",
       "p.toml:2:28: [aliases.production].require_lineage: unknown lineage \"dataset\"; "
       "expected parents, datasets, code or run"},
      {"[aliases.production]\nrequire_previous = \"Staging\"\n",
       "p.toml:2:20: [aliases.production].require_previous: alias name \"Staging\" must "
       "start with a lowercase letter (^[a-z][a-z0-9_-]*$)"},
      {"[aliases.latest]\nrequire_approval = true\n",
       "p.toml:1:10: [aliases.latest]: alias name \"latest\" is reserved: it always names "
       "the highest ready version"},
      // Retention.
      {"[retention]\nkeep_last = -1\n",
       "p.toml:2:13: [retention].keep_last must be 0 or more, not -1"},
      {"[retention]\ndraft_ttl = \"7x\"\n",
       "p.toml:2:13: [retention].draft_ttl: bad duration \"7x\": expected a whole number "
       "and a unit s, m, h, d or w, e.g. \"7d\""},
      {"[retention]\ndraft_ttl = \"0s\"\n",
       "p.toml:2:13: [retention].draft_ttl: bad duration \"0s\": must be more than zero"},
      {"[retention]\naudit_keep = 0\n",
       "p.toml:2:14: [retention].audit_keep must be 1 or more, not 0"},
      {"[retention]\naudit_keep = -5\n",
       "p.toml:2:14: [retention].audit_keep must be 1 or more, not -5"},
      {"[retention]\ndraft_ttl = \"1d\"\naudit_ttl = \"90x\"\n",
       "p.toml:3:13: [retention].audit_ttl: bad duration \"90x\": expected a whole number "
       "and a unit s, m, h, d or w, e.g. \"7d\""},
      {"[retention]\naudit_ttl = \"0d\"\n",
       "p.toml:2:13: [retention].audit_ttl: bad duration \"0d\": must be more than zero"},
      // Limits.
      {"[limits]\nmax_file_size = \"64X\"\n",
       "p.toml:2:17: [limits].max_file_size: bad size \"64X\": expected a whole number of "
       "bytes, optionally with a unit K, M, G or T (powers of 1024), e.g. \"64G\""},
      {"[limits]\nmax_file_size = 64\n",
       "p.toml:2:17: [limits].max_file_size must be a size string such as \"64G\", not an "
       "integer"},
      {"[limits]\nmax_file_size = \"0M\"\n",
       "p.toml:2:17: [limits].max_file_size: bad size \"0M\": must be more than zero"},
      {"[limits]\nmax_file_size = \"9000000T\"\n",
       "p.toml:2:17: [limits].max_file_size: bad size \"9000000T\": too large"},
      {"[limits]\nmax_size = \"1G\"\n",
       "p.toml:2:1: unknown key \"max_size\" in [limits]; expected max_file_size"},
      // Several mistakes: the first in the file is reported, though toml++
      // visits [aliases] before [retention].
      {"[retention]\nkeep_last = -1\n[aliases.production]\nrequire_approval = 1\n",
       "p.toml:2:13: [retention].keep_last must be 0 or more, not -1"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(ParseError(c.text) == c.error);
  }
}

TEST_CASE("the filename given is the one errors name", "[policy]") {
  auto r = Policy::Parse("[defaults]\nread = 1\n", "/srv/reg/policy.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() ==
        "/srv/reg/policy.toml:2:8: [defaults].read must be an array of principals, not an "
        "integer");
}

TEST_CASE("sizes and the file size limit", "[policy][sparse]") {
  const std::pair<const char*, uint64_t> good[] = {
      {"1", 1}, {"4096", 4096}, {"512K", 512u << 10}, {"512M", 512u << 20},
      {"64G", uint64_t{64} << 30}, {"1T", uint64_t{1} << 40}, {"8388607T", uint64_t{8388607} << 40}};
  for (auto [text, bytes] : good) {
    auto n = ParseSize(text);
    INFO(text);
    REQUIRE(n.ok());
    CHECK(*n == bytes);
  }
  for (const char* bad : {"", "G", "0", "-1G", "1.5G", "1g", "1GB", " 1G", "1 G", "8388608T",
                          "99999999999999999999"}) {
    INFO(bad);
    auto n = ParseSize(bad);
    CHECK_FALSE(n.ok());
    CHECK(n.status().code() == Code::kInvalid);
  }

  // The default: generous, but not a terabyte.
  auto def = MustParse("# nothing\n");
  CHECK(def->limits().max_file_size == uint64_t{256} << 30);
  CHECK(def->CheckFileSize("w.bin", uint64_t{256} << 30).ok());
  Status over = def->CheckFileSize("churn@2 w.bin", uint64_t{1} << 40);
  CHECK(over.sys_errno() == EFBIG);
  CHECK(over.message().find("churn@2 w.bin would be 1099511627776 bytes, over "
                            "[limits].max_file_size = \"256G\" in p.toml") == 0);

  auto small = MustParse("[limits]\nmax_file_size = \"5M\"\n");
  CHECK(small->limits().max_file_size == 5u << 20);
  CHECK(small->CheckFileSize("a", 5u << 20).ok());
  CHECK(small->CheckFileSize("a", (5u << 20) + 1).sys_errno() == EFBIG);
}

TEST_CASE("durations", "[policy]") {
  const std::pair<const char*, int64_t> good[] = {
      {"30s", 30}, {"15m", 900}, {"12h", 43200}, {"7d", 604800}, {"2w", 1209600},
      {"1s", 1},   {"90m", 5400}};
  for (auto [text, seconds] : good) {
    auto d = ParseDuration(text);
    INFO(text);
    REQUIRE(d.ok());
    CHECK(*d == seconds);
  }
  for (const char* bad : {"", "s", "7", "7dd", "-1d", "1.5h", "0s", " 7d", "7 d", "7D",
                          "99999999999999999999w", "15250284452472w"}) {
    INFO(bad);
    auto d = ParseDuration(bad);
    CHECK_FALSE(d.ok());
    CHECK(d.status().code() == Code::kInvalid);
  }
  // The largest duration that fits int64 seconds is accepted.
  CHECK(ParseDuration("15250284452471w").ok());

  auto policy = MustParse("[retention]\nkeep_last = 0\ndraft_ttl = \"12h\"\n");
  REQUIRE(policy->retention().keep_last.has_value());
  CHECK(*policy->retention().keep_last == 0);
  REQUIRE(policy->retention().draft_ttl_seconds.has_value());
  CHECK(*policy->retention().draft_ttl_seconds == 43200);
  auto only_keep = MustParse("[retention]\nkeep_last = 10\n");
  CHECK(*only_keep->retention().keep_last == 10);
  CHECK_FALSE(only_keep->retention().draft_ttl_seconds.has_value());
  CHECK_FALSE(only_keep->retention().audit_keep.has_value());
  CHECK_FALSE(only_keep->retention().audit_ttl_seconds.has_value());
  auto audit = MustParse("[retention]\naudit_keep = 1\naudit_ttl = \"90d\"\n");
  REQUIRE(audit->retention().audit_keep.has_value());
  CHECK(*audit->retention().audit_keep == 1);
  REQUIRE(audit->retention().audit_ttl_seconds.has_value());
  CHECK(*audit->retention().audit_ttl_seconds == 90 * 86400);
  CHECK_FALSE(audit->retention().keep_last.has_value());
  auto only_ttl = MustParse("[retention]\naudit_ttl = \"2w\"\n");
  CHECK(*only_ttl->retention().audit_ttl_seconds == 14 * 86400);
  CHECK_FALSE(only_ttl->retention().audit_keep.has_value());
}

TEST_CASE("metric requirements", "[policy][gates]") {
  struct Case {
    const char* text;
    double value;
    bool holds;
  };
  const Case cases[] = {
      {"a < 1", 0.5, true},   {"a < 1", 1, false},     {"a <= 1", 1, true},
      {"a <= 1", 1.5, false}, {"a > 1", 1.5, true},    {"a > 1", 1, false},
      {"a >= 1", 1, true},    {"a >= 1", 0.99, false}, {"a == 1", 1, true},
      {"a == 1", 1.1, false}, {"a != 1", 2, true},     {"a != 1", 1, false},
      {"a>=-0.5", -0.5, true}, {"a>=-0.5", -0.6, false}, {"a <= +2e3", 2000, true},
      {"  x.y_z-1   <  3  ", 2, true},
  };
  for (const Case& c : cases) {
    INFO(c.text << " with " << c.value);
    auto req = ParseMetricRequirement(c.text);
    REQUIRE(req.ok());
    CHECK(req->Holds(c.value) == c.holds);
    CHECK(req->text == c.text);
  }
  CHECK(ParseMetricRequirement("x.y_z-1 < 3")->metric == "x.y_z-1");
  CHECK_FALSE(ParseMetricRequirement("a >= inf").ok());
  CHECK_FALSE(ParseMetricRequirement("a = 1").ok());
  CHECK_FALSE(ParseMetricRequirement("a >= 0x10").ok());
  CHECK_FALSE(ParseMetricRequirement(std::string(129, 'a') + " > 1").ok());
  CHECK(ParseMetricRequirement(std::string(128, 'a') + " > 1").ok());
}

TEST_CASE("alias gates", "[policy][gates]") {
  auto policy = MustParse(R"(
[aliases.production]
require_approval     = true
forbid_self_approval = true
require_metrics      = ["auc >= 0.80", "latency_ms <= 50"]
require_lineage      = ["datasets", "code"]
require_previous     = "staging"

[aliases.staging]

[aliases.champion]
forbid_self_approval = true
require_lineage      = ["parents", "run"]
)");
  VersionFacts good;
  good.model = "churn";
  good.version = 3;
  good.created_by = "alice";
  good.approval = "approved";
  good.approved_by = "bob";
  good.metrics = {{"auc", 0.85}, {"latency_ms", 50}};
  good.has_datasets = true;
  good.has_code = true;
  good.past_aliases = {"staging"};

  auto ok = policy->CheckGates("production", good);
  CHECK(ok.allowed);
  CHECK(ok.reason == "all gates of [aliases.production] pass");

  struct Case {
    const char* what;
    std::function<void(VersionFacts&)> change;
    const char* reason;
  };
  const Case cases[] = {
      {"pending", [](VersionFacts& f) { f.approval = "pending"; f.approved_by.clear(); },
       "gate [aliases.production].require_approval: churn@3 is pending, not approved"},
      {"rejected", [](VersionFacts& f) { f.approval = "rejected"; },
       "gate [aliases.production].require_approval: churn@3 is rejected, not approved"},
      {"self-approved", [](VersionFacts& f) { f.approved_by = "alice"; },
       "gate [aliases.production].forbid_self_approval: churn@3 was approved by alice, who "
       "created it"},
      {"low auc", [](VersionFacts& f) { f.metrics["auc"] = 0.71; },
       "gate [aliases.production].require_metrics \"auc >= 0.80\": churn@3 has auc = 0.71"},
      {"no auc", [](VersionFacts& f) { f.metrics.erase("auc"); },
       "gate [aliases.production].require_metrics \"auc >= 0.80\": churn@3 has no metric auc"},
      {"slow", [](VersionFacts& f) { f.metrics["latency_ms"] = 50.5; },
       "gate [aliases.production].require_metrics \"latency_ms <= 50\": churn@3 has "
       "latency_ms = 50.5"},
      {"no datasets", [](VersionFacts& f) { f.has_datasets = false; },
       "gate [aliases.production].require_lineage \"datasets\": churn@3 has no lineage "
       "datasets"},
      {"no code", [](VersionFacts& f) { f.has_code = false; },
       "gate [aliases.production].require_lineage \"code\": churn@3 has no lineage code"},
      {"never staging", [](VersionFacts& f) { f.past_aliases = {"canary"}; },
       "gate [aliases.production].require_previous \"staging\": churn@3 was never staging"},
      // Every failing gate is named, in the documented order.
      {"pending and low auc",
       [](VersionFacts& f) { f.approval = "pending"; f.metrics["auc"] = 0.1; },
       "gate [aliases.production].require_approval: churn@3 is pending, not approved; "
       "gate [aliases.production].require_metrics \"auc >= 0.80\": churn@3 has auc = 0.1"},
      {"low auc and no code",
       [](VersionFacts& f) { f.metrics["auc"] = 0.1; f.has_code = false; },
       "gate [aliases.production].require_metrics \"auc >= 0.80\": churn@3 has auc = 0.1; "
       "gate [aliases.production].require_lineage \"code\": churn@3 has no lineage code"},
      {"every gate",
       [](VersionFacts& f) {
         f = VersionFacts{};
         f.model = "churn";
         f.version = 3;
         f.created_by = "alice";
         f.approval = "rejected";
         f.approved_by = "alice";
       },
       "gate [aliases.production].require_approval: churn@3 is rejected, not approved; "
       "gate [aliases.production].forbid_self_approval: churn@3 was approved by alice, who "
       "created it; "
       "gate [aliases.production].require_metrics \"auc >= 0.80\": churn@3 has no metric auc; "
       "gate [aliases.production].require_metrics \"latency_ms <= 50\": churn@3 has no metric "
       "latency_ms; "
       "gate [aliases.production].require_lineage \"datasets\": churn@3 has no lineage datasets; "
       "gate [aliases.production].require_lineage \"code\": churn@3 has no lineage code; "
       "gate [aliases.production].require_previous \"staging\": churn@3 was never staging"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    VersionFacts f = good;
    c.change(f);
    auto d = policy->CheckGates("production", f);
    CHECK_FALSE(d.allowed);
    CHECK(d.reason == c.reason);
  }

  // Unrelated facts do not matter.
  VersionFacts extra = good;
  extra.metrics["loss"] = 99;
  extra.has_parents = true;
  CHECK(policy->CheckGates("production", extra).allowed);

  // An alias table without gates, and an alias with no table.
  VersionFacts bare;
  bare.model = "churn";
  bare.version = 1;
  bare.created_by = "alice";
  bare.approval = "pending";
  CHECK(policy->CheckGates("staging", bare).allowed);
  auto none = policy->CheckGates("canary", bare);
  CHECK(none.allowed);
  CHECK(none.reason == "no gates for alias canary");
  CHECK(policy->gates("canary") == nullptr);
  REQUIRE(policy->gates("production") != nullptr);
  CHECK(policy->gates("production")->require_metrics.size() == 2);

  // forbid_self_approval with no approver passes; lineage parents and run.
  auto c1 = policy->CheckGates("champion", bare);
  CHECK_FALSE(c1.allowed);
  CHECK(c1.reason ==
        "gate [aliases.champion].require_lineage \"parents\": churn@1 has no lineage parents; "
        "gate [aliases.champion].require_lineage \"run\": churn@1 has no lineage run");
  bare.has_parents = true;
  CHECK(policy->CheckGates("champion", bare).reason ==
        "gate [aliases.champion].require_lineage \"run\": churn@1 has no lineage run");
  bare.has_run = true;
  CHECK(policy->CheckGates("champion", bare).allowed);
  bare.approved_by = "alice";
  CHECK(policy->CheckGates("champion", bare).reason ==
        "gate [aliases.champion].forbid_self_approval: churn@1 was approved by alice, who "
        "created it");
}

TEST_CASE("the default policy text parses and is permissive", "[policy]") {
  auto policy = MustParse(DefaultPolicyText());
  const Identity people[] = {Id("alice", 1001, {"ml"}), Id("nobody", 65534, {}),
                             Id("7", 7, {"7"})};
  for (const Identity& who : people) {
    for (Action a : kAllActions) {
      for (const char* model : {"churn", "fraud-cards", ""}) {
        INFO(who.user << " " << ActionName(a) << " " << model);
        CHECK(policy->Decide(who, a, model).allowed == (a != Action::kAdmin));
      }
    }
  }
  const Identity root = Id("root", 0, {"root"});
  for (Action a : kAllActions) CHECK(policy->Decide(root, a, "churn").allowed);
  CHECK_FALSE(policy->retention().keep_last.has_value());
  CHECK(policy->gates("production") == nullptr);

  // The commented example, uncommented, is a valid policy with the SPEC's
  // rules: the text users copy from must not teach them mistakes.
  std::istringstream in{std::string(DefaultPolicyText())};
  std::string line, example;
  bool in_example = false;
  while (std::getline(in, line)) {
    if (line.find("An example to copy from") != std::string::npos) {
      in_example = true;
      continue;
    }
    if (!in_example) continue;
    REQUIRE(line.rfind("#", 0) == 0);  // every example line is commented out
    example += line.substr(line.rfind("# ", 0) == 0 ? 2 : 1) + "\n";
  }
  auto spec = MustParse(example);
  REQUIRE(spec->gates("production") != nullptr);
  CHECK(spec->gates("production")->require_previous == std::optional<std::string>("staging"));
  CHECK(*spec->retention().keep_last == 10);
  CHECK(*spec->retention().draft_ttl_seconds == 7 * 86400);
  CHECK(*spec->retention().audit_keep == 1000000);
  CHECK(*spec->retention().audit_ttl_seconds == 52 * 7 * 86400);
  CHECK(spec->Decide(Id("bob", 1002, {}), Action::kPromote, "churn").reason ==
        R"(allowed by [defaults].promote "group:ml-leads")");
  CHECK_FALSE(spec->Decide(Id("alice", 1001, {"ml"}), Action::kRead, "fraud-x").allowed);
}

TEST_CASE("identity resolution", "[policy][identity]") {
  IdentityResolver resolver;
  // uid/gid 0 are root in every Debian image this runs in.
  const uint32_t extra[] = {0, 0};
  Identity root = Must(resolver.Resolve(0, 0, extra));
  CHECK(root.user == "root");
  CHECK(root.groups == std::vector<std::string>{"root"});
  CHECK(root.gids.empty());  // the primary gid and duplicates are dropped
  CHECK(root.Describe() == "user root (uid 0, groups root)");

  // Ids with no passwd/group entry are named by their decimal value.
  const uint32_t gids[] = {3999998, 0, 3999998};
  Identity ghost = Must(resolver.Resolve(3999999, 3999997, gids));
  CHECK(ghost.user == "3999999");
  CHECK(ghost.groups == std::vector<std::string>{"3999997", "3999998", "root"});
  CHECK(ghost.gids == std::vector<uint32_t>{3999998, 0});
  CHECK(Must(resolver.UserName(3999999)) == "3999999");  // cached answer, same value
  CHECK(Must(resolver.GroupName(0)) == "root");

  Identity self = Must(resolver.ForCurrentProcess());
  CHECK(self.uid == getuid());
  CHECK(self.gid == getgid());
  struct passwd* pw = getpwuid(getuid());
  CHECK(self.user == (pw != nullptr ? std::string(pw->pw_name) : std::to_string(getuid())));
  REQUIRE_FALSE(self.groups.empty());
  CHECK(self.groups[0] == Must(resolver.GroupName(getgid())));

  // The "uid:N" principal matches a resolved identity without a name.
  auto policy = MustParse("[defaults]\nwrite = [\"uid:3999999\"]\n");
  CHECK(policy->Decide(ghost, Action::kWrite, "m").reason ==
        R"(allowed by [defaults].write "uid:3999999")");
}

// Found by tests/fuzz/policy_fuzz and policy_values_fuzz: messages quoted
// the file's text raw, so a control character (a TOML string may hold
// any, and toml++ quotes what it saw) split or garbled the error line.
TEST_CASE("errors show the file's text escaped, on one line", "[policy]") {
  using Catch::Contains;
  // Valid UTF-8 without control characters.
  auto one_line = [](const std::string& m) {
    INFO(m);
    CHECK(modelfs::CheckEntryPath(m).ok());
  };
  const std::pair<std::string, std::string> cases[] = {
      {"x = n\x04\n", "saw 'n\\x04'"},
      {"[defaults]\nread = [\"user:a\\u0007b\"]\n", "bad principal \"user:a\\x07b\""},
      {"[aliases.\"a\\nb\"]\n", "[aliases.a\\nb]: alias name \"a\\nb\""},
      {"[retention]\ndraft_ttl = \"1\\td\"\n", "bad duration \"1\\td\""},
      {"[limits]\nmax_file_size = \"1\\rG\"\n", "bad size \"1\\rG\""},
      {"[aliases.production]\nrequire_metrics = [\"auc >= x\\u001b\"]\n",
       "bad metric requirement \"auc >= x\\x1b\""},
      // The character a glob cannot hold is shown whole, not its first byte.
      {"[[models]]\nmatch = \"fr\xef\xbb\xbf*\"\n", "can never match: '\xef\xbb\xbf'"},
      {"[[models]]\nmatch = \"a\\u0001\"\n", "can never match: '\\x01'"},
  };
  for (const auto& [text, says] : cases) {
    std::string m = ParseError(text);
    CHECK_THAT(m, Contains(says));
    one_line(m);
  }
  std::string nul("\x00\x02", 2);
  CHECK_THAT(ParseDuration(nul).status().message(), Contains("\"\\x00\\x02\""));
  one_line(ParseSize(nul).status().message());
  one_line(ParseMetricRequirement("a\n<").status().message());
}
