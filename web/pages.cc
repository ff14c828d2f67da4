// The HTML pages (see pages.h). Each reads one snapshot of the index, asks
// the Site whether the identity may read what it shows, and renders; the
// registry's own calls (index/card, find, compare, lineage) do the work.
#include "web/pages.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "index/card.h"
#include "index/compare.h"
#include "index/events.h"
#include "index/expr.h"
#include "index/find.h"
#include "index/lineage.h"
#include "index/names.h"
#include "web/charts.h"

namespace modelfs::web {

using policy::Identity;
using policy::Operation;

namespace {

std::string VersionLink(const std::string& model, uint32_t n) {
  return "<a href=\"/m/" + Url(model) + "/v" + std::to_string(n) + "\">v" + std::to_string(n) +
         "</a>";
}

std::string Td(const std::string& html) { return "<td>" + html + "</td>"; }
std::string NumTd(std::optional<double> x) {
  if (!x) return "<td class=\"num\" data-value=\"\"></td>";
  return "<td class=\"num\" data-value=\"" + Num(*x) + "\">" + Num(*x) + "</td>";
}

// A positive integer parameter within [1, max], else `fallback`.
uint64_t Positive(const Query& q, const std::string& name, uint64_t fallback, uint64_t max) {
  std::string t = QueryValue(q, name);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size() || v == 0) return fallback;
  return std::min(v, max);
}

// The newest use of any version of the model, 0 when none was recorded.
int64_t LastUsed(const Snapshot& s, const Model& m) {
  int64_t last = 0;
  (void)s.ForEachVersion(m.id, 0, [&](const Version& v) {
    if (auto u = s.UsageOf(m.id, v.number)) last = std::max(last, u->last_used_at_ns);
    return true;
  });
  return last;
}

}  // namespace

Reply IndexPage(Site& site, const Identity& who) {
  auto snap = site.reg().Read();
  if (!snap.ok()) return ErrorPage(snap.status());
  std::string rows;
  size_t shown = 0;
  Status listed = snap->ForEachModel("", [&](const Model& m) {
    if (!site.MayRead(who, m.name)) return true;  // absent, as from `list`
    ++shown;
    uint32_t latest = snap->LatestReady(m.id);
    std::string aliases;
    (void)snap->ForEachAlias(m.id, "", [&](const Alias& a) {
      aliases += (aliases.empty() ? "" : ", ") + Html(a.name) + " → " + VersionLink(m.name, a.version);
      return true;
    });
    int64_t used = LastUsed(*snap, m);
    rows += "<tr data-model=\"" + Html(m.name) + "\"><td><a href=\"/m/" + Url(m.name) + "\">" +
            Html(m.name) + "</a></td>" + Td(Html(m.owner)) +
            "<td data-value=\"" + (latest ? std::to_string(latest) : "") + "\">" +
            (latest ? VersionLink(m.name, latest) : "—") + "</td>" + Td(aliases) +
            Td(used ? Html(FormatTime(used)) : "never") + "</tr>\n";
    return true;
  });
  std::string body = "<h1>Models</h1>";
  if (!listed.ok()) body += "<p class=\"error\">" + Html(listed.message()) + "</p>";
  body += "<p>" + std::to_string(shown) + " model" + (shown == 1 ? "" : "s") +
          " you may read.</p><div class=\"scroll\"><table id=\"models\"><thead><tr>"
          "<th data-key=\"model\">model</th><th data-key=\"owner\">owner</th>"
          "<th data-key=\"latest\">latest</th><th>aliases</th><th data-key=\"last_used\">last "
          "used</th></tr></thead><tbody>\n" +
          rows + "</tbody></table></div>";
  Reply r;
  r.body = Page("models", body);
  return r;
}

namespace {

// What the model page shows of each version, kept small: a model may have
// 10,000 versions, and copying whole records costs more than reading them.
struct Row {
  uint32_t number;
  State state;
  std::string approval;
  int64_t created_ns;
  std::vector<std::pair<std::string, double>> metrics;  // sorted by key
  const double* metric(const std::string& k) const {
    auto it = std::lower_bound(metrics.begin(), metrics.end(), k,
                               [](const auto& p, const std::string& key) { return p.first < key; });
    return it != metrics.end() && it->first == k ? &it->second : nullptr;
  }
};

// Everything the model page reads of the index but the model record: the
// part that costs (two passes over the versions: ours and the card's),
// cached by the Site until the next change.
struct ModelView {
  std::vector<Row> rows;  // in version order
  std::set<std::string> keys;  // metric keys of any version
  std::map<uint32_t, std::vector<std::string>> alias_of;
  std::string charts;  // the SVG charts, one per metric
  std::string card;    // the card as HTML (or its error)
  Status read;         // a version that could not be read
};

std::shared_ptr<const ModelView> LoadView(const Snapshot& snap, const Model& m) {
  auto view = std::make_shared<ModelView>();
  view->read = snap.ForEachVersion(m.id, 0, [&](const Version& v) {
    for (const auto& [k, _] : v.metrics) view->keys.insert(k);
    view->rows.push_back(Row{v.number, v.state, v.approval.status, v.created_at_ns,
                             {v.metrics.begin(), v.metrics.end()}});
    return true;
  });
  std::vector<ChartAlias> aliases;
  (void)snap.ForEachAlias(m.id, "", [&](const Alias& a) {
    aliases.push_back({a.name, a.version});
    view->alias_of[a.version].push_back(a.name);
    return true;
  });
  // The charts, over every version (downsampled).
  for (const auto& k : view->keys) {
    std::vector<ChartPoint> pts;
    for (const auto& r : view->rows)
      if (const double* x = r.metric(k)) pts.push_back({r.number, *x});
    view->charts += MetricChart("metrics." + k, pts, aliases);
  }
  auto card = ModelCard(snap, m);
  view->card = card.ok() ? "<pre class=\"card\" id=\"card\">" + Html(*card) + "</pre>"
                         : "<p class=\"error\">" + Html(card.status().message()) + "</p>";
  return view;
}

}  // namespace

Reply ModelPage(Site& site, const Identity& who, const std::string& model, const Query& q) {
  if (Status st = site.Check(who, Operation::kRead, model, model); !st.ok()) return ErrorPage(st);
  auto snap = site.reg().Read();
  if (!snap.ok()) return ErrorPage(snap.status());
  auto m = snap->GetModel(model);
  if (!m.ok()) return ErrorPage(m.status());
  uint64_t seq = snap->LastAuditSeq();
  auto view = std::static_pointer_cast<const ModelView>(site.Cached(model, seq));
  if (!view) {
    view = LoadView(*snap, *m);
    site.Cache(model, seq, view);
  }
  const std::vector<Row>& rows = view->rows;
  const std::set<std::string>& keys = view->keys;
  const auto& alias_of = view->alias_of;
  const Status& read = view->read;

  // ?sort=[-]version or [-]metrics.K, over all the versions; then the page.
  std::string sort = QueryValue(q, "sort", "-version");
  bool desc = !sort.empty() && sort[0] == '-';
  std::string key = sort.substr(!sort.empty() && (sort[0] == '-' || sort[0] == '+') ? 1 : 0);
  if (key != "version" && !(key.starts_with("metrics.") && keys.count(key.substr(8))))
    return ErrorPage(Status::Invalid("sort: no such column: " + key +
                                     " (version or metrics.K of this model)"));
  std::vector<uint32_t> order(rows.size());  // indexes into rows, as shown
  for (size_t i = 0; i < order.size(); ++i) order[i] = uint32_t(i);
  if (key == "version") {
    if (desc) std::reverse(order.begin(), order.end());
  } else {
    std::string k = key.substr(8);
    // Missing values last, whichever the direction (as find --sort).
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      const double *x = rows[a].metric(k), *y = rows[b].metric(k);
      if (!x || !y) return x && !y;
      return desc ? *x > *y : *x < *y;
    });
  }
  uint64_t per = Positive(q, "per", 100, 1000);
  uint64_t pages = std::max<uint64_t>(1, (rows.size() + per - 1) / per);
  uint64_t page = std::min(Positive(q, "page", 1, UINT64_MAX), pages);

  std::string body = "<h1>" + Html(model) + "</h1>";
  if (!read.ok()) body += "<p class=\"error\">" + Html(read.message()) + "</p>";
  body += "<p>owner " + Html(m->owner.empty() ? "—" : m->owner) + " · " +
          std::to_string(rows.size()) + " versions · <a href=\"/api/v1/models/" + Url(model) +
          "\">JSON</a></p>";

  if (!keys.empty()) body += "<h2>Metrics</h2><div class=\"charts\">" + view->charts + "</div>";

  std::string base = "/m/" + Url(model) + "?sort=" + Url(sort) + "&per=" + std::to_string(per);
  auto nav = [&] {
    std::string n = "<p class=\"pages\">page " + std::to_string(page) + " of " +
                    std::to_string(pages) + " ";
    if (page > 1) n += "<a rel=\"prev\" href=\"" + Html(base) + "&amp;page=" + std::to_string(page - 1) + "\">previous</a>";
    if (page < pages) n += "<a rel=\"next\" href=\"" + Html(base) + "&amp;page=" + std::to_string(page + 1) + "\">next</a>";
    return n + "</p>";
  };
  body += "<h2>Versions</h2><p>Clicking a column sorts this page's rows; <code>?sort=-metrics.K</code> "
          "sorts all versions on the server.</p>" + nav();
  body += "<div class=\"scroll\"><table id=\"versions\"><thead><tr><th data-key=\"version\">version</th>"
          "<th data-key=\"state\">state</th><th data-key=\"approval\">approval</th>"
          "<th data-key=\"aliases\">aliases</th><th data-key=\"created_at\">created</th>";
  for (const auto& k : keys)
    body += "<th data-key=\"metrics." + Html(k) + "\">" + Html(k) + "</th>";
  body += "</tr></thead><tbody>\n";
  for (uint64_t i = (page - 1) * per; i < std::min<uint64_t>(rows.size(), page * per); ++i) {
    const Row& v = rows[order[i]];
    auto al = alias_of.find(v.number);
    body += "<tr data-version=\"" + std::to_string(v.number) + "\"><td data-value=\"" +
            std::to_string(v.number) + "\">" + VersionLink(model, v.number) + "</td>" +
            Td(std::string(StateName(v.state))) + Td(Html(v.approval)) +
            Td(al == alias_of.end() ? "" : Html(JoinList(al->second))) +
            Td(Html(FormatTime(v.created_ns)));
    for (const auto& k : keys) {
      const double* x = v.metric(k);
      body += NumTd(x ? std::optional<double>(*x) : std::nullopt);
    }
    body += "</tr>\n";
  }
  body += "</tbody></table></div>" + nav();
  body += "<h2>Model card</h2>" + view->card;
  Reply r;
  r.body = Page(model, body);
  return r;
}

Reply VersionPage(Site& site, const Identity& who, const std::string& model,
                  const std::string& ref_text) {
  std::string rt = ref_text;
  auto ref = ParseRef(model + "@" + rt);
  if (!ref.ok()) return ErrorPage(Status::NotFound(ref.status().message()));
  if (Status st = site.Check(who, Operation::kRead, model, model + "@" + rt); !st.ok())
    return ErrorPage(st);
  auto snap = site.reg().Read();
  if (!snap.ok()) return ErrorPage(snap.status());
  auto v = snap->Resolve(*ref);
  if (!v.ok()) return ErrorPage(v.status());
  std::string title = v->ref();
  std::string body = "<h1><a href=\"/m/" + Url(model) + "\">" + Html(model) + "</a> v" +
                     std::to_string(v->number) + "</h1><p>" + std::string(StateName(v->state)) +
                     " · " + Html(JoinList(snap->AliasesOf(v->model_id, v->number))) +
                     " · <a href=\"/api/v1/models/" + Url(model) + "/versions/" +
                     std::to_string(v->number) + "\">JSON</a></p>";
  if (!v->description.empty()) body += "<p>" + Html(v->description) + "</p>";

  body += "<h2>Files</h2><div class=\"scroll\"><table id=\"files\"><thead><tr><th data-key=\"path\">path</th>"
          "<th data-key=\"size\">size</th><th>digest</th><th>mode</th></tr></thead><tbody>\n";
  Status files = snap->ForEachPath(*v, [&](const std::string& path, const Entry& e) {
    if (e.is_dir()) return true;
    std::string hex = e.digest.hex();
    body += "<tr data-path=\"" + Html(path) + "\">" + Td(Html(path)) + "<td class=\"num\" data-value=\"" +
            std::to_string(e.size) + "\">" + std::to_string(e.size) + "</td><td title=\"" + hex +
            "\"><code>" + hex.substr(0, 12) + "</code></td>" +
            Td(e.is_link() ? "→ " + Html(e.target) : Html(std::to_string((e.mode >> 6) & 7) +
                                                          std::to_string((e.mode >> 3) & 7) +
                                                          std::to_string(e.mode & 7))) +
            "</tr>\n";
    return true;
  });
  body += "</tbody></table></div>";
  if (!files.ok()) body += "<p class=\"error\">" + Html(files.message()) + "</p>";

  body += "<h2>Metadata</h2><dl id=\"metadata\">";
  auto dd = [&](const std::string& k, const std::string& val) {
    body += "<dt>" + Html(k) + "</dt><dd data-key=\"" + Html(k) + "\">" + Html(val) + "</dd>";
  };
  dd("created", FormatTime(v->created_at_ns) + " by " + v->created_by);
  dd("size", std::to_string(v->size) + " bytes, " + std::to_string(v->files) + " files");
  for (const auto& [k, x] : v->metrics) dd("metrics." + k, Num(x));
  for (const auto& [k, x] : v->params) dd("params." + k, x);
  for (const auto& [k, x] : v->tags) dd("tags." + k, x);
  if (!v->lineage.parents.empty()) dd("lineage.parents", JoinList(v->lineage.parents));
  if (!v->lineage.datasets.empty()) dd("lineage.datasets", JoinList(v->lineage.datasets));
  if (!v->lineage.code.empty()) dd("lineage.code", v->lineage.code);
  if (!v->lineage.run.empty()) dd("lineage.run", v->lineage.run);
  body += "</dl>";

  // Approvals: the current decision, then each approval event of the trail.
  std::string approvals, audit;
  Status trail = snap->ForEachAudit(0, [&](const AuditRecord& r) {
    if (r.model != model || r.version != v->number) return true;
    std::string row = "<tr data-seq=\"" + std::to_string(r.seq) + "\">" + Td(std::to_string(r.seq)) +
                      Td(Html(FormatTime(r.at_ns))) + Td(Html(r.user)) + Td(Html(r.action)) +
                      Td(r.allowed ? Html(r.after) : "denied: " + Html(r.reason)) + "</tr>\n";
    audit += row;
    if (r.allowed && EventType(r) == "approval") approvals += row;
    return true;
  });
  body += "<h2>Approvals</h2><p>now: <strong>" + Html(v->approval.status) + "</strong>";
  if (!v->approval.by.empty())
    body += " by " + Html(v->approval.by) + " at " + Html(FormatTime(v->approval.at_ns)) +
            (v->approval.comment.empty() ? "" : ": " + Html(v->approval.comment));
  body += "</p><div class=\"scroll\"><table id=\"approvals\"><thead><tr><th>seq</th><th>at</th><th>actor</th>"
          "<th>action</th><th>value</th></tr></thead><tbody>\n" + approvals + "</tbody></table></div>";

  LineageOptions lo;
  lo.up = lo.down = true;
  lo.depth = 4;  // a readable picture; `modelfs lineage` walks further
  lo.may_read = [&](const std::string& mm) { return site.MayRead(who, mm); };
  auto g = BuildLineage(*snap, *v, lo);
  body += "<h2>Lineage</h2><div class=\"scroll\">";
  body += g.ok() ? LineageSvg(*g) : "<p class=\"error\">" + Html(g.status().message()) + "</p>";
  body += "</div>";

  body += "<h2>Audit trail</h2><div class=\"scroll\"><table id=\"audit\"><thead><tr><th data-key=\"seq\">seq</th>"
          "<th>at</th><th>actor</th><th>action</th><th>value</th></tr></thead><tbody>\n" + audit +
          "</tbody></table></div>";
  if (!trail.ok()) body += "<p class=\"error\">" + Html(trail.message()) + "</p>";
  Reply r;
  r.body = Page(title, body);
  return r;
}

Reply FindPage(Site& site, const Identity& who, const Query& q) {
  std::string text = QueryValue(q, "q");
  std::string sort = QueryValue(q, "sort");
  uint64_t limit = Positive(q, "limit", 1000, 100000);
  std::string form = "<h1>Find</h1><form method=\"get\" action=\"/find\"><label>expression "
                     "<input type=\"text\" name=\"q\" id=\"q\" value=\"" + Html(text) +
                     "\" placeholder='metrics.auc &gt;= 0.9 and model ~ \"churn*\"'></label> "
                     "<input type=\"text\" name=\"sort\" value=\"" + Html(sort) +
                     "\" placeholder=\"-metrics.auc\" size=\"14\"> <button>find</button></form>";
  Reply r;
  auto e = expr::Expr::All();
  if (!text.empty()) {
    expr::ParseError err;
    auto parsed = expr::Expr::Parse(text, &err);
    if (!parsed.ok()) {
      r.status = 400;
      r.body = Page("find", form + "<p class=\"error\" id=\"error\">bad expression at column " +
                                std::to_string(err.column) + ": " + Html(err.message) +
                                "</p><pre class=\"error\">" + Html(expr::Caret(text, err.column)) +
                                "</pre>");
      return r;
    }
    e = std::move(*parsed);
  }
  FindOptions opt;
  opt.limit = limit;
  opt.may_read = [&](const std::string& m) { return site.MayRead(who, m); };
  if (!sort.empty()) {
    for (const auto& s : SplitList(sort)) {
      auto k = ParseSortKey(s);
      if (!k.ok()) {
        r.status = 400;
        r.body = Page("find", form + "<p class=\"error\" id=\"error\">sort " + Html(s) + ": " +
                                  Html(k.status().message()) + "</p>");
        return r;
      }
      opt.sort.push_back(*k);
    }
  }
  // Columns: the keys the expression and the sort name, as `find` prints.
  std::vector<expr::Key> cols = e.Keys();
  for (const auto& s : opt.sort)
    if (std::find(cols.begin(), cols.end(), s.key) == cols.end()) cols.push_back(s.key);
  std::erase_if(cols, [](const expr::Key& k) {
    return k.field == expr::Field::kModel || k.field == expr::Field::kVersion;
  });
  auto snap = site.reg().Read();
  if (!snap.ok()) return ErrorPage(snap.status());
  std::string rows;
  uint64_t n = 0;
  Status found = Find(*snap, e, opt, [&](const Version& v, const expr::EvalContext& ctx) {
    ++n;
    rows += "<tr data-model=\"" + Html(v.model) + "\" data-version=\"" + std::to_string(v.number) +
            "\"><td><a href=\"/m/" + Url(v.model) + "/v" + std::to_string(v.number) + "\">" +
            Html(v.ref()) + "</a></td>" + Td(std::string(StateName(v.state))) +
            Td(Html(JoinList(ctx.aliases(v))));
    for (const auto& k : cols) {
      auto val = expr::Lookup(k, v, ctx);
      rows += Td(val ? Html(expr::ValueText(k, *val)) : "");
    }
    rows += "</tr>\n";
    return true;
  });
  std::string body = form;
  if (!found.ok()) body += "<p class=\"error\">" + Html(found.message()) + "</p>";
  body += "<p>" + std::to_string(n) + " match" + (n == 1 ? "" : "es") +
          (n == limit ? " (the first " + std::to_string(limit) + "; ?limit=N for more)" : "") +
          "</p><div class=\"scroll\"><table id=\"results\"><thead><tr><th data-key=\"ref\">version</th>"
          "<th data-key=\"state\">state</th><th>aliases</th>";
  for (const auto& k : cols) body += "<th data-key=\"" + Html(k.text()) + "\">" + Html(k.text()) + "</th>";
  body += "</tr></thead><tbody>\n" + rows + "</tbody></table></div>";
  r.body = Page("find", body);
  return r;
}

Reply ComparePage(Site& site, const Identity& who, const Query& q) {
  std::vector<std::string> refs;
  for (auto [it, end] = q.equal_range("v"); it != end; ++it) refs.push_back(it->second);
  if (refs.empty())
    return ErrorPage(Status::Invalid("compare: name versions as ?v=MODEL@A&v=MODEL@B"));
  auto snap = site.reg().Read();
  if (!snap.ok()) return ErrorPage(snap.status());
  std::vector<Version> versions;
  for (const auto& t : refs) {
    auto ref = ParseRef(t);
    if (!ref.ok()) return ErrorPage(Status::Invalid(ref.status().message()));
    if (Status st = site.Check(who, Operation::kRead, ref->model, t); !st.ok()) return ErrorPage(st);
    auto v = snap->Resolve(*ref);
    if (!v.ok()) return ErrorPage(v.status());
    versions.push_back(*v);
  }
  auto c = Compare(*snap, versions);
  if (!c.ok()) return ErrorPage(c.status());
  std::string body = "<h1>Compare</h1><div class=\"scroll\"><table id=\"compare\"><thead><tr><th>field</th>";
  for (const auto& v : versions)
    body += "<th data-ref=\"" + Html(v.ref()) + "\"><a href=\"/m/" + Url(v.model) + "/v" +
            std::to_string(v.number) + "\">" + Html(v.ref()) + "</a></th>";
  body += "</tr></thead><tbody>\n";
  for (const auto& row : c->rows) {
    body += "<tr data-key=\"" + Html(row.key) + "\"" + (row.differs ? " class=\"diff\"" : "") +
            "><th scope=\"row\">" + Html(row.key) + "</th>";
    for (const auto& cell : row.cells) body += Td(cell.text ? Html(*cell.text) : "—");
    body += "</tr>\n";
  }
  body += "</tbody></table></div>";
  Reply r;
  r.body = Page("compare", body);
  return r;
}

}  // namespace modelfs::web
