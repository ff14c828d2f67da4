// Models, drafts and the names inside drafts (SPEC §4): mkdir creates a
// model or a draft, rmdir discards an empty draft, and inside a draft every
// request is the same system call on its staging directory, made while a
// DraftLock (index/draft_writers.h) keeps a seal out.
//
// Choices where SPEC §4 is silent (README documents them): the permission
// bits (0777) a draft's files and directories are given or set are kept
// on the staging file until the seal, which keeps only the executable bit
// (a version's files are 0444 or 0555); set-id and sticky bits and chown
// are accepted and ignored, as ownership is not part of a version (tar -x,
// cp -a); utimens is applied to the staging file (sealing sets every
// file's mtime anyway). Symlinks are made as they are asked for: seal
// decides which a version may keep (index/links.h).
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "fs/handlers.h"
#include "index/names.h"

namespace modelfs::fs {

// "/proc/self/fd/N": how an O_PATH descriptor is reopened for I/O.
std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Its own inode range, and a large st_blksize so that cp copies in
// max_write-sized chunks.
struct stat DraftStat(struct stat st) {
  st.st_ino = kDraftInoBit | st.st_ino;
  st.st_blksize = kMaxIo;
  return st;
}

namespace {

// Opens `rel` below the staging directory `top` without following any
// symlink and without leaving it (openat2 RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS): the last component may be a symlink (O_NOFOLLOW
// gives the link itself), none above it may. Returns the O_PATH descriptor
// or -1 with errno set.
int OpenBeneath(int top, const std::string& rel) {
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(syscall(SYS_openat2, top, rel.c_str(), &how, sizeof how));
}

}  // namespace

// The draft behind a node that may stand for one: a draft version's
// directory, or a directory or file in it. Returns 0 and fills `v` and
// `fd` (the staging directory or file, O_PATH, opened for this request),
// or an errno: EROFS for what belongs to a ready or archived version,
// ESTALE for a draft node whose draft has since been sealed or discarded,
// or whose path no longer leads to its file (the kernel then looks the
// name up again), EINVAL for nodes that are no version's contents.
int DraftOf(Server& srv, const Node& n, Version* v, std::shared_ptr<const PathFd>* fd) {
  std::optional<std::string> rel;
  switch (n.kind) {
    case NodeKind::kFile:
    case NodeKind::kDir:
      return EROFS;
    case NodeKind::kVersion: {
      auto snap = srv.reg->Read();
      if (!snap.ok()) return ErrnoOf(snap.status());
      auto got = snap->GetVersion(n.model_id, n.version);
      if (!got.ok()) return ErrnoOf(got.status());
      if (got->state != State::kDraft) return EROFS;
      *v = std::move(*got);
      break;
    }
    case NodeKind::kDraftDir:
    case NodeKind::kDraftFile: {
      Version draft;
      draft.id = n.version_id;
      draft.model_id = n.model_id;
      draft.model = n.model;
      draft.number = n.version;
      Status st = srv.reg->CheckDraft(draft);
      if (!st.ok()) return st.code() == Code::kNotFound ? ESTALE : ErrnoOf(st);
      *v = std::move(draft);
      rel = srv.nodes.DraftPath(n);
      if (!rel) return ESTALE;
      break;
    }
    default:
      return EINVAL;
  }
  std::string dir = srv.reg->DraftDir(*v);
  int d = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) {
    if (errno == ENOENT && rel) return ESTALE;  // sealed or discarded just now
    Log("error: draft " + v->ref() + " has no staging directory " + dir + ": " + strerror(errno));
    return EIO;
  }
  auto top = std::make_shared<const PathFd>(d);
  if (!rel) {
    *fd = std::move(top);
    return 0;
  }
  int f = OpenBeneath(top->fd(), *rel);
  int err = f < 0 ? errno : 0;
  auto self = std::make_shared<const PathFd>(f);
  struct stat st;
  if (!err && fstat(f, &st) != 0) err = errno;
  if (!err && (kDraftInoBit | st.st_ino) == n.ino) {
    *fd = std::move(self);
    return 0;
  }
  // Gone, or another file now under that name (the node's own was removed
  // or renamed over), or a symlink or a file where a directory was: a file
  // still open is reached by its descriptor (POSIX), else the kernel must
  // look the name up again.
  if (err && err != ENOENT && err != ELOOP && err != ENOTDIR && err != EXDEV) return err;
  int open_fd = srv.open_drafts.Dup(n.ino);
  if (open_fd < 0) return ESTALE;
  *fd = std::make_shared<const PathFd>(open_fd);
  return 0;
}

// The child `name` of draft directory `dir` (staging directory `dirfd`):
// a node addressed by its path (see inodes.h), holding no descriptor.
int DraftChild(const Node& dir, const Version& v, int dirfd, const char* name, Child* c) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  c->node = Node{};
  c->node.kind = S_ISDIR(st.st_mode) ? NodeKind::kDraftDir : NodeKind::kDraftFile;
  c->st = DraftStat(st);
  c->node.ino = c->st.st_ino;
  c->node.parent = dir.ino;
  c->node.model_id = dir.model_id;
  c->node.model = dir.model;
  c->node.version = v.number;
  c->node.version_id = v.id;
  c->node.name = name;
  c->stable = false;
  return 0;
}

Status NotADraft(const Node& n) {
  return Status::ReadOnly(FormatRef(n.model, n.version) +
                          " is sealed: a ready or archived version never changes (mkdir " +
                          n.model + "/v<next_version> makes a draft)");
}

bool DraftParent(fuse_req_t req, const Node& dir, Version* v, std::shared_ptr<const PathFd>* pf,
                 std::optional<DraftLock>* change) {
  if (int err = DraftOf(S(req), dir, v, pf)) {
    if (err == EINVAL || err == EROFS) ReplyStatus(req, NotADraft(dir));
    else fuse_reply_err(req, err);
    return false;
  }
  if (dir.kind == NodeKind::kDraftFile) {
    fuse_reply_err(req, ENOTDIR);
    return false;
  }
  if (!Allowed(req, policy::Operation::kWriteDraft, dir.model)) return false;
  auto c = S(req).reg->BeginDraftNameChange(*v);
  if (!c.ok()) {
    ReplyStatus(req, c.status());
    return false;
  }
  change->emplace(std::move(*c));
  return true;
}

bool DraftPathFits(fuse_req_t req, const Version& v, int dirfd, const char* name) {
  char buf[PATH_MAX];
  ssize_t n = readlink(FdPath(dirfd).c_str(), buf, sizeof buf);
  if (n < 0 || static_cast<size_t>(n) >= sizeof buf) {
    Err(req, n < 0 ? errno : ENAMETOOLONG);
    return false;
  }
  std::string at(buf, static_cast<size_t>(n));
  std::string top = S(req).reg->DraftDir(v);  // under ROOT, which the mount resolved
  std::string rel;
  if (at == top) rel = name;
  else if (at.size() > top.size() && at.compare(0, top.size() + 1, top + "/") == 0)
    rel = at.substr(top.size() + 1) + "/" + name;
  else return true;  // moved away (removed): making the name fails by itself
  Status st = S(req).reg->CheckDraftPath(v, rel);
  if (st.ok()) return true;
  ReplyStatus(req, st);
  return false;
}

void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  Server& srv = S(req);
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (n.kind == NodeKind::kCard) return ReplyStatus(req, CardReadOnly(n.model, "setattr"));
  if (!IsDraft(n) && n.kind != NodeKind::kVersion)
    return n.kind == NodeKind::kFile || n.kind == NodeKind::kDir ? ReplyStatus(req, NotADraft(n))
                                                                  : Err(req, EROFS);
  Version v;
  std::shared_ptr<const PathFd> pf;
  bool file = n.kind == NodeKind::kDraftFile;
  auto* fh = file && fi ? reinterpret_cast<FileHandle*>(fi->fh) : nullptr;
  if (int err = DraftOf(srv, n, &v, &pf))
    return err == EROFS ? ReplyStatus(req, NotADraft(n)) : Err(req, err);
  if (!Allowed(req, policy::Operation::kWriteDraft, n.model)) return;
  std::string path = FdPath(pf->fd());
  if ((to_set & FUSE_SET_ATTR_SIZE) && !file) return Err(req, EISDIR);
  if (to_set & FUSE_SET_ATTR_SIZE) {
    Status limit = srv.enforcer->policy()->CheckFileSize(v.ref() + " " + n.name,
                                                         static_cast<uint64_t>(attr->st_size));
    if (!limit.ok()) return ReplyStatus(req, limit);
    if (fh && fh->writer) {
      if (ftruncate(fh->fd, attr->st_size) != 0) return Err(req, errno);
    } else {
      // truncate(2) by name: a writer for the length of the call.
      auto w = srv.reg->OpenDraftWriter(
          v, [&] { return open(path.c_str(), O_RDWR | O_CLOEXEC); }, false);
      if (!w.ok())
        return Err(req, w.status().code() == Code::kNotFound ? ESTALE : ErrnoOf(w.status()));
      if (ftruncate(w->fd(), attr->st_size) != 0) return Err(req, errno);
    }
  }
  // The permission bits are kept on the staging file until the seal, which
  // keeps only the executable bit; ownership is accepted and ignored (see
  // the top of this file). A symlink's mode cannot change (Linux), and the
  // version directory's is the registry's (its staging directory stays the
  // daemon's own).
  struct stat now;
  if ((to_set & FUSE_SET_ATTR_MODE) && n.kind != NodeKind::kVersion && fstat(pf->fd(), &now) == 0 &&
      !S_ISLNK(now.st_mode) && chmod(path.c_str(), attr->st_mode & 0777) != 0)
    return Err(req, errno);
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    struct timespec ts[2];
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_nsec = UTIME_OMIT;
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) ts[0].tv_nsec = UTIME_NOW;
    else if (to_set & FUSE_SET_ATTR_ATIME) ts[0] = attr->st_atim;
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) ts[1].tv_nsec = UTIME_NOW;
    else if (to_set & FUSE_SET_ATTR_MTIME) ts[1] = attr->st_mtim;
    if (utimensat(AT_FDCWD, path.c_str(), ts, 0) != 0) return Err(req, errno);
  }
  struct stat st;
  if (n.kind == NodeKind::kVersion) {
    bool stable = false;
    if (int e = StatOf(srv, n, &st, &stable)) return Err(req, e);
  } else {
    if (fstat(pf->fd(), &st) != 0) return Err(req, errno);
    st = DraftStat(st);
  }
  fuse_reply_attr(req, &st, kDraftTimeout);
}

// Makes `name` in draft directory `dir` with `make(dirfd)` (mknodat,
// mkdirat, symlinkat: 0 or -1 with errno) under the draft's change lock,
// and replies with its entry.
template <typename Make>
void MakeInDraft(fuse_req_t req, const Node& dir, const char* name, Make make) {
  Version v;
  std::shared_ptr<const PathFd> pf;
  std::optional<DraftLock> change;
  if (!DraftParent(req, dir, &v, &pf, &change)) return;
  if (!DraftPathFits(req, v, pf->fd(), name)) return;
  Child c;
  int err = make(pf->fd()) == 0 ? 0 : errno;
  if (!err) err = DraftChild(dir, v, pf->fd(), name, &c);
  change.reset();  // before the reply: the caller's next request may seal
  if (err) return Err(req, err);
  ReplyEntry(req, c);
}

void MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (IsCard(dir, name)) return ReplyStatus(req, CardReadOnly(dir.model, "mknod"));
  if (dir.kind == NodeKind::kRoot || dir.kind == NodeKind::kModel)
    return ReplyStatus(req, Status::Invalid(std::string("mknod ") + name + ": " + kHolds));
  if (!S_ISREG(mode))
    return ReplyStatus(req, Status::FromErrno(FormatRef(dir.model, dir.version) + " " + name +
                                                  ": a version holds regular files, directories "
                                                  "and symlinks, not FIFOs, sockets or devices",
                                              EPERM));
  MakeInDraft(req, dir, name,
              [&](int dirfd) { return mknodat(dirfd, name, S_IFREG | (mode & 0777), 0); });
}

void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (dir.kind == NodeKind::kRoot) {
    if (!Allowed(req, policy::Operation::kCreateModel, name)) return;
    auto m = srv.reg->CreateModel(name, ActorOf(req));
    if (!m.ok()) return ReplyStatus(req, m.status());
    return ReplyIndexEntry(req, dir, name);
  }
  if (IsCard(dir, name)) return ReplyStatus(req, CardReadOnly(dir.model, "mkdir"));
  if (dir.kind == NodeKind::kModel) {
    uint32_t number = ParseVersionDir(name);
    if (number == 0)
      return ReplyStatus(req, Status::Invalid("mkdir " + dir.model + "/" + name +
                                              ": a model holds version directories v<N>"));
    if (!Allowed(req, policy::Operation::kCreateDraft, dir.model)) return;
    auto v = srv.reg->CreateDraft(dir.model, number, ActorOf(req));
    if (!v.ok()) return ReplyStatus(req, v.status());
    return ReplyIndexEntry(req, dir, name);
  }
  MakeInDraft(req, dir, name, [&](int dirfd) { return mkdirat(dirfd, name, mode & 0777); });
}

void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (IsCard(dir, name)) return ReplyStatus(req, CardReadOnly(dir.model, "unlink"));
  if (dir.kind == NodeKind::kModel) return UnlinkAlias(req, dir, name);
  if (dir.kind == NodeKind::kRoot) return Err(req, EISDIR);
  Version v;
  std::shared_ptr<const PathFd> pf;
  std::optional<DraftLock> change;
  if (!DraftParent(req, dir, &v, &pf, &change)) return;
  int err = unlinkat(pf->fd(), name, 0) == 0 ? 0 : errno;
  change.reset();  // before the reply: the caller's next request may seal
  fuse_reply_err(req, err);
}

void RmDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (dir.kind == NodeKind::kRoot)
    return ReplyStatus(
        req, Status::ReadOnly(std::string("rmdir ") + name + ": models are not removed through the mount"));
  if (dir.kind == NodeKind::kModel) {
    uint32_t number = ParseVersionDir(name);
    if (number == 0) return Err(req, ENOENT);
    if (!Allowed(req, policy::Operation::kDiscardDraft, dir.model)) return;
    // rm -r empties it first; rmdir of a non-empty draft is ENOTEMPTY (POSIX).
    return ReplyChanged(req, srv.reg->DiscardDraft(dir.model, number, ActorOf(req),
                                                   DiscardMode::kMustBeEmpty));
  }
  Version v;
  std::shared_ptr<const PathFd> pf;
  std::optional<DraftLock> change;
  if (!DraftParent(req, dir, &v, &pf, &change)) return;
  int err = unlinkat(pf->fd(), name, AT_REMOVEDIR) == 0 ? 0 : errno;
  change.reset();  // before the reply: the caller's next request may rmdir the draft
  fuse_reply_err(req, err);
}

void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
            const char* newname, unsigned flags) {
  Server& srv = S(req);
  Node from, to;
  if (!GetNode(req, parent, &from) || !GetNode(req, newparent, &to)) return;
  if (IsCard(from, name) || IsCard(to, newname))
    return ReplyStatus(req, CardReadOnly(IsCard(from, name) ? from.model : to.model, "rename"));
  if (from.kind == NodeKind::kModel || to.kind == NodeKind::kModel) {
    if (from.ino != to.ino)
      return ReplyStatus(req, Status::Invalid(std::string("rename ") + name + " -> " + newname +
                                              ": versions and aliases stay in their model"));
    return RenameInModel(req, from, name, newname, flags);
  }
  if (from.kind == NodeKind::kRoot || to.kind == NodeKind::kRoot)
    return ReplyStatus(req, Status::Invalid(std::string("rename ") + name + ": models are not renamed"));
  Version v1, v2;
  std::shared_ptr<const PathFd> p1, p2;
  std::optional<DraftLock> change;
  if (!DraftParent(req, from, &v1, &p1, &change)) return;
  int err = DraftOf(srv, to, &v2, &p2);
  if (err == EINVAL || err == EROFS) return ReplyStatus(req, NotADraft(to));
  if (err) return Err(req, err);
  if (to.kind == NodeKind::kDraftFile) return Err(req, ENOTDIR);
  if (v1.id != v2.id) return Err(req, EXDEV);  // mv copies across drafts
  // The name itself; what a directory holds is checked again by seal.
  if (!DraftPathFits(req, v2, p2->fd(), newname)) return;
  // The nodes the kernel may hold of what moves follow it (their paths, and
  // so those of everything below them, are read from the table).
  struct stat moved, other;
  bool known = fstatat(p1->fd(), name, &moved, AT_SYMLINK_NOFOLLOW) == 0;
  bool exchanged = (flags & RENAME_EXCHANGE) &&
                   fstatat(p2->fd(), newname, &other, AT_SYMLINK_NOFOLLOW) == 0;
  int moved_err = renameat2(p1->fd(), name, p2->fd(), newname, flags) == 0 ? 0 : errno;
  change.reset();  // before the reply: the caller's next request may seal
  if (moved_err) return Err(req, moved_err);
  if (known)
    srv.nodes.Update(kDraftInoBit | moved.st_ino, [&](Node& n) {
      n.parent = to.ino;
      n.name = newname;
    });
  if (exchanged)
    srv.nodes.Update(kDraftInoBit | other.st_ino, [&](Node& n) {
      n.parent = from.ino;
      n.name = name;
    });
  fuse_reply_err(req, 0);
}

void DraftSymLink(fuse_req_t req, const Node& dir, const char* link, const char* name) {
  MakeInDraft(req, dir, name, [&](int dirfd) { return symlinkat(link, dirfd, name); });
}

int DraftReadLink(Server& srv, const Node& n, std::string* target) {
  Version v;
  std::shared_ptr<const PathFd> pf;
  if (int err = DraftOf(srv, n, &v, &pf)) return err;
  char buf[PATH_MAX];
  // An O_PATH descriptor of the link itself, with an empty path: the link.
  ssize_t len = readlinkat(pf->fd(), "", buf, sizeof buf);
  if (len < 0) return errno == ENOENT ? EINVAL : errno;
  target->assign(buf, static_cast<size_t>(len));
  return 0;
}

// Hard links are refused: a version lists each path with its own bytes,
// and a draft node is one path (inodes.h), so two names of one staging
// inode would be one node the kernel reaches by either.
void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t newparent, const char* newname) {
  Node dir;
  if (!GetNode(req, newparent, &dir)) return;  // names the model, for the refusal's record
  ReplyStatus(req, Status::FromErrno(std::string("link ") + newname +
                                         ": hard links are refused (a version holds each path's "
                                         "own bytes; cp makes a copy)",
                                     EPERM));
}

}  // namespace modelfs::fs
