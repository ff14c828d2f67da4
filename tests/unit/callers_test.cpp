// Unit tests of fs/callers.h and the identity resolution it rests on: who
// is asking, cached per process for a second, and never a guess: a lookup
// that fails (out of descriptors) refuses the request and is not remembered.
#include "fs/callers.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

using namespace modelfs;
using namespace modelfs::fs;

namespace {

template <class T>
T Must(Result<T> r) {
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(*r);
}

// Takes every descriptor this process may still open (under a soft limit
// lowered to 256) for the length of a scope.
struct NoFdsLeft {
  rlimit saved{};
  std::vector<int> held;
  NoFdsLeft() {
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit low = saved;
    low.rlim_cur = 256;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    for (;;) {
      int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      held.push_back(fd);
    }
  }
  ~NoFdsLeft() {
    for (int fd : held) close(fd);
    setrlimit(RLIMIT_NOFILE, &saved);
  }
};

}  // namespace

TEST_CASE("callers are resolved once per process and second", "[callers]") {
  Callers c;
  int calls = 0;
  std::vector<gid_t> groups = {5000, 5001};
  auto caller = [&](uid_t uid, gid_t gid, pid_t pid) {
    return Callers::Caller{uid, gid, pid, [&]() -> Result<std::vector<gid_t>> {
                             ++calls;
                             return groups;
                           }};
  };

  policy::Identity id = Must(c.IdentityOf(caller(4242, 4343, 100)));
  CHECK(calls == 1);
  CHECK(id.uid == 4242);
  CHECK(id.gid == 4343);
  CHECK(id.gids == std::vector<uint32_t>{5000, 5001});

  // Within the second the process's groups are not read again.
  groups = {6000};
  id = Must(c.IdentityOf(caller(4242, 4343, 100)));
  CHECK(calls == 1);
  CHECK(id.gids == std::vector<uint32_t>{5000, 5001});

  // Another process, or the same pid with other ids (setuid, or a pid
  // reused), is resolved afresh.
  id = Must(c.IdentityOf(caller(4242, 4343, 101)));
  CHECK(calls == 2);
  CHECK(id.gids == std::vector<uint32_t>{6000});
  id = Must(c.IdentityOf(caller(4244, 4343, 100)));
  CHECK(calls == 3);
  CHECK(id.uid == 4244);
  CHECK(id.gids == std::vector<uint32_t>{6000});
  id = Must(c.IdentityOf(caller(4244, 4345, 100)));
  CHECK(calls == 4);
  CHECK(id.gid == 4345);

  // After the second, a process's groups are read again.
  groups = {7000};
  id = Must(c.IdentityOf(caller(4244, 4345, 100)));
  CHECK(calls == 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  id = Must(c.IdentityOf(caller(4244, 4345, 100)));
  CHECK(calls == 5);
  CHECK(id.gids == std::vector<uint32_t>{7000});

  // A caller without a way to read groups has none.
  id = Must(c.IdentityOf(Callers::Caller{4250, 4343, 200, {}}));
  CHECK(id.uid == 4250);
  CHECK(id.gids.empty());
}

TEST_CASE("a name lookup that fails is an error, never a cached decimal", "[callers]") {
  // uid 1 is in /etc/passwd of every Debian image ("daemon"), and only
  // there: with no descriptor to open it, NSS cannot name it.
  struct passwd* pw = getpwuid(1);
  REQUIRE(pw != nullptr);
  const std::string name = pw->pw_name;
  policy::IdentityResolver resolver;
  Result<policy::Identity> failed = Status::Ok();
  Result<policy::Identity> unknown = Status::Ok();
  {
    NoFdsLeft none;
    failed = resolver.Resolve(1, 1, {});
    unknown = resolver.Resolve(3999999, 3999999, {});
  }
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().sys_errno() == EMFILE);
  CHECK(failed.status().message().find("out of file descriptors") != std::string::npos);
  // Nor is an id NSS could not look up taken for one that has no entry.
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().sys_errno() == EMFILE);
  // Not remembered: with descriptors back, uid 1 has its name again at once.
  CHECK(Must(resolver.Resolve(1, 1, {})).user == name);
  CHECK(Must(resolver.Resolve(3999999, 3999999, {})).user == "3999999");
}

TEST_CASE("a caller that cannot be told now is refused, and asked again next time",
          "[callers]") {
  Callers c;
  int calls = 0;
  Result<std::vector<gid_t>> groups = Status::FromErrno("reading /proc/300/task/300/status", EMFILE);
  auto caller = [&](pid_t pid, uid_t uid = 0) {
    return Callers::Caller{uid, uid, pid, [&] {
                             ++calls;
                             return groups;
                           }};
  };
  auto id = c.IdentityOf(caller(300));
  REQUIRE_FALSE(id.ok());
  CHECK(id.status().sys_errno() == EMFILE);
  CHECK(id.status().message().find("cannot tell who is asking (uid 0, pid 300)") == 0);
  // Nothing cached: the next request reads the groups again.
  groups = std::vector<gid_t>{5000};
  id = c.IdentityOf(caller(300));
  REQUIRE(id.ok());
  CHECK(calls == 2);
  CHECK(id->user == "root");
  CHECK(id->gids == std::vector<uint32_t>{5000});

  // The names fail (NSS cannot open /etc/passwd for uid 1, "daemon"):
  // refused, and not cached.
  {
    NoFdsLeft none;
    id = c.IdentityOf(caller(301, 1));
  }
  REQUIRE_FALSE(id.ok());
  CHECK(id.status().sys_errno() == EMFILE);
  CHECK(Must(c.IdentityOf(caller(301, 1))).user == getpwuid(1)->pw_name);
  CHECK(calls == 4);

  // A process that has gone has no groups to read: it is judged without
  // them, and that is not remembered either.
  groups = Status::NotFound("/proc/302/task/302/status: No such file or directory");
  CHECK(Must(c.IdentityOf(caller(302))).gids.empty());
  groups = std::vector<gid_t>{5001};
  CHECK(Must(c.IdentityOf(caller(302))).gids == std::vector<uint32_t>{5001});
}

TEST_CASE("GroupsOf reads a thread's supplementary groups from /proc", "[callers]") {
  std::vector<gid_t> mine(static_cast<size_t>(getgroups(0, nullptr)));
  mine.resize(static_cast<size_t>(getgroups(static_cast<int>(mine.size()), mine.data())));
  CHECK(Must(Callers::GroupsOf(getpid())) == mine);
  // No such process: NotFound, which IdentityOf takes as "gone".
  auto gone = Callers::GroupsOf(0);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.status().code() == Code::kNotFound);
  // Out of descriptors: said as such, not as "gone".
  Result<std::vector<gid_t>> none = Status::Ok();
  {
    NoFdsLeft f;
    none = Callers::GroupsOf(getpid());
  }
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() != Code::kNotFound);
  CHECK(none.status().sys_errno() == EMFILE);
}
