// Lineage graphs (SPEC §8): from one version, up through lineage.parents
// and down through the versions that name it as a parent (the children
// table, see registry.cc's layout: an index lookup per node, never a scan),
// with each version's datasets and code as leaves. The CLI renders the
// graph as a tree, JSON, Graphviz dot or SVG.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "index/registry.h"

namespace modelfs {

enum class LineageKind : uint8_t {
  kVersion,  // a version the caller may read: `version` is set
  kMissing,  // a parent that does not exist (removed by gc, or never was)
  kHidden,   // a version of a model the caller may not read: no name, no metadata
  kDataset,  // a lineage.datasets URI
  kCode,     // a lineage.code reference
};
std::string_view LineageKindName(LineageKind k);

struct LineageNode {
  std::string id;  // "churn@3", "dataset:URI", "code:REF", "hidden:N" (unique in the graph)
  LineageKind kind = LineageKind::kVersion;
  std::string label;  // what to show: "churn@3", the URI, "(hidden)"
  std::optional<Version> version;  // kVersion only
  int depth = 0;  // version hops from the root: < 0 upstream, > 0 downstream
};

// An edge runs from the upstream node to the downstream one: parent →
// child, dataset → version, code → version.
struct LineageEdge {
  size_t from = 0, to = 0;  // indexes into LineageGraph::nodes
  bool operator==(const LineageEdge&) const = default;
};

struct LineageGraph {
  std::vector<LineageNode> nodes;  // nodes[0] is the root, then in walk order
  std::vector<LineageEdge> edges;  // each once
  // The edges into and out of node i, in the order found (parents in
  // lineage.parents' order, then datasets, then code; children in key order).
  std::vector<size_t> Upstream(size_t i) const;
  std::vector<size_t> Downstream(size_t i) const;
};

struct LineageOptions {
  bool up = true;
  bool down = false;
  // Version hops followed from the root in each direction; nullopt: all.
  std::optional<unsigned> depth;
  // Whether the caller may read versions of `model`; a version it may not
  // read becomes a kHidden node, and the walk does not go through it (its
  // own parents and children are its metadata). Unset: everything.
  std::function<bool(const std::string& model)> may_read;
};

// The lineage of `root` (which the caller may read). Each version once,
// however many paths lead to it (a DAG, or a cycle made by `set`).
Result<LineageGraph> BuildLineage(const Snapshot& s, const Version& root,
                                  const LineageOptions& opt);

}  // namespace modelfs
