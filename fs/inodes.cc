// The node table (see inodes.h).
#include "fs/inodes.h"

#include <fcntl.h>
#include <unistd.h>

#include <climits>

namespace modelfs::fs {

PathFd::~PathFd() {
  if (fd_ >= 0) close(fd_);
}

OpenDraftFiles::~OpenDraftFiles() {
  for (auto& [ino, h] : files_) close(h.fd);
}

void OpenDraftFiles::Add(uint64_t ino, int fd) {
  std::lock_guard<std::mutex> g(mu_);
  Held& h = files_[ino];
  if (h.handles++ == 0) h.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

void OpenDraftFiles::Remove(uint64_t ino) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = files_.find(ino);
  if (it == files_.end() || --it->second.handles > 0) return;
  if (it->second.fd >= 0) close(it->second.fd);
  files_.erase(it);
}

int OpenDraftFiles::Dup(uint64_t ino) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = files_.find(ino);
  if (it == files_.end() || it->second.fd < 0) return -1;
  return fcntl(it->second.fd, F_DUPFD_CLOEXEC, 0);
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
        n.kind == NodeKind::kDraftDir || n.kind == NodeKind::kDraftFile ||
        n.kind == NodeKind::kCard)
      out.push_back(n);
  }
  return out;
}

void NodeTable::Update(ObjectId ino, const std::function<void(Node&)>& fn) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = nodes_.find(ino);
  if (it != nodes_.end()) fn(it->second.node);
}

std::optional<std::string> NodeTable::DraftPath(const Node& n) const {
  // A path inside a draft fits PATH_MAX, so it has at most half as many
  // components: the bound also stops a cycle, should one ever be made.
  constexpr size_t kMaxDepth = PATH_MAX / 2;
  std::lock_guard<std::mutex> g(mu_);
  std::vector<const std::string*> names;
  const Node* at = &n;
  if (auto it = nodes_.find(n.ino); it != nodes_.end()) at = &it->second.node;  // current name
  for (size_t depth = 0; depth < kMaxDepth; ++depth) {
    if (at->kind != NodeKind::kDraftDir && at->kind != NodeKind::kDraftFile) return std::nullopt;
    if (at->version_id != n.version_id) return std::nullopt;
    names.push_back(&at->name);
    auto it = nodes_.find(at->parent);
    if (it == nodes_.end()) return std::nullopt;
    const Node& up = it->second.node;
    if (up.kind == NodeKind::kVersion) {
      if (up.model_id != n.model_id || up.version != n.version) return std::nullopt;
      std::string path;
      for (auto p = names.rbegin(); p != names.rend(); ++p) {
        if (!path.empty()) path += '/';
        path += **p;
      }
      return path;
    }
    at = &up;
  }
  return std::nullopt;
}

size_t NodeTable::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return nodes_.size();
}

}  // namespace modelfs::fs
