// The `modelfs` command (SPEC §5). Each subcommand opens ROOT directly,
// asks policy/ whether the caller may act, and calls index/. Exit status:
// 0 ok, 1 failure, 2 usage, 3 denied by policy.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/render.h"
#include "fs/mount.h"
#include "index/registry.h"
#include "policy/enforce.h"
#include "policy/policy.h"

namespace modelfs::cli {
namespace {

using nlohmann::json;
using policy::Action;

constexpr int kExitOk = 0, kExitFail = 1, kExitUsage = 2, kExitDenied = 3;

int Fail(const Status& s) {
  bool says_denied = s.message().rfind("denied", 0) == 0;  // policy reasons may already
  std::cerr << "modelfs: " << (s.code() == Code::kDenied && !says_denied ? "denied: " : "")
            << s.message() << "\n";
  return s.code() == Code::kDenied ? kExitDenied : kExitFail;
}

// An open registry with the caller's identity and the policy in force.
struct Session {
  std::unique_ptr<Registry> reg;
  std::shared_ptr<const policy::Policy> pol;
  std::unique_ptr<policy::Enforcer> enforcer;
  policy::Identity who;
  Actor actor;

  static Result<Session> Open(const std::string& root) {
    auto reg = Registry::Open(root);
    if (!reg.ok()) return reg.status();
    auto pol = policy::Policy::Load((*reg)->policy_path());
    if (!pol.ok()) return Status::Invalid("policy does not parse: " + pol.status().message());
    Session s;
    s.reg = std::move(*reg);
    s.pol = *pol;
    policy::IdentityResolver resolver;
    s.who = resolver.ForCurrentProcess();
    s.actor = policy::Enforcer::ActorOf(s.who);
    s.enforcer = std::make_unique<policy::Enforcer>(s.reg.get(), [p = s.pol] { return p; });
    return s;
  }

  // Ok when allowed; else the denial is audited and returned.
  Status Check(policy::Operation op, const std::string& model, const std::string& object) {
    return enforcer->Check(who, op, model, object);
  }
};

// Runs `body` with an open session, mapping errors to exit codes.
template <class F>
int WithSession(const std::string& root, F&& body) {
  auto s = Session::Open(root);
  if (!s.ok()) return Fail(s.status());
  Status st = body(*s);
  return st.ok() ? kExitOk : Fail(st);
}

Result<std::pair<std::string, std::string>> SplitKV(const std::string& kv, const char* what) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    return Status::Invalid(std::string(what) + " \"" + kv + "\" is not of the form K=V");
  return std::make_pair(kv.substr(0, eq), kv.substr(eq + 1));
}

// A one-line progress bar on stderr when it is a terminal.
class ProgressBar {
 public:
  ProgressBar(uint64_t total) : total_(total), on_(isatty(2) && total >= (64ull << 20)) {}
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

void PrintJson(const json& j) { std::cout << j.dump(2) << "\n"; }

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"modelfs: a model registry you use as a filesystem"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  std::string root, model_ref, alias, comment, path_arg;
  std::vector<std::string> paths, metrics, params, tags, parents, datasets, kvs, removes;
  std::string code, run, description;
  bool as_json = false, force = false, del = false, reject = false, dry_run = false, repair = false;

  auto add_root = [&](CLI::App* c) { c->add_option("ROOT", root, "Registry root directory")->required(); };
  auto add_json = [&](CLI::App* c) { c->add_flag("--json", as_json, "Print JSON"); };

  auto* init = app.add_subcommand("init", "Create a registry at ROOT");
  add_root(init);

  auto* push = app.add_subcommand("push", "Register files as the next version of MODEL; prints MODEL@N");
  add_root(push);
  push->add_option("MODEL", model_ref, "Model name")->required();
  push->add_option("PATH", paths, "Files or directories, laid out as cp -r would")->required();
  push->add_option("--metric", metrics, "Metric K=V (a finite number)");
  push->add_option("--param", params, "Parameter K=V");
  push->add_option("--tag", tags, "Tag K=V");
  push->add_option("--parent", parents, "Parent version MODEL@N");
  push->add_option("--dataset", datasets, "Dataset URI, optionally URI#xxh3:<digest>");
  push->add_option("--code", code, "Code reference (commit URL, ...)");
  push->add_option("--run", run, "Training run id");
  push->add_option("--description", description, "Free text");
  push->add_option("--alias", alias, "Point this alias at the new version");
  add_json(push);

  auto* show = app.add_subcommand("show", "Show a version: MODEL, MODEL@N or MODEL@ALIAS");
  add_root(show);
  show->add_option("REF", model_ref, "MODEL[@N|@ALIAS]")->required();
  add_json(show);

  auto* list = app.add_subcommand("list", "List models, or the versions of MODEL");
  add_root(list);
  list->add_option("MODEL", model_ref, "Model name");
  add_json(list);

  auto* set = app.add_subcommand("set", "Set metadata on a version: metrics.auc=0.91 tags.team=growth ...");
  add_root(set);
  set->add_option("REF", model_ref, "MODEL@N")->required();
  set->add_option("K=V", kvs, "metrics.K, params.K, tags.K, lineage.{parents,datasets,code,run}, description");
  set->add_option("--remove", removes, "Remove key K");

  auto* al = app.add_subcommand("alias", "Point ALIAS at MODEL@N, or --delete MODEL ALIAS");
  add_root(al);
  al->add_option("REF", model_ref, "MODEL@N (or MODEL with --delete)")->required();
  al->add_option("ALIAS", alias, "Alias name")->required();
  al->add_flag("--delete", del, "Delete the alias");
  al->add_flag("--force", force, "Admins: pass failing gates (audited)");

  auto* approve = app.add_subcommand("approve", "Approve (or --reject) MODEL@N");
  add_root(approve);
  approve->add_option("REF", model_ref, "MODEL@N")->required();
  approve->add_flag("--reject", reject, "Reject instead of approve");
  approve->add_option("--comment", comment, "Why");

  auto* seal = app.add_subcommand("seal", "Seal a draft made through the mount");
  add_root(seal);
  seal->add_option("REF", model_ref, "MODEL@N")->required();

  auto* archive = app.add_subcommand("archive", "Archive MODEL@N (hidden from latest, kept until gc)");
  add_root(archive);
  archive->add_option("REF", model_ref, "MODEL@N")->required();

  auto* log = app.add_subcommand("log", "The audit trail: who, when, what, before -> after");
  add_root(log);
  log->add_option("MODEL", model_ref, "Only this model");
  add_json(log);

  auto* gc = app.add_subcommand("gc", "Remove unreferenced blobs, expired drafts, retention");
  add_root(gc);
  gc->add_flag("--dry-run", dry_run, "Only list what would go");
  add_json(gc);

  auto* fsck = app.add_subcommand("fsck", "Check index consistency and every blob's digest");
  add_root(fsck);
  fsck->add_flag("--repair", repair, "Remove garbage and fix counters");
  add_json(fsck);

  fs::MountOptions mopt;
  bool no_verify = false;
  std::vector<std::string> mount_o;
  auto* mount = app.add_subcommand("mount", "Mount ROOT at MOUNTPOINT");
  add_root(mount);
  mount->add_option("MOUNTPOINT", mopt.mountpoint, "Where to mount")->required();
  mount->add_flag("-f,--foreground", mopt.foreground, "Stay in the foreground");
  mount->add_option("-o", mount_o, "Mount options OPT[,OPT] (allow_other, ro, ...)")->delimiter(',');
  mount->add_option("--threads", mopt.threads, "Worker threads");
  mount->add_flag("--no-verify", no_verify, "Do not verify blob digests on first open");

  auto* pol = app.add_subcommand("policy", "Policy tools");
  pol->require_subcommand(1);
  auto* pcheck = pol->add_subcommand("check", "Check a policy file: errors as FILE:LINE:COL: message");
  pcheck->add_option("FILE", path_arg, "policy.toml")->required();

  auto known = [&](const std::string& name) {
    for (const CLI::App* c : app.get_subcommands([](CLI::App*) { return true; }))
      if (c->get_name() == name) return true;
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    std::cerr << "modelfs: unknown command '" << argv[1] << "'\n"
              << "Run 'modelfs --help' for the list of commands.\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "modelfs: " << e.what() << "\n";
    std::cerr << "Run 'modelfs --help' or 'modelfs COMMAND --help' for usage.\n";
    return kExitUsage;
  }

  // Parses MODEL@N for commands that take exactly one version.
  auto version_ref = [&]() -> Result<Ref> { return ParseVersionRef(model_ref); };

  if (*init) {
    Status st = Registry::Init(root, policy::DefaultPolicyText());
    if (!st.ok()) return Fail(st);
    std::cout << "initialized registry " << root << "\n";
    return kExitOk;
  }

  if (*pcheck) {
    auto p = policy::Policy::Load(path_arg);
    if (!p.ok()) {
      std::cerr << p.status().message() << "\n";
      return kExitFail;
    }
    std::cout << path_arg << ": ok\n";
    return kExitOk;
  }

  if (*mount) {
    mopt.root = root;
    mopt.options = mount_o;
    mopt.verify = !no_verify;
    return fs::Mount(mopt);
  }

  if (*push) {
    PushRequest req;
    req.model = model_ref;
    req.paths = paths;
    req.alias = alias;
    auto add = [&](const std::vector<std::string>& kv, const char* fam, const char* what) -> Status {
      for (const auto& s : kv) {
        auto p = SplitKV(s, what);
        if (!p.ok()) return p.status();
        req.meta.push_back({std::string(fam) + "." + p->first, p->second});
      }
      return Status::Ok();
    };
    for (auto st : {add(metrics, "metrics", "--metric"), add(params, "params", "--param"),
                    add(tags, "tags", "--tag")})
      if (!st.ok()) return Fail(st);
    for (const auto& p : parents) {
      auto r = ParseVersionRef(p);
      if (!r.ok()) return Fail(Status::Invalid("--parent: " + r.status().message()));
    }
    if (!parents.empty()) req.meta.push_back({"lineage.parents", JoinList(parents)});
    for (const auto& d : datasets)
      if (d.find(',') != std::string::npos)
        return Fail(Status::Invalid("--dataset \"" + d + "\" contains a comma; give one URI per --dataset"));
    if (!datasets.empty()) req.meta.push_back({"lineage.datasets", JoinList(datasets)});
    if (!code.empty()) req.meta.push_back({"lineage.code", code});
    if (!run.empty()) req.meta.push_back({"lineage.run", run});
    if (!description.empty()) req.meta.push_back({"description", description});
    return WithSession(root, [&](Session& s) -> Status {
      MODELFS_RETURN_IF_ERROR(CheckModelName(req.model));
      if (!alias.empty()) MODELFS_RETURN_IF_ERROR(CheckAliasName(alias));
      auto snap = s.reg->Read();
      if (!snap.ok()) return snap.status();
      bool exists = snap->GetModel(req.model).ok();
      MODELFS_RETURN_IF_ERROR(s.Check(exists ? policy::Operation::kPush : policy::Operation::kPushNewModel,
                                      req.model, req.model));
      if (!alias.empty())
        MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kSetAlias, req.model, req.model + "/" + alias));
      uint64_t bytes = 0, files = 0;
      MODELFS_RETURN_IF_ERROR(Registry::PlanPush(req.paths, &bytes, &files));
      ProgressBar bar(bytes);
      Result<Version> v = Status::Invalid("not pushed");
      auto push_with = [&](const Guard& guard) {
        v = s.reg->Push(req, s.actor, [&](uint64_t n) { bar(n); }, guard);
        return v.status();
      };
      Status pushed = alias.empty() ? push_with(Guard{})
                                    : s.enforcer->WithGates(s.who, req.model, alias, false,
                                                            req.model + "/" + alias, push_with);
      bar.Done();
      if (!pushed.ok()) return pushed;
      if (as_json) {
        auto snap2 = s.reg->Read();
        if (!snap2.ok()) return snap2.status();
        PrintJson(VersionJson(*snap2, *v));
      } else {
        std::cout << v->ref() << "\n";
      }
      return Status::Ok();
    });
  }

  if (*show) {
    auto ref = ParseRef(model_ref);
    if (!ref.ok()) return Fail(ref.status());
    return WithSession(root, [&](Session& s) -> Status {
      MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kRead, ref->model, model_ref));
      auto snap = s.reg->Read();
      if (!snap.ok()) return snap.status();
      auto v = snap->Resolve(*ref);
      if (!v.ok()) return v.status();
      json j = VersionJson(*snap, *v);
      if (as_json) PrintJson(j);
      else std::cout << VersionText(j);
      return Status::Ok();
    });
  }

  if (*list) {
    return WithSession(root, [&](Session& s) -> Status {
      auto snap = s.reg->Read();
      if (!snap.ok()) return snap.status();
      bool first = true;
      auto emit = [&](const json& j, const std::string& text) {
        if (as_json) std::cout << (first ? "[\n" : ",\n") << j.dump(2);
        else std::cout << text << "\n";
        first = false;
      };
      if (model_ref.empty()) {
        if (!as_json) std::printf("%-32s %8s %7s  %s\n", "MODEL", "VERSIONS", "LATEST", "ALIASES");
        MODELFS_RETURN_IF_ERROR(snap->ForEachModel("", [&](const Model& m) {
          if (!s.enforcer->MayRead(s.who, m.name)) return true;  // not shown
          json j = ModelJson(*snap, m);
          std::vector<std::string> al;
          for (auto it = j["aliases"].begin(); it != j["aliases"].end(); ++it)
            al.push_back(it.key() + "->v" + it.value().dump());
          std::string aliases = JoinList(al);
          char line[512];
          std::snprintf(line, sizeof line, "%-32s %8llu %7s  %s", m.name.c_str(),
                        static_cast<unsigned long long>(j["versions"].get<uint64_t>()),
                        j["latest"].is_null() ? "-" : ("v" + j["latest"].dump()).c_str(),
                        aliases.c_str());
          emit(j, line);
          return true;
        }));
      } else {
        MODELFS_RETURN_IF_ERROR(CheckModelName(model_ref));
        MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kRead, model_ref, model_ref));
        auto m = snap->GetModel(model_ref);
        if (!m.ok()) return m.status();
        if (!as_json)
          std::printf("%-8s %-8s %-9s %-20s %-12s %12s  %s\n", "VERSION", "STATE", "APPROVAL",
                      "CREATED", "BY", "SIZE", "ALIASES");
        MODELFS_RETURN_IF_ERROR(snap->ForEachVersion(m->id, 0, [&](const Version& v) {
          if (as_json) {
            emit(VersionJson(*snap, v), "");
          } else {
            std::string aliases = JoinList(snap->AliasesOf(m->id, v.number));
            char line[512];
            std::snprintf(line, sizeof line, "v%-7u %-8s %-9s %-20s %-12s %12llu  %s", v.number,
                          std::string(StateName(v.state)).c_str(), v.approval.status.c_str(),
                          FormatTime(v.created_at_ns).c_str(), v.created_by.c_str(),
                          static_cast<unsigned long long>(v.size), aliases.c_str());
            emit(json(), line);
          }
          return true;
        }));
      }
      if (as_json) std::cout << (first ? "[]\n" : "\n]\n");
      return Status::Ok();
    });
  }

  if (*set) {
    auto ref = version_ref();
    if (!ref.ok()) return Fail(ref.status());
    std::vector<MetaChange> changes;
    for (const auto& kv : kvs) {
      auto p = SplitKV(kv, "setting");
      if (!p.ok()) return Fail(p.status());
      changes.push_back({p->first, p->second});
    }
    for (const auto& k : removes) changes.push_back({k, std::nullopt});
    if (changes.empty()) return Fail(Status::Invalid("nothing to set: give K=V or --remove K"));
    return WithSession(root, [&](Session& s) -> Status {
      MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kSetMeta, ref->model, model_ref));
      return s.reg->SetMeta(ref->model, ref->version, changes, s.actor);
    });
  }

  if (*al) {
    if (del) {
      Status st = CheckModelName(model_ref);
      if (!st.ok()) return Fail(st);
      return WithSession(root, [&](Session& s) -> Status {
        MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kDeleteAlias, model_ref, model_ref + "/" + alias));
        return s.reg->DeleteAlias(model_ref, alias, s.actor);
      });
    }
    auto ref = version_ref();
    if (!ref.ok()) return Fail(ref.status());
    Status an = CheckAliasName(alias);
    if (!an.ok()) return Fail(an);
    return WithSession(root, [&](Session& s) -> Status {
      std::string object = ref->model + "/" + alias;
      MODELFS_RETURN_IF_ERROR(s.Check(force ? policy::Operation::kSetAliasForced
                                            : policy::Operation::kSetAlias,
                                      ref->model, force ? object + " --force" : object));
      return s.enforcer->WithGates(
          s.who, ref->model, alias, force, object + " -> v" + std::to_string(ref->version),
          [&](const Guard& gates) {
            return s.reg->SetAlias(ref->model, alias, ref->version, s.actor, gates);
          });
    });
  }

  if (*approve) {
    auto ref = version_ref();
    if (!ref.ok()) return Fail(ref.status());
    return WithSession(root, [&](Session& s) -> Status {
      MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kApprove, ref->model, model_ref));
      return s.reg->Approve(ref->model, ref->version, !reject, comment, s.actor);
    });
  }

  if (*archive) {
    auto ref = version_ref();
    if (!ref.ok()) return Fail(ref.status());
    return WithSession(root, [&](Session& s) -> Status {
      MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kArchive, ref->model, model_ref));
      return s.reg->Archive(ref->model, ref->version, s.actor);
    });
  }

  if (*seal) {
    auto ref = version_ref();
    if (!ref.ok()) return Fail(ref.status());
    return WithSession(root, [&](Session& s) -> Status {
      MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kSeal, ref->model, model_ref));
      auto v = s.reg->Seal(ref->model, ref->version, s.actor);
      if (!v.ok()) return v.status();
      std::cout << v->ref() << "\n";
      return Status::Ok();
    });
  }

  if (*log) {
    return WithSession(root, [&](Session& s) -> Status {
      if (model_ref.empty()) MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kReadAudit, "", "log"));
      else MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kRead, model_ref, model_ref));
      auto snap = s.reg->Read();
      if (!snap.ok()) return snap.status();
      bool first = true;
      MODELFS_RETURN_IF_ERROR(snap->ForEachAudit(0, [&](const AuditRecord& r) {
        if (!model_ref.empty() && r.model != model_ref) return true;
        if (as_json) std::cout << (first ? "[\n" : ",\n") << AuditJson(r).dump(2);
        else std::cout << AuditText(r) << "\n";
        first = false;
        return true;
      }));
      if (as_json) std::cout << (first ? "[]\n" : "\n]\n");
      return Status::Ok();
    });
  }

  if (*gc) {
    return WithSession(root, [&](Session& s) -> Status {
      MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kGc, "", "gc"));
      GcOptions opt;
      opt.dry_run = dry_run;
      opt.keep_last = s.pol->retention().keep_last;
      opt.draft_ttl_s = s.pol->retention().draft_ttl_seconds;
      auto rep = s.reg->Gc(opt, s.actor);
      if (!rep.ok()) return rep.status();
      if (as_json) {
        PrintJson({{"dry_run", dry_run}, {"removed", rep->removed}, {"bytes", rep->bytes}});
      } else {
        for (const auto& r : rep->removed) std::cout << (dry_run ? "would remove " : "removed ") << r << "\n";
        std::cout << (dry_run ? "would free " : "freed ") << rep->bytes << " bytes\n";
      }
      return Status::Ok();
    });
  }

  if (*fsck) {
    return WithSession(root, [&](Session& s) -> Status {
      MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kFsck, "", "fsck"));
      auto rep = s.reg->Fsck(repair, s.actor);
      if (!rep.ok()) return rep.status();
      if (as_json) {
        PrintJson({{"problems", rep->problems}, {"garbage", rep->garbage}, {"repaired", rep->repaired}});
      } else {
        for (const auto& p : rep->problems) std::cout << "problem: " << p << "\n";
        for (const auto& g : rep->garbage) std::cout << "garbage: " << g << "\n";
        for (const auto& r : rep->repaired) std::cout << "repaired: " << r << "\n";
        std::cout << (rep->problems.empty() ? "index consistent" : "index INCONSISTENT") << ", "
                  << rep->garbage.size() << " garbage item(s)\n";
      }
      if (!rep->problems.empty()) return Status::Corrupt(std::to_string(rep->problems.size()) + " problem(s) found");
      return Status::Ok();
    });
  }
  return kExitUsage;
}

}  // namespace modelfs::cli

int main(int argc, char** argv) {
  // Sealing a draft holds every file of it open until the commit: raise the
  // soft limit on descriptors to the hard one, as the mount does.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  return modelfs::cli::Main(argc, argv);
}
