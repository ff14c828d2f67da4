// Policy::Parse: policy.toml's TOML tree into a compiled Policy, every
// error as FILE:LINE:COL (the earliest in the file). The rules it builds
// and the decisions made with them are policy.cc.
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <set>
#include <toml++/toml.h>

#include "index/names.h"
#include "policy/policy.h"

namespace modelfs::policy {

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
      rule.actions[static_cast<size_t>(*action)] = ParsePrincipals(value, where + "." + std::string(k));
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

}  // namespace modelfs::policy
