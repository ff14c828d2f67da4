// The expression language of SPEC §8, one for `find`, retention and hooks:
// parsed once into a typed tree (Parse), then evaluated against versions
// (Eval) as often as needed. Nothing here knows of the CLI or of LMDB: what
// a version's evaluation needs beyond its record (its current aliases, when
// it was last used) comes through an EvalContext.
//
//   expr    := or
//   or      := and ("or" and)*
//   and     := unary ("and" unary)*
//   unary   := "not" unary | primary
//   primary := "(" expr ")" | "exists" "(" KEY ")"
//            | KEY ("=" | "!=" | "<" | "<=" | ">" | ">=") VALUE
//            | KEY "~" STRING | KEY "in" "(" VALUE ("," VALUE)* ")"
//   KEY     := metrics.K | params.K | tags.K | model | version | state
//            | approval | alias | created_by | created_at | size | last_used_at
//   VALUE   := "string" (\" and \\ escaped) | number (0.9, -2e-3; a size
//              as 10M, 2G: K M G T, powers of 1024) | a time relative to
//              now (-30d, -12h: s m h d w) | "RFC 3339" for times
//
// Missing values: a comparison (any operator, `!=` included), `~` or `in`
// on a key the version does not have (a metric never set, a param absent)
// is false, and `not` of it true. `alias` is the set of
// the version's current aliases: `alias = "production"` is true when one of
// them is production, `alias != "production"` when none is, and the other
// operators when one of them satisfies them. last_used_at is the exception
// to the rule on missing values: a version never used compares as used at
// the epoch, so `last_used_at < -30d` finds it too (SPEC §8: what nothing
// serves); exists(last_used_at) is false for it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "index/records.h"
#include "index/status.h"

namespace modelfs::expr {

enum class Field : uint8_t {
  kMetric, kParam, kTag,  // with a name: metrics.auc
  kModel, kVersion, kState, kApproval, kAlias, kCreatedBy, kCreatedAt, kSize, kLastUsedAt,
};

// A key of the language: metrics.auc, model, created_at...
struct Key {
  Field field = Field::kModel;
  std::string name;  // metrics/params/tags only
  std::string text() const;  // as written: "metrics.auc"
  bool is_number() const;    // metrics, version, size
  bool is_time() const;      // created_at, last_used_at (nanoseconds)
  bool operator==(const Key&) const = default;
};

// KEY alone ("metrics.auc", "created_at"): for --sort and the like.
// Invalid naming the key when it is none.
Result<Key> ParseKey(std::string_view text);

enum class Op : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kGlob, kIn, kExists };
std::string_view OpText(Op op);  // "=", "~", "in", "exists"

// A literal of the expression, already typed for its key.
struct Literal {
  enum class Kind : uint8_t { kString, kNumber, kTime, kRelativeTime } kind = Kind::kString;
  std::string text;  // kString
  double number = 0;  // kNumber (sizes in bytes)
  int64_t ns = 0;     // kTime: since the epoch; kRelativeTime: offset from now
  bool operator==(const Literal&) const = default;
};

struct Node {
  enum class Kind : uint8_t { kAnd, kOr, kNot, kTest } kind = Kind::kTest;
  std::vector<Node> kids;  // and, or: two or more; not: one
  // kTest:
  Key key;
  Op op = Op::kEq;
  std::vector<Literal> values;  // one; several for `in`; none for exists
  size_t column = 0;            // where the test starts (1-based), for messages
};

// A version's values that its record does not hold. Each accessor may be
// left empty: no aliases, never used.
struct EvalContext {
  // The names of the aliases now pointing at the version.
  std::function<std::vector<std::string>(const Version&)> aliases;
  // When the version was last used (ns since the epoch), nullopt when
  // unknown or never.
  std::function<std::optional<int64_t>(const Version&)> last_used_at;
  int64_t now_ns = NowNs();  // what relative times (-30d) count from
};

// A value of a key for one version, as comparisons and sorting see it.
using Value = std::variant<double, int64_t, std::string, std::vector<std::string>>;  // int64_t: times (ns)
// The value of `key` for `v`; nullopt when the version has none.
std::optional<Value> Lookup(const Key& key, const Version& v, const EvalContext& ctx);
// The value as a table shows it (FormatMetric for numbers, RFC 3339 times).
std::string ValueText(const Key& key, const Value& value);
// Orders two values of one key: numbers by value, strings bytewise (a
// param or tag that is a number on both sides by value). <0, 0, >0.
int CompareValues(const Value& a, const Value& b);

// Why a text does not parse: the message and the 1-based byte column it
// points at (one past the end for "unexpected end").
struct ParseError {
  size_t column = 0;
  std::string message;
};

class Expr {
 public:
  // Parses `text`. Invalid "column N: MESSAGE" when malformed; *error (when
  // given) then holds the column and the message apart.
  static Result<Expr> Parse(std::string_view text, ParseError* error = nullptr);
  // The expression that every version satisfies (find without EXPR).
  static Expr All() { return Expr(); }

  bool matches_all() const { return !root_.has_value(); }
  const Node* root() const { return root_ ? &*root_ : nullptr; }
  bool Eval(const Version& v, const EvalContext& ctx) const;
  // The canonical text: fully parenthesized, literals normalized. Parses
  // back to the same tree.
  std::string ToString() const;
  // The keys it names, each once, in order of first appearance.
  std::vector<Key> Keys() const;
  // The tests joined by `and` at the top (the whole expression when it is
  // not an `and`): what an index may answer, each a necessary condition.
  std::vector<const Node*> Conjuncts() const;

 private:
  std::optional<Node> root_;
};

bool EvalNode(const Node& n, const Version& v, const EvalContext& ctx);
// One node in the canonical form of Expr::ToString.
std::string NodeText(const Node& n);

// The two lines that show where `column` is in `text`: the text (escaped
// as EscapeText does) and a caret under the column.
std::string Caret(std::string_view text, size_t column);

// "-30d", "12h": a signed duration in ns (units s m h d w); nullopt if not one.
std::optional<int64_t> ParseRelativeTime(std::string_view text);
// "2026-11-27T15:31:02Z", with fractional seconds and an offset (±hh:mm)
// allowed, or a date "2026-11-27" (midnight UTC); nullopt if not one.
std::optional<int64_t> ParseTime(std::string_view text);

}  // namespace modelfs::expr
