// The find benchmark's in-process half, for scripts/bench-find. Not a test.
//
//   find_bench fill ROOT MODELS VERSIONS   a registry of MODELS x VERSIONS ready
//       versions, each with 5 metrics (m0..m4, uniform in [0,1)) and 5 tags
//       (t0..t4, one of 10 values), sharing one small file; written through
//       WriteTxn in large transactions (as fast as LMDB commits, not 100,000
//       pushes), so the find index is kept exactly as every write keeps it.
//   find_bench query ROOT EXPR RUNS        Find's wall time per run (a fresh
//       snapshot each), p50 and p90 in ms, with the plan and its counts.
//   find_bench first ROOT RUNS             time to the first match of a
//       match-everything search (no sort), p50 in ms.
//   find_bench size ROOT                   data.mdb compacted, with the find
//       index and without it (a copy with the table dropped), in bytes.
#include <lmdb.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "index/find.h"
#include "index/registry.h"
#include "index/write_txn.h"

using namespace modelfs;
using Clock = std::chrono::steady_clock;

namespace {

int Die(const std::string& what, const Status& st) {
  std::fprintf(stderr, "find_bench: %s: %s\n", what.c_str(), st.message().c_str());
  return 1;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int Fill(const std::string& root, int models, int versions) {
  Status st = Registry::Init(root, "");
  if (!st.ok()) return Die("init", st);
  auto reg = Registry::Open(root);
  if (!reg.ok()) return Die("open", reg.status());
  Actor who{0, "bench"};
  // One real push stores the file every version shares.
  std::string src = root + ".src";
  std::filesystem::create_directories(src);
  std::ofstream(src + "/model.bin") << "weights";
  PushRequest first;
  first.model = "seed";
  first.paths = {src};
  auto seed = (*reg)->Push(first, who);
  std::filesystem::remove_all(src);
  if (!seed.ok()) return Die("push", seed.status());
  TreeItem item;
  {  // the read transaction ends before the writes
    auto snap = (*reg)->Read();
    if (!snap.ok()) return Die("read", snap.status());
    auto e = snap->GetEntry(seed->id, "model.bin");
    if (!e.ok()) return Die("entry", e.status());
    item = TreeItem{"model.bin", false, e->mode, e->size, e->digest, ""};
  }

  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0, 1);
  const int per_txn = std::max(1, 10000 / std::max(1, versions));  // models per transaction
  char name[32];
  for (int m0 = 1; m0 <= models; m0 += per_txn) {
    auto t = WriteTxn::Begin(reg->get());
    if (!t.ok()) return Die("begin", t.status());
    for (int m = m0; m < m0 + per_txn && m <= models; ++m) {
      std::snprintf(name, sizeof name, "model-%04d", m);
      auto model = NewModel(**t, name, who);
      if (!model.ok()) return Die("model", model.status());
      for (int n = 1; n <= versions; ++n) {
        auto v = NewVersion(**t, &*model, State::kReady, who);
        if (!v.ok()) return Die("version", v.status());
        for (int k = 0; k < 5; ++k) {
          v->metrics["m" + std::to_string(k)] = std::round(unit(rng) * 1e6) / 1e6;
          v->tags["t" + std::to_string(k)] = "v" + std::to_string(rng() % 10);
        }
        if ((st = PutTree(**t, &*v, {item})).ok()) st = (*t)->PutVersion(*v);
        if (!st.ok()) return Die("put", st);
      }
      if (!(st = (*t)->PutModel(*model)).ok()) return Die("put model", st);
    }
    if (!(st = (*t)->Commit()).ok()) return Die("commit", st);
  }
  return 0;
}

int Query(const std::string& root, const std::string& text, int runs) {
  auto reg = Registry::Open(root);
  if (!reg.ok()) return Die("open", reg.status());
  auto e = expr::Expr::Parse(text);
  if (!e.ok()) return Die("parse", e.status());
  std::vector<double> ms;
  FindStats stats;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    auto snap = (*reg)->Read();
    if (!snap.ok()) return Die("read", snap.status());
    uint64_t n = 0;
    Status st = Find(*snap, *e, FindOptions{}, [&](const Version&, const expr::EvalContext&) {
      ++n;
      return true;
    }, &stats);
    if (!st.ok()) return Die("find", st);
    ms.push_back(Ms(Clock::now() - t0));
  }
  std::printf("p50 %.2f ms  p90 %.2f ms  (%d runs)  plan: %s  candidates %llu  decoded %llu  matched %llu\n",
              Percentile(ms, 0.5), Percentile(ms, 0.9), runs, stats.plan.c_str(),
              static_cast<unsigned long long>(stats.candidates),
              static_cast<unsigned long long>(stats.decoded),
              static_cast<unsigned long long>(stats.matched));
  return 0;
}

int First(const std::string& root, int runs) {
  auto reg = Registry::Open(root);
  if (!reg.ok()) return Die("open", reg.status());
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    auto snap = (*reg)->Read();
    if (!snap.ok()) return Die("read", snap.status());
    double first = -1;
    Status st = Find(*snap, expr::Expr::All(), FindOptions{}, [&](const Version&, const expr::EvalContext&) {
      first = Ms(Clock::now() - t0);
      return false;
    });
    if (!st.ok()) return Die("find", st);
    ms.push_back(first);
  }
  std::printf("p50 %.3f ms  p90 %.3f ms  (%d runs)\n", Percentile(ms, 0.5), Percentile(ms, 0.9), runs);
  return 0;
}

// data.mdb of `dir`'s environment copied compacted to `out`; its size.
long long CompactSize(const std::string& dir, const std::string& out, bool drop_find) {
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 32);
  mdb_env_set_mapsize(env, size_t{64} << 30);
  if (mdb_env_open(env, dir.c_str(), 0, 0660) != 0) return -1;
  if (drop_find) {
    MDB_txn* txn = nullptr;
    MDB_dbi dbi;
    if (mdb_txn_begin(env, nullptr, 0, &txn) != 0 || mdb_dbi_open(txn, "find", 0, &dbi) != 0 ||
        mdb_drop(txn, dbi, 1) != 0 || mdb_txn_commit(txn) != 0)
      return -1;
  }
  std::filesystem::create_directories(out);
  int rc = mdb_env_copy2(env, out.c_str(), MDB_CP_COMPACT);
  mdb_env_close(env);
  if (rc != 0) return -1;
  return static_cast<long long>(std::filesystem::file_size(out + "/data.mdb"));
}

int Size(const std::string& root) {
  std::string tmp = root + ".size";
  std::filesystem::remove_all(tmp);
  long long with = CompactSize(root + "/index", tmp + "/with", false);
  // Dropped in the compacted copy, never in the registry itself.
  long long without = with < 0 ? -1 : CompactSize(tmp + "/with", tmp + "/without", true);
  std::filesystem::remove_all(tmp);
  if (with < 0 || without < 0) {
    std::fprintf(stderr, "find_bench: cannot copy the index\n");
    return 1;
  }
  std::printf("data.mdb compacted: %.1f MiB with the find index, %.1f MiB without: +%.1f MiB (+%.0f%%)\n",
              static_cast<double>(with) / (1 << 20), static_cast<double>(without) / (1 << 20),
              static_cast<double>(with - without) / (1 << 20),
              100.0 * static_cast<double>(with - without) / static_cast<double>(without));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "fill" && argc == 5) return Fill(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  if (cmd == "query" && argc == 5) return Query(argv[2], argv[3], std::atoi(argv[4]));
  if (cmd == "first" && argc == 4) return First(argv[2], std::atoi(argv[3]));
  if (cmd == "size" && argc == 3) return Size(argv[2]);
  std::fprintf(stderr,
               "usage: find_bench fill ROOT MODELS VERSIONS | query ROOT EXPR RUNS | "
               "first ROOT RUNS | size ROOT\n");
  return 2;
}
