// Drafts as the mount sees them (see draft.h). Sections: writers, pending
// symlinks, crash recovery.
#include "fs/draft.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace modelfs::fs {

// ---------------------------------------------------------------- writers

Status DraftWriters::CheckNotSealing(ObjectId version_id) const {
  std::lock_guard<std::mutex> g(mu_);
  if (sealing_.count(version_id)) return Status::Busy("the draft is being sealed");
  return Status::Ok();
}

Status DraftWriters::BeginWrite(ObjectId ino, int fd) {
  if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Status::Busy("the draft is being sealed");
    return Status::FromErrno("flock of a draft file", errno);
  }
  std::lock_guard<std::mutex> g(mu_);
  int& n = writers_[ino];
  if (n == 0 && fsetxattr(fd, Registry::kWritingXattr, "1", 1, 0) != 0) {
    int err = errno;
    writers_.erase(ino);
    flock(fd, LOCK_UN);
    return Status::FromErrno(std::string("cannot mark a draft file with ") +
                                 Registry::kWritingXattr + " (does staging/ support user xattrs?)",
                             err);
  }
  ++n;
  return Status::Ok();
}

void DraftWriters::EndWrite(ObjectId ino, int fd) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = writers_.find(ino);
  if (it == writers_.end()) return;
  if (--it->second > 0) return;
  writers_.erase(it);
  // ENODATA: the file was sealed or recovered under us; nothing to undo.
  (void)fremovexattr(fd, Registry::kWritingXattr);
}

Status DraftWriters::StartSeal(ObjectId version_id) {
  std::unique_lock<std::shared_mutex> adm(admission_);  // waits out openers in flight
  std::lock_guard<std::mutex> g(mu_);
  if (!sealing_.insert(version_id).second) return Status::Busy("the draft is already being sealed");
  return Status::Ok();
}

void DraftWriters::EndSeal(ObjectId version_id) {
  std::lock_guard<std::mutex> g(mu_);
  sealing_.erase(version_id);
}

// ---------------------------------------------------------------- pending symlinks

void PendingLinks::ExpireLocked(Clock::time_point now) {
  for (auto it = links_.begin(); it != links_.end();)
    it = it->second.expires <= now ? links_.erase(it) : std::next(it);
}

Result<PendingLinks::Link> PendingLinks::Add(uint64_t model_id, const std::string& name,
                                             const std::string& target) {
  auto now = Clock::now();
  std::lock_guard<std::mutex> g(mu_);
  ExpireLocked(now);
  auto key = std::make_pair(model_id, name);
  if (links_.count(key)) return Status::Exists(name + " exists");
  Link l;
  l.ino = kPendingInoBit | next_++;
  l.target = target;
  l.created_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  links_[key] = Slot{l, now + kTtl};
  return l;
}

std::optional<PendingLinks::Link> PendingLinks::Get(uint64_t model_id, const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  ExpireLocked(Clock::now());
  auto it = links_.find({model_id, name});
  if (it == links_.end()) return std::nullopt;
  return it->second.link;
}

bool PendingLinks::Remove(uint64_t model_id, const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  return links_.erase({model_id, name}) != 0;
}

Status PendingLinks::Rename(uint64_t model_id, const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = links_.find({model_id, from});
  if (it == links_.end()) return Status::NotFound(from + " does not exist");
  Slot s = it->second;
  links_.erase(it);
  links_[{model_id, to}] = s;
  return Status::Ok();
}

// ---------------------------------------------------------------- recovery

namespace {

// Depth first below `dir`, calling `fn(path, rel)` for each regular file.
}  // namespace

DraftChangeLock::~DraftChangeLock() {
  if (fd_ >= 0) close(fd_);
}

Status DraftChangeLock::Take(const std::string& draft_dir) {
  if (fd_ < 0) fd_ = open(draft_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) return Status::FromErrno("draft directory " + draft_dir, errno);
  if (flock(fd_, LOCK_SH | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Status::Busy("the draft is being sealed");
    return Status::FromErrno("lock " + draft_dir, errno);
  }
  return Status::Ok();
}

}  // namespace modelfs::fs
