// /api/v1 (SPEC §9): the registry as JSON, in the shapes of the CLI's
// --json (cli/render.h, shared): `list --json`, `show --json`, `find
// --json`, `events --json`. Errors are {"error": MESSAGE, "status": N}.
// Policy as for the pages: a model the identity may not read is absent
// from /models and answers 403 everywhere else.
#pragma once

#include <cstdint>
#include <string>

#include "index/records.h"
#include "policy/identity.h"
#include "web/html.h"
#include "web/site.h"

namespace modelfs::web {

Reply ApiError(const Status& st);
Reply ApiError(int status, const std::string& message);
// GET /api/v1/models: the array `list --json` prints.
Reply ApiModels(Site& site, const policy::Identity& who);
// GET /api/v1/models/MODEL: its versions, the array `list MODEL --json` prints.
Reply ApiModel(Site& site, const policy::Identity& who, const std::string& model);
// GET /api/v1/models/MODEL/versions/REF (N, vN or an alias): `show --json`.
Reply ApiVersion(Site& site, const policy::Identity& who, const std::string& model,
                 const std::string& ref);
// GET /api/v1/find?q=EXPR[&sort=KEY,...][&limit=N]: an array of `show
// --json` objects; a bad expression is a 400 naming the column.
Reply ApiFind(Site& site, const policy::Identity& who, const Query& q);
// Whether `who` sees event `r`, as `modelfs events` decides: an
// administrator sees all, anyone else the events of models they may read.
bool EventVisible(Site& site, const policy::Identity& who, bool admin, const AuditRecord& r);
// GET /api/v1/events?since=SEQ without Accept: text/event-stream: the
// events after SEQ as a JSON array (at most `limit`, oldest first).
Reply ApiEvents(Site& site, const policy::Identity& who, uint64_t since, uint64_t limit);

}  // namespace modelfs::web
