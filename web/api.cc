// The JSON API (see api.h): index/ reads rendered by cli/render's JSON.
#include "web/api.h"

#include <nlohmann/json.hpp>

#include "cli/render.h"
#include "index/events.h"
#include "index/expr.h"
#include "index/find.h"
#include "index/names.h"

namespace modelfs::web {

using nlohmann::json;
using policy::Identity;
using policy::Operation;

namespace {

Reply Json(const json& j, int status = 200) {
  return Reply{status, "application/json", cli::DumpJson(j, -1) + "\n"};
}

}  // namespace

Reply ApiError(int status, const std::string& message) {
  return Json({{"error", message}, {"status", status}}, status);
}

Reply ApiError(const Status& st) { return ApiError(HttpStatus(st), st.message()); }

Reply ApiModels(Site& site, const Identity& who) {
  auto snap = site.reg().Read();
  if (!snap.ok()) return ApiError(snap.status());
  json out = json::array();
  Status failed;
  Status listed = snap->ForEachModel("", [&](const Model& m) {
    if (site.MayRead(who, m.name)) out.push_back(cli::ModelJson(*snap, m, &failed));
    return true;
  });
  if (!listed.ok()) return ApiError(listed);
  return Json(out);
}

Reply ApiModel(Site& site, const Identity& who, const std::string& model) {
  if (Status st = site.Check(who, Operation::kRead, model, model); !st.ok()) return ApiError(st);
  auto snap = site.reg().Read();
  if (!snap.ok()) return ApiError(snap.status());
  auto m = snap->GetModel(model);
  if (!m.ok()) return ApiError(m.status());
  json out = json::array();
  Status failed;
  Status listed = snap->ForEachVersion(m->id, 0, [&](const Version& v) {
    auto j = cli::VersionJson(*snap, v);
    if (!j.ok()) failed = j.status();
    else out.push_back(std::move(*j));
    return j.ok();
  });
  if (!failed.ok()) return ApiError(failed);
  if (!listed.ok()) return ApiError(listed);
  return Json(out);
}

Reply ApiVersion(Site& site, const Identity& who, const std::string& model,
                 const std::string& ref_text) {
  auto ref = ParseRef(model + "@" + ref_text);
  if (!ref.ok()) return ApiError(404, ref.status().message());
  if (Status st = site.Check(who, Operation::kRead, model, model + "@" + ref_text); !st.ok())
    return ApiError(st);
  auto snap = site.reg().Read();
  if (!snap.ok()) return ApiError(snap.status());
  auto v = snap->Resolve(*ref);
  if (!v.ok()) return ApiError(v.status());
  auto j = cli::VersionJson(*snap, *v);
  if (!j.ok()) return ApiError(j.status());
  return Json(*j);
}

Reply ApiFind(Site& site, const Identity& who, const Query& q) {
  std::string text = QueryValue(q, "q");
  auto e = expr::Expr::All();
  if (!text.empty()) {
    expr::ParseError err;
    auto parsed = expr::Expr::Parse(text, &err);
    if (!parsed.ok())
      return Json({{"error", "bad expression at column " + std::to_string(err.column) + ": " +
                                 err.message},
                   {"status", 400},
                   {"column", err.column}},
                  400);
    e = std::move(*parsed);
  }
  FindOptions opt;
  for (const auto& s : SplitList(QueryValue(q, "sort"))) {
    auto k = ParseSortKey(s);
    if (!k.ok()) return ApiError(400, "sort " + s + ": " + k.status().message());
    opt.sort.push_back(*k);
  }
  std::string limit = QueryValue(q, "limit", "1000");
  try {
    opt.limit = std::stoull(limit);
  } catch (const std::exception&) {
    return ApiError(400, "limit: not a number: " + limit);
  }
  opt.may_read = [&](const std::string& m) { return site.MayRead(who, m); };
  auto snap = site.reg().Read();
  if (!snap.ok()) return ApiError(snap.status());
  json out = json::array();
  Status shown;
  Status found = Find(*snap, e, opt, [&](const Version& v, const expr::EvalContext&) {
    auto j = cli::VersionJson(*snap, v);
    if (!j.ok()) shown = j.status();
    else out.push_back(std::move(*j));
    return j.ok();
  });
  if (!shown.ok()) return ApiError(shown);
  if (!found.ok()) return ApiError(found);
  return Json(out);
}

bool EventVisible(Site& site, const Identity& who, bool admin, const AuditRecord& r) {
  return admin || (!r.model.empty() && site.MayRead(who, r.model));
}

Reply ApiEvents(Site& site, const Identity& who, uint64_t since, uint64_t limit) {
  auto snap = site.reg().Read();
  if (!snap.ok()) return ApiError(snap.status());
  bool admin = site.MayAdminister(who);
  json out = json::array();
  Status st = ForEachEvent(*snap, since, [&](const AuditRecord& r, const std::string&) {
    if (EventVisible(site, who, admin, r)) out.push_back(EventJson(r));
    return out.size() < limit;
  });
  if (!st.ok()) return ApiError(st);
  return Json(out);
}

}  // namespace modelfs::web
