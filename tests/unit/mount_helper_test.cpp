// Unit tests of what the mount shares with mount(8) and systemd, without a
// mount: mount.modelfs's command line (fs/mount_helper.h) and the
// readiness datagram of sd_notify's protocol (fs/service_notify.h), read
// back from a real socket. tests/mount/fstab.sh and systemd_unit.sh drive
// both through the real tools.
#include "fs/mount_helper.h"
#include "fs/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace modelfs;
using namespace modelfs::fs;

namespace {

MountHelperCall Parse(const std::vector<std::string>& args) {
  auto r = ParseMountHelperArgs(args);
  INFO(r.status().message());
  REQUIRE(r.ok());
  return *r;
}

std::string ParseError(const std::vector<std::string>& args) {
  auto r = ParseMountHelperArgs(args);
  REQUIRE_FALSE(r.ok());
  return r.status().message();
}

// A datagram socket bound at a path (or an abstract name), and
// NOTIFY_SOCKET pointing at it for the length of a scope.
class NotifyListener {
 public:
  explicit NotifyListener(bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    name_ = (abstract ? "@modelfs-test-" : "/tmp/modelfs-notify-") + std::to_string(getpid());
    if (!abstract) unlink(name_.c_str());
    memcpy(a.sun_path, name_.data(), name_.size());
    if (abstract) a.sun_path[0] = '\0';
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() +
                                           (abstract ? 0 : 1));
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0);
    setenv("NOTIFY_SOCKET", name_.c_str(), 1);
  }
  ~NotifyListener() {
    unsetenv("NOTIFY_SOCKET");
    close(fd_);
    if (name_[0] == '/') unlink(name_.c_str());
  }
  // The next datagram, or "" when none is waiting.
  std::string Receive() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  int fd_ = -1;
  std::string name_;
};

}  // namespace

TEST_CASE("mount.modelfs: an fstab line's options, with mount(8)'s own dropped") {
  // What mount(8) runs for `/srv/registry /models modelfs allow_other,_netdev 0 0`.
  auto c = Parse({"/srv/registry", "/models", "-o", "rw,allow_other,_netdev"});
  CHECK(c.opt.root == "/srv/registry");
  CHECK(c.opt.mountpoint == "/models");
  CHECK(c.opt.options == std::vector<std::string>{"allow_other"});
  CHECK_FALSE(c.opt.foreground);
  CHECK_FALSE(c.fake);
  CHECK(c.opt.verify);
  CHECK(c.opt.threads == 0);

  c = Parse({"/r", "/m", "-o",
             "defaults,noauto,auto,user,users,nouser,owner,group,nofail,netdev,x-systemd.automount,"
             "comment=x,ro,nonempty,read=copy,default_permissions"});
  CHECK(c.opt.options ==
        std::vector<std::string>{"ro", "nonempty", "read=copy", "default_permissions"});
}

TEST_CASE("mount.modelfs: flags, repeated and joined -o, and modelfs' own options") {
  auto c = Parse({"-sfnv", "/r", "/m", "-oallow_other", "-o", "threads=4,noverify", "-t",
                  "fuse.modelfs"});
  CHECK(c.fake);
  CHECK(c.verbose);
  CHECK(c.opt.threads == 4);
  CHECK_FALSE(c.opt.verify);
  CHECK(c.opt.options == std::vector<std::string>{"allow_other"});
  c = Parse({"/r", "/m", "-s", "-n"});
  CHECK_FALSE(c.fake);
  CHECK_FALSE(c.verbose);
  CHECK(c.opt.options.empty());
}

TEST_CASE("mount.modelfs: usage errors say what is wrong") {
  CHECK(ParseError({"/r"}).find("usage: mount.modelfs ROOT MOUNTPOINT") != std::string::npos);
  CHECK(ParseError({"/r", "/m", "/x"}).find("usage") != std::string::npos);
  CHECK(ParseError({"/r", "/m", "-o"}).find("-o needs a value") != std::string::npos);
  CHECK(ParseError({"/r", "/m", "-x"}).find("unknown flag -x") != std::string::npos);
  CHECK(ParseError({"/r", "/m", "-N", "1"}).find("-N") != std::string::npos);
  for (const char* bad : {"threads=0", "threads=", "threads=x", "threads=-1", "threads=99999"})
    CHECK(ParseError({"/r", "/m", "-o", bad}).find("threads=") != std::string::npos);
}

TEST_CASE("readiness: READY=1 reaches NOTIFY_SOCKET, a path or an abstract name") {
  for (bool abstract : {false, true}) {
    NotifyListener l(abstract);
    REQUIRE(NotifyServiceManager("READY=1\nSTATUS=serving /r at /m").ok());
    CHECK(l.Receive() == "READY=1\nSTATUS=serving /r at /m");
    REQUIRE(NotifyServiceManager("STOPPING=1").ok());
    CHECK(l.Receive() == "STOPPING=1");
  }
}

TEST_CASE("readiness: nothing to do without NOTIFY_SOCKET; a bad one is an error") {
  unsetenv("NOTIFY_SOCKET");
  CHECK(NotifyServiceManager("READY=1").ok());
  setenv("NOTIFY_SOCKET", "relative/path", 1);
  CHECK(NotifyServiceManager("READY=1").message().find("NOTIFY_SOCKET=relative/path") !=
        std::string::npos);
  setenv("NOTIFY_SOCKET", "/nonexistent/modelfs-notify.sock", 1);
  Status st = NotifyServiceManager("READY=1");
  CHECK_FALSE(st.ok());
  CHECK(st.message().find("/nonexistent/modelfs-notify.sock") != std::string::npos);
  unsetenv("NOTIFY_SOCKET");
}
