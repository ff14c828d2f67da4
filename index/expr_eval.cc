// The evaluator of the expression language (expr.h): a parsed tree against
// one version. The parser is expr.cc.
#include <fnmatch.h>

#include <string>
#include <vector>

#include "index/expr.h"
#include "index/expr_internal.h"
#include "index/names.h"

namespace modelfs::expr {
namespace {

using detail::Number;

int Cmp(double a, double b) { return a < b ? -1 : a > b ? 1 : 0; }
int Cmp(int64_t a, int64_t b) { return a < b ? -1 : a > b ? 1 : 0; }
int Cmp(const std::string& a, const std::string& b) { return a.compare(b) < 0 ? -1 : a == b ? 0 : 1; }

bool Holds(Op op, int c) {
  switch (op) {
    case Op::kEq: case Op::kIn: return c == 0;
    case Op::kNe: return c != 0;
    case Op::kLt: return c < 0;
    case Op::kLe: return c <= 0;
    case Op::kGt: return c > 0;
    case Op::kGe: return c >= 0;
    default: return false;
  }
}

// One value against one literal (for `in`, each in turn).
bool TestOne(Op op, const Value& v, const Literal& lit, const EvalContext& ctx) {
  if (const auto* d = std::get_if<double>(&v)) {
    return lit.kind == Literal::Kind::kNumber && Holds(op, Cmp(*d, lit.number));
  }
  if (const auto* t = std::get_if<int64_t>(&v)) {
    if (lit.kind == Literal::Kind::kTime) return Holds(op, Cmp(*t, lit.ns));
    if (lit.kind == Literal::Kind::kRelativeTime) return Holds(op, Cmp(*t, ctx.now_ns + lit.ns));
    return false;
  }
  const auto& s = std::get<std::string>(v);
  if (lit.kind == Literal::Kind::kNumber) {  // a param or tag read as a number
    auto n = Number(s);
    return n && Holds(op, Cmp(*n, lit.number));
  }
  if (lit.kind != Literal::Kind::kString) return false;
  if (op == Op::kGlob) return fnmatch(lit.text.c_str(), s.c_str(), 0) == 0;
  return Holds(op, Cmp(s, lit.text));
}

bool TestScalar(const Node& n, const Value& v, const EvalContext& ctx) {
  for (const auto& lit : n.values)
    if (TestOne(n.op, v, lit, ctx)) return true;
  return false;
}

}  // namespace

std::optional<Value> Lookup(const Key& key, const Version& v, const EvalContext& ctx) {
  switch (key.field) {
    case Field::kMetric: {
      auto it = v.metrics.find(key.name);
      if (it == v.metrics.end()) return std::nullopt;
      return Value(it->second);
    }
    case Field::kParam:
    case Field::kTag: {
      const auto& m = key.field == Field::kParam ? v.params : v.tags;
      auto it = m.find(key.name);
      if (it == m.end()) return std::nullopt;
      return Value(it->second);
    }
    case Field::kModel: return Value(v.model);
    case Field::kVersion: return Value(static_cast<double>(v.number));
    case Field::kState: return Value(std::string(StateName(v.state)));
    case Field::kApproval: return Value(v.approval.status);
    case Field::kAlias: {
      std::vector<std::string> names;
      if (ctx.aliases) names = ctx.aliases(v);
      return Value(std::move(names));
    }
    case Field::kCreatedBy: return Value(v.created_by);
    case Field::kCreatedAt: return Value(static_cast<int64_t>(v.created_at_ns));
    case Field::kSize: return Value(static_cast<double>(v.size));
    case Field::kLastUsedAt: {
      std::optional<int64_t> t;
      if (ctx.last_used_at) t = ctx.last_used_at(v);
      if (!t) return std::nullopt;
      return Value(*t);
    }
  }
  return std::nullopt;
}

std::string ValueText(const Key& key, const Value& value) {
  if (const auto* d = std::get_if<double>(&value)) return FormatMetric(*d);
  if (const auto* t = std::get_if<int64_t>(&value)) return FormatTime(*t);
  if (const auto* l = std::get_if<std::vector<std::string>>(&value)) return JoinList(*l);
  (void)key;
  return std::get<std::string>(value);
}

int CompareValues(const Value& a, const Value& b) {
  if (a.index() != b.index()) return a.index() < b.index() ? -1 : 1;
  if (const auto* d = std::get_if<double>(&a)) return Cmp(*d, std::get<double>(b));
  if (const auto* t = std::get_if<int64_t>(&a)) return Cmp(*t, std::get<int64_t>(b));
  if (const auto* l = std::get_if<std::vector<std::string>>(&a))
    return Cmp(JoinList(*l), JoinList(std::get<std::vector<std::string>>(b)));
  const auto& sa = std::get<std::string>(a);
  const auto& sb = std::get<std::string>(b);
  auto na = Number(sa), nb = Number(sb);
  if (na && nb) return Cmp(*na, *nb);
  return Cmp(sa, sb);
}

bool EvalNode(const Node& n, const Version& v, const EvalContext& ctx) {
  switch (n.kind) {
    case Node::Kind::kAnd:
      for (const auto& k : n.kids)
        if (!EvalNode(k, v, ctx)) return false;
      return true;
    case Node::Kind::kOr:
      for (const auto& k : n.kids)
        if (EvalNode(k, v, ctx)) return true;
      return false;
    case Node::Kind::kNot: return !EvalNode(n.kids[0], v, ctx);
    case Node::Kind::kTest: break;
  }
  auto value = Lookup(n.key, v, ctx);
  // A version never used compares as used at the epoch, so that
  // `last_used_at < -30d` finds what nothing serves, never-used ones too
  // (SPEC §8); exists(last_used_at) still tells them apart.
  if (!value && n.key.field == Field::kLastUsedAt && n.op != Op::kExists) value = Value(int64_t{0});
  if (n.op == Op::kExists) {
    if (!value) return false;
    if (const auto* l = std::get_if<std::vector<std::string>>(&*value)) return !l->empty();
    return true;
  }
  if (!value) return false;
  if (const auto* l = std::get_if<std::vector<std::string>>(&*value)) {
    // alias: a set of names. != holds when no name equals; the rest when one satisfies.
    if (n.op == Op::kNe) {
      Node eq = n;
      eq.op = Op::kEq;
      for (const auto& name : *l)
        if (TestScalar(eq, Value(name), ctx)) return false;
      return true;
    }
    for (const auto& name : *l)
      if (TestScalar(n, Value(name), ctx)) return true;
    return false;
  }
  return TestScalar(n, *value, ctx);
}

bool Expr::Eval(const Version& v, const EvalContext& ctx) const {
  return !root_ || EvalNode(*root_, v, ctx);
}

}  // namespace modelfs::expr
