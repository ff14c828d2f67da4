// Policy: the compiled rules and the access decision. Parsing policy.toml
// into them is parse.cc; reading the file and the reloading PolicyFile are
// policy_file.cc. Sections, in order:
//   1. actions, sizes and durations
//   2. decisions
//   3. the default policy text
#include "policy/policy.h"

#include <fnmatch.h>

#include <algorithm>
#include <limits>

#include "index/names.h"

namespace modelfs::policy {

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Status::Invalid("bad size \"" + EscapeText(text) +
                           "\": expected a whole number of bytes, optionally with a unit "
                           "K, M, G or T (powers of 1024), e.g. \"64G\"");
  };
  if (text.empty()) return bad();
  int shift = 0;
  switch (text.back()) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: break;
  }
  std::string_view digits = shift ? text.substr(0, text.size() - 1) : text;
  if (digits.empty()) return bad();
  // The limit a file's size (an off_t) is compared with: 63 bits.
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad();
    if (n > ((kMax >> shift) - static_cast<uint64_t>(c - '0')) / 10)
      return Status::Invalid("bad size \"" + EscapeText(text) + "\": too large");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0) return Status::Invalid("bad size \"" + EscapeText(text) + "\": must be more than zero");
  return n << shift;
}

std::string FormatSize(uint64_t n) {
  for (auto [shift, unit] : {std::pair{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}}) {
    if (n != 0 && n % (uint64_t{1} << shift) == 0) return std::to_string(n >> shift) + unit;
  }
  return std::to_string(n);
}

Status Policy::CheckFileSize(std::string_view what, uint64_t size) const {
  if (size <= limits_.max_file_size) return Status::Ok();
  return Status::FromErrno(std::string(what) + " would be " + std::to_string(size) +
                               " bytes, over [limits].max_file_size = \"" +
                               FormatSize(limits_.max_file_size) + "\" in " + filename_,
                           EFBIG);
}

// ---------------------------------------------------------------------------
// 1. Actions and durations

namespace {

constexpr std::array<std::string_view, kActionCount> kActionNames = {
    "read", "create", "write", "promote", "approve", "admin"};
static_assert(static_cast<size_t>(Action::kAdmin) + 1 == kActionCount);

constexpr size_t Index(Action a) { return static_cast<size_t>(a); }

}  // namespace

std::string_view ActionName(Action action) { return kActionNames[Index(action)]; }

std::optional<Action> ActionFromName(std::string_view name) {
  for (size_t i = 0; i < kActionCount; ++i) {
    if (kActionNames[i] == name) return static_cast<Action>(i);
  }
  return std::nullopt;
}

Result<int64_t> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::Invalid("bad duration \"" + EscapeText(text) +
                           "\": expected a whole number and a unit s, m, h, d or w, "
                           "e.g. \"7d\"");
  };
  if (text.size() < 2) return bad();
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return bad();
  }
  int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return bad();
    if (n > (std::numeric_limits<int64_t>::max() / unit - (c - '0')) / 10) {
      return Status::Invalid("bad duration \"" + EscapeText(text) + "\": too large");
    }
    n = n * 10 + (c - '0');
  }
  if (n == 0) {
    return Status::Invalid("bad duration \"" + EscapeText(text) + "\": must be more than zero");
  }
  return n * unit;
}

// ---------------------------------------------------------------------------
// 2. Decisions

const Policy::Principal* Policy::FindMatch(const PrincipalList& list,
                                           const Identity& who) {
  for (const Principal& p : list) {
    switch (p.kind) {
      case Principal::Kind::kAny:
        return &p;
      case Principal::Kind::kUid:
        if (who.uid == p.uid) return &p;
        break;
      case Principal::Kind::kUser:
        if (who.user == p.name) return &p;
        break;
      case Principal::Kind::kGroup:
        for (const std::string& g : who.groups) {
          if (g == p.name) return &p;
        }
        if (std::binary_search(p.members.begin(), p.members.end(), who.user)) return &p;
        break;
    }
  }
  return nullptr;
}

Decision Policy::Decide(const Identity& who, Action action, std::string_view model) const {
  const size_t a = Index(action);
  const size_t admin = Index(Action::kAdmin);
  const Rule* rule = &defaults_;
  const Rule* admin_rule = &defaults_;
  if (!model.empty() && !models_.empty()) {
    // fnmatch needs a terminated string; model names are at most 128 bytes,
    // so this stays off the heap on the request path.
    char small[256];
    std::string large;
    const char* name;
    if (model.size() < sizeof small) {
      model.copy(small, model.size());
      small[model.size()] = '\0';
      name = small;
    } else {
      large.assign(model);
      name = large.c_str();
    }
    bool have = false, have_admin = false;
    for (auto it = models_.rbegin(); it != models_.rend() && !(have && have_admin); ++it) {
      bool wants = !have && it->actions[a].has_value();
      bool wants_admin = !have_admin && it->actions[admin].has_value();
      if (!wants && !wants_admin) continue;
      if (fnmatch(it->match.c_str(), name, 0) != 0) continue;
      if (wants) {
        rule = &*it;
        have = true;
      }
      if (wants_admin) {
        admin_rule = &*it;
        have_admin = true;
      }
    }
  }
  const std::string_view action_name = ActionName(action);
  if (const Principal* p = FindMatch(*rule->actions[a], who)) {
    std::string reason = "allowed by ";
    reason.append(rule->label).append(".").append(action_name);
    reason.append(" \"").append(p->text).append("\"");
    return Decision{true, std::move(reason)};
  }
  if (action != Action::kAdmin) {
    if (const Principal* p = FindMatch(*admin_rule->actions[admin], who)) {
      std::string reason = "allowed by ";
      reason.append(admin_rule->label).append(".admin \"").append(p->text);
      reason.append("\" (admin implies ").append(action_name).append(")");
      return Decision{true, std::move(reason)};
    }
  }
  std::string reason = "denied: ";
  reason.append(rule->label).append(".").append(action_name);
  reason.append(" does not include ").append(who.Describe());
  return Decision{false, std::move(reason)};
}

const AliasGates* Policy::gates(std::string_view alias) const {
  auto it = gates_.find(alias);
  return it == gates_.end() ? nullptr : &it->second;
}

Decision Policy::CheckGates(std::string_view alias, const VersionFacts& facts) const {
  if (const AliasGates* g = gates(alias)) return g->Check(facts);
  return Decision{true, "no gates for alias " + std::string(alias)};
}

// ---------------------------------------------------------------------------
// 3. The default policy text

bool Hook::Matches(std::string_view type) const {
  std::string t(type);
  for (const auto& g : on)
    if (fnmatch(g.c_str(), t.c_str(), 0) == 0) return true;
  return false;
}

const Hook* Policy::hook(std::string_view name) const {
  for (const Hook& h : hooks_)
    if (h.name == name) return &h;
  return nullptr;
}

std::string_view DefaultPolicyText() {
  static constexpr std::string_view kText = R"(# modelfs policy: who may do what to which model. Reference: `man 5
# modelfs-policy`, or docs/policy.md (installed in /usr/share/doc/modelfs/docs/).
# Changes take effect within a second; a file that does not parse keeps the
# previous policy in force and the error is logged with its line and column.
# Check an edit with: modelfs policy check policy.toml
#
# Principals: "*" (anyone), "user:NAME", "group:NAME" (a unix group or a
# registry group from [groups]), "uid:N". Admin implies every other action.

# The permissive start: anyone may read, create, write, promote and
# approve; only root administers.
[defaults]
read    = ["*"]
create  = ["*"]
write   = ["*"]                # drafts, push, metadata
promote = ["*"]                # aliases
approve = ["*"]
admin   = ["user:root"]        # archive, gc, everything

# An example to copy from. Uncomment and adapt; keep one [defaults] table.
#
# [groups]                       # registry groups, besides unix groups
# ml-leads = ["alice", "bob"]
#
# [defaults]
# read    = ["*"]
# create  = ["group:ml"]
# write   = ["group:ml"]
# promote = ["group:ml-leads"]
# approve = ["group:ml-leads"]
# admin   = ["user:root"]
#
# [[models]]                     # overrides for models whose name matches a glob
# match = "fraud-*"              # later entries win over earlier ones
# read  = ["group:fraud", "user:svc-serving"]
#
# [aliases.production]           # gates for pointing this alias at a version
# require_approval     = true
# forbid_self_approval = true    # approver differs from the version's creator
# require_metrics      = ["auc >= 0.80", "latency_ms <= 50"]
# require_lineage      = ["datasets", "code"]   # also "parents", "run"
# require_previous     = "staging"   # the version was staging before
#
# [retention]
# keep_last = 10                 # ready versions per model without an alias
# draft_ttl = "7d"               # s, m, h, d or w
# audit_keep = 1000000           # gc keeps the newest audit records, at most this many
# audit_ttl = "52w"              # and none older than this (s, m, h, d or w)
#
# [limits]
# max_file_size = "256G"         # no file of a version larger (K, M, G, T); the default
)";
  return kText;
}

}  // namespace modelfs::policy
