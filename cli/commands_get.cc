// `modelfs get`: a version's files written into a directory, without a
// mount (CI containers, pods without FUSE). Reading needs the policy's
// read; index/get.h writes, verifies and renames into place.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"
#include "index/get.h"

namespace modelfs::cli {
namespace {

using nlohmann::json;

struct GetArgs {
  std::string root, ref;
  GetOptions opt;
  bool json = false;
};

int RunGet(const GetArgs& a) {
  auto ref = ParseRef(a.ref);
  if (!ref.ok()) return UsageError(ref.status());
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kRead, ref->model, a.ref));
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    auto v = snap->Resolve(*ref);
    if (!v.ok()) return v.status();
    auto rep = GetVersionFiles(*snap, s.reg().blobs(), *v, a.opt);
    if (!rep.ok()) return rep.status();
    if (a.json) {
      json files = json::array();
      for (const auto& f : rep->files) {
        json j = {{"path", f.path},
                  {"size", f.size},
                  {"mode", ModeString(f.mode)},
                  {"digest", f.digest.hex()},
                  {"method", GetMethodName(f.method)}};
        if (f.method == GetMethod::kSymlink) j["target"] = f.target;
        files.push_back(std::move(j));
      }
      std::cout << DumpJson({{"model", v->model},
                             {"version", v->number},
                             {"digest", v->digest.hex()},
                             {"dest", rep->dest},
                             {"bytes", rep->bytes},
                             {"files", files}})
                << "\n";
      return Status::Ok();
    }
    for (const auto& f : rep->files) {
      // Tab-separated for cut/awk; the path escaped (EscapeText) so each
      // file stays on its line.
      std::cout << GetMethodName(f.method) << "\t" << f.size << "\t" << EscapeText(f.path);
      if (f.method == GetMethod::kSymlink) std::cout << " -> " << EscapeText(f.target);
      std::cout << "\n";
    }
    std::cout << EscapeText(v->ref() + " -> " + rep->dest + ": " +
                            Count(rep->files.size(), "file") + ", " +
                            Count(rep->bytes, "byte") + ", digests verified")
              << "\n";
    return Status::Ok();
  });
}

}  // namespace

Command AddGet(CLI::App& app) {
  auto a = std::make_shared<GetArgs>();
  CLI::App* c = app.add_subcommand(
      "get", "Write a version's files into DEST without a mount (verified; DEST appears whole or not at all)");
  AddRoot(c, a->root);
  c->add_option("REF", a->ref, "MODEL, MODEL@N or MODEL@ALIAS")->required();
  c->add_option("DEST", a->opt.dest, "A new directory (or an empty one)")->required();
  c->add_option("--include", a->opt.include, "Only paths matching this glob (repeatable; * matches /)");
  c->add_option("--exclude", a->opt.exclude, "Leave out paths matching this glob (repeatable)");
  c->add_flag("--link", a->opt.link,
              "Hard-link from ROOT/blobs where possible (read-only files that ARE the registry's "
              "blobs: never write them); default: reflink, else copy");
  AddJson(c, a->json);
  Example(c, {"get churn@production ./model", "get /srv/registry churn@v12 ./model --include '*.onnx' --json"});
  return {c, [a] { return RunGet(*a); }};
}

}  // namespace modelfs::cli
