// What the unit tests of index/ and policy/ share: a real registry in a
// temporary directory, removed afterwards, and a small tree to push.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "index/registry.h"

namespace modelfs::testing {

struct TempDir {
  std::string path;
  explicit TempDir(const std::string& base = "/tmp") {
    std::string tmpl = base + "/modelfs-unit-XXXXXX";
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

inline void WriteFile(const std::string& p, const std::string& data, mode_t mode = 0644) {
  std::filesystem::create_directories(std::filesystem::path(p).parent_path());
  std::ofstream(p, std::ios::binary) << data;
  chmod(p.c_str(), mode);
}

inline std::string ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline Actor Alice() { return Actor{1001, "alice"}; }

// A registry at tmp/reg and a source tree at tmp/src (model.onnx and
// conf/params.json, executable).
struct Fixture {
  TempDir tmp;
  std::string root = tmp.path + "/reg";
  std::string src = tmp.path + "/src";
  std::unique_ptr<Registry> reg;
  // `base`: where its temporary directory goes.
  explicit Fixture(const std::string& policy = "# policy\n", const std::string& base = "/tmp")
      : tmp(base) {
    REQUIRE(Registry::Init(root, policy).ok());
    auto r = Registry::Open(root);
    REQUIRE(r.ok());
    reg = std::move(*r);
    WriteFile(src + "/model.onnx", "weights-1");
    WriteFile(src + "/conf/params.json", "{}", 0755);
  }
  Version Push(const std::string& model, std::vector<MetaChange> meta = {}) {
    PushRequest req;
    req.model = model;
    req.paths = {src};
    req.meta = std::move(meta);
    auto v = reg->Push(req, Alice());
    REQUIRE(v.ok());
    return *v;
  }
};

}  // namespace modelfs::testing
