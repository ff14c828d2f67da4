// The HTML pages of `modelfs serve` (SPEC §9), each for one identity whose
// reads the policy checks as `modelfs show` would: a model it may not read
// is absent from the index and its pages answer 403. The DOM ids and data-
// attributes named below are a contract the browser tests rely on.
#pragma once

#include <string>

#include "policy/identity.h"
#include "web/html.h"
#include "web/site.h"

namespace modelfs::web {

// `/`: table#models, a <tr data-model="NAME"> per readable model.
Reply IndexPage(Site& site, const policy::Identity& who);
// `/m/MODEL`: the card, table#versions (?page=P&per=N, newest first, or
// ?sort=[-]version|[-]metrics.K), one svg.chart per metric.
Reply ModelPage(Site& site, const policy::Identity& who, const std::string& model,
                const Query& q);
// `/m/MODEL/REF` (vN, N or an alias): table#files, dl#metadata,
// table#approvals, svg#lineage, table#audit.
Reply VersionPage(Site& site, const policy::Identity& who, const std::string& model,
                  const std::string& ref);
// `/find?q=EXPR`: table#results; a bad expression is a 400 with the caret.
Reply FindPage(Site& site, const policy::Identity& who, const Query& q);
// `/compare?v=MODEL@A&v=MODEL@B`: table#compare, tr.diff where they differ.
Reply ComparePage(Site& site, const policy::Identity& who, const Query& q);

}  // namespace modelfs::web
