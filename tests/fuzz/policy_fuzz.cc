// Fuzzes the policy file parser (policy.toml as text, any bytes): TOML
// syntax through toml++, then principals, globs, gate expressions,
// durations and sizes. Beyond "no crash": a refusal is one printable line
// "policy.toml:LINE:COL: message"; an accepted policy answers every
// question with a reason that names the rule which decided.
#include <string>

#include "policy/policy.h"
#include "tests/fuzz/check.h"

using namespace modelfs;
using namespace modelfs::policy;

namespace {

bool Printable(std::string_view s) { return CheckEntryPath(s).ok(); }

// "policy.toml:12:3: ..."
bool Positioned(std::string_view m) {
  constexpr std::string_view kFile = "policy.toml:";
  if (!m.starts_with(kFile)) return false;
  size_t i = kFile.size();
  for (int field = 0; field < 2; ++field) {
    size_t digits = i;
    while (i < m.size() && m[i] >= '0' && m[i] <= '9') ++i;
    if (i == digits || i >= m.size() || m[i] != ':') return false;
    ++i;
  }
  return m.substr(i).starts_with(" ") && m.size() > i + 1;
}

Identity Person(uint32_t uid, std::string user, std::vector<std::string> groups) {
  Identity id;
  id.uid = uid;
  id.gid = uid;
  id.user = std::move(user);
  id.groups = std::move(groups);
  return id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::Text(data, size);
  auto p = Policy::Parse(text, "policy.toml");
  if (!p.ok()) {
    FUZZ_CHECK(p.status().code() == Code::kInvalid, text);
    FUZZ_CHECK(Positioned(p.status().message()), text);
    FUZZ_CHECK(Printable(p.status().message()), text);
    return 0;
  }
  const Policy& policy = **p;
  static const Identity kPeople[] = {Person(0, "root", {"root"}),
                                     Person(1001, "alice", {"ml", "fraud"}),
                                     Person(1002, "bob", {"bob"})};
  for (const Identity& who : kPeople) {
    for (std::string_view model : {"", "churn", "fraud-x"}) {
      for (size_t a = 0; a < kActionCount; ++a) {
        Decision d = policy.Decide(who, static_cast<Action>(a), model);
        bool named = d.reason.starts_with(d.allowed ? "allowed by " : "denied: ");
        FUZZ_CHECK(named, text);
      }
    }
  }
  VersionFacts facts;
  facts.model = "churn";
  facts.version = 3;
  facts.created_by = "alice";
  facts.approval = "approved";
  facts.approved_by = "bob";
  facts.metrics = {{"auc", 0.9}, {"latency_ms", 12}};
  facts.has_code = true;
  facts.past_aliases = {"staging"};
  for (std::string_view alias : {"production", "staging", "none"}) {
    Decision d = policy.CheckGates(alias, facts);
    FUZZ_CHECK(!d.reason.empty(), text);
    if (policy.gates(alias) == nullptr) FUZZ_CHECK(d.allowed, text);
  }
  FUZZ_CHECK(policy.limits().max_file_size > 0, text);
  return 0;
}
