// Fuzzes the expression language (index/expr.h): any text through Parse,
// and --sort keys through ParseSortKey. Beyond "no crash": an accepted
// expression's canonical form parses back to itself and evaluates the same
// on a sample version; a refusal is one printable line whose column lies
// within the text (or just past its end), and the caret under it renders.
#include <string>

#include "index/expr.h"
#include "index/find.h"
#include "tests/fuzz/check.h"

using namespace modelfs;

namespace {

bool Printable(std::string_view s) { return CheckEntryPath(s).ok(); }

const Version& Sample() {
  static const Version v = [] {
    Version x;
    x.model = "churn";
    x.number = 3;
    x.size = 3 << 20;
    x.created_by = "alice";
    x.created_at_ns = int64_t{1795737600} * 1000000000;
    x.metrics = {{"auc", 0.91}, {"loss", -0.2}};
    x.params = {{"lr", "0.05"}, {"opt", "adam"}};
    x.tags = {{"team", "growth"}};
    return x;
  }();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::Text(data, size);
  expr::EvalContext ctx;
  ctx.now_ns = int64_t{1795737600} * 1000000000;
  ctx.aliases = [](const Version&) { return std::vector<std::string>{"production"}; };
  expr::ParseError err;
  auto e = expr::Expr::Parse(text, &err);
  if (!e.ok()) {
    FUZZ_CHECK(e.status().code() == Code::kInvalid && Printable(e.status().message()), text);
    FUZZ_CHECK(err.column >= 1 && err.column <= text.size() + 1, text);
    std::string caret = expr::Caret(text, err.column);
    FUZZ_CHECK(!caret.empty() && caret.back() == '^', text);
  } else {
    std::string canon = e->ToString();
    auto again = expr::Expr::Parse(canon);
    FUZZ_CHECK(again.ok(), text);
    FUZZ_CHECK(again->ToString() == canon, text);
    FUZZ_CHECK(again->Eval(Sample(), ctx) == e->Eval(Sample(), ctx), text);
    FUZZ_CHECK(!e->Keys().empty() && !e->Conjuncts().empty(), text);
  }
  auto k = ParseSortKey(text);
  if (k.ok()) {
    std::string back = (k->descending ? "-" : "") + k->key.text();
    auto k2 = ParseSortKey(back);
    FUZZ_CHECK(k2.ok() && k2->key == k->key && k2->descending == k->descending, text);
  } else {
    FUZZ_CHECK(Printable(k.status().message()), text);
  }
  return 0;
}
