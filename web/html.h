// The pieces every page of `modelfs serve` is made of: escaping, the page
// frame (nav, the stylesheet and script modelfs itself serves), and the
// static files, embedded in the binary: nothing is fetched from elsewhere.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "index/status.h"

namespace modelfs::web {

// What a page or an API call answers, before the HTTP server sends it.
struct Reply {
  int status = 200;
  std::string type = "text/html; charset=utf-8";
  std::string body;
};
// A request's query parameters, decoded; a name may repeat (?v=a&v=b).
using Query = std::multimap<std::string, std::string>;
std::string QueryValue(const Query& q, const std::string& name, const std::string& fallback = "");

// `text` safe inside an element or a quoted attribute.
std::string Html(std::string_view text);
// `text` as one URL path segment or query value (RFC 3986 unreserved kept).
std::string Url(std::string_view text);
// A number as the pages show it: integers without a fraction, else up to 6
// significant digits ("0.91", "1.5e+06").
std::string Num(double x);

// A whole HTML5 page: `title`, the nav, and `body`.
std::string Page(std::string_view title, std::string_view body);
// The HTTP status for a Status code: 404 NotFound, 403 Denied, 400 Invalid
// and Usage, 500 otherwise.
int HttpStatus(const Status& st);
// The page for an error: its status and message.
Reply ErrorPage(const Status& st);

// /static/NAME: the stylesheet and the sort script; nullptr for others.
const Reply* StaticFile(std::string_view name);

}  // namespace modelfs::web
