// The lineage benchmark's in-process half, for scripts/bench-lineage.
//   lineage_bench ROOT fill [FANOUT1 FANOUT2]
//     a registry where base@1 has FANOUT1 children (models mid-NN, 10
//     versions each) and each of those FANOUT2 children (models leaf-NNN):
//     100 + 900 = 1,000 descendants by default, pushed in-process.
//   lineage_bench ROOT walk RUNS
//     BuildLineage(base@1, down) RUNS times: the median and the slowest in
//     ms, the graph's size, and the children table's entries and bytes.
// Not a test: it only measures.
#include <lmdb.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "index/lineage.h"
#include "index/registry.h"

using namespace modelfs;

namespace {

int Die(const char* what, const Status& st) {
  std::fprintf(stderr, "lineage_bench: %s: %s\n", what, st.message().c_str());
  return 1;
}

int Fill(const std::string& root, int fan1, int fan2) {
  std::string src = root + ".src";
  std::filesystem::create_directories(src);
  std::ofstream(src + "/model.bin") << "weights";
  if (Status st = Registry::Init(root, ""); !st.ok()) return Die("init", st);
  auto reg = Registry::Open(root);
  if (!reg.ok()) return Die("open", reg.status());
  Actor who{0, "bench"};
  auto push = [&](const std::string& model, const std::string& parent) -> Result<Version> {
    PushRequest req;
    req.model = model;
    req.paths = {src};
    req.meta = {{"metrics.auc", "0.9"}, {"lineage.datasets", "s3://lake/" + model}};
    if (!parent.empty()) req.meta.push_back({"lineage.parents", parent});
    return (*reg)->Push(req, who);
  };
  auto base = push("base", "");
  if (!base.ok()) return Die("push base", base.status());
  char name[32];
  int leaf = 0;
  for (int i = 0; i < fan1; ++i) {
    std::snprintf(name, sizeof name, "mid-%02d", i / 10);
    auto mid = push(name, "base@1");
    if (!mid.ok()) return Die("push mid", mid.status());
    for (int j = 0; j < fan2; ++j, ++leaf) {
      std::snprintf(name, sizeof name, "leaf-%03d", leaf / 10);
      auto l = push(name, mid->ref());
      if (!l.ok()) return Die("push leaf", l.status());
    }
  }
  std::filesystem::remove_all(src);
  return 0;
}

int Walk(const std::string& root, int runs) {
  {
    auto reg = Registry::Open(root);
    if (!reg.ok()) return Die("open", reg.status());
    std::vector<double> ms;
    size_t nodes = 0, edges = 0, versions = 0;
    for (int r = 0; r < runs; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      auto snap = (*reg)->Read();
      if (!snap.ok()) return Die("read", snap.status());
      auto v = snap->GetVersion("base", 1);
      if (!v.ok()) return Die("base@1", v.status());
      LineageOptions opt;
      opt.up = false;
      opt.down = true;
      auto g = BuildLineage(*snap, *v, opt);
      if (!g.ok()) return Die("lineage", g.status());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      nodes = g->nodes.size();
      edges = g->edges.size();
      versions = static_cast<size_t>(std::count_if(g->nodes.begin(), g->nodes.end(), [](const LineageNode& n) {
        return n.kind == LineageKind::kVersion;
      }));
    }
    std::sort(ms.begin(), ms.end());
    std::printf("in-process lineage --down of base@1: median %.2f ms, slowest %.2f ms (%d runs); "
                "%zu nodes (%zu versions), %zu edges\n",
                ms[ms.size() / 2], ms.back(), runs, nodes, versions, edges);
  }
  // The children table's cost, read once the registry is closed (one LMDB
  // environment per process).
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi;
  MDB_stat st;
  if (mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 16) == 0 &&
      mdb_env_open(env, (root + "/index").c_str(), MDB_RDONLY | MDB_NOTLS, 0) == 0 &&
      mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0 &&
      mdb_dbi_open(txn, "children", 0, &dbi) == 0 && mdb_stat(txn, dbi, &st) == 0) {
    size_t pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    std::printf("children table: %zu entries, %zu pages, %.1f KiB (%.1f bytes per edge)\n",
                st.ms_entries, pages, pages * st.ms_psize / 1024.0,
                st.ms_entries ? static_cast<double>(pages * st.ms_psize) / st.ms_entries : 0.0);
  }
  if (txn) mdb_txn_abort(txn);
  if (env) mdb_env_close(env);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[2]) == "fill")
    return Fill(argv[1], argc > 3 ? std::atoi(argv[3]) : 100, argc > 4 ? std::atoi(argv[4]) : 9);
  if (argc == 4 && std::string(argv[2]) == "walk") return Walk(argv[1], std::atoi(argv[3]));
  std::fprintf(stderr, "usage: lineage_bench ROOT fill [FANOUT1 FANOUT2] | ROOT walk RUNS\n");
  return 2;
}
