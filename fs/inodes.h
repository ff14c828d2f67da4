// The mount's node table: what each inode number the kernel holds stands
// for, and how many lookups the kernel owes us for it. Inode numbers are the
// index's ObjectIds (stable across remounts), so a node only records how to
// find its record again: the table is a map of names, not a cache of data.
//
// Lookup counts follow the FUSE contract exactly: every reply that hands the
// kernel an inode (lookup, readdirplus) adds one, forget subtracts the count
// the kernel gives, and the node is erased at zero. The root is never erased.
#pragma once

#include <cstdint>
#include <mutex>
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

  // The nodes of one model (the model dir, its versions, aliases, latest),
  // for the freshness thread to invalidate.
  std::vector<Node> NodesOfModel(const std::string& model) const;
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
