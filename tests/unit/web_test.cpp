// web/charts: the downsampling that keeps a chart of 10,000 versions
// small, and the SVG's contract (one circle.pt per point kept, alias
// markers, data-downsampled).
#include <catch2/catch.hpp>

#include <string>

#include "web/charts.h"
#include "web/html.h"

using namespace modelfs;
using namespace modelfs::web;

namespace {
size_t Count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("Downsample keeps each bucket's extremes and every aliased version") {
  std::vector<ChartPoint> pts;
  for (uint32_t v = 1; v <= 10000; ++v) pts.push_back({v, v == 4321 ? 100.0 : v == 777 ? -5.0 : 0.5});
  auto out = Downsample(pts, {1234, 9999}, 1000);
  REQUIRE(out.size() <= 1000 + 2);
  REQUIRE(out.size() >= 500);
  auto has = [&](uint32_t v) {
    for (const auto& p : out)
      if (p.version == v) return true;
    return false;
  };
  CHECK(has(4321));  // the maximum
  CHECK(has(777));   // the minimum
  CHECK(has(1234));  // aliased
  CHECK(has(9999));
  for (size_t i = 1; i < out.size(); ++i) CHECK(out[i - 1].version < out[i].version);
  // Few points are left as they are.
  CHECK(Downsample({{1, 1.0}, {2, 2.0}}, {}, 1000).size() == 2);
}

TEST_CASE("MetricChart: a circle per point, alias markers, data-downsampled past 1,000") {
  std::vector<ChartPoint> pts;
  for (uint32_t v = 1; v <= 3; ++v) pts.push_back({v, 0.1 * v});
  std::string small = MetricChart("metrics.auc", pts, {{"production", 2}, {"gone", 99}});
  CHECK(Count(small, "<circle class=\"pt\"") == 3);
  CHECK(small.find("data-metric=\"metrics.auc\"") != std::string::npos);
  CHECK(small.find("<g class=\"alias\" data-alias=\"production\" data-version=\"2\">") != std::string::npos);
  CHECK(small.find("data-alias=\"gone\"") == std::string::npos);  // outside the chart's versions
  CHECK(small.find("data-downsampled") == std::string::npos);
  for (uint32_t v = 4; v <= 5000; ++v) pts.push_back({v, double(v % 17)});
  std::string big = MetricChart("metrics.auc", pts, {{"production", 2}});
  CHECK(big.find("data-downsampled=\"true\"") != std::string::npos);
  CHECK(Count(big, "<circle class=\"pt\"") <= kMaxChartPoints + 1);
  CHECK(big.find("<circle class=\"pt\" data-version=\"2\"") != std::string::npos);
}

TEST_CASE("Html and Url escape what would break out of their context") {
  CHECK(Html("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  CHECK(Url("a b/c@1") == "a%20b%2Fc%401");
}
