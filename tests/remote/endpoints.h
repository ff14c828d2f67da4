// Where the fixtures of tests/fixtures/ are: each `start` writes DIR/env
// (KEY=VALUE lines); ctest gives the test its path in an environment
// variable. A test without it fails: it cannot pass without its server.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "index/status.h"

namespace modelfs::testing {

inline std::map<std::string, std::string> FixtureEnv(const char* var) {
  const char* path = std::getenv(var);
  INFO("the fixture's env file, from $" << var);
  REQUIRE(path != nullptr);
  std::ifstream in(path);
  REQUIRE(in.good());
  std::map<std::string, std::string> env;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

// Names unique to this run, so that runs against one fixture never meet.
inline std::string UniqueName(const std::string& stem) {
  static std::mt19937_64 rng{std::random_device{}()};
  return stem + "-" + std::to_string(rng() % 1000000000);
}

inline std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  for (;;) {
    size_t e = s.find(',', b);
    out.push_back(s.substr(b, e - b));
    if (e == std::string::npos) return out;
    b = e + 1;
  }
}

// A TCP port on 127.0.0.1 where nothing listens (bound, then closed).
inline int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

inline const Status& StatusOf(const Status& s) { return s; }
template <class T>
const Status& StatusOf(const Result<T>& r) { return r.status(); }

}  // namespace modelfs::testing

// REQUIRE that a Status or Result is ok, printing its message if not.
#define REQUIRE_OK(expr)                                        \
  do {                                                          \
    const auto& _r = (expr);                                    \
    INFO(::modelfs::testing::StatusOf(_r).message());           \
    REQUIRE(::modelfs::testing::StatusOf(_r).ok());             \
  } while (0)
