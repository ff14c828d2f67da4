// The commands that change a model: push, set, alias, approve, seal and
// archive. Each asks the Session whether the caller may act before calling
// the Registry; an alias move also passes the alias's gates in its commit.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"

namespace modelfs::cli {
namespace {

using policy::Operation;

Result<std::pair<std::string, std::string>> SplitKV(const std::string& kv, const char* what) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    return Status::Invalid(std::string(what) + " \"" + EscapeText(kv) + "\" is not of the form K=V");
  return std::make_pair(kv.substr(0, eq), kv.substr(eq + 1));
}

// ---------------------------------------------------------------- push

// A one-line progress bar on stderr when it is a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(uint64_t total)
      : total_(total), on_(!Quiet() && isatty(2) && total >= (64ull << 20)) {}
  ~ProgressBar() { Done(); }
  // Clears the bar, so what is printed next starts on a clean line.
  void Done() {
    if (on_ && shown_) std::fprintf(stderr, "\r%60s\r", "");
    shown_ = false;
  }
  void operator()(uint64_t done) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    if (shown_ && now - last_ < std::chrono::milliseconds(100) && done < total_) return;
    last_ = now;
    shown_ = true;
    int pct = total_ ? static_cast<int>(done * 100 / total_) : 100;
    int bars = pct * 30 / 100;
    std::fprintf(stderr, "\rpushing [%.*s%*s] %3d%% %llu/%llu MiB", bars,
                 "==============================", 30 - bars, "", pct,
                 static_cast<unsigned long long>(done >> 20),
                 static_cast<unsigned long long>(total_ >> 20));
    std::fflush(stderr);
  }

 private:
  uint64_t total_;
  bool on_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_;
};

struct PushArgs {
  std::string root, model, alias;
  std::vector<std::string> paths, metrics, params, tags, parents, datasets;
  std::string code, run, description;
  bool json = false;
  bool dereference = false;
  bool if_changed = false;
};

// The request the options describe, metadata included. MODEL and --parent
// are checked already (RunPush).
Result<PushRequest> PushRequestOf(const PushArgs& a) {
  PushRequest req;
  req.model = a.model;
  req.paths = a.paths;
  req.alias = a.alias;
  req.dereference = a.dereference;
  req.if_changed = a.if_changed;
  auto set = [&](MetaField f, const std::string& value, std::string sub = "") {
    if (!value.empty()) req.meta.push_back({MetaKey{f, std::move(sub)}.name(), value});
  };
  auto add = [&](const std::vector<std::string>& kv, MetaField f, const char* what) -> Status {
    for (const auto& s : kv) {
      auto p = SplitKV(s, what);
      if (!p.ok()) return p.status();
      req.meta.push_back({MetaKey{f, p->first}.name(), p->second});
    }
    return Status::Ok();
  };
  MODELFS_RETURN_IF_ERROR(add(a.metrics, MetaField::kMetric, "--metric"));
  MODELFS_RETURN_IF_ERROR(add(a.params, MetaField::kParam, "--param"));
  MODELFS_RETURN_IF_ERROR(add(a.tags, MetaField::kTag, "--tag"));
  set(MetaField::kParents, JoinList(a.parents));
  for (const auto& d : a.datasets)
    if (d.find(',') != std::string::npos)
      return Status::Invalid("--dataset \"" + d + "\" contains a comma; give one URI per --dataset");
  set(MetaField::kDatasets, JoinList(a.datasets));
  set(MetaField::kCode, a.code);
  set(MetaField::kRun, a.run);
  set(MetaField::kDescription, a.description);
  return req;
}

int RunPush(const PushArgs& a) {
  if (Status st = CheckModelName(a.model); !st.ok()) return UsageError(st);
  for (const auto& p : a.parents) {
    if (auto r = ParseVersionRef(p); !r.ok())
      return UsageError(Status::Invalid("--parent: " + r.status().message()));
  }
  auto req = PushRequestOf(a);
  if (!req.ok()) return Fail(req.status());
  return WithSession(a.root, [&](Session& s) -> Status {
    if (!a.alias.empty()) MODELFS_RETURN_IF_ERROR(CheckAliasName(a.alias));
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    bool exists = snap->GetModel(req->model).ok();
    MODELFS_RETURN_IF_ERROR(
        s.Check(exists ? Operation::kPush : Operation::kPushNewModel, req->model, req->model));
    std::string object = req->model + "/" + a.alias;
    if (!a.alias.empty()) MODELFS_RETURN_IF_ERROR(s.Check(Operation::kSetAlias, req->model, object));
    uint64_t bytes = 0, files = 0;
    auto pol = s.policy();
    MODELFS_RETURN_IF_ERROR(Registry::PlanPush(
        req->paths, req->dereference, &bytes, &files,
        [&](const std::string& path, uint64_t size) { return pol->CheckFileSize(path, size); }));
    ProgressBar bar(bytes);
    Result<Version> v = Status::Invalid("not pushed");
    bool reused = false;
    auto push = [&](const Guard& guard) {
      v = s.reg().Push(*req, s.actor(), [&](uint64_t n) { bar(n); }, guard, &reused);
      return v.status();
    };
    Status pushed = a.alias.empty() ? push(Guard{}) : s.WithGates(req->model, a.alias, false, object, push);
    bar.Done();
    if (!pushed.ok()) return pushed;
    if (a.json) {
      // The push is committed whatever happens here: say so if it cannot be shown.
      auto snap2 = s.reg().Read();
      auto j = snap2.ok() ? VersionJson(*snap2, *v) : Result<nlohmann::json>(snap2.status());
      if (!j.ok())
        return Status::IO(v->ref() + " is pushed, but cannot be shown: " + j.status().message());
      std::cout << DumpJson(*j) << "\n";
    } else {
      std::cout << v->ref() << "\n";
    }
    if (reused)
      std::cerr << "modelfs: " << v->ref()
                << " has the same files and metadata: no new version made (--if-changed)\n";
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- set

struct SetArgs {
  std::string root, ref;
  std::vector<std::string> kvs, removes;
};

// `set ROOT MODEL K=V`: the model's own description and owner.
int RunSetModel(const SetArgs& a, const std::vector<MetaChange>& changes) {
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kSetModelMeta, a.ref, a.ref));
    return s.reg().SetModelMeta(a.ref, changes, s.actor());
  });
}

int RunSet(const SetArgs& a) {
  bool model_only = a.ref.find('@') == std::string::npos;
  Result<Ref> ref = model_only ? Result<Ref>(Status::Invalid("")) : ParseVersionRef(a.ref);
  if (model_only) {
    if (Status st = CheckModelName(a.ref); !st.ok()) return UsageError(st);
  } else if (!ref.ok()) {
    return UsageError(ref.status());
  }
  std::vector<MetaChange> changes;
  for (const auto& kv : a.kvs) {
    auto p = SplitKV(kv, "setting");
    if (!p.ok()) return Fail(p.status());
    changes.push_back({p->first, p->second});
  }
  for (const auto& k : a.removes) changes.push_back({k, std::nullopt});
  if (changes.empty()) return Fail(Status::Invalid("nothing to set: give K=V or --remove K"));
  if (model_only) {
    // A version's key given with a bare MODEL: the version is missing from
    // the command line, a usage error as before models had keys of their own.
    for (const auto& c : changes) {
      std::string_view k = c.key;
      if (k.substr(0, 9) == "registry.") k = k.substr(9);
      if (k != "description" && k != "owner" && ParseMetaKey(c.key).ok())
        return UsageError(Status::Invalid("reference \"" + a.ref + "\" must name a version as MODEL@N to set " +
                                          c.key + " (a model's own keys: description, owner)"));
    }
    return RunSetModel(a, changes);
  }
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kSetMeta, ref->model, a.ref));
    return s.Explain(*ref, s.reg().SetMeta(ref->model, ref->version, changes, s.actor()));
  });
}

// ---------------------------------------------------------------- alias

struct AliasArgs {
  std::string root, ref, alias;
  bool del = false, force = false;
};

int RunAliasDelete(const AliasArgs& a) {
  Status st = CheckModelName(a.ref);
  if (!st.ok()) return UsageError(st);
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kDeleteAlias, a.ref, a.ref + "/" + a.alias));
    return s.Explain(Ref{a.ref, 0, a.alias}, s.reg().DeleteAlias(a.ref, a.alias, s.actor()));
  });
}

int RunAlias(const AliasArgs& a) {
  if (a.del) return RunAliasDelete(a);
  auto ref = ParseVersionRef(a.ref);
  if (!ref.ok()) return UsageError(ref.status());
  Status an = CheckAliasName(a.alias);
  if (!an.ok()) return Fail(an);
  return WithSession(a.root, [&](Session& s) -> Status {
    std::string object = ref->model + "/" + a.alias;
    MODELFS_RETURN_IF_ERROR(s.Check(a.force ? Operation::kSetAliasForced : Operation::kSetAlias,
                                    ref->model, a.force ? object + " --force" : object));
    return s.Explain(*ref, s.WithGates(ref->model, a.alias, a.force,
                                       object + " -> v" + std::to_string(ref->version),
                                       [&](const Guard& gates) {
                                         return s.reg().SetAlias(ref->model, a.alias, ref->version,
                                                                 s.actor(), gates);
                                       }));
  });
}

// ---------------------------------------------------------------- approve, seal, archive

struct VersionArgs {  // commands that take ROOT MODEL@N and little else
  std::string root, ref;
  bool reject = false;  // approve --reject
  std::string comment;  // approve --comment
};

int RunApprove(const VersionArgs& a) {
  auto ref = ParseVersionRef(a.ref);
  if (!ref.ok()) return UsageError(ref.status());
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kApprove, ref->model, a.ref));
    return s.Explain(*ref, s.reg().Approve(ref->model, ref->version, !a.reject, a.comment, s.actor()));
  });
}

int RunSeal(const VersionArgs& a) {
  auto ref = ParseVersionRef(a.ref);
  if (!ref.ok()) return UsageError(ref.status());
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kSeal, ref->model, a.ref));
    auto v = s.reg().Seal(ref->model, ref->version, s.actor());
    if (!v.ok()) return s.Explain(*ref, v.status());
    std::cout << v->ref() << "\n";
    return Status::Ok();
  });
}

int RunArchive(const VersionArgs& a) {
  auto ref = ParseVersionRef(a.ref);
  if (!ref.ok()) return UsageError(ref.status());
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kArchive, ref->model, a.ref));
    return s.Explain(*ref, s.reg().Archive(ref->model, ref->version, s.actor()));
  });
}

// Defines a subcommand taking ROOT MODEL@N, bound to *a.
CLI::App* AddVersionCommand(CLI::App& app, const char* name, const char* help, VersionArgs* a) {
  CLI::App* c = app.add_subcommand(name, help);
  AddRoot(c, a->root);
  c->add_option("REF", a->ref, "MODEL@N (or MODEL@vN)")->required();
  return c;
}

}  // namespace

Command AddPush(CLI::App& app) {
  auto a = std::make_shared<PushArgs>();
  CLI::App* c = app.add_subcommand("push", "Register files as the next version of MODEL; prints MODEL@N");
  AddRoot(c, a->root);
  c->add_option("MODEL", a->model, "Model name")->required();
  c->add_option("PATH", a->paths, "Files or directories, laid out as cp -r would")->required();
  c->add_option("--metric", a->metrics, "Metric K=V (a finite number)");
  c->add_option("--param", a->params, "Parameter K=V");
  c->add_option("--tag", a->tags, "Tag K=V");
  c->add_option("--parent", a->parents, "Parent version MODEL@N");
  c->add_option("--dataset", a->datasets, "Dataset URI, optionally URI#xxh3:<digest>");
  c->add_option("--code", a->code, "Code reference (commit URL, ...)");
  c->add_option("--run", a->run, "Training run id");
  c->add_option("--description", a->description, "Free text");
  c->add_option("--alias", a->alias, "Point this alias at the new version");
  c->add_flag("--if-changed", a->if_changed,
              "Make no new version when files and metadata equal the latest's: print that one");
  c->add_flag("-L,--dereference", a->dereference,
              "Store what symlinks inside PATH lead to, instead of keeping them as symlinks");
  AddJson(c, a->json);
  Example(c, {"push churn out/ --metric auc=0.91 --param lr=0.05 --parent features@7",
              "push /srv/registry churn model.onnx config.json --alias staging"});
  return {c, [a] { return RunPush(*a); }};
}

Command AddSet(CLI::App& app) {
  auto a = std::make_shared<SetArgs>();
  CLI::App* c = app.add_subcommand(
      "set", "Set metadata on a version (metrics.auc=0.91 tags.team=growth ...) or on a model (description, owner)");
  AddRoot(c, a->root);
  c->add_option("REF", a->ref, "MODEL@N, or MODEL for the model's own description and owner")->required();
  c->add_option("K=V", a->kvs,
                "MODEL@N: metrics.K, params.K, tags.K, lineage.{parents,datasets,code,run}, "
                "description; MODEL: description, owner");
  c->add_option("--remove", a->removes, "Remove key K");
  Example(c, {"set churn@13 metrics.latency_ms=12 tags.owner=ana --remove tags.tmp"});
  return {c, [a] { return RunSet(*a); }};
}

Command AddAlias(CLI::App& app) {
  auto a = std::make_shared<AliasArgs>();
  CLI::App* c = app.add_subcommand("alias", "Point ALIAS at MODEL@N, or --delete MODEL ALIAS");
  AddRoot(c, a->root);
  c->add_option("REF", a->ref, "MODEL@N (or MODEL with --delete)")->required();
  c->add_option("ALIAS", a->alias, "Alias name")->required();
  c->add_flag("--delete", a->del, "Delete the alias");
  c->add_flag("--force", a->force, "Admins: pass failing gates (audited)");
  Example(c, {"alias churn@13 production", "alias --delete churn staging"});
  return {c, [a] { return RunAlias(*a); }};
}

Command AddApprove(CLI::App& app) {
  auto a = std::make_shared<VersionArgs>();
  CLI::App* c = AddVersionCommand(app, "approve", "Approve (or --reject) MODEL@N", a.get());
  c->add_flag("--reject", a->reject, "Reject instead of approve");
  c->add_option("--comment", a->comment, "Why");
  Example(c, {"approve churn@13 --comment \"offline eval ok\"", "approve churn@12 --reject"});
  return {c, [a] { return RunApprove(*a); }};
}

Command AddSeal(CLI::App& app) {
  auto a = std::make_shared<VersionArgs>();
  CLI::App* c = AddVersionCommand(app, "seal", "Seal a draft made through the mount", a.get());
  Example(c, {"seal churn@14"});
  return {c, [a] { return RunSeal(*a); }};
}

Command AddArchive(CLI::App& app) {
  auto a = std::make_shared<VersionArgs>();
  CLI::App* c = AddVersionCommand(app, "archive", "Archive MODEL@N (hidden from latest, kept until gc)",
                                  a.get());
  Example(c, {"archive churn@3"});
  return {c, [a] { return RunArchive(*a); }};
}

}  // namespace modelfs::cli
