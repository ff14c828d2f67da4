// `modelfs prefetch` and `modelfs cache`: the blob cache of a multi-host
// ROOT (SPEC §7; index/blob_cache.h). Both refuse a single-host ROOT, whose
// blobs are the data of record rather than a cache.
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"
#include "index/blob_cache.h"

namespace modelfs::cli {
namespace {

using nlohmann::json;

Status NeedCache(const std::string& root, const BlobStore& blobs, const std::string& what) {
  if (blobs.cache() != nullptr) return Status::Ok();
  return Status::Invalid(what + " works on a multi-host ROOT (SPEC §7) only: " +
                         (root.empty() ? std::string("this registry") : root) +
                         " is single-host, its blobs are the data of record, not a cache");
}

// ------------------------------------------------------------ prefetch

struct PrefetchArgs {
  std::string root;
  std::vector<std::string> refs;
  bool json = false;
};

int RunPrefetch(const PrefetchArgs& a) {
  std::vector<Ref> refs;
  for (const auto& r : a.refs) {
    auto ref = ParseRef(r);
    if (!ref.ok()) return UsageError(ref.status());
    refs.push_back(*ref);
  }
  return WithSession(a.root, [&](Session& s) -> Status {
    const BlobStore& blobs = s.reg().blobs();
    MODELFS_RETURN_IF_ERROR(NeedCache(a.root, blobs, "prefetch"));
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    // Every blob once, whichever versions share it.
    std::map<Digest, uint64_t> want;
    json versions = json::array();
    for (size_t i = 0; i < refs.size(); ++i) {
      MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kRead, refs[i].model, a.refs[i]));
      auto v = snap->Resolve(refs[i]);
      if (!v.ok()) return v.status();
      if (v->state == State::kDraft)
        return Status::Invalid(v->ref() + " is a draft: its files are on this host, not in the store");
      MODELFS_RETURN_IF_ERROR(snap->ForEachPath(*v, [&](const std::string&, const Entry& e) {
        if (!e.is_dir() && !e.is_link()) want.emplace(e.digest, e.size);
        return true;
      }));
      versions.push_back(v->ref());
    }
    uint64_t fetched = 0, fetched_bytes = 0, cached = 0, cached_bytes = 0;
    for (const auto& [d, size] : want) {
      bool did = false;
      Status st = blobs.Ensure(d, &did);
      if (!st.ok()) return st;  // Ensure's message names the blob
      (did ? fetched : cached) += 1;
      (did ? fetched_bytes : cached_bytes) += size;
    }
    uint64_t limit = blobs.cache()->limit();
    bool over = limit != 0 && fetched_bytes + cached_bytes > limit;
    if (a.json) {
      json j = {{"versions", versions},
                {"fetched", {{"blobs", fetched}, {"bytes", fetched_bytes}}},
                {"cached", {{"blobs", cached}, {"bytes", cached_bytes}}},
                {"cache_size", limit},
                {"fits", !over}};
      std::cout << DumpJson(j) << "\n";
    } else if (!Quiet()) {
      std::cout << "fetched " << Count(fetched, "blob") << " (" << FormatSize(fetched_bytes)
                << "), already cached " << Count(cached, "blob") << " ("
                << FormatSize(cached_bytes) << "), digests verified\n";
    }
    if (over)
      std::cerr << "modelfs: warning: these versions (" << FormatSize(fetched_bytes + cached_bytes)
                << ") exceed the cache size (" << FormatSize(limit)
                << "): the least recently used of their blobs were evicted again\n";
    return Status::Ok();
  });
}

// ------------------------------------------------------------ cache

struct CacheArgs {
  std::string root;
  bool json = false;
  bool trim = false;
};

int RunCache(const CacheArgs& a) {
  return WithSession(a.root, [&](Session& s) -> Status {
    const BlobStore& blobs = s.reg().blobs();
    MODELFS_RETURN_IF_ERROR(NeedCache(a.root, blobs, "cache"));
    BlobCache& cache = *blobs.cache();
    BlobCache::Trimmed trimmed;
    if (a.trim) {
      auto t = cache.Trim();
      if (!t.ok()) return t.status();
      trimmed = *t;
    }
    auto use = cache.Measure(/*count_open=*/true);
    if (!use.ok()) return use.status();
    BlobCache::Counters c = cache.Read();
    uint64_t lookups = c.hits + c.misses;
    double rate = lookups == 0 ? 0.0 : static_cast<double>(c.hits) / static_cast<double>(lookups);
    if (a.json) {
      json j = {{"dir", blobs.blobs_dir()},
                {"cache_size", cache.limit()},
                {"bytes", use->bytes},
                {"blobs", use->blobs},
                {"open", use->open},
                {"hits", c.hits},
                {"misses", c.misses},
                {"bytes_fetched", c.bytes_fetched},
                {"hit_rate", rate},
                {"evicted", {{"blobs", c.evicted}, {"bytes", c.evicted_bytes}}}};
      if (a.trim)
        j["trimmed"] = {{"blobs", trimmed.evicted},
                        {"bytes", trimmed.evicted_bytes},
                        {"skipped_open", trimmed.skipped_open}};
      std::cout << DumpJson(j) << "\n";
      return Status::Ok();
    }
    if (a.trim)
      std::cout << "trimmed: " << Count(trimmed.evicted, "blob") << " evicted ("
                << FormatSize(trimmed.evicted_bytes) << "), "
                << Count(trimmed.skipped_open, "open blob") << " kept\n";
    std::cout << "cache:   " << EscapeText(blobs.blobs_dir()) << ", size "
              << (cache.limit() == 0 ? std::string("unbounded") : FormatSize(cache.limit()))
              << "\n"
              << "used:    " << FormatSize(use->bytes) << " in " << Count(use->blobs, "blob")
              << " (" << use->open << " open)\n"
              << "hits:    " << c.hits << ", misses " << c.misses << ", hit rate "
              << static_cast<int>(rate * 1000 + 0.5) / 10.0 << "%\n"
              << "fetched: " << FormatSize(c.bytes_fetched) << "\n"
              << "evicted: " << Count(c.evicted, "blob") << " (" << FormatSize(c.evicted_bytes)
              << ")\n";
    return Status::Ok();
  });
}

}  // namespace

Command AddPrefetch(CLI::App& app) {
  auto a = std::make_shared<PrefetchArgs>();
  CLI::App* c = app.add_subcommand(
      "prefetch", "Multi-host: fetch and verify the blobs of versions into the cache ahead of traffic");
  AddRoot(c, a->root);  // ROOT holds a '/': REF... takes any number
  c->add_option("REF", a->refs, "MODEL, MODEL@N or MODEL@ALIAS (one or more)")->required();
  AddJson(c, a->json);
  Example(c, {"prefetch /srv/registry churn@production", "prefetch churn@12 ranker@staging --json"});
  return {c, [a] { return RunPrefetch(*a); }};
}

Command AddCache(CLI::App& app) {
  auto a = std::make_shared<CacheArgs>();
  CLI::App* c = app.add_subcommand(
      "cache", "Multi-host: the blob cache's size, use, open blobs and hit rate");
  AddRoot(c, a->root);
  AddJson(c, a->json);
  c->add_flag("--trim", a->trim,
              "First evict least-recently-used blobs (never an open one) down to the cache size");
  Example(c, {"cache /srv/registry", "cache --json", "cache /srv/registry --trim"});
  return {c, [a] { return RunCache(*a); }};
}

}  // namespace modelfs::cli
