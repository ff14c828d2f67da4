// Who is asking: the caller's uid/gid and supplementary groups, with the
// unix names the policy's "user:NAME" and "group:NAME" principals match.
// fs/ builds an Identity from the FUSE request context, cli/ from its own
// process; policy/ only ever sees the finished struct.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/status.h"

namespace modelfs::policy {

struct Identity {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> gids;       // supplementary groups
  std::string user;                 // passwd name, or the decimal uid
  std::vector<std::string> groups;  // names of gid then gids, no duplicates;
                                    // a gid without a name is its decimal

  // "user alice (uid 1001, groups ml,fraud)": how denials name the caller.
  std::string Describe() const;
};

// Builds Identity values, resolving names with getpwuid_r/getgrgid_r.
// Lookups are cached per uid and per gid for kCacheTtl, so the FUSE path
// does not hit NSS (possibly LDAP) on every request, yet a user or group
// created while a mount runs is picked up within a minute. A lookup that
// fails (NSS could not answer: out of descriptors, LDAP down) is an error,
// never cached and never replaced by the decimal id: the caller would
// otherwise be judged as someone else ("0" is not "root") for a minute.
// Thread-safe: one mutex guards both caches; it is never held across an
// NSS call.
class IdentityResolver {
 public:
  // gids may contain gid and duplicates; both are removed from Identity::gids.
  Result<Identity> Resolve(uint32_t uid, uint32_t gid, std::span<const uint32_t> gids);

  // The identity of this process: getuid(), getgid(), getgroups().
  Result<Identity> ForCurrentProcess();

  // Name lookups with the same cache; an id that has no entry yields its
  // decimal (cached); a failed lookup is an error with its errno.
  Result<std::string> UserName(uint32_t uid);
  Result<std::string> GroupName(uint32_t gid);

 private:
  struct Entry {
    std::string name;
    int64_t expires_ns;  // steady clock
  };
  static constexpr int64_t kCacheTtlNs = 60'000'000'000;  // 60 s, see above
  // Bounds memory if a hostile caller cycles through uids; reaching it
  // simply empties the cache.
  static constexpr size_t kMaxEntries = 4096;

  Result<std::string> Lookup(std::unordered_map<uint32_t, Entry>& cache, uint32_t id,
                             bool is_user);

  std::mutex mu_;
  std::unordered_map<uint32_t, Entry> users_;   // guarded by mu_
  std::unordered_map<uint32_t, Entry> groups_;  // guarded by mu_
};

}  // namespace modelfs::policy
