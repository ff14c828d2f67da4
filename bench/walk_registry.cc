// Fills a registry for scripts/bench-walk: MODELS models of VERSIONS ready
// versions each (two small files, metrics, params, tags, a description, and
// `production` on the last), in-process, as fast as push commits. Not a
// test: it only builds what the walk benchmark measures.
// Usage: walk_registry ROOT MODELS VERSIONS
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "index/registry.h"

using namespace modelfs;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: walk_registry ROOT MODELS VERSIONS\n");
    return 2;
  }
  std::string root = argv[1];
  int models = std::atoi(argv[2]), versions = std::atoi(argv[3]);
  std::string src = root + ".src";
  std::filesystem::create_directories(src);
  std::ofstream(src + "/model.bin") << "weights";
  std::ofstream(src + "/config.json") << "{\"layers\": 3}";
  if (!std::filesystem::exists(root + "/index")) {
    Status st = Registry::Init(root, "");
    if (!st.ok()) {
      std::fprintf(stderr, "init: %s\n", st.message().c_str());
      return 1;
    }
  }
  auto reg = Registry::Open(root);
  if (!reg.ok()) {
    std::fprintf(stderr, "open: %s\n", reg.status().message().c_str());
    return 1;
  }
  Actor who{0, "bench"};
  char name[32];
  for (int m = 1; m <= models; ++m) {
    std::snprintf(name, sizeof name, "model-%04d", m);
    for (int v = 1; v <= versions; ++v) {
      PushRequest req;
      req.model = name;
      req.paths = {src};
      req.meta = {{"metrics.auc", "0.9" + std::to_string(v)},
                  {"params.lr", "0.01"},
                  {"tags.team", "growth"},
                  {"description", "version " + std::to_string(v)}};
      if (v == versions) req.alias = "production";
      auto r = (*reg)->Push(req, who);
      if (!r.ok()) {
        std::fprintf(stderr, "push %s: %s\n", name, r.status().message().c_str());
        return 1;
      }
    }
  }
  std::filesystem::remove_all(src);
  return 0;
}
