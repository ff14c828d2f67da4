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
#include "index/blob_cache.h"
#include "index/remote/engine.h"

namespace modelfs::cli {
namespace {

using nlohmann::json;
using policy::Operation;

// ---------------------------------------------------------------- init

struct InitArgs {
  std::string root;
  // Multi-host (SPEC §7): given --etcd, --s3 and --s3-endpoint.
  std::string etcd, etcd_prefix = "/modelfs/", s3, s3_endpoint, s3_region = "us-east-1";
  std::string cache_size, credentials;
};

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  for (;;) {
    size_t e = s.find(',', b);
    std::string part = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
    if (!part.empty()) out.push_back(part);
    if (e == std::string::npos) return out;
    b = e + 1;
  }
}

int RunInit(const InitArgs& a) {
  if (a.etcd.empty() && a.s3.empty()) {
    Status st = Registry::Init(a.root, policy::DefaultPolicyText());
    if (!st.ok()) return Fail(st);
    if (!Quiet()) std::cout << "initialized registry " << a.root << "\n";
    return kExitOk;
  }
  if (a.etcd.empty() || a.s3.empty() || a.s3_endpoint.empty())
    return UsageError(Status::Invalid(
        "a multi-host registry needs --etcd URL[,URL...], --s3 s3://BUCKET/PREFIX and "
        "--s3-endpoint URL"));
  remote::RegistrySettings s;
  s.etcd = SplitList(a.etcd);
  s.etcd_prefix = a.etcd_prefix;
  if (s.etcd_prefix.empty() || s.etcd_prefix.back() != '/') s.etcd_prefix += '/';
  if (Status st = remote::ParseS3Url(a.s3, &s); !st.ok()) return UsageError(st);
  s.s3_endpoint = a.s3_endpoint;
  s.s3_region = a.s3_region;
  s.cache_size = a.cache_size;
  if (!a.cache_size.empty()) {
    if (auto n = ParseCacheSize(a.cache_size); !n.ok())
      return UsageError(n.status().WithContext("--cache-size"));
  }
  s.credentials = a.credentials;
  bool joined = false;
  Status st = remote::InitMultiHost(a.root, s, std::string(policy::DefaultPolicyText()), &joined);
  if (!st.ok()) return Fail(st);
  if (!Quiet())
    std::cout << (joined ? "joined registry " : "created registry ") << a.etcd_prefix << " at "
              << a.etcd << " (blobs in " << a.s3 << "); replica at " << a.root << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------- status

struct StatusArgs {
  std::string root;
  bool json = false;
};

int RunStatus(const StatusArgs& a) {
  return WithSession(a.root, [&](Session& s) -> Status {
    auto st = remote::StatusOf(s.reg());
    if (!st.ok()) return st.status();
    uint64_t lag = st->head > st->applied.seq ? st->head - st->applied.seq : 0;
    if (a.json) {
      json j = {{"applied", {{"commit", st->applied.seq}, {"revision", st->applied.revision}}},
                {"etcd", {{"reachable", st->etcd_ok}, {"endpoints", st->settings.etcd}}},
                {"s3", {{"reachable", st->s3_ok}, {"endpoint", st->settings.s3_endpoint},
                        {"bucket", st->settings.s3_bucket}, {"prefix", st->settings.s3_prefix}}}};
      if (st->etcd_ok) {
        j["etcd"]["commit"] = st->head;
        j["etcd"]["revision"] = st->etcd_revision;
        j["lag"] = lag;
      } else {
        j["etcd"]["error"] = st->etcd_error;
      }
      if (!st->s3_ok) j["s3"]["error"] = st->s3_error;
      std::cout << DumpJson(j) << "\n";
    } else {
      std::cout << "applied: commit " << st->applied.seq << " (etcd revision "
                << st->applied.revision << ")\n";
      if (st->etcd_ok)
        std::cout << "etcd:    reachable, commit " << st->head << " (revision " << st->etcd_revision
                  << "), lag " << lag << " commit(s)\n";
      else
        std::cout << "etcd:    UNREACHABLE: " << EscapeText(st->etcd_error) << "\n";
      if (st->s3_ok)
        std::cout << "s3:      reachable, s3://" << st->settings.s3_bucket << "/"
                  << st->settings.s3_prefix << " at " << st->settings.s3_endpoint << "\n";
      else
        std::cout << "s3:      UNREACHABLE: " << EscapeText(st->s3_error) << "\n";
    }
    if (!st->etcd_ok || !st->s3_ok) return Status::IO("an engine of the registry is unreachable");
    return Status::Ok();
  });
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
  c->add_option("--etcd", a->etcd,
                "Multi-host: etcd endpoints URL[,URL...] of the index of record");
  c->add_option("--etcd-prefix", a->etcd_prefix, "Multi-host: the registry's etcd key prefix");
  c->add_option("--s3", a->s3, "Multi-host: s3://BUCKET/PREFIX for the blobs");
  c->add_option("--s3-endpoint", a->s3_endpoint, "Multi-host: the object store's URL");
  c->add_option("--s3-region", a->s3_region, "Multi-host: the object store's region");
  c->add_option("--cache-size", a->cache_size,
                "Multi-host: bound of the blob cache ROOT/blobs (e.g. 50G), LRU-evicted");
  c->add_option("--credentials", a->credentials,
                "Multi-host: a file (mode 0600) with aws_access_key_id and aws_secret_access_key");
  Example(c, {"init /srv/registry", "init ./reg",
              "init /srv/registry --etcd http://etcd1:2379,http://etcd2:2379 --s3 s3://models/reg "
              "--s3-endpoint https://s3.example.com"});
  return {c, [a] { return RunInit(*a); }};
}

Command AddStatus(CLI::App& app) {
  auto a = std::make_shared<StatusArgs>();
  CLI::App* c = app.add_subcommand(
      "status", "Multi-host: applied commit, lag behind etcd, reachability of etcd and S3");
  AddRoot(c, a->root);
  AddJson(c, a->json);
  Example(c, {"status /srv/registry", "status --json"});
  return {c, [a] { return RunStatus(*a); }};
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
