// The model card (see card.h): markdown made from one snapshot. Sections in
// the order the card shows them: the model's own fields, the versions
// table, approvals, lineage.
#include "index/card.h"

#include <algorithm>
#include <deque>
#include <set>
#include <sstream>

#include "index/registry.h"

namespace modelfs {

namespace {

std::string VersionDir(uint32_t n) { return "v" + std::to_string(n); }

// Text on one line (control characters escaped, see EscapeText).
std::string Inline(std::string_view text) { return EscapeText(text); }

// A table cell: on one line, and a '|' in it does not end the cell.
std::string Cell(std::string_view text) {
  std::string out;
  for (char c : Inline(text)) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

// A description may span lines: each line kept, escaped on its own.
std::string Paragraph(std::string_view text) {
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    if (!out.empty() || start > 0) out += '\n';
    out += Inline(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string Plural(size_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace

Result<std::string> ModelCard(const Snapshot& s, const Model& m, const CardOptions& opt,
                              int64_t* newest_ns) {
  // The newest versions, oldest first (as the text used to be built from
  // a forward scan), then shown newest first. Only those are read: a model
  // of 10,000 versions costs as much as one of 20, plus a key count.
  std::deque<Version> shown;
  if (opt.max_versions > 0) {
    MODELFS_RETURN_IF_ERROR(s.ForEachVersionNewestFirst(m.id, [&](const Version& v) {
      shown.push_front(v);
      return shown.size() < opt.max_versions;
    }));
  }
  auto counted = s.CountVersions(m.id);
  if (!counted.ok()) return counted.status();
  size_t total = *counted;
  std::vector<Alias> aliases;
  MODELFS_RETURN_IF_ERROR(s.ForEachAlias(m.id, "", [&](const Alias& a) {
    aliases.push_back(a);
    return true;
  }));
  Status read;
  uint32_t latest = s.LatestReady(m.id, &read);
  MODELFS_RETURN_IF_ERROR(read);
  if (newest_ns) {
    int64_t t = m.created_at_ns;
    for (const Version& v : shown) t = std::max({t, v.created_at_ns, v.approval.at_ns});
    for (const Alias& a : aliases) t = std::max(t, a.updated_at_ns);
    *newest_ns = t;
  }

  std::ostringstream o;
  o << "# " << m.name << "\n\n";
  o << (m.description.empty() ? std::string("_No description._") : Paragraph(m.description))
    << "\n\n";
  o << "- **Owner:** " << Inline(m.owner) << "\n";
  o << "- **Created:** " << FormatTime(m.created_at_ns);
  if (!m.created_by.empty()) o << " by " << Inline(m.created_by);
  o << "\n";
  o << "- **Latest:** " << (latest ? VersionDir(latest) : std::string("none (no ready version)"))
    << "\n";
  o << "- **Versions:** " << total << " (next: " << VersionDir(m.next_version) << ")\n";
  o << "- **Aliases:** ";
  if (aliases.empty()) o << "none";
  for (size_t i = 0; i < aliases.size(); ++i)
    o << (i ? ", " : "") << "`" << aliases[i].name << "` → " << VersionDir(aliases[i].version);
  o << "\n\n";

  // ---------------------------------------------------------- versions
  o << "## Versions\n\n";
  if (total == 0) {
    o << "No versions yet.\n";
    return o.str();
  }
  if (total > shown.size())
    o << "The newest " << shown.size() << " of " << total << " versions; "
      << Plural(total - shown.size(), "older version") << " not shown (`modelfs list " << m.name
      << "` lists every one).\n\n";
  else
    o << (total == 1 ? std::string("The one version.") : "All " + std::to_string(total) +
                                                             " versions, newest first.")
      << "\n\n";

  std::set<std::string> metric_keys;
  bool any_readme = false;
  std::vector<bool> has_readme;
  for (auto it = shown.rbegin(); it != shown.rend(); ++it) {
    for (const auto& [k, x] : it->metrics) metric_keys.insert(k);
    auto e = s.GetEntry(it->id, kCardName);
    if (!e.ok() && e.status().code() != Code::kNotFound) return e.status();
    bool has = e.ok() && !e->is_dir();
    has_readme.push_back(has);
    any_readme = any_readme || has;
  }
  o << "| version | state | approval | aliases | created_by | created_at |";
  for (const std::string& k : metric_keys) o << " " << Cell(k) << " |";
  if (any_readme) o << " card |";
  o << "\n|---|---|---|---|---|---|";
  for (size_t i = 0; i < metric_keys.size(); ++i) o << "---:|";
  if (any_readme) o << "---|";
  o << "\n";
  size_t row = 0;
  for (auto it = shown.rbegin(); it != shown.rend(); ++it, ++row) {
    const Version& v = *it;
    std::vector<std::string> names;
    for (const Alias& a : aliases)
      if (a.version == v.number) names.push_back(a.name);
    o << "| " << VersionDir(v.number) << " | " << StateName(v.state) << " | "
      << Cell(v.approval.status) << " | " << Cell(JoinList(names)) << " | " << Cell(v.created_by)
      << " | " << FormatTime(v.created_at_ns) << " |";
    for (const std::string& k : metric_keys) {
      auto x = v.metrics.find(k);
      o << " " << (x == v.metrics.end() ? std::string() : FormatMetric(x->second)) << " |";
    }
    if (any_readme) {
      std::string link = VersionDir(v.number) + "/" + std::string(kCardName);
      o << " " << (has_readme[row] ? "[" + link + "](" + link + ")" : std::string()) << " |";
    }
    o << "\n";
  }

  // ---------------------------------------------------------- approvals
  o << "\n## Approvals\n\n";
  bool any = false;
  for (auto it = shown.rbegin(); it != shown.rend(); ++it) {
    const Approval& a = it->approval;
    if (a.status == "pending" || a.status.empty()) continue;
    any = true;
    o << "- " << VersionDir(it->number) << ": " << Inline(a.status);
    if (!a.by.empty()) o << " by " << Inline(a.by);
    if (a.at_ns != 0) o << " at " << FormatTime(a.at_ns);
    if (!a.comment.empty()) o << " — " << Inline(a.comment);
    o << "\n";
  }
  if (!any) o << "None of the versions shown is approved or rejected yet.\n";

  // ---------------------------------------------------------- lineage
  o << "\n## Lineage\n\n";
  any = false;
  for (auto it = shown.rbegin(); it != shown.rend(); ++it) {
    const Lineage& l = it->lineage;
    std::vector<std::string> parts;
    if (!l.parents.empty()) parts.push_back("parents " + Inline(JoinList(l.parents)));
    if (!l.datasets.empty()) parts.push_back("datasets " + Inline(JoinList(l.datasets)));
    if (!l.code.empty()) parts.push_back("code " + Inline(l.code));
    if (!l.run.empty()) parts.push_back("run " + Inline(l.run));
    if (parts.empty()) continue;
    any = true;
    o << "- " << VersionDir(it->number) << ": ";
    for (size_t i = 0; i < parts.size(); ++i) o << (i ? "; " : "") << parts[i];
    o << "\n";
  }
  if (!any) o << "No lineage recorded for the versions shown.\n";
  return o.str();
}

Status CardReadOnly(std::string_view model, std::string_view what) {
  return Status::ReadOnly(std::string(what) + " " + std::string(model) + "/" +
                          std::string(kCardName) +
                          ": the model card is generated from the index and cannot be changed "
                          "(set the model's description with `modelfs set " +
                          std::string(model) + " description=...`)");
}

}  // namespace modelfs
