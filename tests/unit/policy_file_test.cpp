// Tests for policy/policy_file.cc: PolicyFile's reload (which sleeps past
// its 200 ms check interval, so this file takes a few seconds).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "index/status.h"
#include "tests/unit/identities.h"
#include "policy/policy.h"

using modelfs::Code;
using modelfs::policy::Policy;
using modelfs::policy::PolicyFile;
using modelfs::policy::Action;
using modelfs::policy::Identity;

namespace {

using modelfs::testing::Id;

// A scratch directory under $TMPDIR, removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/policy_test.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    REQUIRE(mkdtemp(buf.data()) != nullptr);
    path = buf.data();
  }
  ~TempDir() {
    std::remove((path + "/policy.toml").c_str());
    std::remove((path + "/policy.toml.tmp").c_str());
    rmdir(path.c_str());
  }
};

// Writes in place (truncate and rewrite: same inode).
void WriteInPlace(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  out.close();
  REQUIRE(out.good());
}

// Writes as editors do: a new file renamed over the old one (new inode).
void WriteByRename(const std::string& path, const std::string& text) {
  WriteInPlace(path + ".tmp", text);
  REQUIRE(std::rename((path + ".tmp").c_str(), path.c_str()) == 0);
}

void SleepPastInterval() {
  std::this_thread::sleep_for(std::chrono::nanoseconds(PolicyFile::kCheckIntervalNs) +
                              std::chrono::milliseconds(60));
}

}  // namespace

TEST_CASE("PolicyFile open errors", "[policy][reload]") {
  TempDir dir;
  const std::string path = dir.path + "/policy.toml";
  auto missing = PolicyFile::Open(path);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message() == "policy file " + path + ": No such file or directory");

  auto missing_load = Policy::Load(path);
  REQUIRE_FALSE(missing_load.ok());
  CHECK(missing_load.status().code() == Code::kNotFound);

  WriteInPlace(path, "[defaults]\nread = [\"*\"]\nwrite = [\"nobody\"]\n");
  auto bad = PolicyFile::Open(path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kInvalid);
  CHECK(bad.status().message() ==
        path + ":3:10: [defaults].write: bad principal \"nobody\": expected \"*\", "
               "\"user:NAME\", \"group:NAME\" or \"uid:N\"");
  auto bad_load = Policy::Load(path);
  REQUIRE_FALSE(bad_load.ok());
  CHECK(bad_load.status().message() == bad.status().message());

  WriteInPlace(path, "");
  auto empty = PolicyFile::Open(path);
  REQUIRE(empty.ok());
  CHECK((*empty)->current()->Decide(Id("x", 5, {}), Action::kRead, "m").allowed);
}

TEST_CASE("PolicyFile reloads on change and keeps the old policy on errors",
          "[policy][reload]") {
  TempDir dir;
  const std::string path = dir.path + "/policy.toml";
  const Identity bob = Id("bob", 1002, {"staff"});
  WriteInPlace(path, "[defaults]\nread = [\"user:alice\"]\n");

  auto opened = PolicyFile::Open(path);
  REQUIRE(opened.ok());
  PolicyFile& file = **opened;
  std::vector<std::string> log;
  file.set_log([&](const std::string& line) { log.push_back(line); });
  CHECK(file.path() == path);
  CHECK(file.last_error().ok());
  auto first = file.current();
  REQUIRE(first != nullptr);
  CHECK_FALSE(first->Decide(bob, Action::kRead, "churn").allowed);

  // An editor-style replacement is picked up after the interval.
  WriteByRename(path, "[defaults]\nread = [\"user:bob\"]\n");
  SleepPastInterval();
  auto second = file.current();
  CHECK(second != first);
  CHECK(second->Decide(bob, Action::kRead, "churn").reason ==
        R"(allowed by [defaults].read "user:bob")");
  CHECK(file.last_error().ok());
  REQUIRE(log.size() == 1);
  CHECK(log[0] == "policy reloaded from " + path);
  // A snapshot taken before the reload is unchanged: Policy is immutable.
  CHECK_FALSE(first->Decide(bob, Action::kRead, "churn").allowed);

  // With nothing changed, the same policy object stays in force, even while
  // the fresh mtime makes PolicyFile compare contents on every check.
  SleepPastInterval();
  CHECK(file.current() == second);
  SleepPastInterval();
  CHECK(file.current() == second);

  // Garbage keeps the old policy, stores and logs the error once.
  WriteInPlace(path, "[defaults]\nread = [\"user:bob\"\n");
  SleepPastInterval();
  CHECK(file.current() == second);
  CHECK(file.last_error().code() == Code::kInvalid);
  CHECK(file.last_error().message() ==
        path + ":2:20: Error while parsing array: encountered end-of-file");
  REQUIRE(log.size() == 2);
  CHECK(log[1] == "policy " + path +
                      " not reloaded, the previous policy stays in force: " + path +
                      ":2:20: Error while parsing array: encountered end-of-file");
  SleepPastInterval();
  CHECK(file.current() == second);
  CHECK(log.size() == 2);  // the same error is not logged again

  // A semantic error is treated the same way.
  WriteInPlace(path, "[defaults]\nread = [\"user:bob\"]\nwrit = []\n");
  SleepPastInterval();
  CHECK(file.current() == second);
  CHECK(file.last_error().message() ==
        path + ":3:1: unknown key \"writ\" in [defaults]; expected read, create, write, "
               "promote, approve or admin");

  // Fixed: the new policy applies and the error clears.
  WriteInPlace(path, "[defaults]\nread = [\"*\"]\ncreate = [\"user:carol\"]\n");
  SleepPastInterval();
  auto third = file.current();
  CHECK(third != second);
  CHECK(file.last_error().ok());
  CHECK(third->Decide(bob, Action::kRead, "churn").reason == R"(allowed by [defaults].read "*")");
  CHECK_FALSE(third->Decide(bob, Action::kCreate, "churn").allowed);

  // The file vanishes: old policy stays, NotFound is reported; it returns.
  REQUIRE(std::remove(path.c_str()) == 0);
  SleepPastInterval();
  CHECK(file.current() == third);
  CHECK(file.last_error().code() == Code::kNotFound);
  WriteByRename(path, "[defaults]\nread = [\"uid:1002\"]\n");
  SleepPastInterval();
  CHECK(file.current()->Decide(bob, Action::kRead, "churn").reason ==
        R"(allowed by [defaults].read "uid:1002")");
  CHECK(file.last_error().ok());
}

TEST_CASE("PolicyFile sees a rewrite that stat() cannot tell apart", "[policy][reload]") {
  // A same-size rewrite within one timestamp tick keeps size, inode, mtime
  // and ctime; PolicyFile must compare contents while the mtime is fresh.
  // Writes cannot be relied on to land in one tick (the kernel may give a
  // fine-grained timestamp once a stat() has seen the old one), so the
  // rewrite goes through a shared mapping: the kernel updates the
  // timestamps when a store first dirties the mapped page, not on later
  // stores to the same dirty page. If writeback cleans the page in between
  // (a sync elsewhere), the timestamps move and the case is built again.
  TempDir dir;
  const std::string path = dir.path + "/policy.toml";
  const std::string aaaa = "[defaults]\nread = [\"user:aaaa\"]\n";
  const std::string bbbb = "[defaults]\nread = [\"user:bbbb\"]\n";
  REQUIRE(aaaa.size() == bbbb.size());
  const Identity b = Id("bbbb", 5, {});
  auto same_stat = [](const struct stat& x, const struct stat& y) {
    return x.st_dev == y.st_dev && x.st_ino == y.st_ino && x.st_size == y.st_size &&
           x.st_mtim.tv_sec == y.st_mtim.tv_sec && x.st_mtim.tv_nsec == y.st_mtim.tv_nsec &&
           x.st_ctim.tv_sec == y.st_ctim.tv_sec && x.st_ctim.tv_nsec == y.st_ctim.tv_nsec;
  };
  bool built = false;
  for (int attempt = 0; attempt < 5 && !built; ++attempt) {
    WriteInPlace(path, aaaa);
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    void* map = mmap(nullptr, aaaa.size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE(map != MAP_FAILED);
    char* bytes = static_cast<char*>(map);
    std::memcpy(bytes, aaaa.data(), aaaa.size());  // dirties the page: new timestamps
    struct stat before, after;
    REQUIRE(stat(path.c_str(), &before) == 0);
    auto opened = PolicyFile::Open(path);
    REQUIRE(opened.ok());
    CHECK_FALSE((*opened)->current()->Decide(b, Action::kRead, "m").allowed);
    std::memcpy(bytes, bbbb.data(), bbbb.size());  // the same dirty page: no new timestamps
    REQUIRE(stat(path.c_str(), &after) == 0);
    built = same_stat(before, after);
    if (built) {
      SleepPastInterval();
      CHECK((*opened)->current()->Decide(b, Action::kRead, "m").allowed);
    }
    REQUIRE(munmap(map, aaaa.size()) == 0);
    REQUIRE(close(fd) == 0);
  }
  REQUIRE(built);  // else the test proved nothing
}

TEST_CASE("PolicyFile does not re-read within the interval", "[policy][reload]") {
  // The policy text changes before every call to current(), so every check
  // of the file adopts a new Policy: counting the changes of the returned
  // pointer counts the checks. Checks are at least one interval apart and
  // the first is one interval after Open, so over `elapsed` there can be at
  // most elapsed / interval of them, however slowly the machine runs; a
  // PolicyFile that re-read on every call would make one per call.
  TempDir dir;
  const std::string path = dir.path + "/policy.toml";
  auto text = [](int i) { return "[defaults]\nread = [\"uid:" + std::to_string(1000 + i) + "\"]\n"; };
  const auto interval = std::chrono::nanoseconds(PolicyFile::kCheckIntervalNs);
  const auto start = std::chrono::steady_clock::now();
  WriteInPlace(path, text(0));
  auto opened = PolicyFile::Open(path);
  REQUIRE(opened.ok());
  PolicyFile& file = **opened;
  auto last = file.current();
  int i = 0;
  long changes = 0;
  const auto loop_start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - loop_start < 3 * interval) {
    WriteByRename(path, text(++i));
    auto now_in_force = file.current();
    if (now_in_force != last) ++changes;
    last = now_in_force;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  INFO("calls: " << i << ", changes: " << changes << ", elapsed ms: "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
  CHECK(changes <= elapsed / interval);
  // The last call came more than one interval after Open: it or an earlier
  // one checked, and saw a new text.
  CHECK(changes >= 1);
  SleepPastInterval();
  CHECK(file.current()->Decide(Id("bob", 1000 + i, {}), Action::kRead, "m").allowed);
}

TEST_CASE("PolicyFile is safe to use from many threads during reloads",
          "[policy][reload]") {
  TempDir dir;
  const std::string path = dir.path + "/policy.toml";
  const std::string deny = "[defaults]\nread = [\"user:alice\"]\n";
  const std::string allow = "[defaults]\nread = [\"user:bob\"]\n";
  WriteInPlace(path, deny);
  auto opened = PolicyFile::Open(path);
  REQUIRE(opened.ok());
  PolicyFile& file = **opened;
  const Identity bob = Id("bob", 1002, {});
  std::atomic<bool> stop{false};
  std::atomic<long> decisions{0}, unexpected{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto d = file.current()->Decide(bob, Action::kRead, "churn");
        bool known =
            d.reason == R"(allowed by [defaults].read "user:bob")" ||
            d.reason == "denied: [defaults].read does not include user bob (uid 1002, no groups)";
        if (!known) unexpected.fetch_add(1);
        decisions.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 4; ++i) {
    WriteByRename(path, i % 2 == 0 ? allow : deny);
    SleepPastInterval();
  }
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(unexpected.load() == 0);
  CHECK(decisions.load() > 0);
  // The last write (deny) is in force.
  CHECK_FALSE(file.current()->Decide(bob, Action::kRead, "churn").allowed);
}
