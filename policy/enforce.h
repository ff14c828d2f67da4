// Where the registry meets the policy: the facts gates judge, taken from a
// Version, and the guard that runs the gates inside the write transaction
// that moves an alias. Used by cli/ and fs/ alike.
#pragma once

#include <memory>
#include <string>

#include "index/registry.h"
#include "policy/policy.h"

namespace modelfs::policy {

VersionFacts FactsOf(const Version& v);

// A Registry::Guard that runs the gates of `alias` against the version at
// commit time. With `force` (admins only: the caller checks) a failing gate
// is let through and "forced past <reason>" becomes the audit note; without,
// it fails with Status::Denied carrying the gate's reason.
Guard GateGuard(std::shared_ptr<const Policy> policy, std::string alias, bool force);

}  // namespace modelfs::policy
