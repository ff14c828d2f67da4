// Name resolution for Identity through NSS (getpwuid_r/getgrgid_r), with a
// small time-bounded cache because the FUSE request path resolves callers
// on every request.
#include "policy/identity.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace modelfs::policy {

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Calls getpwuid_r or getgrgid_r, growing the buffer on ERANGE.
// Returns the name, or the decimal id if there is no entry; an error when
// NSS could not say (glibc returns the errno: EMFILE when the files
// backend cannot open /etc/passwd, for one).
Result<std::string> NssName(uint32_t id, bool is_user) {
  // Start size: the usual sysconf hint; entries with huge member lists
  // (groups) make us grow until 1 MiB, then give up.
  size_t size = 1024;
  if (long hint = sysconf(is_user ? _SC_GETPW_R_SIZE_MAX : _SC_GETGR_R_SIZE_MAX);
      hint > 0) {
    size = static_cast<size_t>(hint);
  }
  std::vector<char> buf(size);
  while (true) {
    int rc;
    const char* name = nullptr;
    if (is_user) {
      struct passwd pw;
      struct passwd* out = nullptr;
      rc = getpwuid_r(static_cast<uid_t>(id), &pw, buf.data(), buf.size(), &out);
      if (rc == 0 && out != nullptr) name = out->pw_name;
    } else {
      struct group gr;
      struct group* out = nullptr;
      rc = getgrgid_r(static_cast<gid_t>(id), &gr, buf.data(), buf.size(), &out);
      if (rc == 0 && out != nullptr) name = out->gr_name;
    }
    if (name != nullptr && *name != '\0') return std::string(name);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    // No entry: 0 with no result, or one of the errors getpwuid_r(3)
    // lists for "not found". An entry too large for 1 MiB is named by its
    // id as well: that answer does not change on retrying.
    if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM || rc == ERANGE) {
      // glibc says "not found" when the last source found nothing, even if
      // an earlier one could not be read: with "files systemd", /etc/passwd
      // failing to open (EMFILE) and then nss-systemd not knowing the id.
      // So an absent entry is believed only if a descriptor can be had.
      int probe = open("/", O_PATH | O_CLOEXEC);
      if (probe < 0 && (errno == EMFILE || errno == ENFILE)) {
        return Status::FromErrno(std::string("cannot look up the name of ") +
                                     (is_user ? "uid " : "gid ") + std::to_string(id),
                                 errno);
      }
      if (probe >= 0) close(probe);
      return std::to_string(id);
    }
    return Status::FromErrno(
        std::string("cannot look up the name of ") + (is_user ? "uid " : "gid ") + std::to_string(id),
        rc);
  }
}

}  // namespace

std::string Identity::Describe() const {
  std::string out = "user " + user + " (uid " + std::to_string(uid) + ", ";
  if (groups.empty()) {
    out += "no groups";
  } else {
    out += "groups ";
    for (size_t i = 0; i < groups.size(); ++i) {
      if (i > 0) out += ',';
      out += groups[i];
    }
  }
  out += ')';
  return out;
}

Result<std::string> IdentityResolver::Lookup(std::unordered_map<uint32_t, Entry>& cache,
                                             uint32_t id, bool is_user) {
  int64_t now = NowNs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache.find(id);
    if (it != cache.end() && it->second.expires_ns > now) return it->second.name;
  }
  // NSS may block (LDAP, sssd); never hold mu_ across it. Two threads may
  // resolve the same id at once; both store the same answer.
  auto name = NssName(id, is_user);
  if (!name.ok()) return name;  // not cached: the next request asks again
  std::lock_guard<std::mutex> lock(mu_);
  if (cache.size() >= kMaxEntries) cache.clear();
  cache[id] = Entry{*name, now + kCacheTtlNs};
  return name;
}

Result<std::string> IdentityResolver::UserName(uint32_t uid) {
  return Lookup(users_, uid, /*is_user=*/true);
}

Result<std::string> IdentityResolver::GroupName(uint32_t gid) {
  return Lookup(groups_, gid, /*is_user=*/false);
}

Result<Identity> IdentityResolver::Resolve(uint32_t uid, uint32_t gid,
                                           std::span<const uint32_t> gids) {
  Identity id;
  id.uid = uid;
  id.gid = gid;
  auto user = UserName(uid);
  if (!user.ok()) return user.status();
  id.user = std::move(*user);
  auto primary = GroupName(gid);
  if (!primary.ok()) return primary.status();
  id.groups.push_back(std::move(*primary));
  for (uint32_t g : gids) {
    if (g == gid || std::find(id.gids.begin(), id.gids.end(), g) != id.gids.end()) {
      continue;
    }
    id.gids.push_back(g);
    auto name = GroupName(g);
    if (!name.ok()) return name.status();
    if (std::find(id.groups.begin(), id.groups.end(), *name) == id.groups.end()) {
      id.groups.push_back(std::move(*name));
    }
  }
  return id;
}

Result<Identity> IdentityResolver::ForCurrentProcess() {
  std::vector<gid_t> list;
  int n = getgroups(0, nullptr);
  // The set can change between the two calls (it cannot for a normal
  // process, but be exact anyway): retry on EINVAL.
  while (n > 0) {
    list.resize(static_cast<size_t>(n));
    int got = getgroups(n, list.data());
    if (got >= 0) {
      list.resize(static_cast<size_t>(got));
      break;
    }
    if (errno != EINVAL) return Status::FromErrno("getgroups", errno);
    n = getgroups(0, nullptr);
  }
  std::vector<uint32_t> gids(list.begin(), list.end());
  return Resolve(getuid(), getgid(), gids);
}

}  // namespace modelfs::policy
