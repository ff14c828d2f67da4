// The expression language (expr.h): a tokenizer, a recursive-descent parser
// that types every literal for its key as it reads it (so a type error
// points at its column), and the canonical printer. The evaluator is
// expr_eval.cc.
#include "index/expr.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cctype>
#include <ctime>

#include "index/expr_internal.h"
#include "index/names.h"

namespace modelfs::expr {

namespace detail {

// A finite decimal number, all of `text`.
std::optional<double> Number(std::string_view text) {
  std::string_view num = !text.empty() && text[0] == '+' ? text.substr(1) : text;
  if (num.empty() || (num != text && (num[0] == '-' || num[0] == '+'))) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (ec != std::errc() || p != num.data() + num.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace detail

namespace {

// Nesting deeper than this is refused rather than recursed into: a
// hostile expression must not exhaust the stack.
constexpr int kMaxDepth = 64;
// Relative times count whole seconds, within ±3000 years.
constexpr double kMaxRelativeSeconds = 3000.0 * 366 * 86400;

bool IsIdentStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsIdentChar(char c) {
  return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

struct Token {
  enum class Kind : uint8_t { kEnd, kIdent, kString, kNumber, kLParen, kRParen, kComma, kOp };
  Kind kind = Kind::kEnd;
  std::string text;    // ident, op, the number's digits; a string's value (unescaped)
  std::string suffix;  // a number's unit letters ("M", "d")
  size_t column = 0;   // 1-based
};

struct Failure {
  size_t column;
  std::string message;
};

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

using detail::Number;

class Lexer {
 public:
  explicit Lexer(std::string_view text) : s_(text) {}

  Token Next() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                s_[pos_] == '\r'))
      ++pos_;
    Token t;
    t.column = pos_ + 1;
    if (pos_ >= s_.size()) return t;
    char c = s_[pos_];
    if (c == '(' || c == ')' || c == ',') {
      t.kind = c == '(' ? Token::Kind::kLParen : c == ')' ? Token::Kind::kRParen : Token::Kind::kComma;
      t.text = std::string(1, c);
      ++pos_;
      return t;
    }
    if (c == '=' || c == '~') {
      t.kind = Token::Kind::kOp;
      t.text = std::string(1, c);
      ++pos_;
      return t;
    }
    if (c == '!' || c == '<' || c == '>') {
      t.kind = Token::Kind::kOp;
      bool eq = pos_ + 1 < s_.size() && s_[pos_ + 1] == '=';
      if (c == '!' && !eq) throw Failure{t.column, "\"!\" is not an operator: use != or not"};
      t.text = std::string(s_.substr(pos_, eq ? 2 : 1));
      pos_ += eq ? 2 : 1;
      return t;
    }
    if (c == '"') return String(t);
    bool signed_num = (c == '-' || c == '+') && pos_ + 1 < s_.size() &&
                      (IsDigit(s_[pos_ + 1]) || s_[pos_ + 1] == '.');
    if (IsDigit(c) || signed_num || (c == '.' && pos_ + 1 < s_.size() && IsDigit(s_[pos_ + 1])))
      return NumberToken(t);
    if (IsIdentStart(c)) {
      size_t start = pos_;
      while (pos_ < s_.size() && IsIdentChar(s_[pos_])) ++pos_;
      t.kind = Token::Kind::kIdent;
      t.text = std::string(s_.substr(start, pos_ - start));
      return t;
    }
    if (c == '\'')
      throw Failure{t.column, "strings are written in double quotes (\"...\"), not single"};
    throw Failure{t.column, "unexpected character " + Quote(EscapeText(s_.substr(pos_, 1)))};
  }

 private:
  Token String(Token t) {
    ++pos_;
    t.kind = Token::Kind::kString;
    while (true) {
      if (pos_ >= s_.size()) throw Failure{t.column, "this string has no closing quote"};
      char c = s_[pos_];
      if (c == '"') break;
      if (c == '\\') {
        if (pos_ + 1 >= s_.size() || (s_[pos_ + 1] != '"' && s_[pos_ + 1] != '\\'))
          throw Failure{pos_ + 1, "a backslash in a string escapes only \\\" or \\\\"};
        ++pos_;
        c = s_[pos_];
      }
      t.text.push_back(c);
      ++pos_;
    }
    ++pos_;
    return t;
  }

  Token NumberToken(Token t) {
    size_t start = pos_;
    if (s_[pos_] == '-' || s_[pos_] == '+') ++pos_;
    while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t e = pos_ + 1;
      if (e < s_.size() && (s_[e] == '-' || s_[e] == '+')) ++e;
      if (e < s_.size() && IsDigit(s_[e])) {
        pos_ = e;
        while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
      }
    }
    t.kind = Token::Kind::kNumber;
    t.text = std::string(s_.substr(start, pos_ - start));
    size_t suf = pos_;
    while (pos_ < s_.size() && IsIdentChar(s_[pos_])) ++pos_;
    t.suffix = std::string(s_.substr(suf, pos_ - suf));
    if (!Number(t.text)) throw Failure{t.column, Quote(t.text) + " is not a number"};
    return t;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

const char* const kFixedKeys[] = {"model",      "version",    "state", "approval",
                                  "alias",      "created_by", "created_at", "size",
                                  "last_used_at"};
const Field kFixedFields[] = {Field::kModel,     Field::kVersion,   Field::kState,
                              Field::kApproval,  Field::kAlias,     Field::kCreatedBy,
                              Field::kCreatedAt, Field::kSize,      Field::kLastUsedAt};

std::optional<Key> KeyOf(std::string_view text, std::string* why) {
  struct {
    const char* prefix;
    Field field;
  } const named[] = {{"metrics.", Field::kMetric}, {"params.", Field::kParam}, {"tags.", Field::kTag}};
  for (const auto& n : named) {
    std::string_view p = n.prefix;
    if (text.substr(0, p.size()) == p) {
      std::string_view name = text.substr(p.size());
      Status st = CheckMetaKey(name);
      if (!st.ok()) {
        *why = "bad key " + Quote(EscapeText(text)) + ": " + EscapeText(st.message());
        return std::nullopt;
      }
      return Key{n.field, std::string(name)};
    }
  }
  for (size_t i = 0; i < std::size(kFixedKeys); ++i)
    if (text == kFixedKeys[i]) return Key{kFixedFields[i], ""};
  std::vector<std::string> all = {"metrics.", "params.", "tags."};
  all.insert(all.end(), std::begin(kFixedKeys), std::end(kFixedKeys));
  *why = "unknown key " + Quote(EscapeText(text)) + " (keys: metrics.K, params.K, tags.K, model, version, "
         "state, approval, alias, created_by, created_at, size, last_used_at)";
  std::string stem(text.substr(0, text.find('.') == std::string_view::npos
                                      ? text.size()
                                      : text.find('.') + 1));
  auto near = Nearest(stem, all);
  if (!near.empty()) *why += "; did you mean " + near[0] + (near[0].back() == '.' ? "K" : "") + "?";
  return std::nullopt;
}

bool IsStringKey(const Key& k) { return !k.is_number() && !k.is_time(); }

// What a string may compare with, for keys whose values are a closed set.
Status CheckEnum(const Key& k, const std::string& v) {
  if (k.field == Field::kState && v != "draft" && v != "ready" && v != "archived")
    return Status::Invalid("state is draft, ready or archived, not " + Quote(EscapeText(v)));
  if (k.field == Field::kApproval && v != "pending" && v != "approved" && v != "rejected")
    return Status::Invalid("approval is pending, approved or rejected, not " + Quote(EscapeText(v)));
  return Status::Ok();
}

class Parser {
 public:
  explicit Parser(std::string_view text) : lex_(text) { Advance(); }

  Node ParseAll() {
    if (tok_.kind == Token::Kind::kEnd) throw Failure{tok_.column, "the expression is empty"};
    Node n = Or(0);
    if (tok_.kind != Token::Kind::kEnd) {
      if (tok_.kind == Token::Kind::kRParen)
        throw Failure{tok_.column, "this \")\" closes no \"(\""};
      throw Failure{tok_.column, "expected and, or or the end, not " + Describe(tok_)};
    }
    return n;
  }

 private:
  void Advance() { tok_ = lex_.Next(); }
  bool IsWord(const char* w) const { return tok_.kind == Token::Kind::kIdent && tok_.text == w; }

  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case Token::Kind::kEnd: return "the end";
      case Token::Kind::kString: return "the string " + Quote(EscapeText(t.text));
      case Token::Kind::kNumber: return Quote(t.text + t.suffix);
      default: return Quote(EscapeText(t.text));
    }
  }

  Node Or(int depth) {
    Node n = And(depth);
    if (!IsWord("or")) return n;
    Node o;
    o.kind = Node::Kind::kOr;
    o.column = n.column;
    o.kids.push_back(std::move(n));
    while (IsWord("or")) {
      Advance();
      o.kids.push_back(And(depth));
    }
    return o;
  }

  Node And(int depth) {
    Node n = Unary(depth);
    if (!IsWord("and")) return n;
    Node a;
    a.kind = Node::Kind::kAnd;
    a.column = n.column;
    a.kids.push_back(std::move(n));
    while (IsWord("and")) {
      Advance();
      a.kids.push_back(Unary(depth));
    }
    return a;
  }

  Node Unary(int depth) {
    if (depth > kMaxDepth)
      throw Failure{tok_.column, "nested more than " + std::to_string(kMaxDepth) + " deep"};
    if (IsWord("not")) {
      Node n;
      n.kind = Node::Kind::kNot;
      n.column = tok_.column;
      Advance();
      n.kids.push_back(Unary(depth + 1));
      return n;
    }
    return Primary(depth);
  }

  Key ReadKey() {
    if (tok_.kind != Token::Kind::kIdent)
      throw Failure{tok_.column, "expected a key (metrics.auc, model, ...), not " + Describe(tok_)};
    if (tok_.text == "and" || tok_.text == "or" || tok_.text == "in")
      throw Failure{tok_.column, "expected a key (metrics.auc, model, ...), not " + Describe(tok_)};
    std::string why;
    auto key = KeyOf(tok_.text, &why);
    if (!key) throw Failure{tok_.column, why};
    Advance();
    return *key;
  }

  void Expect(Token::Kind kind, const char* what) {
    if (tok_.kind != kind) throw Failure{tok_.column, std::string("expected ") + what + ", not " + Describe(tok_)};
    Advance();
  }

  Node Primary(int depth) {
    if (tok_.kind == Token::Kind::kLParen) {
      size_t col = tok_.column;
      Advance();
      if (tok_.kind == Token::Kind::kRParen) throw Failure{tok_.column, "empty parentheses"};
      Node n = Or(depth + 1);
      if (tok_.kind != Token::Kind::kRParen)
        throw Failure{tok_.kind == Token::Kind::kEnd ? col : tok_.column,
                      tok_.kind == Token::Kind::kEnd ? "this \"(\" is never closed"
                                                     : "expected \")\", and or or, not " + Describe(tok_)};
      Advance();
      return n;
    }
    Node n;
    n.column = tok_.column;
    if (IsWord("exists")) {
      Advance();
      Expect(Token::Kind::kLParen, "\"(\" after exists");
      n.key = ReadKey();
      n.op = Op::kExists;
      Expect(Token::Kind::kRParen, "\")\" after exists(KEY");
      return n;
    }
    n.key = ReadKey();
    if (IsWord("in")) {
      n.op = Op::kIn;
      Advance();
      Expect(Token::Kind::kLParen, "\"(\" after in");
      while (true) {
        n.values.push_back(ReadValue(n.key, Op::kIn));
        if (tok_.kind == Token::Kind::kRParen) break;
        Expect(Token::Kind::kComma, "\",\" or \")\" in the list");
      }
      Advance();
      return n;
    }
    if (tok_.kind != Token::Kind::kOp)
      throw Failure{tok_.column, "expected an operator (= != < <= > >= ~ in) after " + n.key.text() +
                                     ", not " + Describe(tok_)};
    static const std::pair<const char*, Op> ops[] = {{"=", Op::kEq},  {"!=", Op::kNe}, {"<", Op::kLt},
                                                     {"<=", Op::kLe}, {">", Op::kGt},  {">=", Op::kGe},
                                                     {"~", Op::kGlob}};
    for (const auto& [t, op] : ops)
      if (tok_.text == t) n.op = op;
    if (n.op == Op::kGlob && !IsStringKey(n.key))
      throw Failure{tok_.column, n.key.text() + " is a " + (n.key.is_time() ? "time" : "number") +
                                     ": ~ matches text only"};
    Advance();
    n.values.push_back(ReadValue(n.key, n.op));
    return n;
  }

  // A literal for `key`, typed for it.
  Literal ReadValue(const Key& key, Op op) {
    Token t = tok_;
    Literal lit;
    if (t.kind == Token::Kind::kString) {
      if (key.is_number())
        throw Failure{t.column, key.text() + " is a number: compare it with a number, not a string"};
      if (key.is_time()) {
        if (auto rel = ParseRelativeTime(t.text)) {
          lit.kind = Literal::Kind::kRelativeTime;
          lit.ns = *rel;
        } else if (auto abs = ParseTime(t.text)) {
          lit.kind = Literal::Kind::kTime;
          lit.ns = *abs;
        } else {
          throw Failure{t.column, Quote(EscapeText(t.text)) + " is not a time: write RFC 3339 "
                                  "(\"2026-11-27T15:00:00Z\", \"2026-11-27\") or a relative time (-30d)"};
        }
      } else {
        if (op != Op::kGlob) {
          Status st = CheckEnum(key, t.text);
          if (!st.ok()) throw Failure{t.column, st.message()};
        }
        lit.kind = Literal::Kind::kString;
        lit.text = t.text;
      }
      Advance();
      return lit;
    }
    if (t.kind != Token::Kind::kNumber)
      throw Failure{t.column, "expected a value after " + key.text() + " " +
                                  std::string(OpText(op)) + ", not " + Describe(t)};
    if (op == Op::kGlob) throw Failure{t.column, "~ takes a quoted glob (\"churn*\"), not a number"};
    double v = *Number(t.text);
    if (key.is_time()) {
      auto rel = ParseRelativeTime(t.text + t.suffix);
      if (!rel)
        throw Failure{t.column, Quote(t.text + t.suffix) + " is not a time: write a relative time "
                                "(-30d, -12h: s m h d w) or RFC 3339 in quotes"};
      lit.kind = Literal::Kind::kRelativeTime;
      lit.ns = *rel;
    } else if (key.field == Field::kModel || key.field == Field::kState ||
               key.field == Field::kApproval || key.field == Field::kAlias ||
               key.field == Field::kCreatedBy) {
      throw Failure{t.column, key.text() + " is text: compare it with a quoted string, not a number"};
    } else {
      if (!t.suffix.empty()) {
        static const std::string kUnits = "KMGT";
        size_t u = t.suffix.size() == 1 ? kUnits.find(static_cast<char>(std::toupper(t.suffix[0])))
                                        : std::string::npos;
        if (key.field != Field::kSize || u == std::string::npos)
          throw Failure{t.column, Quote(t.text + t.suffix) + " is not a number" +
                                      (key.field == Field::kSize ? " (a size takes K, M, G or T)" : "")};
        v *= std::pow(1024.0, static_cast<double>(u + 1));
        if (!std::isfinite(v)) throw Failure{t.column, Quote(t.text + t.suffix) + " is too large"};
      }
      lit.kind = Literal::Kind::kNumber;
      lit.number = v;
    }
    Advance();
    return lit;
  }

  Lexer lex_;
  Token tok_;
};

void Print(const Node& n, std::string* out);

void PrintLiteral(const Literal& l, std::string* out) {
  switch (l.kind) {
    case Literal::Kind::kString: *out += Quote(l.text); break;
    case Literal::Kind::kNumber: *out += FormatMetric(l.number); break;
    case Literal::Kind::kRelativeTime:
      *out += (l.ns < 0 ? "-" : "+") + std::to_string((l.ns < 0 ? -l.ns : l.ns) / 1000000000) + "s";
      break;
    case Literal::Kind::kTime: {
      int64_t sec = l.ns / 1000000000, frac = l.ns % 1000000000;
      if (frac < 0) {
        frac += 1000000000;
        --sec;
      }
      time_t t = static_cast<time_t>(sec);
      struct tm tm;
      gmtime_r(&t, &tm);
      char buf[64];
      strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
      std::string s = buf;
      if (frac) {
        char f[16];
        std::snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
        s += f;
      }
      *out += "\"" + s + "Z\"";
      break;
    }
  }
}

// Parentheses only where the tree needs them, so the canonical form nests
// no deeper than any text that parses to the same tree.
void Print(const Node& n, std::string* out) {
  auto kid = [&](const Node& k, bool parens) {
    if (parens) *out += "(";
    Print(k, out);
    if (parens) *out += ")";
  };
  switch (n.kind) {
    case Node::Kind::kAnd:
    case Node::Kind::kOr:
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (i) *out += n.kind == Node::Kind::kAnd ? " and " : " or ";
        const Node& k = n.kids[i];
        // An `and` inside an `or` binds tighter as it is; any other nesting
        // of the two was written in parentheses.
        kid(k, k.kind == Node::Kind::kOr ||
                   (k.kind == Node::Kind::kAnd && n.kind == Node::Kind::kAnd));
      }
      return;
    case Node::Kind::kNot:
      *out += "not ";
      kid(n.kids[0], n.kids[0].kind == Node::Kind::kAnd || n.kids[0].kind == Node::Kind::kOr);
      return;
    case Node::Kind::kTest:
      if (n.op == Op::kExists) {
        *out += "exists(" + n.key.text() + ")";
        return;
      }
      *out += n.key.text() + " " + std::string(OpText(n.op)) + " ";
      if (n.op == Op::kIn) {
        *out += "(";
        for (size_t i = 0; i < n.values.size(); ++i) {
          if (i) *out += ", ";
          PrintLiteral(n.values[i], out);
        }
        *out += ")";
      } else {
        PrintLiteral(n.values[0], out);
      }
      return;
  }
}

}  // namespace

std::string Key::text() const {
  switch (field) {
    case Field::kMetric: return "metrics." + name;
    case Field::kParam: return "params." + name;
    case Field::kTag: return "tags." + name;
    default: break;
  }
  for (size_t i = 0; i < std::size(kFixedFields); ++i)
    if (kFixedFields[i] == field) return kFixedKeys[i];
  return "?";
}

bool Key::is_number() const {
  return field == Field::kMetric || field == Field::kVersion || field == Field::kSize;
}
bool Key::is_time() const { return field == Field::kCreatedAt || field == Field::kLastUsedAt; }

Result<Key> ParseKey(std::string_view text) {
  std::string why;
  auto k = KeyOf(text, &why);
  if (!k) return Status::Invalid(why);
  return *k;
}

std::string_view OpText(Op op) {
  switch (op) {
    case Op::kEq: return "=";
    case Op::kNe: return "!=";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kGlob: return "~";
    case Op::kIn: return "in";
    case Op::kExists: return "exists";
  }
  return "?";
}

std::optional<int64_t> ParseRelativeTime(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  char unit = text.back();
  double mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400
              : unit == 'w' ? 7 * 86400 : 0;
  if (mult == 0) return std::nullopt;
  std::string_view num = text.substr(0, text.size() - 1);
  if (num[0] != '-' && num[0] != '+' && !IsDigit(num[0])) return std::nullopt;
  auto v = Number(num);
  if (!v) return std::nullopt;
  double sec = std::round(*v * mult);
  if (!(std::fabs(sec) <= kMaxRelativeSeconds)) return std::nullopt;
  return static_cast<int64_t>(sec) * 1000000000;
}

std::optional<int64_t> ParseTime(std::string_view s) {
  auto digits = [&](size_t at, size_t n, int* out) {
    if (at + n > s.size()) return false;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (!IsDigit(s[i])) return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int year, mon, day, hh = 0, mm = 0, ss = 0;
  if (!digits(0, 4, &year) || s.size() < 10 || s[4] != '-' || !digits(5, 2, &mon) || s[7] != '-' ||
      !digits(8, 2, &day))
    return std::nullopt;
  size_t pos = 10;
  int64_t frac_ns = 0, offset_s = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    if (!digits(pos + 1, 2, &hh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(pos + 4, 2, &mm) || pos + 6 >= s.size() || s[pos + 6] != ':' ||
        !digits(pos + 7, 2, &ss))
      return std::nullopt;
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      size_t n = 0;
      int64_t scale = 100000000;
      while (pos < s.size() && IsDigit(s[pos])) {
        if (n++ < 9) {
          frac_ns += (s[pos] - '0') * scale;
          scale /= 10;
        }
        ++pos;
      }
      if (n == 0) return std::nullopt;
    }
    if (pos >= s.size()) return std::nullopt;  // a time of day needs its zone
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh, om;
      if (!digits(pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
          !digits(pos + 4, 2, &om) || oh > 23 || om > 59)
        return std::nullopt;
      offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
      pos += 6;
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (mon < 1 || mon > 12 || day < 1 ||
      day > (mon == 2 && !leap ? 28 : kDays[mon - 1]) || hh > 23 || mm > 59 || ss > 60)
    return std::nullopt;
  struct tm tm = {};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  int64_t sec = static_cast<int64_t>(timegm(&tm)) - offset_s;
  // Years 1900 to 2200 in UTC (what the canonical form prints), well
  // inside int64 nanoseconds.
  constexpr int64_t kFirst = -2208988800, kEnd = 7289654400;  // 1900-01-01, 2201-01-01
  if (sec < kFirst || sec >= kEnd) return std::nullopt;
  return sec * 1000000000 + frac_ns;
}

Result<Expr> Expr::Parse(std::string_view text, ParseError* error) {
  try {
    Parser p(text);
    Expr e;
    e.root_ = p.ParseAll();
    return e;
  } catch (const Failure& f) {
    if (error) *error = ParseError{f.column, f.message};
    return Status::Invalid("column " + std::to_string(f.column) + ": " + f.message);
  }
}

std::string NodeText(const Node& n) {
  std::string out;
  Print(n, &out);
  return out;
}

std::string Expr::ToString() const {
  std::string out;
  if (root_) Print(*root_, &out);
  return out;
}

std::vector<Key> Expr::Keys() const {
  std::vector<Key> keys;
  std::function<void(const Node&)> walk = [&](const Node& n) {
    if (n.kind == Node::Kind::kTest) {
      if (std::find(keys.begin(), keys.end(), n.key) == keys.end()) keys.push_back(n.key);
      return;
    }
    for (const auto& k : n.kids) walk(k);
  };
  if (root_) walk(*root_);
  return keys;
}

std::vector<const Node*> Expr::Conjuncts() const {
  std::vector<const Node*> out;
  if (!root_) return out;
  if (root_->kind == Node::Kind::kAnd) {
    for (const auto& k : root_->kids) out.push_back(&k);
  } else {
    out.push_back(&*root_);
  }
  return out;
}

std::string Caret(std::string_view text, size_t column) {
  std::string shown = EscapeText(text);
  size_t upto = column == 0 ? 0 : std::min(column - 1, text.size());
  std::string before = EscapeText(text.substr(0, upto));
  size_t width = 0;
  for (unsigned char c : before)
    if ((c & 0xC0) != 0x80) ++width;  // one column per UTF-8 character
  return shown + "\n" + std::string(width, ' ') + "^";
}

}  // namespace modelfs::expr
