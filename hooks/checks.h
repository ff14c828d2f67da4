// Check gates (SPEC §8, [aliases.A] require_check): the command runs, as
// the policy's check_user, on a read-only directory holding the candidate
// version's files (its last argument and its working directory), before
// the alias moves. The directory is made under $TMPDIR (/tmp) with
// index/get.h (hard links to the blobs where the filesystem allows, else
// reflinks or copies, every file's digest checked) and removed afterwards.
#pragma once

#include <atomic>

#include "index/registry.h"
#include "policy/enforce.h"

namespace modelfs::hooks {

// A Checker for the Enforcer of `reg`. `cancel`, when set, kills a running
// check (the mount sets it at unmount).
policy::Enforcer::Checker MakeChecker(Registry* reg, const std::atomic<bool>* cancel = nullptr);

}  // namespace modelfs::hooks
