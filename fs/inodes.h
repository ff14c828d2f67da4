// The mount's node table: what each inode number the kernel holds stands
// for, and how many lookups the kernel owes us for it. Inode numbers are the
// index's ObjectIds (stable across remounts), so a node only records how to
// find its record again: the table is a map of names, not a cache of data.
//
// Lookup counts follow the FUSE contract exactly: every reply that hands the
// kernel an inode (lookup, readdirplus) adds one, forget subtracts the count
// the kernel gives, and the node is erased at zero. The root is never erased.
//
// Drafts (SPEC §4) are not in the index until sealed: their files live in
// ROOT/staging/draft-<version id>/, and a draft node's number is
// kDraftInoBit|st_ino of its staging file. A draft node holds no descriptor
// (a draft of 100,000 files must not need 100,000 of them): it is found by
// its path below the draft's version node, walked up through `parent` and
// `name` (DraftPath), which a rename updates for the moved node, so that
// the nodes below a moved directory follow it. Each request resolves that
// path anew under the staging directory and checks the inode number it
// finds (fs/draft_ops.cc), so a stale node never reaches another file.
//
// A staging inode number can be reused once its file is gone. While the
// kernel holds an open file of it, the mount holds a descriptor, so that
// cannot happen; otherwise the kernel drops an unlinked inode at once, and
// if it still holds one (a removed directory that is some process's cwd),
// it reuses it for the new file when the types match: Ref then makes the
// table's node describe the new file, and the lookup counts add up as the
// kernel's do. ObjectIds are small counters and never reach bit 61, so the
// four ranges (ObjectIds, draft inodes, pending symlinks, model cards)
// never collide. A model's card is kCardInoBit|model id: stable across
// remounts, as SPEC §3 wants of every inode.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/records.h"

namespace modelfs::fs {

enum class NodeKind : uint8_t {
  kRoot,     // /            : the models
  kModel,    // /M           : versions, aliases, latest
  kVersion,  // /M/vN        : the version's top-level entries
  kDir,      // /M/vN/.../d  : a directory entry
  kFile,     // /M/vN/.../f  : a file entry
  kAlias,    // /M/NAME      : symlink to vN
  kLatest,   // /M/latest    : symlink to the highest ready vN
  kDraftDir,   // /M/vN/.../d of a draft: a directory in staging
  kDraftFile,  // /M/vN/.../f of a draft: a file in staging
  kPending,    // /M/CuXXXXXX : a temporary symlink not yet renamed to an alias
  kCard,       // /M/README.md : the model card, generated (index/card.h)
};

inline constexpr uint64_t kDraftInoBit = uint64_t{1} << 63;
inline constexpr uint64_t kPendingInoBit = uint64_t{1} << 62;
inline constexpr uint64_t kCardInoBit = uint64_t{1} << 61;

// A descriptor (O_PATH, or a directory), closed with its last owner.
class PathFd {
 public:
  explicit PathFd(int fd) : fd_(fd) {}
  PathFd(const PathFd&) = delete;
  PathFd& operator=(const PathFd&) = delete;
  ~PathFd();
  int fd() const { return fd_; }

 private:
  int fd_;
};

// The draft files open through the mount, by node: one descriptor of each
// (a dup of an open handle's), so that a file removed or renamed over while
// open stays reachable by its node, as POSIX has it (fstat, ftruncate,
// fchmod of its descriptor), when its path no longer leads to it.
// Thread-safe; its mutex is a leaf lock.
class OpenDraftFiles {
 public:
  ~OpenDraftFiles();
  // One more open handle of node `ino`, whose descriptor is `fd`.
  void Add(uint64_t ino, int fd);
  // One handle fewer; the descriptor is closed with the last.
  void Remove(uint64_t ino);
  // A new O_PATH-like descriptor of the node's file (the caller owns it),
  // or -1 when none is open.
  int Dup(uint64_t ino) const;

 private:
  struct Held {
    int fd = -1;
    int handles = 0;
  };
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Held> files_;
};

struct Node {
  NodeKind kind = NodeKind::kRoot;
  ObjectId ino = 0;
  ObjectId parent = 0;    // inode of the containing directory, for ".."
  ObjectId model_id = 0;  // all but the root
  std::string model;      // the model's name
  uint32_t version = 0;   // kVersion, kDir, kFile: the version number
  ObjectId entry_parent = 0;  // kDir, kFile: the key of the Entry is (entry_parent, name)
  std::string name;           // name in the parent directory
  // Draft nodes: the draft's version id (its staging directory).
  ObjectId version_id = 0;
  // kAlias reached by renaming a pending symlink over it (ln -sfn): the
  // kernel names it by the temporary's inode until it looks the name up
  // again, so it resolves the alias by name rather than by id.
  bool by_name = false;
};

// Thread-safe. Lock order: the table's mutex is a leaf lock; nothing else is
// taken while it is held, and no FUSE call is made under it.
class NodeTable {
 public:
  NodeTable();

  // A copy of the node, or nullopt when the kernel is not holding it.
  std::optional<Node> Get(ObjectId ino) const;
  // Records one more kernel reference to `n` (inserting or refreshing it).
  void Ref(const Node& n);
  // Drops `count` references; erases the node at zero. Unknown inodes and
  // counts larger than held are logged by the caller's choice: returns false.
  bool Forget(ObjectId ino, uint64_t count);

  // The nodes of one model (the model dir, its versions, aliases, latest,
  // card, drafts' files), for the freshness thread to invalidate.
  std::vector<Node> NodesOfModel(const std::string& model) const;
  // Applies `fn` to the node if the kernel holds it (a rename moved it, a
  // pending symlink became an alias).
  void Update(ObjectId ino, const std::function<void(Node&)>& fn);
  // The path of draft node `n` (kDraftDir, kDraftFile) relative to its
  // draft's staging directory, as the table has it now: its name and those
  // of the directories above it, up to the draft's version node. nullopt
  // when the chain is broken (a directory the kernel no longer holds).
  std::optional<std::string> DraftPath(const Node& n) const;
  size_t size() const;

 private:
  struct Slot {
    Node node;
    uint64_t nlookup = 0;
  };
  mutable std::mutex mu_;
  std::unordered_map<ObjectId, Slot> nodes_;
};

}  // namespace modelfs::fs
