// The node table (see inodes.h).
#include "fs/inodes.h"

#include <unistd.h>

namespace modelfs::fs {

PathFd::~PathFd() {
  if (fd_ >= 0) close(fd_);
}

NodeTable::NodeTable() {
  Node root;
  root.kind = NodeKind::kRoot;
  root.ino = kRootId;
  root.parent = kRootId;
  // The kernel holds the root for the life of the mount without a lookup.
  nodes_[kRootId] = Slot{root, 1};
}

std::optional<Node> NodeTable::Get(ObjectId ino) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return std::nullopt;
  return it->second.node;
}

void NodeTable::Ref(const Node& n) {
  std::lock_guard<std::mutex> g(mu_);
  Slot& s = nodes_[n.ino];
  // The same id always names the same object; refreshing keeps the name
  // current should the kernel reach it through a new path (NFS export).
  s.node = n;
  ++s.nlookup;
}

bool NodeTable::Forget(ObjectId ino, uint64_t count) {
  if (ino == kRootId) return true;
  std::lock_guard<std::mutex> g(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return false;
  if (it->second.nlookup < count) {
    nodes_.erase(it);
    return false;
  }
  it->second.nlookup -= count;
  if (it->second.nlookup == 0) nodes_.erase(it);
  return true;
}

std::vector<Node> NodeTable::NodesOfModel(const std::string& model) const {
  std::vector<Node> out;
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [ino, s] : nodes_) {
    const Node& n = s.node;
    if (n.model != model) continue;
    if (n.kind == NodeKind::kModel || n.kind == NodeKind::kVersion ||
        n.kind == NodeKind::kAlias || n.kind == NodeKind::kLatest ||
        n.kind == NodeKind::kDraftDir || n.kind == NodeKind::kDraftFile)
      out.push_back(n);
  }
  return out;
}

void NodeTable::Update(ObjectId ino, const std::function<void(Node&)>& fn) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = nodes_.find(ino);
  if (it != nodes_.end()) fn(it->second.node);
}

size_t NodeTable::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return nodes_.size();
}

}  // namespace modelfs::fs
