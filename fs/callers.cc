// Callers: identities of the mount's requests, cached per process.
#include "fs/callers.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace modelfs::fs {

Result<policy::Identity> Callers::IdentityOf(const Caller& who) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = ids_.find(who.pid);
    if (it != ids_.end() && it->second.expires > now && it->second.id.uid == who.uid &&
        it->second.id.gid == who.gid)
      return it->second.id;
  }
  auto context = [&] {
    return "cannot tell who is asking (uid " + std::to_string(who.uid) + ", pid " +
           std::to_string(who.pid) + ")";
  };
  std::vector<gid_t> gids;
  bool gone = false;
  if (who.groups) {
    auto got = who.groups();
    if (got.ok()) {
      gids = std::move(*got);
    } else if (got.status().code() == Code::kNotFound) {
      gone = true;  // nobody to answer; act with no supplementary groups
    } else {
      return got.status().WithContext(context());
    }
  }
  std::vector<uint32_t> g32(gids.begin(), gids.end());
  auto id = resolver_.Resolve(who.uid, who.gid, g32);
  if (!id.ok()) return id.status().WithContext(context());
  if (gone) return id;
  std::lock_guard<std::mutex> g(mu_);
  if (ids_.size() > 4096) ids_.clear();  // bounds memory; refilled on demand
  ids_[who.pid] = Cached{*id, now + kTtl};
  return id;
}

Result<std::vector<gid_t>> Callers::GroupsOf(pid_t tid) {
  std::string path =
      "/proc/" + std::to_string(tid) + "/task/" + std::to_string(tid) + "/status";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("reading " + path, errno);
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // ESRCH: it exited while we read.
      int err = errno == ESRCH ? ENOENT : errno;
      close(fd);
      return Status::FromErrno("reading " + path, err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  size_t at = text.find("\nGroups:");
  if (at == std::string::npos) return Status::IO(path + " has no Groups line");
  size_t eol = text.find('\n', at + 1);
  std::string line = text.substr(at + 8, eol == std::string::npos ? std::string::npos : eol - at - 8);
  std::vector<gid_t> out;
  const char* p = line.c_str();
  for (;;) {
    char* end;
    unsigned long v = std::strtoul(p, &end, 10);
    if (end == p) break;
    out.push_back(static_cast<gid_t>(v));
    p = end;
  }
  return out;
}

}  // namespace modelfs::fs
