// The model card (index/card.h): what it shows, in which form, and that it
// is the same text for the same index.
#include <catch2/catch.hpp>
#include <string>

#include "index/card.h"
#include "index/registry.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

std::string Card(Registry& reg, const std::string& model, size_t max_versions = 20) {
  auto s = reg.Read();
  REQUIRE(s.ok());
  auto m = s->GetModel(model);
  REQUIRE(m.ok());
  auto c = ModelCard(*s, *m, CardOptions{max_versions});
  REQUIRE(c.ok());
  return *c;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the card shows the model's fields, aliases and a table of its versions", "[card]") {
  Fixture f;
  f.Push("churn", {{"metrics.auc", "0.91"}, {"metrics.latency_ms", "14"}});
  WriteFile(f.src + "/README.md", "# v2's own card\n");
  f.Push("churn", {{"metrics.auc", "0.93"}, {"metrics.f1", "0.5"}, {"lineage.parents", "churn@1"},
                   {"lineage.code", "git+https://git/churn@9c1e"}});
  REQUIRE(f.reg->SetModelMeta("churn", {{"description", "predicts churn\nfor | pipes"}}, Alice()).ok());
  REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  REQUIRE(f.reg->Approve("churn", 2, true, "offline eval ok", Actor{2, "bob"}).ok());

  std::string c = Card(*f.reg, "churn");
  INFO(c);
  CHECK(c.rfind("# churn\n\npredicts churn\nfor | pipes\n\n", 0) == 0);
  CHECK(Has(c, "- **Owner:** alice\n"));
  CHECK(Has(c, "- **Latest:** v2\n"));
  CHECK(Has(c, "- **Aliases:** `production` → v1\n"));
  CHECK(Has(c, "All 2 versions, newest first."));
  // Columns: the union of the metric keys, sorted; a link column as v2 has
  // its own README.md.
  CHECK(Has(c, "| version | state | approval | aliases | created_by | created_at | auc | f1 | "
               "latency_ms | card |\n"));
  // Newest first; a missing metric is blank; 14 in FormatMetric's form.
  size_t r2 = c.find("| v2 | ready | approved |  | alice |");
  size_t r1 = c.find("| v1 | ready | pending | production | alice |");
  REQUIRE(r2 != std::string::npos);
  REQUIRE(r1 != std::string::npos);
  CHECK(r2 < r1);
  std::string row1 = c.substr(r1, c.find('\n', r1) - r1);
  std::string row2 = c.substr(r2, c.find('\n', r2) - r2);
  CHECK(Has(row1, "| 0.91 |  | 14 |  |"));
  CHECK(Has(row2, "| 0.93 | 0.5 |  | [v2/README.md](v2/README.md) |"));
  CHECK(Has(c, "- v2: approved by bob at "));
  CHECK(Has(c, " — offline eval ok\n"));
  CHECK(Has(c, "- v2: parents churn@1; code git+https://git/churn@9c1e\n"));
  CHECK_FALSE(Has(c, "- v1:"));  // no approval, no lineage

  // The same index, the same bytes (no time of generation in it).
  CHECK(Card(*f.reg, "churn") == c);
}

TEST_CASE("the card shows the newest versions and says how many more there are", "[card]") {
  Fixture f;
  for (int i = 1; i <= 5; ++i) f.Push("churn", {{"metrics.step", std::to_string(i)}});
  std::string c = Card(*f.reg, "churn", 3);
  INFO(c);
  CHECK(Has(c, "The newest 3 of 5 versions; 2 older versions not shown"));
  CHECK(Has(c, "| v5 |"));
  CHECK(Has(c, "| v3 |"));
  CHECK_FALSE(Has(c, "| v2 |"));
  CHECK_FALSE(Has(c, "| v1 |"));
  CHECK_FALSE(Has(c, "| card |"));  // no version has its own README.md
  CHECK(Has(c, "No lineage recorded for the versions shown."));
}

TEST_CASE("a table cell keeps its row: pipes and newlines are escaped", "[card]") {
  Fixture f;
  f.Push("churn");
  REQUIRE(f.reg->Approve("churn", 1, false, "bad | worse\nworst", Actor{2, "bob"}).ok());
  std::string c = Card(*f.reg, "churn");
  INFO(c);
  CHECK(Has(c, "- v1: rejected by bob at "));
  CHECK(Has(c, " — bad | worse\\nworst\n"));  // one line
  CHECK(Has(c, "_No description._"));
}

TEST_CASE("README.md can name no version or alias, so the card hides none", "[card][names]") {
  CHECK_FALSE(CheckAliasName(kCardName).ok());
  CHECK(ParseVersionDir(kCardName) == 0);
  CHECK(CheckAliasName("readme").ok());  // a plain alias name is fine
  Status why = CardReadOnly("churn", "unlink");
  CHECK(why.code() == Code::kReadOnly);
  CHECK(why.message().rfind("unlink churn/README.md: ", 0) == 0);
}
