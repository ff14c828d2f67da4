// Symlinks inside a version: what one may point to. A version is a
// self-contained tree, so a link is kept only when it is relative and
// leads, after following any links on the way, to a file or directory of
// the same version; anything else (absolute, escaping with "..", dangling,
// a loop) refuses the seal or the push with a message naming the link.
// Seal (drafts.cc) and push (push.cc) check their trees with the same
// function; fs/ and cli/ only show what was kept.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "index/records.h"
#include "index/status.h"
#include "index/write_txn.h"

namespace modelfs {

// How many links one resolution may pass through (Linux's limit, 40).
inline constexpr int kMaxLinkHops = 40;

// The digest an Entry of a symlink carries: XXH3-128 of its target.
Digest LinkDigest(std::string_view target);

// Checks every symlink of `items` (TreeItem with mode kSymlinkMode) against
// the tree they form: the target must be relative, non-empty, and lead to
// an entry of the tree. `what` names the tree in messages ("churn@3" or the
// input directory); `fix` says what to do instead (cp -L, --dereference).
// Invalid, naming the first bad link, its target and why.
Status CheckVersionLinks(const std::vector<TreeItem>& items, const std::string& what,
                         const std::string& fix);

}  // namespace modelfs
