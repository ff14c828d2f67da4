// The mounted tree of SPEC §3 computed from the index: which child a name
// names, a node's stat, a directory's listing in stable order, a node's
// extended attributes. Free of FUSE types so that the handlers stay a thin
// adapter from requests to these calls and replies.
//
// Every call takes a fresh Snapshot: what it returns is a consistent view of
// the index at one instant. Thread-safe.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fs/inodes.h"
#include "index/registry.h"

namespace modelfs::fs {

// A child as lookup and readdirplus hand it to the kernel.
struct Child {
  Node node;
  struct stat st {};
  // The object can never change while it exists: an entry of a ready or
  // archived version, or such a version's directory. The kernel may cache it
  // for a long time; model-level objects rely on invalidation instead.
  bool stable = false;
};

// Where a directory listing stopped. Phases walk the kinds of children in a
// fixed order ("." and "..", then versions, aliases, latest, or models, or
// entries); `after` is the last name (or version number) returned, so that a
// listing resumes with an index seek rather than a rescan.
struct DirPos {
  uint8_t phase = 0;
  std::string after;
  uint32_t after_version = 0;
  uint64_t offset = 0;  // items returned so far: the readdir offset
};

struct DirItem {
  std::string name;
  bool dot = false;  // "." or "..": the kernel takes no reference to these
  Child child;       // st_ino and the type bits of st_mode always; all of it with `plus`
};

using Xattrs = Attributes;  // (name, value) in listing order

class Tree {
 public:
  // Files belong to uid/gid (ROOT's owner); the root directory shows
  // root_time_ns (ROOT's mtime) as its times.
  Tree(const Registry* reg, uid_t uid, gid_t gid, int64_t root_time_ns)
      : reg_(reg), uid_(uid), gid_(gid), root_time_ns_(root_time_ns) {}

  // The child `name` of directory `dir`; NotFound when there is none,
  // Invalid (ENOTDIR) when `dir` is not a directory.
  // `absent_stable` is set when the name's absence is itself permanent (in a
  // ready version), so the kernel may cache the negative answer.
  Result<Child> Lookup(const Node& dir, std::string_view name, bool* absent_stable) const;
  // `stable` as for Child.
  Result<struct stat> Stat(const Node& n, bool* stable) const;
  // "vN" for alias and latest symlinks.
  Result<std::string> ReadLink(const Node& n) const;
  // The Entry of a file node (for open: its digest) and whether it is stable.
  Result<Entry> FileEntry(const Node& n, bool* stable) const;

  // Calls `fn` for the children of `dir` from `pos` on, advancing `pos` past
  // each item `fn` accepts; stops at the first item it refuses (returns
  // false), which the next call returns again.
  Status List(const Node& dir, DirPos* pos, bool plus,
              const std::function<bool(const DirItem&)>& fn) const;

  // The node's extended attributes (SPEC §3), in listing order. Cached per
  // node until the index changes (Changed()): `getfattr -d` asks for the list
  // and then for every value, twice each (size, then bytes), and building
  // the list reads and decodes the version and its aliases.
  Result<std::shared_ptr<const Xattrs>> GetXattrs(const Node& n) const;

  // The card of the model whose card (kCard) or directory (kModel) node `n`
  // is (index/card.h), generated from the index and cached until it
  // changes (Changed()): lookup, stat and open of README.md each need it,
  // and its size must be that of the text an open then reads.
  Result<std::shared_ptr<const std::string>> CardText(const Node& n) const;

  // A symlink `name` -> `target` in model directory `model_dir`: an alias,
  // or (kind kPending) one of ln -sfn's temporaries, which the index does
  // not hold.
  Child LinkChild(const Node& model_dir, NodeKind kind, ObjectId ino, const std::string& name,
                  const std::string& target, int64_t time_ns) const;

  // Called when the index changed: counts cached for model-level
  // directories (their nlink) and cached xattrs are recomputed on next use.
  void Changed() { epoch_.fetch_add(1, std::memory_order_acq_rel); }
  // Called when use counts were flushed (Snapshot::UsageSeq moved): cached
  // xattrs of versions (user.registry.last_used_at) are rebuilt on next
  // use; nothing else is, for a flush changes nothing else.
  void UsageChanged() { usage_epoch_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  // A snapshot and the epoch read just before it was taken: a count computed
  // from the snapshot is cached under that epoch, so a change that the
  // freshness thread announces after the snapshot began discards it.
  struct View {
    Snapshot snap;
    uint64_t epoch;
  };
  Result<View> Read() const;
  struct stat BaseStat(ObjectId ino, uint32_t mode, int64_t time_ns) const;
  Result<Child> ModelChild(const View& s, const Model& m) const;
  Child VersionChild(const View& s, const Node& model_dir, const Version& v) const;
  Child EntryChild(const View& s, const Node& dir, const Version& v, const Entry& e) const;
  Child AliasChild(const Node& model_dir, const Alias& a) const;
  Result<Child> LatestChild(const Snapshot& s, const Node& model_dir) const;
  Result<Child> CardChild(const View& s, const Node& model_dir) const;
  struct Card {
    std::shared_ptr<const std::string> text;
    int64_t mtime_ns = 0;
  };
  Result<Card> CardOf(const View& s, const Node& n) const;
  Result<Version> VersionOf(const Snapshot& s, const Node& n) const;
  uint32_t SubdirCount(const View& s, ObjectId parent, bool stable) const;
  uint32_t VersionCount(const View& s, ObjectId model_id) const;
  uint32_t ModelCount(const View& s) const;
  // Cached counts: `forever` for stable directories, else valid for one epoch.
  bool CachedCount(ObjectId key, uint32_t* out) const;
  void StoreCount(ObjectId key, uint64_t epoch, bool forever, uint32_t n) const;

  const Registry* reg_;
  uid_t uid_;
  gid_t gid_;
  int64_t root_time_ns_;
  std::atomic<uint64_t> epoch_{1};
  std::atomic<uint64_t> usage_epoch_{1};
  mutable std::mutex count_mu_;  // leaf lock: guards counts_
  struct Count {
    uint64_t epoch;  // 0: forever
    uint32_t n;
  };
  mutable std::unordered_map<ObjectId, Count> counts_;
  Result<Xattrs> BuildXattrs(const View& vw, const Node& n, bool* cacheable) const;
  mutable std::mutex xattr_mu_;  // leaf lock: guards xattrs_
  struct CachedXattrs {
    uint64_t epoch;
    uint64_t usage_epoch;
    std::shared_ptr<const Xattrs> list;
  };
  mutable std::unordered_map<ObjectId, CachedXattrs> xattrs_;
  mutable std::mutex card_mu_;  // leaf lock: guards cards_
  struct CachedCard {
    uint64_t epoch;
    Card card;
  };
  mutable std::unordered_map<ObjectId, CachedCard> cards_;  // by model id
};

}  // namespace modelfs::fs
