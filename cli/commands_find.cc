// `modelfs find`: the versions that satisfy an expression (index/expr.h),
// searched by index/find.h among the models the caller may read. A table on
// a terminal; JSON lines (each `show --json`'s object) otherwise or with
// --json. Exit 0 when something matched, 1 when nothing did (as grep).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"
#include "index/find.h"

namespace modelfs::cli {
namespace {

struct FindArgs {
  std::string root;
  std::string expr;  // empty: every version
  std::vector<std::string> sort;
  uint64_t limit = 0;
  bool json = false;
};

// Each line of `text` indented by two spaces, for the caret under an expression.
std::string Indent(const std::string& text) {
  std::string out = "  ";
  for (char c : text) {
    out.push_back(c);
    if (c == '\n') out += "  ";
  }
  return out;
}

// The columns after MODEL@N, STATE and ALIASES: the keys the expression
// and the sort keys name, but those three.
std::vector<expr::Key> Columns(const expr::Expr& e, const std::vector<SortKey>& sort) {
  std::vector<expr::Key> keys = e.Keys();
  for (const auto& s : sort)
    if (std::find(keys.begin(), keys.end(), s.key) == keys.end()) keys.push_back(s.key);
  std::erase_if(keys, [](const expr::Key& k) {
    return k.field == expr::Field::kModel || k.field == expr::Field::kVersion ||
           k.field == expr::Field::kState || k.field == expr::Field::kAlias;
  });
  return keys;
}

int RunFind(const FindArgs& a, bool expr_given) {
  auto e = expr::Expr::All();
  if (expr_given) {
    expr::ParseError err;
    auto parsed = expr::Expr::Parse(a.expr, &err);
    if (!parsed.ok()) {
      std::cerr << "modelfs: find: bad expression at column " << err.column << ": "
                << EscapeText(err.message) << "\n"
                << Indent(expr::Caret(a.expr, err.column)) << "\n";
      return kExitUsage;
    }
    e = std::move(*parsed);
  }
  FindOptions opt;
  for (const auto& s : a.sort) {
    auto k = ParseSortKey(s);
    if (!k.ok()) return UsageError(Status::Invalid("find --sort " + s + ": " + k.status().message()));
    opt.sort.push_back(*k);
  }
  opt.limit = a.limit;
  bool as_json = a.json || !isatty(1);
  const std::vector<expr::Key> columns = Columns(e, opt.sort);
  uint64_t matched = 0;
  int rc = WithSession(a.root, [&](Session& s) -> Status {
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    opt.may_read = [&s](const std::string& model) { return s.MayRead(model); };
    Status shown;  // a version that cannot be shown stops the output
    Status found = Find(*snap, e, opt, [&](const Version& v, const expr::EvalContext& ctx) {
      if (as_json) {
        auto j = VersionJson(*snap, v);
        if (!j.ok()) {
          shown = j.status();
          return false;
        }
        std::cout << DumpJson(*j, -1) << "\n";
      } else {
        if (matched == 0) {
          std::string head = "MODEL@N                          STATE    ALIASES         ";
          for (const auto& k : columns) {
            char cell[160];
            std::snprintf(cell, sizeof cell, " %14s", k.text().c_str());
            head += cell;
          }
          std::cout << head << "\n";
        }
        char line[512];
        std::snprintf(line, sizeof line, "%-32s %-8s %-16s", v.ref().c_str(),
                      std::string(StateName(v.state)).c_str(), JoinList(ctx.aliases(v)).c_str());
        std::string row = line;
        for (const auto& k : columns) {
          auto value = expr::Lookup(k, v, ctx);
          std::string text = value ? expr::ValueText(k, *value) : "-";
          if (k.field == expr::Field::kSize && value) text = FormatSize(v.size);
          std::snprintf(line, sizeof line, " %14s", text.c_str());
          row += line;
        }
        std::cout << EscapeText(row) << "\n";
      }
      // The first line at once (a pipe is block-buffered): what a match-
      // everything query shows before the scan is over.
      if (matched++ == 0) std::cout.flush();
      return true;
    });
    std::cout.flush();
    MODELFS_RETURN_IF_ERROR(shown);
    return found;
  });
  if (rc != kExitOk) return rc;
  return matched ? kExitOk : kExitFail;
}

}  // namespace

Command AddFind(CLI::App& app) {
  auto a = std::make_shared<FindArgs>();
  CLI::App* c = app.add_subcommand("find", "Find versions by an expression on their metadata");
  AddRoot(c, a->root, RootPlace::kLeadingDir);
  CLI::Option* expr = c->add_option(
      "EXPR", a->expr,
      "e.g. 'metrics.auc >= 0.9 and not alias = \"production\"' (every version when left out; "
      "see `man modelfs`)");
  c->add_option("--sort", a->sort, "Order by KEY, -KEY descending (repeatable; missing values last)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  c->add_option("--limit", a->limit, "Print at most N versions")->check(CLI::PositiveNumber);
  AddJson(c, a->json);
  Example(c, {"find 'metrics.auc >= 0.9' --sort -metrics.auc --limit 5",
              "find 'model ~ \"churn*\" and created_at > -30d and not alias = \"production\"'",
              "find 'tags.team in (\"growth\", \"risk\") and state = \"ready\"' --json"});
  return {c, [a, expr] { return RunFind(*a, expr->count() > 0); }};
}

}  // namespace modelfs::cli
