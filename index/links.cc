// Symlinks inside a version (see links.h): resolved the way the kernel
// would, component by component over the version's own tree, so that what
// is kept is exactly what `cp -r` out of the mount recreates and what
// reading through the link finds.
#include "index/links.h"

#include <xxhash.h>

#include <unordered_map>

#include "index/names.h"

namespace modelfs {
namespace {

struct Node {
  bool dir = false;
  bool link = false;
  std::string target;
};
using Tree = std::unordered_map<std::string, Node>;
using Path = std::vector<std::string>;

std::string Join(const Path& p) {
  std::string s;
  for (const auto& c : p) {
    if (!s.empty()) s += '/';
    s += c;
  }
  return s;
}

// Resolves `target` from directory `cur` (components below the version's
// top) to the entry it leads to, following links, or says why it cannot.
Result<Path> Follow(const Tree& t, Path cur, std::string_view target, int* hops) {
  if (target.empty()) return Status::Invalid("has an empty target");
  if (target.front() == '/')
    return Status::Invalid("is absolute: a version's links must be relative to stay inside it");
  const Node* at = nullptr;  // the entry `cur` names; nullptr for the top
  size_t i = 0;
  while (i <= target.size()) {
    size_t slash = target.find('/', i);
    if (slash == std::string_view::npos) slash = target.size();
    std::string_view comp = target.substr(i, slash - i);
    i = slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (at && !at->dir) return Status::Invalid("passes through a file as if it were a directory");
    if (comp == "..") {
      if (cur.empty()) return Status::Invalid("leads outside the version");
      cur.pop_back();
      at = cur.empty() ? nullptr : &t.at(Join(cur));
      continue;
    }
    cur.emplace_back(comp);
    auto it = t.find(Join(cur));
    if (it == t.end())
      return Status::Invalid("leads to " + Join(cur) + ", which the version does not have");
    if (it->second.link) {
      if (++*hops > kMaxLinkHops)
        return Status::Invalid("does not resolve: too many levels of symbolic links (a loop?)");
      cur.pop_back();
      auto r = Follow(t, cur, it->second.target, hops);
      if (!r.ok()) return r.status();
      cur = std::move(*r);
      auto res = t.find(Join(cur));
      at = res == t.end() ? nullptr : &res->second;
    } else {
      at = &it->second;
    }
  }
  return cur;
}

}  // namespace

Digest LinkDigest(std::string_view target) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits(target.data(), target.size()));
  Digest d;
  static_assert(sizeof c.digest == sizeof d.bytes);
  std::copy(std::begin(c.digest), std::end(c.digest), d.bytes.begin());
  return d;
}

Status CheckVersionLinks(const std::vector<TreeItem>& items, const std::string& what,
                         const std::string& fix) {
  Tree t;
  bool any = false;
  for (const auto& it : items) {
    bool link = it.mode == kSymlinkMode;
    any |= link;
    t[it.rel] = Node{it.dir, link, it.target};
  }
  if (!any) return Status::Ok();
  for (const auto& it : items) {
    if (it.mode != kSymlinkMode) continue;
    Path dir;
    for (size_t i = 0, s; (s = it.rel.find('/', i)) != std::string::npos; i = s + 1)
      dir.push_back(it.rel.substr(i, s - i));
    int hops = 0;
    auto r = Follow(t, dir, it.target, &hops);
    if (!r.ok())
      return Status::Invalid(what + ": symlink " + EscapeText(it.rel) + " -> " +
                             EscapeText(it.target) + " " + r.status().message() + "; " + fix);
  }
  return Status::Ok();
}

}  // namespace modelfs
