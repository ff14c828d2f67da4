// A policy identity for tests: user `user` with uid = gid = `uid` and the
// named groups (no name lookups).
#pragma once

#include <string>
#include <vector>

#include "policy/identity.h"

namespace modelfs::testing {

inline policy::Identity Id(std::string user, uint32_t uid, std::vector<std::string> groups = {}) {
  policy::Identity id;
  id.uid = id.gid = uid;
  id.user = std::move(user);
  id.groups = std::move(groups);
  return id;
}

}  // namespace modelfs::testing
