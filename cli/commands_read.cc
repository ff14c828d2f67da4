// The commands that only read the registry: show, list, card and log. Each asks
// the Session whether the caller may read the model (administer, for the
// whole audit trail) and prints records as render.h shapes them.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"
#include "index/card.h"

namespace modelfs::cli {
namespace {

using nlohmann::json;
using policy::Operation;

// ---------------------------------------------------------------- show

struct ShowArgs {
  std::string root;
  std::string ref;  // MODEL[@N|@ALIAS]
  bool json = false;
};

int RunShow(const ShowArgs& a) {
  auto ref = ParseRef(a.ref);
  if (!ref.ok()) return UsageError(ref.status());
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kRead, ref->model, a.ref));
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    auto v = snap->Resolve(*ref);
    if (!v.ok()) return s.Explain(*ref, v.status());
    auto j = VersionJson(*snap, *v);
    if (!j.ok()) return j.status();
    if (a.json) std::cout << DumpJson(*j) << "\n";
    else std::cout << VersionText(*j);
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- list

struct ListArgs {
  std::string root;
  std::string model;  // empty: list the models
  bool json = false;
};

// Prints records either as one JSON list, streamed element by element, or
// as lines of text.
class RecordPrinter {
 public:
  explicit RecordPrinter(bool as_json) : json_(as_json) {}
  bool as_json() const { return json_; }
  void Json(const nlohmann::json& j) {
    std::cout << (first_ ? "[\n" : ",\n") << DumpJson(j);
    first_ = false;
  }
  // One line, whatever `text` holds (see EscapeText).
  void Line(const std::string& text) { std::cout << EscapeText(text) << "\n"; }
  // Closes the JSON list (an empty one if nothing was printed).
  void Finish() {
    if (json_) std::cout << (first_ ? "[]\n" : "\n]\n");
  }

 private:
  bool json_;
  bool first_ = true;
};

Status ListModels(Session& s, const Snapshot& snap, bool as_json) {
  RecordPrinter out(as_json);
  if (!as_json) std::printf("%-32s %8s %7s  %s\n", "MODEL", "VERSIONS", "LATEST", "ALIASES");
  Status failed;  // what a model's row could not read, reported at the end
  Status listed = snap.ForEachModel("", [&](const Model& m) {
    if (!s.MayRead(m.name)) return true;  // not shown
    json j = ModelJson(snap, m, &failed);
    if (out.as_json()) {
      out.Json(j);
      return true;
    }
    std::vector<std::string> al;
    for (auto it = j["aliases"].begin(); it != j["aliases"].end(); ++it)
      al.push_back(it.key() + "->v" + DumpJson(it.value(), -1));
    std::string aliases = JoinList(al);
    char line[512];
    std::snprintf(line, sizeof line, "%-32s %8llu %7s  %s", m.name.c_str(),
                  static_cast<unsigned long long>(j["versions"].get<uint64_t>()),
                  j["latest"].is_null() ? "-" : ("v" + DumpJson(j["latest"], -1)).c_str(),
                  aliases.c_str());
    out.Line(line);
    return true;
  });
  out.Finish();
  MODELFS_RETURN_IF_ERROR(listed);
  return failed;
}

Status ListVersions(Session& s, const Snapshot& snap, const std::string& model, bool as_json) {
  MODELFS_RETURN_IF_ERROR(s.Check(Operation::kRead, model, model));
  auto m = snap.GetModel(model);
  if (!m.ok()) return s.Explain(Ref{model, 0, ""}, m.status());
  RecordPrinter out(as_json);
  if (!as_json)
    std::printf("%-8s %-8s %-9s %-20s %-12s %10s  %s\n", "VERSION", "STATE", "APPROVAL",
                "CREATED", "BY", "SIZE", "ALIASES");
  Status failed;  // a version that cannot be shown stops the listing
  MODELFS_RETURN_IF_ERROR(snap.ForEachVersion(m->id, 0, [&](const Version& v) {
    if (out.as_json()) {
      auto j = VersionJson(snap, v);
      if (!j.ok()) failed = j.status();
      else out.Json(*j);
      return j.ok();
    }
    Status read;
    std::string aliases = JoinList(snap.AliasesOf(m->id, v.number, &read));
    if (!read.ok()) {
      failed = read;
      return false;
    }
    char line[512];
    std::snprintf(line, sizeof line, "v%-7u %-8s %-9s %-20s %-12s %10s  %s", v.number,
                  std::string(StateName(v.state)).c_str(), v.approval.status.c_str(),
                  FormatTime(v.created_at_ns).c_str(), v.created_by.c_str(),
                  FormatSize(v.size).c_str(), aliases.c_str());
    out.Line(line);
    return true;
  }));
  MODELFS_RETURN_IF_ERROR(failed);
  out.Finish();
  return Status::Ok();
}

int RunList(const ListArgs& a) {
  if (!a.model.empty()) {
    if (Status st = CheckModelName(a.model); !st.ok()) return UsageError(st);
  }
  return WithSession(a.root, [&](Session& s) -> Status {
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    if (a.model.empty()) return ListModels(s, *snap, a.json);
    return ListVersions(s, *snap, a.model, a.json);
  });
}

// ---------------------------------------------------------------- card

struct CardArgs {
  std::string root;
  std::string model;
};

int RunCard(const CardArgs& a) {
  if (Status st = CheckModelName(a.model); !st.ok()) return UsageError(st);
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kRead, a.model, a.model));
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    auto m = snap->GetModel(a.model);
    if (!m.ok()) return s.Explain(Ref{a.model, 0, ""}, m.status());
    auto card = ModelCard(*snap, *m);
    if (!card.ok()) return card.status();
    std::cout << *card;  // the bytes the mount's README.md holds, as they are
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- log

struct LogArgs {
  std::string root;
  std::string model;  // empty: the whole trail (admin)
  bool json = false;
};

int RunLog(const LogArgs& a) {
  if (!a.model.empty()) {
    if (Status st = CheckModelName(a.model); !st.ok()) return UsageError(st);
  }
  return WithSession(a.root, [&](Session& s) -> Status {
    if (a.model.empty()) MODELFS_RETURN_IF_ERROR(s.Check(Operation::kReadAudit, "", "log"));
    else MODELFS_RETURN_IF_ERROR(s.Check(Operation::kRead, a.model, a.model));
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    RecordPrinter out(a.json);
    MODELFS_RETURN_IF_ERROR(snap->ForEachAudit(0, [&](const AuditRecord& r) {
      if (!a.model.empty() && r.model != a.model) return true;
      if (out.as_json()) out.Json(AuditJson(r));
      else out.Line(AuditText(r));
      return true;
    }));
    out.Finish();
    return Status::Ok();
  });
}

}  // namespace

Command AddShow(CLI::App& app) {
  auto a = std::make_shared<ShowArgs>();
  CLI::App* c = app.add_subcommand("show", "Show a version: MODEL, MODEL@N or MODEL@ALIAS");
  AddRoot(c, a->root);
  c->add_option("REF", a->ref, "MODEL[@N|@vN|@ALIAS] (MODEL alone: its latest version)")->required();
  AddJson(c, a->json);
  Example(c, {"show churn@production", "show /srv/registry churn@v12 --json"});
  return {c, [a] { return RunShow(*a); }};
}

Command AddList(CLI::App& app) {
  auto a = std::make_shared<ListArgs>();
  CLI::App* c = app.add_subcommand("list", "List models, or the versions of MODEL");
  AddRoot(c, a->root);
  c->add_option("MODEL", a->model, "Model name");
  AddJson(c, a->json);
  Example(c, {"list", "list churn --json"});
  return {c, [a] { return RunList(*a); }};
}

Command AddCard(CLI::App& app) {
  auto a = std::make_shared<CardArgs>();
  CLI::App* c = app.add_subcommand(
      "card", "Print MODEL's card: the markdown the mount shows as MODEL/README.md");
  AddRoot(c, a->root);
  c->add_option("MODEL", a->model, "Model name")->required();
  Example(c, {"card churn", "card /srv/registry churn > churn.md"});
  return {c, [a] { return RunCard(*a); }};
}

Command AddLog(CLI::App& app) {
  auto a = std::make_shared<LogArgs>();
  CLI::App* c = app.add_subcommand("log", "The audit trail: who, when, what, before -> after");
  AddRoot(c, a->root);
  c->add_option("MODEL", a->model, "Only this model");
  AddJson(c, a->json);
  Example(c, {"log churn", "log --json"});
  return {c, [a] { return RunLog(*a); }};
}

}  // namespace modelfs::cli
