// The SVG charts and the lineage drawing (see charts.h).
#include "web/charts.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "web/html.h"

namespace modelfs::web {

std::vector<ChartPoint> Downsample(const std::vector<ChartPoint>& points,
                                   const std::vector<uint32_t>& keep, size_t max_points) {
  if (points.size() <= max_points || max_points < 2) return points;
  size_t buckets = max_points / 2;
  std::vector<ChartPoint> out;
  out.reserve(max_points + keep.size());
  for (size_t b = 0; b < buckets; ++b) {
    size_t lo = points.size() * b / buckets, hi = points.size() * (b + 1) / buckets;
    if (lo >= hi) continue;
    size_t mn = lo, mx = lo;
    for (size_t i = lo; i < hi; ++i) {
      if (points[i].value < points[mn].value) mn = i;
      if (points[i].value > points[mx].value) mx = i;
      if (std::binary_search(keep.begin(), keep.end(), points[i].version))  // duplicates go below
        out.push_back(points[i]);
    }
    out.push_back(points[std::min(mn, mx)]);
    if (mx != mn) out.push_back(points[std::max(mn, mx)]);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.version < b.version; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](auto& a, auto& b) { return a.version == b.version; }),
            out.end());
  return out;
}

std::string MetricChart(const std::string& metric, const std::vector<ChartPoint>& all,
                        const std::vector<ChartAlias>& aliases) {
  std::vector<uint32_t> keep;
  for (const auto& a : aliases) keep.push_back(a.version);
  std::sort(keep.begin(), keep.end());
  std::vector<ChartPoint> pts = Downsample(all, keep, kMaxChartPoints);
  // The plot area inside margins for the axis labels.
  constexpr double W = 420, H = 220, L = 52, R = 12, T = 14, B = 34;
  double vmin = pts.empty() ? 0 : pts.front().version, vmax = pts.empty() ? 1 : pts.back().version;
  double ymin = 0, ymax = 1;
  if (!pts.empty()) {
    auto [lo, hi] = std::minmax_element(pts.begin(), pts.end(),
                                        [](auto& a, auto& b) { return a.value < b.value; });
    ymin = lo->value;
    ymax = hi->value;
  }
  if (ymax == ymin) { ymin -= 0.5; ymax += 0.5; }
  if (vmax == vmin) { vmin -= 1; vmax += 1; }
  auto x = [&](double v) { return L + (v - vmin) / (vmax - vmin) * (W - L - R); };
  auto y = [&](double v) { return T + (ymax - v) / (ymax - ymin) * (H - T - B); };
  std::string s;
  s.reserve(pts.size() * 80 + 1024);
  s += "<svg class=\"chart\" data-metric=\"" + Html(metric) + "\"";
  if (pts.size() < all.size()) s += " data-downsampled=\"true\"";
  s += " viewBox=\"0 0 420 220\" width=\"420\" height=\"220\" role=\"img\" aria-label=\"" +
       Html(metric) + " by version\"><title>" + Html(metric) + " by version</title>";
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                L, H - B, W - R, H - B, L, T, L, H - B);
  s += buf;
  // Axis labels: the range of each axis and what it shows.
  s += "<text x=\"" + Num(L - 4) + "\" y=\"" + Num(T + 4) + "\" text-anchor=\"end\">" +
       Html(Num(ymax)) + "</text>";
  s += "<text x=\"" + Num(L - 4) + "\" y=\"" + Num(H - B) + "\" text-anchor=\"end\">" +
       Html(Num(ymin)) + "</text>";
  s += "<text x=\"" + Num(L) + "\" y=\"" + Num(H - B + 14) + "\">v" + Num(vmin) + "</text>";
  s += "<text x=\"" + Num(W - R) + "\" y=\"" + Num(H - B + 14) + "\" text-anchor=\"end\">v" +
       Num(vmax) + "</text>";
  s += "<text x=\"" + Num((L + W - R) / 2) + "\" y=\"" + Num(H - 4) +
       "\" text-anchor=\"middle\">version</text>";
  s += "<text x=\"12\" y=\"" + Num((T + H - B) / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 12 " +
       Num((T + H - B) / 2) + ")\">" + Html(metric) + "</text>";
  for (const auto& a : aliases) {
    if (a.version < vmin || a.version > vmax) continue;
    double ax = x(a.version);
    // The label reads away from the nearer edge, so that one near the
    // right (the newest versions, where aliases usually are) is not cut.
    bool right_half = ax > (L + W - R) / 2;
    std::snprintf(buf, sizeof buf,
                  "\" data-version=\"%u\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                  "y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\"%s>",
                  a.version, ax, T, ax, H - B, right_half ? ax - 2 : ax + 2, T + 8,
                  right_half ? " text-anchor=\"end\"" : "");
    s += "<g class=\"alias\" data-alias=\"" + Html(a.name) + buf + Html(a.name) + "</text></g>";
  }
  for (const auto& p : pts) {
    std::snprintf(buf, sizeof buf,
                  "<circle class=\"pt\" data-version=\"%u\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\">"
                  "<title>v%u: ",
                  p.version, x(p.version), y(p.value), p.version);
    s += buf;
    s += Num(p.value) + "</title></circle>";
  }
  s += "</svg>";
  return s;
}

std::string LineageSvg(const LineageGraph& g) {
  // Layers: versions by their depth; a dataset or code node one layer
  // upstream of the first version it feeds.
  std::vector<int> layer(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) layer[i] = g.nodes[i].depth;
  for (const auto& e : g.edges) {
    auto k = g.nodes[e.from].kind;
    if (k == LineageKind::kDataset || k == LineageKind::kCode)
      layer[e.from] = std::min(layer[e.from], g.nodes[e.to].depth - 1);
  }
  int lo = 0, hi = 0;
  for (int l : layer) { lo = std::min(lo, l); hi = std::max(hi, l); }
  constexpr double NW = 170, NH = 28, GX = 50, GY = 14, M = 10;
  std::map<int, int> rows;  // nodes placed in each layer so far
  std::vector<double> nx(g.nodes.size()), ny(g.nodes.size());
  int max_rows = 1;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    int r = rows[layer[i]]++;
    max_rows = std::max(max_rows, r + 1);
    nx[i] = M + (layer[i] - lo) * (NW + GX);
    ny[i] = M + r * (NH + GY);
  }
  double w = 2 * M + (hi - lo + 1) * NW + (hi - lo) * GX, h = 2 * M + max_rows * (NH + GY) - GY;
  std::string s = "<svg id=\"lineage\" viewBox=\"0 0 " + Num(w) + " " + Num(h) + "\" width=\"" +
                  Num(w) + "\" height=\"" + Num(h) + "\" role=\"img\" aria-label=\"lineage\">";
  char buf[256];
  for (const auto& e : g.edges) {
    std::snprintf(buf, sizeof buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                  nx[e.from] + NW, ny[e.from] + NH / 2, nx[e.to], ny[e.to] + NH / 2);
    s += buf;
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& n = g.nodes[i];
    s += "<g class=\"node" + std::string(i == 0 ? " root" : "") + "\" data-id=\"" + Html(n.id) +
         "\" data-kind=\"" + std::string(LineageKindName(n.kind)) + "\">";
    bool link = n.kind == LineageKind::kVersion && n.version;
    if (link)
      s += "<a href=\"/m/" + Url(n.version->model) + "/v" + std::to_string(n.version->number) + "\">";
    std::snprintf(buf, sizeof buf,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" rx=\"4\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\">",
                  nx[i], ny[i], NW, NH, nx[i] + 6, ny[i] + NH / 2 + 4);
    s += buf;
    std::string label = n.label;
    if (label.size() > 26) {  // cut on a character boundary
      size_t k = 25;
      while (k > 0 && (static_cast<unsigned char>(label[k]) & 0xC0) == 0x80) --k;
      label = label.substr(0, k) + "…";
    }
    s += Html(label) + "<title>" + Html(n.label) + "</title></text>";
    if (link) s += "</a>";
    s += "</g>";
  }
  s += "</svg>";
  return s;
}

}  // namespace modelfs::web
