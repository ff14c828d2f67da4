// In-process benchmark of use counts and the model card: what
// UseCounts::Record costs an open (one mutex-guarded map update), what a
// flush of a batch costs (Registry::AddUsage, one write transaction), and
// how long the card of a model with many versions takes to make. Not a
// test: it only measures. Usage: usage_bench DIR [VERSIONS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "index/card.h"
#include "index/registry.h"
#include "index/usage.h"

using namespace modelfs;
using Clock = std::chrono::steady_clock;

static double Ns(Clock::duration d) { return std::chrono::duration<double, std::nano>(d).count(); }

static double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: usage_bench DIR [VERSIONS]\n");
    return 2;
  }
  std::string dir = argv[1];
  int versions = argc > 2 ? std::atoi(argv[2]) : 1000;

  // Record: 1 and 2 threads (the mount's default workers), 100 versions hot.
  constexpr int kOps = 2'000'000;
  for (int threads : {1, 2}) {
    std::vector<double> runs;
    for (int r = 0; r < 5; ++r) {
      UseCounts c;
      auto t0 = Clock::now();
      std::vector<std::thread> ts;
      for (int t = 0; t < threads; ++t)
        ts.emplace_back([&c, t] {
          for (int i = 0; i < kOps; ++i) c.Record(7, static_cast<uint32_t>((i + t) % 100), i);
        });
      for (auto& t : ts) t.join();
      runs.push_back(Ns(Clock::now() - t0) / kOps);
    }
    std::printf("UseCounts::Record, %d thread(s): %.1f ns per open (median of 5, wall time / opens per thread)\n",
                threads, Median(runs));
  }

  std::string root = dir + "/reg", src = dir + "/src";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(src);
  if (!Registry::Init(root, "").ok()) return 1;
  auto reg = Registry::Open(root);
  if (!reg.ok()) return 1;
  Actor who{0, "bench"};
  std::ofstream(src + "/m.bin") << "weights";
  for (int i = 1; i <= versions; ++i) {
    PushRequest req;
    req.model = "churn";
    req.paths = {src + "/m.bin"};
    req.meta = {{"metrics.auc", std::to_string(0.5 + i * 1e-4)}, {"metrics.step", std::to_string(i)}};
    if (!(*reg)->Push(req, who).ok()) return 1;
  }
  auto snap = (*reg)->Read();
  if (!snap.ok()) return 1;
  auto m = snap->GetModel("churn");
  if (!m.ok()) return 1;
  ObjectId mid = m->id;

  std::vector<double> flush;
  for (int r = 0; r < 5; ++r) {
    std::vector<UseBatchItem> batch;
    for (int i = 1; i <= versions; ++i)
      batch.push_back({mid, static_cast<uint32_t>(i), Usage{1000 + r, 3}});
    auto t0 = Clock::now();
    if (!(*reg)->AddUsage(batch).ok()) return 1;
    flush.push_back(Ns(Clock::now() - t0) / 1e6);
  }
  std::printf("AddUsage of a batch of %d versions: %.1f ms (median of 5; one write transaction)\n",
              versions, Median(flush));

  std::vector<double> card;
  size_t bytes = 0;
  for (int r = 0; r < 5; ++r) {
    auto s = (*reg)->Read();
    if (!s.ok()) return 1;
    auto t0 = Clock::now();
    auto c = ModelCard(*s, *m);
    card.push_back(Ns(Clock::now() - t0) / 1e6);
    if (!c.ok()) return 1;
    bytes = c->size();
  }
  std::printf("ModelCard of a model with %d versions: %.2f ms, %zu bytes (median of 5)\n", versions,
              Median(card), bytes);
  std::filesystem::remove_all(root);
  return 0;
}
