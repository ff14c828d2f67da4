// The SVG drawings of the pages, made on the server so that they need no
// script: a metric across a model's versions with its aliases marked, and
// a version's lineage graph in layers (no Graphviz needed at serve time).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "index/lineage.h"

namespace modelfs::web {

struct ChartPoint {
  uint32_t version = 0;
  double value = 0;
};
struct ChartAlias {
  std::string name;
  uint32_t version = 0;
};

// Points past this are downsampled: a chart is a few hundred pixels wide,
// and 10,000 circles make a page slow to draw for nothing.
inline constexpr size_t kMaxChartPoints = 1000;

// Keeps, of `points` (in version order), the lowest and the highest value
// of each of max_points/2 buckets of consecutive versions, and every point
// whose version is in `keep` (sorted): the shape of the curve, its
// extremes, and the aliased versions. Unchanged when there are at most
// `max_points`.
std::vector<ChartPoint> Downsample(const std::vector<ChartPoint>& points,
                                   const std::vector<uint32_t>& keep, size_t max_points);

// <svg class="chart" data-metric="K"> with one <circle class="pt"
// data-version="N"> per point (after Downsample; data-downsampled="true"
// when it dropped any), an axis with its labels, and one <g class="alias"
// data-alias data-version> (a line and a label) per alias on a version
// within the chart's range.
std::string MetricChart(const std::string& metric, const std::vector<ChartPoint>& points,
                        const std::vector<ChartAlias>& aliases);

// <svg id="lineage"> with one <g class="node" data-id="ID"> per node (a
// link to each readable version), upstream on the left, in layers by
// distance from the root, and a line per edge.
std::string LineageSvg(const LineageGraph& g);

}  // namespace modelfs::web
