// Escaping, the page frame and the embedded static files (see html.h).
#include "web/html.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace modelfs::web {

std::string QueryValue(const Query& q, const std::string& name, const std::string& fallback) {
  auto it = q.find(name);
  return it == q.end() ? fallback : it->second;
}

std::string Html(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Url(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string Num(double x) {
  char buf[32];
  if (std::isfinite(x) && x == std::trunc(x) && std::fabs(x) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", x);
  else
    std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

std::string Page(std::string_view title, std::string_view body) {
  std::string p;
  p.reserve(body.size() + 1024);
  p += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       "<title>";
  p += Html(title);
  p += " · modelfs</title><link rel=\"stylesheet\" href=\"/static/style.css\">"
       "<script src=\"/static/sort.js\" defer></script></head>\n<body>"
       "<nav><a href=\"/\">models</a> <a href=\"/find\">find</a></nav>\n<main>";
  p += body;
  p += "</main></body></html>\n";
  return p;
}

int HttpStatus(const Status& st) {
  switch (st.code()) {
    case Code::kOk: return 200;
    case Code::kNotFound: return 404;
    case Code::kDenied: return 403;
    case Code::kInvalid: return 400;
    default: return 500;
  }
}

Reply ErrorPage(const Status& st) {
  Reply r;
  r.status = HttpStatus(st);
  const char* what = r.status == 404 ? "Not found" : r.status == 403 ? "Forbidden"
                   : r.status == 400 ? "Bad request" : "Error";
  r.body = Page(what, "<h1>" + std::string(what) + "</h1><p class=\"error\" id=\"error\">" +
                          Html(st.message()) + "</p>");
  return r;
}

namespace {

// One small stylesheet: tables scroll sideways on a phone-sized screen
// (390 px), and print leaves out the nav and the forms.
constexpr const char* kStyle = R"css(
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2430;background:#fafbfc}
nav{background:#1d2430;padding:.6em 1em}nav a{color:#fff;margin-right:1em;text-decoration:none;font-weight:600}
main{padding:1em;max-width:1200px;margin:auto}
h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.15em;margin:1.4em 0 .4em}
a{color:#0b5cad}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;background:#fff;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #dde2e8;padding:.35em .7em;text-align:left;white-space:nowrap}
th{background:#eef1f5;position:sticky;top:0}
th[data-key]{cursor:pointer}th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.num{text-align:right}tr.diff td{background:#fff4d6}
pre{background:#fff;border:1px solid #dde2e8;padding:.8em;overflow-x:auto;white-space:pre-wrap}
.charts{display:flex;flex-wrap:wrap;gap:1em}
svg.chart{background:#fff;border:1px solid #dde2e8;max-width:100%;height:auto}
svg .pt{fill:#0b5cad}svg .alias line{stroke:#c2410c;stroke-dasharray:3 2}svg .alias text{fill:#c2410c;font-size:11px}
svg text{font-size:11px;fill:#4a5361}svg .axis{stroke:#8a94a3}
svg#lineage{background:#fff;border:1px solid #dde2e8;max-width:100%;height:auto}
svg#lineage .node rect{fill:#eef1f5;stroke:#8a94a3}svg#lineage .node.root rect{fill:#dbeafe;stroke:#0b5cad}
svg#lineage line{stroke:#8a94a3}
dl#metadata{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:600}dd{margin:0;word-break:break-all}
form input[type=text]{width:min(100%,40em);font:inherit;padding:.3em}
.error{color:#b91c1c}.pages a{margin-right:.6em}
@media print{nav,form,.pages{display:none}body{background:#fff}th{position:static}}
)css";

// Sorting a table by a header click, the one thing that needs a script:
// numbers by their data-value, the rest as text, missing values last.
constexpr const char* kSortJs = R"js(
document.querySelectorAll("table").forEach(function (table) {
  table.querySelectorAll("thead th[data-key]").forEach(function (th) {
    var col = th.cellIndex;
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th[aria-sort]").forEach(function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(tr) {
        var td = tr.cells[col]; if (!td) return null;
        var v = td.getAttribute("data-value");
        if (v !== null) return v === "" ? null : parseFloat(v);
        return td.textContent;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) return x === y ? 0 : (x === null ? 1 : -1);
        var c = x < y ? -1 : x > y ? 1 : 0;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
)js";

}  // namespace

const Reply* StaticFile(std::string_view name) {
  static const Reply style{200, "text/css; charset=utf-8", kStyle};
  static const Reply sort{200, "text/javascript; charset=utf-8", kSortJs};
  if (name == "style.css") return &style;
  if (name == "sort.js") return &sort;
  return nullptr;
}

}  // namespace modelfs::web
