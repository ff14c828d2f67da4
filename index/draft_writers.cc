// The draft-writer protocol (see draft_writers.h).
#include "index/draft_writers.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "index/registry.h"
#include "index/sys.h"

namespace modelfs {

DraftWriter::DraftWriter(DraftWriter&& o) noexcept : owner_(o.owner_), ino_(o.ino_), fd_(o.fd_) {
  o.owner_ = nullptr;
  o.fd_ = -1;
}

DraftWriter& DraftWriter::operator=(DraftWriter&& o) noexcept {
  if (this != &o) {
    Close();
    owner_ = o.owner_;
    ino_ = o.ino_;
    fd_ = o.fd_;
    o.owner_ = nullptr;
    o.fd_ = -1;
  }
  return *this;
}

DraftWriter::~DraftWriter() { Close(); }

void DraftWriter::Close() {
  if (owner_) owner_->EndWrite(ino_, fd_);  // the mark goes before the lock
  if (fd_ >= 0) close(fd_);
  owner_ = nullptr;
  fd_ = -1;
}

DraftLock::~DraftLock() {
  if (fd_ >= 0) close(fd_);
}

Result<DraftLock> DraftLock::Take(const std::string& draft_dir, bool exclusive,
                                  const std::string& busy) {
  int fd = sys::Open(draft_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("draft directory " + draft_dir, errno);
  DraftLock held(fd);
  if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Status::Busy(busy);
    return Status::FromErrno("lock " + draft_dir, errno);
  }
  return held;
}

Result<DraftWriter> DraftWriters::Open(uint64_t version_id, const std::function<int()>& open_fd,
                                       const std::function<Status()>& still_draft,
                                       bool truncate) {
  DraftWriter w;
  {
    std::shared_lock<std::shared_mutex> admitted(admission_);
    {
      std::lock_guard<std::mutex> g(mu_);
      if (sealing_.count(version_id)) return Status::Busy("the draft is being sealed");
    }
    int fd = open_fd();
    if (fd < 0) return Status::FromErrno("draft file", errno);
    w.fd_ = fd;  // closed by w on every early return
    // An inode a seal adopted is (or may become) a blob: never written.
    // OpenDraftWriter restores such a draft first, so only a descriptor of
    // the inode from before (a name since replaced) can lead here.
    char c;
    if (fgetxattr(fd, Registry::kSealModeXattr, &c, 1) >= 0 || errno == ERANGE)
      return Status::NotFound("the draft file was sealed or replaced: look it up again");
    struct stat sb;
    if (fstat(fd, &sb) != 0) return Status::FromErrno("draft file", errno);
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return Status::Busy("the draft is being sealed");
      return Status::FromErrno("flock of a draft file", errno);
    }
    std::lock_guard<std::mutex> g(mu_);
    int& n = writers_[sb.st_ino];
    if (n == 0 && sys::Fsetxattr(fd, Registry::kWritingXattr, "1", 1, 0) != 0) {
      int err = errno;
      writers_.erase(sb.st_ino);
      return Status::FromErrno(std::string("cannot mark a draft file with ") +
                                   Registry::kWritingXattr +
                                   " (does staging/ support user xattrs?)",
                               err);
    }
    ++n;
    w.owner_ = this;
    w.ino_ = sb.st_ino;
  }
  MODELFS_RETURN_IF_ERROR(still_draft());
  if (truncate && sys::Ftruncate(w.fd(), 0) != 0) return Status::FromErrno("truncate of a draft file", errno);
  return w;
}

void DraftWriters::EndWrite(uint64_t ino, int fd) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = writers_.find(ino);
  if (it == writers_.end()) return;
  if (--it->second > 0) return;
  writers_.erase(it);
  // ENODATA: the file was sealed or recovered under us; nothing to undo.
  (void)fremovexattr(fd, Registry::kWritingXattr);
}

Status DraftWriters::StartSeal(uint64_t version_id) {
  std::unique_lock<std::shared_mutex> adm(admission_);  // waits out openers in flight
  std::lock_guard<std::mutex> g(mu_);
  if (!sealing_.insert(version_id).second) return Status::Busy("the draft is already being sealed");
  return Status::Ok();
}

void DraftWriters::EndSeal(uint64_t version_id) {
  std::lock_guard<std::mutex> g(mu_);
  sealing_.erase(version_id);
}

}  // namespace modelfs
