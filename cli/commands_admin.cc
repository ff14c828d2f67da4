// The commands that look after a registry as a whole: init, gc, fsck, mount
// and policy check. gc and fsck need the admin right (checked through the
// Session); init, mount and policy check run before any policy applies.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"
#include "fs/mount.h"

namespace modelfs::cli {
namespace {

using nlohmann::json;
using policy::Operation;

// ---------------------------------------------------------------- init

struct InitArgs {
  std::string root;
};

int RunInit(const InitArgs& a) {
  Status st = Registry::Init(a.root, policy::DefaultPolicyText());
  if (!st.ok()) return Fail(st);
  if (!Quiet()) std::cout << "initialized registry " << a.root << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------- gc

struct GcArgs {
  std::string root;
  bool dry_run = false, json = false;
};

int RunGc(const GcArgs& a) {
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kGc, "", "gc"));
    GcOptions opt;
    opt.dry_run = a.dry_run;
    opt.keep_last = s.retention().keep_last;
    opt.draft_ttl_s = s.retention().draft_ttl_seconds;
    opt.audit_keep = s.retention().audit_keep;
    opt.audit_ttl_s = s.retention().audit_ttl_seconds;
    auto rep = s.reg().Gc(opt, s.actor());
    if (!rep.ok()) return rep.status();
    if (a.json) {
      json j = {{"dry_run", a.dry_run}, {"removed", rep->removed}, {"bytes", rep->bytes}};
      std::cout << DumpJson(j) << "\n";
    } else {
      for (const auto& r : rep->removed)
        std::cout << (a.dry_run ? "would remove " : "removed ") << EscapeText(r) << "\n";
      if (!Quiet()) std::cout << (a.dry_run ? "would free " : "freed ") << rep->bytes << " bytes\n";
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- fsck

struct FsckArgs {
  std::string root;
  bool repair = false, json = false;
};

int RunFsck(const FsckArgs& a) {
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kFsck, "", "fsck"));
    auto rep = s.reg().Fsck(a.repair, s.actor());
    if (!rep.ok()) return rep.status();
    if (a.json) {
      json j = {{"problems", rep->problems}, {"garbage", rep->garbage}, {"repaired", rep->repaired}};
      std::cout << DumpJson(j) << "\n";
    } else {
      for (const auto& p : rep->problems) std::cout << "problem: " << EscapeText(p) << "\n";
      for (const auto& g : rep->garbage) std::cout << "garbage: " << EscapeText(g) << "\n";
      for (const auto& r : rep->repaired) std::cout << "repaired: " << EscapeText(r) << "\n";
      if (!Quiet() || !rep->problems.empty())
        std::cout << (rep->problems.empty() ? "index consistent" : "index INCONSISTENT") << ", "
                  << rep->garbage.size() << " garbage item(s)\n";
    }
    if (!rep->problems.empty())
      return Status::Corrupt(std::to_string(rep->problems.size()) + " problem(s) found");
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- mount

struct MountArgs {
  fs::MountOptions opt;
  bool no_verify = false;
};

int RunMount(const MountArgs& a) {
  fs::MountOptions opt = a.opt;
  opt.verify = !a.no_verify;
  return fs::Mount(opt);
}

// ---------------------------------------------------------------- policy check

struct PolicyCheckArgs {
  std::string file;
};

int RunPolicyCheck(const PolicyCheckArgs& a) {
  auto p = policy::Policy::Load(a.file);
  if (!p.ok()) {
    std::cerr << p.status().message() << "\n";  // FILE:LINE:COL: message, as compilers do
    return kExitFail;
  }
  if (!Quiet()) std::cout << a.file << ": ok\n";
  return kExitOk;
}

}  // namespace

Command AddInit(CLI::App& app) {
  auto a = std::make_shared<InitArgs>();
  CLI::App* c = app.add_subcommand("init", "Create a registry at ROOT");
  AddRoot(c, a->root);
  Example(c, {"init /srv/registry", "init ./reg"});
  return {c, [a] { return RunInit(*a); }};
}

Command AddGc(CLI::App& app) {
  auto a = std::make_shared<GcArgs>();
  CLI::App* c = app.add_subcommand("gc", "Remove unreferenced blobs, expired drafts, retention");
  AddRoot(c, a->root);
  c->add_flag("--dry-run", a->dry_run, "Only list what would go");
  AddJson(c, a->json);
  Example(c, {"gc --dry-run", "gc /srv/registry"});
  return {c, [a] { return RunGc(*a); }};
}

Command AddFsck(CLI::App& app) {
  auto a = std::make_shared<FsckArgs>();
  CLI::App* c = app.add_subcommand("fsck", "Check index consistency and every blob's digest");
  AddRoot(c, a->root);
  c->add_flag("--repair", a->repair, "Remove garbage and fix counters");
  AddJson(c, a->json);
  Example(c, {"fsck", "fsck /srv/registry --repair"});
  return {c, [a] { return RunFsck(*a); }};
}

Command AddMount(CLI::App& app) {
  auto a = std::make_shared<MountArgs>();
  CLI::App* c = app.add_subcommand("mount", "Mount ROOT at MOUNTPOINT");
  AddRoot(c, a->opt.root, RootPlace::kLeadingByCount);
  c->add_option("MOUNTPOINT", a->opt.mountpoint, "Where to mount")->required();
  c->add_flag("-f,--foreground", a->opt.foreground, "Stay in the foreground");
  c->add_option("-o", a->opt.options, "Mount options OPT[,OPT] (allow_other, ro, ...)")->delimiter(',');
  c->add_option("--threads", a->opt.threads, "Worker threads");
  c->add_flag("--no-verify", a->no_verify, "Do not verify blob digests on first open");
  Example(c, {"mount /srv/registry /models -o allow_other", "mount /models -f"});
  return {c, [a] { return RunMount(*a); }};
}

Command AddPolicyCheck(CLI::App& app) {
  auto a = std::make_shared<PolicyCheckArgs>();
  CLI::App* group = app.add_subcommand("policy", "Policy tools");
  group->require_subcommand(1);
  Example(group, {"policy check /srv/registry/policy.toml"});
  CLI::App* c = group->add_subcommand("check", "Check a policy file: errors as FILE:LINE:COL: message");
  c->add_option("FILE", a->file, "policy.toml")->required();
  Example(c, {"policy check /srv/registry/policy.toml"});
  return {c, [a] { return RunPolicyCheck(*a); }};
}

}  // namespace modelfs::cli
