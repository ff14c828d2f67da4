// Policy: parsing policy.toml into compiled rules and the access decision
// (reading the file and the reloading PolicyFile are in policy_file.cc).
// Sections, in order:
//   1. actions and durations
//   2. the parser (TOML tree → Policy, every error as FILE:LINE:COL)
//   3. decisions
//   4. the default policy text
#include "policy/policy.h"

#include <fnmatch.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <limits>
#include <set>
#include <toml++/toml.h>

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
// 2. The parser

namespace {

constexpr size_t kMaxName = 256;   // user and group names; NSS allows long ones
constexpr size_t kMaxGlob = 1024;  // no model name is longer than 128

// Text from the file as a message shows it: on one line, control characters
// escaped (a TOML string may hold any).
std::string Quote(std::string_view s) { return "\"" + EscapeText(s) + "\""; }

std::string_view TypeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::none: return "nothing";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
  }
  return "a value";
}

// Unix user and group names are checked loosely (NSS backends accept
// "DOMAIN\user", "a.b@corp"): non-empty, printable, no space, and none of
// ':' (our principal separator) or ',' (our list separator in reasons).
std::optional<std::string> CheckAccountName(std::string_view name) {
  if (name.empty()) return "name is empty";
  if (name.size() > kMaxName) return "name is longer than 256 characters";
  for (unsigned char c : name) {
    if (c <= 0x20 || c == 0x7f) return "name contains a space or control character";
    if (c == ':' || c == ',') return "name contains ':' or ','";
  }
  return std::nullopt;
}

bool IsModelNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

// A [[models]] match glob, for fnmatch(3) without flags. fnmatch never
// reports a bad pattern, so catch what would silently never match.
std::optional<std::string> CheckGlob(std::string_view glob) {
  if (glob.empty()) return "glob is empty";
  if (glob.size() > kMaxGlob) return "glob is longer than 1024 characters";
  for (size_t i = 0; i < glob.size(); ++i) {
    char c = glob[i];
    if (c == '*' || c == '?' || IsModelNameChar(c)) continue;
    if (c == '\\') {
      if (i + 1 == glob.size()) return "glob " + Quote(glob) + " ends with a lone '\\'";
      ++i;
      continue;
    }
    if (c == '[') {
      size_t j = i + 1;
      if (j < glob.size() && (glob[j] == '!' || glob[j] == '^')) ++j;
      if (j < glob.size() && glob[j] == ']') ++j;  // a leading ']' is literal
      while (j < glob.size() && glob[j] != ']') ++j;
      if (j >= glob.size()) return "glob " + Quote(glob) + " has an unclosed '['";
      i = j;
      continue;
    }
    // The whole character, not its first byte: the message stays UTF-8.
    size_t n = 1;
    if (static_cast<unsigned char>(c) >= 0xc0) {
      while (i + n < glob.size() && (static_cast<unsigned char>(glob[i + n]) & 0xc0) == 0x80) ++n;
    }
    return "glob " + Quote(glob) + " can never match: '" + EscapeText(glob.substr(i, n)) +
           "' cannot appear in a model name";
  }
  return std::nullopt;
}

// The source column of byte `column` (1-based) of the value of the string
// whose opening quote is at `quote`: a basic string's escapes (\" \\ \n
// \uXXXX...) are longer in the file than in the value. Multi-line and
// literal strings have none to account for, or are left as they are.
toml::source_index SourceColumn(std::string_view text, toml::source_position quote,
                                size_t column) {
  size_t at = 0;
  for (toml::source_index line = 1; line < quote.line; ++line) {
    at = text.find('\n', at);
    if (at == std::string_view::npos) return quote.column + static_cast<toml::source_index>(column);
    ++at;
  }
  size_t open = at + quote.column - 1, r = open + 1;
  if (open >= text.size() || text[open] != '"' || text.substr(open, 3) == "\"\"\"")
    return quote.column + static_cast<toml::source_index>(column);
  for (size_t d = 1; d < column && r < text.size() && text[r] != '\n'; ++d) {
    if (text[r] != '\\' || r + 1 >= text.size()) {
      ++r;
      continue;
    }
    char e = text[r + 1];
    size_t hex = e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (hex == 0) {
      r += 2;
      continue;
    }
    // \uXXXX is one code point: 1 to 4 bytes of the value.
    unsigned long cp = std::strtoul(std::string(text.substr(r + 2, hex)).c_str(), nullptr, 16);
    size_t bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    d += bytes - 1;
    r += 2 + hex;
  }
  return static_cast<toml::source_index>(r - at + 1);
}

}  // namespace

// Walks the TOML tree once. Errors are collected as (position, message) and
// the earliest in the file wins: toml++ iterates tables in key order, not
// file order, and "the first mistake" is what a person fixes first.
class Parser {
 public:
  explicit Parser(std::string_view filename) : file_(filename) {}

  Result<std::shared_ptr<const Policy>> Run(std::string_view text) {
    text_ = text;
    toml::table root;
    try {
      root = toml::parse(text, std::string_view(file_));
    } catch (const toml::parse_error& e) {
      // toml++ quotes what it saw as is: a control character too.
      Fail(e.source(), EscapeText(e.description()));
      return Error();
    }
    auto policy = std::shared_ptr<Policy>(new Policy());
    policy_ = policy.get();
    policy_->filename_ = file_;
    policy_->defaults_.label = "[defaults]";

    // [groups] first: "group:NAME" principals elsewhere expand through it.
    if (const toml::node* g = root.get("groups")) ParseGroups(*g);
    for (auto&& [key, node] : root) {
      const std::string_view k = key.str();
      if (k == "groups") {
        continue;
      } else if (k == "defaults") {
        ParseDefaults(node);
      } else if (k == "models") {
        ParseModels(node);
      } else if (k == "aliases") {
        ParseAliases(node);
      } else if (k == "retention") {
        ParseRetention(node);
      } else if (k == "limits") {
        ParseLimits(node);
      } else if (k == "hooks") {
        ParseHooks(node);
      } else if (k == "check_user") {
        const auto* s = node.as_string();
        if (s == nullptr || s->get().empty()) {
          Fail(node.source(), "check_user must be an account name such as \"nobody\", not " +
                                  std::string(s ? "an empty string" : TypeName(node.type())));
        } else {
          policy_->check_user_ = s->get();
        }
      } else if (k == "check_timeout") {
        const auto* s = node.as_string();
        auto d = s ? ParseDuration(s->get()) : Result<int64_t>(Status::Invalid("not a string"));
        if (!d.ok()) Fail(node.source(), "check_timeout must be a duration such as \"10m\": " + d.status().message());
        else policy_->check_timeout_seconds_ = *d;
      } else if (k == "hook_user") {
        const auto* s = node.as_string();
        if (s == nullptr || s->get().empty()) {
          Fail(node.source(), "hook_user must be an account name such as \"nobody\", not " +
                                  std::string(s ? "an empty string" : TypeName(node.type())));
        } else {
          policy_->hook_user_ = s->get();
        }
      } else {
        Fail(key.source(), "unknown key " + Quote(k) +
                               "; expected groups, defaults, models, aliases, retention, "
                               "limits, hooks, hook_user, check_user or check_timeout");
      }
    }
    if (failed_) return Error();

    // Permissive defaults for what the file leaves out (SPEC §6).
    for (size_t i = 0; i < kActionCount; ++i) {
      auto& list = policy_->defaults_.actions[i];
      if (list) continue;
      Policy::Principal p;
      if (static_cast<Action>(i) == Action::kAdmin) {
        p.kind = Policy::Principal::Kind::kUser;
        p.name = "root";
        p.text = "user:root";
      } else {
        p.kind = Policy::Principal::Kind::kAny;
        p.text = "*";
      }
      list = Policy::PrincipalList{std::move(p)};
    }
    return std::shared_ptr<const Policy>(std::move(policy));
  }

 private:
  void Fail(const toml::source_region& where, std::string message) {
    uint32_t line = std::max<uint32_t>(where.begin.line, 1);
    uint32_t col = std::max<uint32_t>(where.begin.column, 1);
    if (failed_ && std::tie(err_line_, err_col_) <= std::tie(line, col)) return;
    failed_ = true;
    err_line_ = line;
    err_col_ = col;
    err_msg_ = std::move(message);
  }

  Status Error() const {
    return Status::Invalid(file_ + ":" + std::to_string(err_line_) + ":" +
                           std::to_string(err_col_) + ": " + err_msg_);
  }

  const toml::table* ExpectTable(const toml::node& node, std::string_view what) {
    const toml::table* t = node.as_table();
    if (t == nullptr) {
      Fail(node.source(), std::string(what) + " must be a table, not " +
                              std::string(TypeName(node.type())));
    }
    return t;
  }

  // An array whose elements are all strings; reports the first that is not.
  std::optional<std::vector<std::pair<std::string, const toml::node*>>> StringArray(
      const toml::node& node, const std::string& where, std::string_view element) {
    const toml::array* arr = node.as_array();
    if (arr == nullptr) {
      Fail(node.source(), where + " must be an array of " + std::string(element) +
                              "s, not " + std::string(TypeName(node.type())));
      return std::nullopt;
    }
    std::vector<std::pair<std::string, const toml::node*>> out;
    bool ok = true;
    for (const toml::node& e : *arr) {
      if (const auto* s = e.as_string()) {
        out.emplace_back(s->get(), &e);
      } else {
        Fail(e.source(), where + ": " + std::string(element) + " must be a string, not " +
                             std::string(TypeName(e.type())));
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  void ParseGroups(const toml::node& node) {
    const toml::table* t = ExpectTable(node, "[groups]");
    if (t == nullptr) return;
    for (auto&& [key, value] : *t) {
      std::string name(key.str());
      if (auto err = CheckAccountName(name)) {
        Fail(key.source(), "bad group name " + Quote(name) + ": " + *err);
        continue;
      }
      auto users = StringArray(value, "[groups]." + name, "user name");
      if (!users) continue;
      std::vector<std::string> members;
      for (auto& [user, where] : *users) {
        if (auto err = CheckAccountName(user)) {
          Fail(where->source(), "[groups]." + name + ": bad user name " + Quote(user) +
                                    ": " + *err);
          continue;
        }
        members.push_back(user);
      }
      std::sort(members.begin(), members.end());
      members.erase(std::unique(members.begin(), members.end()), members.end());
      groups_[name] = std::move(members);
    }
  }

  std::optional<Policy::Principal> ParsePrincipal(const std::string& text,
                                                  const toml::node& where,
                                                  const std::string& context) {
    Policy::Principal p;
    p.text = text;
    auto bad = [&](const std::string& why) {
      Fail(where.source(), context + ": bad principal " + Quote(text) + ": " + why);
      return std::nullopt;
    };
    if (text == "*") {
      p.kind = Policy::Principal::Kind::kAny;
      return p;
    }
    size_t colon = text.find(':');
    std::string_view kind = std::string_view(text).substr(0, colon);
    if (colon == std::string::npos ||
        (kind != "user" && kind != "group" && kind != "uid")) {
      return bad("expected \"*\", \"user:NAME\", \"group:NAME\" or \"uid:N\"");
    }
    std::string rest = text.substr(colon + 1);
    if (kind == "uid") {
      uint64_t n = 0;
      bool ok = !rest.empty() && rest.size() <= 10;
      for (char c : rest) ok = ok && c >= '0' && c <= '9';
      if (ok) n = std::stoull(rest);
      // (uid_t)-1 is "no uid" to the kernel; no caller can have it.
      if (!ok || n >= std::numeric_limits<uint32_t>::max()) {
        return bad("N must be a decimal number below 4294967295");
      }
      p.kind = Policy::Principal::Kind::kUid;
      p.uid = static_cast<uint32_t>(n);
      return p;
    }
    if (auto err = CheckAccountName(rest)) return bad(*err);
    p.name = rest;
    if (kind == "user") {
      p.kind = Policy::Principal::Kind::kUser;
    } else {
      p.kind = Policy::Principal::Kind::kGroup;
      if (auto it = groups_.find(rest); it != groups_.end()) p.members = it->second;
    }
    return p;
  }

  std::optional<Policy::PrincipalList> ParsePrincipals(const toml::node& node,
                                                       const std::string& where) {
    auto texts = StringArray(node, where, "principal");
    if (!texts) return std::nullopt;
    Policy::PrincipalList list;
    bool ok = true;
    for (auto& [text, elem] : *texts) {
      if (auto p = ParsePrincipal(text, *elem, where)) {
        list.push_back(std::move(*p));
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return list;
  }

  // Fills rule.actions from the action keys of t; other keys are unknown
  // unless listed in `also`.
  void ParseActions(const toml::table& t, Policy::Rule& rule, const std::string& where,
                    std::string_view also) {
    for (auto&& [key, value] : t) {
      const std::string_view k = key.str();
      if (!also.empty() && k == also) continue;
      std::optional<Action> action = ActionFromName(k);
      if (!action) {
        Fail(key.source(), "unknown key " + Quote(k) + " in " + where + "; expected " +
                               (also.empty() ? "" : std::string(also) + ", ") +
                               "read, create, write, promote, approve or admin");
        continue;
      }
      rule.actions[Index(*action)] = ParsePrincipals(value, where + "." + std::string(k));
    }
  }

  void ParseDefaults(const toml::node& node) {
    const toml::table* t = ExpectTable(node, "[defaults]");
    if (t != nullptr) ParseActions(*t, policy_->defaults_, "[defaults]", "");
  }

  void ParseModels(const toml::node& node) {
    const toml::array* arr = node.as_array();
    if (arr == nullptr) {
      Fail(node.source(), "models must be an array of tables: write [[models]], not " +
                              std::string(TypeName(node.type())));
      return;
    }
    size_t number = 0;
    for (const toml::node& elem : *arr) {
      ++number;
      std::string where = "[[models]] #" + std::to_string(number);
      const toml::table* t = ExpectTable(elem, where);
      if (t == nullptr) continue;
      Policy::Rule rule;
      const toml::node* match = t->get("match");
      if (match == nullptr) {
        Fail(elem.source(), where + " has no match = \"GLOB\"");
      } else if (const auto* s = match->as_string()) {
        rule.match = s->get();
        if (auto err = CheckGlob(rule.match)) {
          Fail(match->source(), where + ".match: " + *err);
        }
      } else {
        Fail(match->source(), where + ".match must be a string, not " +
                                  std::string(TypeName(match->type())));
      }
      rule.label = where + " (match " + Quote(rule.match) + ")";
      ParseActions(*t, rule, where, "match");
      policy_->models_.push_back(std::move(rule));
    }
  }

  void ParseAliases(const toml::node& node) {
    const toml::table* t = ExpectTable(node, "[aliases]");
    if (t == nullptr) return;
    for (auto&& [key, value] : *t) {
      std::string alias(key.str());
      if (Status st = CheckAliasName(alias); !st.ok()) {
        Fail(key.source(), "[aliases." + EscapeText(alias) + "]: " + st.message());
        continue;
      }
      std::string where = "[aliases." + alias + "]";
      const toml::table* gt = ExpectTable(value, where);
      if (gt == nullptr) continue;
      AliasGates gates;
      gates.alias = alias;
      for (auto&& [gkey, gval] : *gt) {
        const std::string_view k = gkey.str();
        std::string at = where + "." + std::string(k);
        if (k == "require_approval" || k == "forbid_self_approval") {
          const auto* b = gval.as_boolean();
          if (b == nullptr) {
            Fail(gval.source(), at + " must be true or false, not " +
                                    std::string(TypeName(gval.type())));
            continue;
          }
          (k == "require_approval" ? gates.require_approval : gates.forbid_self_approval) =
              b->get();
        } else if (k == "require_metrics") {
          auto texts = StringArray(gval, at, "metric requirement");
          if (!texts) continue;
          for (auto& [text, elem] : *texts) {
            auto req = ParseMetricRequirement(text);
            if (!req.ok()) {
              Fail(elem->source(), at + ": " + req.status().message());
              continue;
            }
            gates.require_metrics.push_back(std::move(req).value());
          }
        } else if (k == "require_lineage") {
          auto texts = StringArray(gval, at, "lineage name");
          if (!texts) continue;
          for (auto& [text, elem] : *texts) {
            auto kind = ParseLineageKind(text);
            if (!kind) {
              Fail(elem->source(), at + ": unknown lineage " + Quote(text) +
                                       "; expected parents, datasets, code or run");
              continue;
            }
            gates.require_lineage.push_back(*kind);
          }
        } else if (k == "require_previous") {
          const auto* s = gval.as_string();
          if (s == nullptr) {
            Fail(gval.source(), at + " must be an alias name string, not " +
                                    std::string(TypeName(gval.type())));
            continue;
          }
          if (Status st = CheckAliasName(s->get()); !st.ok()) {
            Fail(gval.source(), at + ": " + st.message());
            continue;
          }
          gates.require_previous = s->get();
        } else if (k == "require_check") {
          if (auto l = StringList(gval, at)) gates.require_check = std::move(*l);
        } else {
          Fail(gkey.source(), "unknown key " + Quote(k) + " in " + where +
                                  "; expected require_approval, forbid_self_approval, "
                                  "require_metrics, require_lineage, require_previous or "
                                  "require_check");
        }
      }
      policy_->gates_[alias] = std::move(gates);
    }
  }

  void ParseRetention(const toml::node& node) {
    const toml::table* t = ExpectTable(node, "[retention]");
    if (t == nullptr) return;
    for (auto&& [key, value] : *t) {
      const std::string_view k = key.str();
      if (k == "keep_last") {
        const auto* i = value.as_integer();
        if (i == nullptr) {
          Fail(value.source(), "[retention].keep_last must be an integer, not " +
                                   std::string(TypeName(value.type())));
        } else if (i->get() < 0) {
          Fail(value.source(), "[retention].keep_last must be 0 or more, not " +
                                   std::to_string(i->get()));
        } else {
          policy_->retention_.keep_last = static_cast<uint64_t>(i->get());
        }
      } else if (k == "audit_keep") {
        // At least 1: a trail emptied by every gc would be no trail.
        const auto* i = value.as_integer();
        if (i == nullptr) {
          Fail(value.source(), "[retention].audit_keep must be an integer, not " +
                                   std::string(TypeName(value.type())));
        } else if (i->get() < 1) {
          Fail(value.source(), "[retention].audit_keep must be 1 or more, not " +
                                   std::to_string(i->get()));
        } else {
          policy_->retention_.audit_keep = static_cast<uint64_t>(i->get());
        }
      } else if (k == "draft_ttl" || k == "audit_ttl") {
        const std::string where = "[retention]." + std::string(k);
        const auto* s = value.as_string();
        if (s == nullptr) {
          Fail(value.source(), where + " must be a duration string such as "
                               "\"7d\", not " + std::string(TypeName(value.type())));
          continue;
        }
        auto d = ParseDuration(s->get());
        if (!d.ok()) {
          Fail(value.source(), where + ": " + d.status().message());
        } else if (k == "draft_ttl") {
          policy_->retention_.draft_ttl_seconds = *d;
        } else {
          policy_->retention_.audit_ttl_seconds = *d;
        }
      } else {
        Fail(key.source(), "unknown key " + Quote(k) +
                               " in [retention]; expected keep_last, draft_ttl, audit_keep or "
                               "audit_ttl");
      }
    }
  }

  // A string array of at least one element, else a Fail naming `where`.
  std::optional<std::vector<std::string>> StringList(const toml::node& value,
                                                      const std::string& where) {
    const toml::array* arr = value.as_array();
    if (arr == nullptr || arr->empty()) {
      Fail(value.source(), where + " must be a non-empty array of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const toml::node& e : *arr) {
      const auto* s = e.as_string();
      if (s == nullptr || s->get().empty()) {
        Fail(e.source(), where + ": each element must be a non-empty string, not " +
                             std::string(s ? "\"\"" : TypeName(e.type())));
        return std::nullopt;
      }
      out.push_back(s->get());
    }
    return out;
  }

  void ParseHooks(const toml::node& node) {
    const toml::array* arr = node.as_array();
    if (arr == nullptr) {
      Fail(node.source(), "hooks must be an array of tables: write [[hooks]], not " +
                              std::string(TypeName(node.type())));
      return;
    }
    size_t number = 0;
    for (const toml::node& elem : *arr) {
      std::string where = "[[hooks]] #" + std::to_string(++number);
      const toml::table* t = ExpectTable(elem, where);
      if (t == nullptr) continue;
      Hook h;
      bool has_on = false;
      for (auto&& [key, value] : *t) {
        const std::string_view k = key.str();
        const std::string field = where + "." + std::string(k);
        const auto* str = value.as_string();
        if (k == "name") {
          if (str == nullptr || str->get().empty() ||
              str->get().find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789._-") != std::string::npos) {
            Fail(value.source(), field + " must be a name of letters, digits, '.', '_' and '-'");
            continue;
          }
          h.name = str->get();
          for (const Hook& other : policy_->hooks_)
            if (other.name == h.name) Fail(value.source(), field + ": another hook is named " + Quote(h.name));
        } else if (k == "on") {
          has_on = true;
          if (auto l = StringList(value, field)) {
            for (const auto& g : *l)
              if (auto err = CheckGlob(g)) Fail(value.source(), field + ": " + *err);
            h.on = std::move(*l);
          }
        } else if (k == "run") {
          if (auto l = StringList(value, field)) h.run = std::move(*l);
        } else if (k == "url") {
          if (str == nullptr || !(str->get().rfind("http://", 0) == 0 || str->get().rfind("https://", 0) == 0)) {
            Fail(value.source(), field + " must be an http:// or https:// URL");
            continue;
          }
          h.url = str->get();
        } else if (k == "secret_file") {
          if (str == nullptr || str->get().empty() || str->get()[0] != '/') {
            Fail(value.source(), field + " must be an absolute path");
            continue;
          }
          h.secret_file = str->get();
        } else if (k == "timeout") {
          auto d = str ? ParseDuration(str->get()) : Result<int64_t>(Status::Invalid("not a string"));
          if (!d.ok()) Fail(value.source(), field + " must be a duration such as \"30s\": " + d.status().message());
          else h.timeout_seconds = *d;
        } else if (k == "max_attempts") {
          const auto* i = value.as_integer();
          if (i == nullptr || i->get() < 1 || i->get() > 1000) {
            Fail(value.source(), field + " must be an integer from 1 to 1000");
            continue;
          }
          h.max_attempts = static_cast<int>(i->get());
        } else if (k == "when") {
          if (str == nullptr) {
            Fail(value.source(), field + " must be an expression string such as "
                                         "\"metrics.auc >= 0.9\"");
            continue;
          }
          expr::ParseError pe;
          auto e = expr::Expr::Parse(str->get(), &pe);
          if (!e.ok()) {
            toml::source_region at = value.source();
            at.begin.column = SourceColumn(text_, at.begin, pe.column);
            Fail(at, field + ": " + pe.message);
            continue;
          }
          h.when = std::make_shared<const expr::Expr>(std::move(*e));
        } else {
          Fail(key.source(), "unknown key " + Quote(k) + " in " + where +
                                 "; expected name, on, run, url, secret_file, timeout, "
                                 "max_attempts or when");
        }
      }
      if (!t->contains("name")) Fail(elem.source(), where + " has no name = \"NAME\"");
      if (!has_on) Fail(elem.source(), where + " has no on = [\"EVENT TYPE\", ...]");
      if (!t->contains("run") && !t->contains("url"))
        Fail(elem.source(), where + " needs run = [\"CMD\", ...] or url = \"https://...\"");
      if (t->contains("run") && t->contains("url"))
        Fail(t->get("url")->source(), where + " has both run and url: a hook does one of them");
      if (!h.secret_file.empty() && t->contains("run"))
        Fail(t->get("secret_file")->source(), where + ".secret_file signs url hooks; a run hook has none");
      policy_->hooks_.push_back(std::move(h));
    }
  }

  void ParseLimits(const toml::node& node) {
    const toml::table* t = ExpectTable(node, "[limits]");
    if (t == nullptr) return;
    for (auto&& [key, value] : *t) {
      const std::string_view k = key.str();
      if (k == "max_file_size") {
        const auto* s = value.as_string();
        if (s == nullptr) {
          Fail(value.source(), "[limits].max_file_size must be a size string such as \"64G\", "
                               "not " + std::string(TypeName(value.type())));
          continue;
        }
        auto n = ParseSize(s->get());
        if (!n.ok()) Fail(value.source(), "[limits].max_file_size: " + n.status().message());
        else policy_->limits_.max_file_size = *n;
      } else {
        Fail(key.source(), "unknown key " + Quote(k) + " in [limits]; expected max_file_size");
      }
    }
  }

  const std::string file_;
  std::string_view text_;  // the file's text, while Run reads it
  Policy* policy_ = nullptr;
  std::map<std::string, std::vector<std::string>> groups_;  // [groups], sorted members
  bool failed_ = false;
  uint32_t err_line_ = 0, err_col_ = 0;
  std::string err_msg_;
};

Result<std::shared_ptr<const Policy>> Policy::Parse(std::string_view toml_text,
                                                    std::string_view filename) {
  return Parser(filename).Run(toml_text);
}

// ---------------------------------------------------------------------------
// 3. Decisions

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
// 4. The default policy text

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
