// compare and diff (compare.h): rows of fields built from version records,
// and the walk of two versions' trees.
#include "index/compare.h"

#include <map>
#include <set>

namespace modelfs {

namespace {

// The fields about the files rather than the metadata: diff lists files.
bool IsFileField(std::string_view key) {
  return key == "created_at" || key == "created_by" || key == "size" || key == "files" ||
         key == "digest";
}

CompareCell Text(const std::string& s) {
  if (s.empty()) return {};
  return {s, std::nullopt};
}

CompareCell Number(double d, std::string text) { return {std::move(text), d}; }

}  // namespace

Result<Comparison> Compare(const Snapshot& s, const std::vector<Version>& versions) {
  Comparison c;
  if (versions.empty()) return Status::Invalid("nothing to compare");
  std::vector<std::string> aliases;
  for (const auto& v : versions) {
    c.refs.push_back(v.ref());
    Status st;
    aliases.push_back(JoinList(s.AliasesOf(v.model_id, v.number, &st)));
    if (!st.ok()) return st;
  }
  auto row = [&](std::string key, auto&& cell_of) {
    CompareRow r{std::move(key), {}, false};
    for (size_t i = 0; i < versions.size(); ++i) r.cells.push_back(cell_of(versions[i], i));
    for (const auto& cell : r.cells) r.differs = r.differs || !(cell == r.cells.front());
    c.rows.push_back(std::move(r));
  };
  row("state", [](const Version& v, size_t) { return Text(std::string(StateName(v.state))); });
  row("approval", [](const Version& v, size_t) { return Text(v.approval.status); });
  row("aliases", [&](const Version&, size_t i) { return Text(aliases[i]); });
  row("created_at", [](const Version& v, size_t) { return Text(FormatTime(v.created_at_ns)); });
  row("created_by", [](const Version& v, size_t) { return Text(v.created_by); });
  row("size", [](const Version& v, size_t) {
    return Number(static_cast<double>(v.size), std::to_string(v.size));
  });
  row("files", [](const Version& v, size_t) {
    return Number(static_cast<double>(v.files), std::to_string(v.files));
  });
  row("digest", [](const Version& v, size_t) { return Text(v.digest.hex()); });
  row("description", [](const Version& v, size_t) { return Text(v.description); });
  // Each key any version has, in key order within its group.
  std::set<std::string> metrics, params, tags;
  for (const auto& v : versions) {
    for (const auto& [k, _] : v.metrics) metrics.insert(k);
    for (const auto& [k, _] : v.params) params.insert(k);
    for (const auto& [k, _] : v.tags) tags.insert(k);
  }
  for (const auto& k : metrics)
    row("metrics." + k, [&](const Version& v, size_t) {
      auto it = v.metrics.find(k);
      return it == v.metrics.end() ? CompareCell{} : Number(it->second, FormatMetric(it->second));
    });
  auto strings = [&](const std::string& group, const std::set<std::string>& keys,
                     std::map<std::string, std::string> Version::*field) {
    for (const auto& k : keys)
      row(group + "." + k, [&](const Version& v, size_t) {
        auto it = (v.*field).find(k);
        return it == (v.*field).end() ? CompareCell{} : CompareCell{it->second, std::nullopt};
      });
  };
  strings("params", params, &Version::params);
  strings("tags", tags, &Version::tags);
  row("lineage.parents", [](const Version& v, size_t) { return Text(JoinList(v.lineage.parents)); });
  row("lineage.datasets", [](const Version& v, size_t) { return Text(JoinList(v.lineage.datasets)); });
  row("lineage.code", [](const Version& v, size_t) { return Text(v.lineage.code); });
  row("lineage.run", [](const Version& v, size_t) { return Text(v.lineage.run); });
  return c;
}

std::string_view FileChangeName(FileChange::Kind k) {
  switch (k) {
    case FileChange::Kind::kAdded: return "added";
    case FileChange::Kind::kRemoved: return "removed";
    case FileChange::Kind::kChanged: return "changed";
    case FileChange::Kind::kMode: return "mode";
  }
  return "?";
}

Result<VersionDiff> Diff(const Snapshot& s, const Version& a, const Version& b) {
  VersionDiff d{a.ref(), b.ref(), {}, {}};
  auto tree = [&](const Version& v, std::map<std::string, Entry>* out) {
    return s.ForEachPath(v, [&](const std::string& path, const Entry& e) {
      out->emplace(path, e);
      return true;
    });
  };
  std::map<std::string, Entry> before, after;
  MODELFS_RETURN_IF_ERROR(tree(a, &before));
  MODELFS_RETURN_IF_ERROR(tree(b, &after));
  // Both maps are in path order: merge them.
  auto x = before.begin(), y = after.begin();
  while (x != before.end() || y != after.end()) {
    if (y == after.end() || (x != before.end() && x->first < y->first)) {
      d.files.push_back({FileChange::Kind::kRemoved, x->first, x->second, std::nullopt});
      ++x;
    } else if (x == before.end() || y->first < x->first) {
      d.files.push_back({FileChange::Kind::kAdded, y->first, std::nullopt, y->second});
      ++y;
    } else {
      const Entry &p = x->second, &q = y->second;
      bool same_type = (p.mode & 0170000) == (q.mode & 0170000);
      if (!same_type || (!p.is_dir() && !(p.digest == q.digest)))
        d.files.push_back({FileChange::Kind::kChanged, x->first, p, q});
      else if (p.mode != q.mode)
        d.files.push_back({FileChange::Kind::kMode, x->first, p, q});
      ++x;
      ++y;
    }
  }
  auto c = Compare(s, {a, b});
  if (!c.ok()) return c.status();
  for (const auto& r : c->rows)
    if (r.differs && !IsFileField(r.key))
      d.meta.push_back({r.key, r.cells[0].text, r.cells[1].text});
  return d;
}

}  // namespace modelfs
