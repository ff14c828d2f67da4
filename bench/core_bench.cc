// In-process benchmark of index/: push rate, show latency and list
// streaming for a model with many versions. Not a test: it only measures.
// Usage: core_bench DIR [VERSIONS]
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "cli/render.h"
#include "index/registry.h"

using namespace modelfs;
using Clock = std::chrono::steady_clock;

static double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

static double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: core_bench DIR [VERSIONS]\n");
    return 2;
  }
  std::string dir = argv[1];
  int versions = argc > 2 ? std::atoi(argv[2]) : 10000;
  std::string root = dir + "/reg", src = dir + "/src";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(src);
  if (!Registry::Init(root, "").ok()) return 1;
  auto reg = Registry::Open(root);
  if (!reg.ok()) return 1;
  Actor who{0, "bench"};

  // Small model: two files whose contents change per version.
  std::vector<double> push_ms;
  auto t_all = Clock::now();
  for (int i = 1; i <= versions; ++i) {
    std::ofstream(src + "/model.bin") << "weights " << i;
    std::ofstream(src + "/config.json") << "{\"v\": " << i << "}";
    PushRequest req;
    req.model = "churn";
    req.paths = {src};
    req.meta = {{"metrics.auc", "0.9"}, {"tags.team", "growth"}};
    auto t0 = Clock::now();
    auto v = (*reg)->Push(req, who);
    push_ms.push_back(Ms(Clock::now() - t0));
    if (!v.ok()) {
      std::fprintf(stderr, "push: %s\n", v.status().message().c_str());
      return 1;
    }
    if (i == 1000)
      std::printf("push (in-process, fsync'd): first 1000 versions at %.0f pushes/s (median %.2f ms)\n",
                  1000.0 / (Ms(Clock::now() - t_all) / 1000.0), Median(push_ms));
  }
  (void)(*reg)->SetAlias("churn", "production", static_cast<uint32_t>(versions / 2), who);

  std::vector<double> show_us;
  for (int i = 0; i < 2000; ++i) {
    uint32_t n = 1 + static_cast<uint32_t>((i * 7919) % versions);
    auto t0 = Clock::now();
    auto snap = (*reg)->Read();
    auto v = snap->GetVersion("churn", n);
    auto j = cli::VersionJson(*snap, *v);
    if (!j.ok()) {
      std::fprintf(stderr, "show: %s\n", j.status().message().c_str());
      return 1;
    }
    std::string out = j->dump(2);
    show_us.push_back(Ms(Clock::now() - t0) * 1000);
  }
  std::printf("show (in-process: resolve + files + JSON) over %d versions: median %.1f us, p99 %.1f us\n",
              versions, Median(show_us),
              [&] { auto v = show_us; std::sort(v.begin(), v.end()); return v[v.size() * 99 / 100]; }());

  std::vector<double> list_ms, first_us;
  for (int r = 0; r < 5; ++r) {
    auto t0 = Clock::now();
    double first = -1;
    uint64_t n = 0;
    auto snap = (*reg)->Read();
    auto m = snap->GetModel("churn");
    (void)snap->ForEachVersion(m->id, 0, [&](const Version& v) {
      if (first < 0) first = Ms(Clock::now() - t0) * 1000;
      n += v.number > 0;
      return true;
    });
    list_ms.push_back(Ms(Clock::now() - t0));
    first_us.push_back(first);
  }
  std::printf("list (in-process, decode every version) of %d versions: median %.1f ms total, first record after %.1f us\n",
              versions, Median(list_ms), Median(first_us));
  std::filesystem::remove_all(root);
  return 0;
}
