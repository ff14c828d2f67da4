// The lifecycle commands beyond push and archive: copy (a version into
// another model, of this registry or another) and unarchive. Each asks the
// Session(s) whether the caller may act, then calls one Registry change.
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"

namespace modelfs::cli {
namespace {

using policy::Operation;

struct CopyArgs {
  std::string root, ref, model, to;
  bool json = false;
};

// Copies within `src`'s registry when `dst` is null, else into `dst`'s.
Status DoCopy(const CopyArgs& a, const Ref& ref, Session& src, Session* dst) {
  Session& d = dst ? *dst : src;
  MODELFS_RETURN_IF_ERROR(src.Check(Operation::kRead, ref.model, a.ref));
  auto snap = src.reg().Read();
  if (!snap.ok()) return snap.status();
  auto v = snap->Resolve(ref);
  if (!v.ok()) return v.status();
  auto dsnap = d.reg().Read();
  if (!dsnap.ok()) return dsnap.status();
  bool exists = dsnap->GetModel(a.model).ok();
  MODELFS_RETURN_IF_ERROR(
      d.Check(exists ? Operation::kPush : Operation::kPushNewModel, a.model, a.model));
  std::string label = dst ? src.reg().root() + ":" + v->ref() : v->ref();
  auto copied = d.reg().Copy(*snap, src.reg().blobs(), *v, a.model, label, d.actor());
  if (!copied.ok()) return copied.status();
  if (a.json) {
    auto after = d.reg().Read();
    auto j = after.ok() ? VersionJson(*after, *copied) : Result<nlohmann::json>(after.status());
    if (!j.ok())
      return Status::IO(copied->ref() + " is copied, but cannot be shown: " + j.status().message());
    std::cout << DumpJson(*j) << "\n";
  } else {
    std::cout << copied->ref() << "\n";
  }
  return Status::Ok();
}

int RunCopy(const CopyArgs& a) {
  auto ref = ParseRef(a.ref);
  if (!ref.ok()) return UsageError(ref.status());
  if (Status st = CheckModelName(a.model); !st.ok()) return UsageError(st);
  return WithSession(a.root, [&](Session& src) -> Status {
    // The same ROOT by another name: one registry (LMDB allows one
    // environment per process).
    std::error_code ec1;
    if (a.to.empty() || std::filesystem::equivalent(a.root, a.to, ec1))
      return DoCopy(a, *ref, src, nullptr);
    auto dst = Session::Open(a.to);
    if (!dst.ok()) return dst.status();
    return DoCopy(a, *ref, src, &*dst);
  });
}

struct UnarchiveArgs {
  std::string root, ref;
};

int RunUnarchive(const UnarchiveArgs& a) {
  auto ref = ParseVersionRef(a.ref);
  if (!ref.ok()) return UsageError(ref.status());
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kUnarchive, ref->model, a.ref));
    return s.reg().Unarchive(ref->model, ref->version, s.actor());
  });
}

}  // namespace

Command AddCopy(CLI::App& app) {
  auto a = std::make_shared<CopyArgs>();
  CLI::App* c = app.add_subcommand(
      "copy", "Copy MODEL@REF as the next version of DST_MODEL (here or --to another ROOT); prints DST_MODEL@N");
  AddRoot(c, a->root);
  c->add_option("REF", a->ref, "MODEL, MODEL@N or MODEL@ALIAS")->required();
  c->add_option("DST_MODEL", a->model, "Model to copy into (created when absent)")->required();
  c->add_option("--to", a->to, "Another registry ROOT to copy into");
  AddJson(c, a->json);
  Example(c, {"copy churn@production churn-eu", "copy /srv/registry churn@production churn --to /srv/eu-registry"});
  return {c, [a] { return RunCopy(*a); }};
}

Command AddUnarchive(CLI::App& app) {
  auto a = std::make_shared<UnarchiveArgs>();
  CLI::App* c = app.add_subcommand("unarchive", "Make an archived MODEL@N ready again (until gc removes it)");
  AddRoot(c, a->root);
  c->add_option("REF", a->ref, "MODEL@N")->required();
  Example(c, {"unarchive churn@3"});
  return {c, [a] { return RunUnarchive(*a); }};
}

}  // namespace modelfs::cli
