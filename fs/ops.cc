// The FUSE low-level request handlers: each maps one request to a Tree,
// Registry or BlobStore call (or, inside a draft, to the same system call on
// its staging file) and replies. Sections: helpers (errno, the policy hook,
// timeouts), drafts (staging nodes), init, names (lookup/forget/getattr/
// readlink), directories, files, xattrs, the write side (SPEC §4), the
// operations table.
//
// Handlers run on libfuse's worker threads. They hold no lock across a
// reply, and never make notify calls (the freshness thread in mount.cc does,
// after seals and discards too).
//
// Write-side choices where SPEC §4 is silent (README documents them):
//   - Only the executable bit of a draft file's mode is kept (chmod maps any
//     x bit to 0755, none to 0644); other mode bits and chown are accepted
//     and ignored, as ownership is not part of a version (tar -x, cp -a).
//   - utimens on drafts is applied to the staging file; sealing sets every
//     file's mtime to the version's creation time anyway.
//   - xattrs: other namespaces than user.* are ENOTSUP (cp -a stays quiet);
//     user.* on draft files is ENOTSUP (not kept in a version); read-only
//     user.registry.* names and unknown user.* names on versions are EINVAL.
//   - Policy is checked once per open for writing (like POSIX permissions),
//     not per write().
#define FUSE_USE_VERSION 312  // 3.12: fuse_loop_cfg_set_max_threads for --threads
#include <dirent.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <vector>

#include "fs/server.h"
#include "index/names.h"
#include "policy/enforce.h"

namespace modelfs::fs {

namespace {

// ---------------------------------------------------------------- helpers

// Contents of ready versions never change: the kernel may keep their names,
// attributes and pages for a day (effectively forever). Model-level names
// and listings (versions appearing, aliases moving, latest) change, but
// every change is in the audit trail, and the freshness thread invalidates
// what it touched within ~200 ms (SPEC §3: within 1 s). So they are cached
// long too: short timeouts would make every warm walk ask again. The
// timeout only bounds the damage should a notification be lost.
constexpr double kStableTimeout = 86400.0;
constexpr double kModelTimeout = 60.0;
// Draft names and attributes change with every write, but only through this
// mount (or a seal/discard, which the freshness thread announces): a short
// timeout bounds what a lost notification could leave stale.
constexpr double kDraftTimeout = 0.5;
// The largest read/write the kernel may send: 1 MiB (256 pages, the
// kernel's FUSE_MAX_MAX_PAGES); fewer, larger requests stream faster.
constexpr unsigned kMaxIo = 1u << 20;

Server& S(fuse_req_t req) { return *static_cast<Server*>(fuse_req_userdata(req)); }

// fuse_reply_err as a void expression: `return Err(req, EINVAL);`.
void Err(fuse_req_t req, int err) { fuse_reply_err(req, err); }

int ErrnoOf(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return 0;
    case Code::kInvalid: return EINVAL;
    case Code::kNotFound: return ENOENT;
    case Code::kExists: return EEXIST;
    case Code::kBusy: return EBUSY;
    case Code::kReadOnly: return EROFS;
    case Code::kDenied: return EACCES;
    case Code::kNoAccess: return EACCES;
    case Code::kIO: return EIO;
    case Code::kCorrupt: return EIO;
    case Code::kNoSpace: return ENOSPC;
    case Code::kTooBig: return E2BIG;
    case Code::kRange: return ERANGE;
    case Code::kNoData: return ENODATA;
    case Code::kNotEmpty: return ENOTEMPTY;
  }
  return EIO;
}

// Replies with the errno of a failed Status; unexpected failures (not a
// plain "no such name") go to the log with their message.
void ReplyStatus(fuse_req_t req, const Status& s) {
  if (s.code() != Code::kNotFound && s.code() != Code::kNoData) Log("error: " + s.message());
  fuse_reply_err(req, ErrnoOf(s));
}

// The caller of a request, as the policy will judge it. Supplementary
// groups cost a read of /proc/PID/status, so the Gatekeeper asks for them
// only when its per-process cache misses.
Gatekeeper::Caller CallerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return Gatekeeper::Caller{ctx->uid, ctx->gid, ctx->pid, [req] {
                              std::vector<gid_t> g(32);
                              int n = fuse_req_getgroups(req, static_cast<int>(g.size()), g.data());
                              if (n > static_cast<int>(g.size())) {
                                g.resize(static_cast<size_t>(n));
                                n = fuse_req_getgroups(req, n, g.data());
                              }
                              g.resize(n > 0 ? static_cast<size_t>(n) : 0);
                              return g;
                            }};
}

// The policy hook: every handler asks it before acting on `model` ("" for
// the registry root). A denial is logged and audited by the Gatekeeper and
// answered with EACCES (SPEC §6).
Status Authorize(fuse_req_t req, policy::Action action, const std::string& model) {
  return S(req).gate->Check(CallerOf(req), action, model, model.empty() ? "/" : model);
}

// Checks the hook; on denial replies and returns false.
bool Allowed(fuse_req_t req, policy::Action action, const std::string& model) {
  Status st = Authorize(req, action, model);
  if (st.ok()) return true;
  ReplyStatus(req, st);
  return false;
}

// The node the kernel names by `ino`. The kernel only uses inodes we gave
// it (and have not been told to forget), so a miss means a stale NFS handle.
bool GetNode(fuse_req_t req, fuse_ino_t ino, Node* out) {
  auto n = S(req).nodes.Get(ino);
  if (!n) {
    fuse_reply_err(req, ESTALE);
    return false;
  }
  *out = std::move(*n);
  return true;
}

bool IsDir(const Node& n) {
  return n.kind == NodeKind::kRoot || n.kind == NodeKind::kModel ||
         n.kind == NodeKind::kVersion || n.kind == NodeKind::kDir ||
         n.kind == NodeKind::kDraftDir;
}

bool IsDraft(const Node& n) {
  return n.kind == NodeKind::kDraftDir || n.kind == NodeKind::kDraftFile;
}

fuse_entry_param EntryParam(const Child& c) {
  fuse_entry_param e{};
  e.ino = c.node.ino;
  e.generation = 0;  // ObjectIds are never reused: the id alone is unique
  e.attr = c.st;
  double t = IsDraft(c.node) || c.node.kind == NodeKind::kPending
                 ? kDraftTimeout
                 : (c.stable ? kStableTimeout : kModelTimeout);
  e.attr_timeout = t;
  e.entry_timeout = t;
  return e;
}

// Hands the kernel a new reference to `c` and replies with it.
void ReplyEntry(fuse_req_t req, const Child& c) {
  fuse_entry_param e = EntryParam(c);
  // Count the reference before replying: once the reply is out the kernel
  // may forget it on another thread.
  S(req).nodes.Ref(c.node);
  if (fuse_reply_entry(req, &e) != 0) S(req).nodes.Forget(c.node.ino, 1);
}

Actor ActorOf(fuse_req_t req) { return S(req).gate->ActorOf(CallerOf(req)); }

// ---------------------------------------------------------------- drafts

// "/proc/self/fd/N": how an O_PATH descriptor is reopened for I/O.
std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// A staging file's stat as the mount shows it: its own inode range, and a
// large st_blksize so that cp copies in max_write-sized chunks.
struct stat DraftStat(struct stat st) {
  st.st_ino = kDraftInoBit | st.st_ino;
  st.st_blksize = kMaxIo;
  return st;
}

// The draft behind a node that may stand for one: a draft version's
// directory, or a directory or file in it. Returns 0 and fills `v` and
// `fd` (the staging directory or file, O_PATH), or an errno: EROFS for
// what belongs to a ready or archived version, ESTALE for a draft node
// whose draft has since been sealed or discarded (the kernel then looks
// the name up again), EINVAL for nodes that are no version's contents.
int DraftOf(Server& srv, const Node& n, Version* v, std::shared_ptr<const PathFd>* fd) {
  switch (n.kind) {
    case NodeKind::kFile:
    case NodeKind::kDir:
      return EROFS;
    case NodeKind::kVersion: {
      auto snap = srv.reg->Read();
      if (!snap.ok()) return EIO;
      auto got = snap->GetVersion(n.model_id, n.version);
      if (!got.ok()) return ErrnoOf(got.status());
      if (got->state != State::kDraft) return EROFS;
      *v = std::move(*got);
      std::string dir = srv.reg->DraftDir(*v);
      int d = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (d < 0) {
        Log("error: draft " + v->ref() + " has no staging directory " + dir + ": " +
            strerror(errno));
        return EIO;
      }
      *fd = std::make_shared<const PathFd>(d);
      return 0;
    }
    case NodeKind::kDraftDir:
    case NodeKind::kDraftFile: {
      auto snap = srv.reg->Read();
      if (!snap.ok()) return EIO;
      auto got = snap->GetVersion(n.model_id, n.version);
      if (!got.ok() || got->id != n.version_id || got->state != State::kDraft) return ESTALE;
      *v = std::move(*got);
      *fd = n.fd;
      return 0;
    }
    default:
      return EINVAL;
  }
}

// The child `name` of draft directory `dir` (staging directory `dirfd`),
// as a node holding its own O_PATH descriptor.
int DraftChild(const Node& dir, const Version& v, int dirfd, const char* name, Child* c) {
  int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  auto pf = std::make_shared<const PathFd>(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
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
  c->node.fd = std::move(pf);
  c->stable = false;
  return 0;
}

// A pending temporary symlink as a child of its model directory.
Child PendingChild(const Node& model_dir, const std::string& name, const PendingLinks::Link& l,
                   uid_t uid, gid_t gid) {
  Child c;
  c.node.kind = NodeKind::kPending;
  c.node.ino = l.ino;
  c.node.parent = model_dir.ino;
  c.node.model_id = model_dir.model_id;
  c.node.model = model_dir.model;
  c.node.name = name;
  c.st.st_ino = l.ino;
  c.st.st_mode = S_IFLNK | 0777;
  c.st.st_nlink = 1;
  c.st.st_uid = uid;
  c.st.st_gid = gid;
  c.st.st_size = static_cast<off_t>(l.target.size());
  c.st.st_blksize = 4096;
  c.st.st_mtim.tv_sec = l.created_ns / 1000000000;
  c.st.st_mtim.tv_nsec = l.created_ns % 1000000000;
  c.st.st_atim = c.st.st_ctim = c.st.st_mtim;
  return c;
}

// The stat of any node; 0 or an errno.
int StatOf(Server& srv, const Node& n, struct stat* out, bool* stable) {
  *stable = false;
  if (IsDraft(n)) {
    Version v;
    std::shared_ptr<const PathFd> fd;
    if (int err = DraftOf(srv, n, &v, &fd)) return err;
    struct stat st;
    if (fstat(fd->fd(), &st) != 0) return errno;
    *out = DraftStat(st);
    return 0;
  }
  if (n.kind == NodeKind::kPending) {
    auto l = srv.pending.Get(n.model_id, n.name);
    if (!l || l->ino != n.ino) return ENOENT;
    struct stat root {};
    bool ignored;
    auto rs = srv.tree->Stat(Node{}, &ignored);  // the root: owner of everything shown
    if (rs.ok()) root = *rs;
    *out = PendingChild(n, n.name, *l, root.st_uid, root.st_gid).st;
    return 0;
  }
  auto st = srv.tree->Stat(n, stable);
  if (!st.ok()) {
    if (st.status().code() != Code::kNotFound) Log("error: " + st.status().message());
    return ErrnoOf(st.status());
  }
  *out = *st;
  return 0;
}

// ---------------------------------------------------------------- init

void Init(void* userdata, fuse_conn_info* conn) {
  auto* srv = static_cast<Server*>(userdata);
  conn->max_write = kMaxIo;  // libfuse derives max_pages (read size) from it
  conn->max_readahead = kMaxIo;  // capped by the kernel's own readahead
  auto want = [&](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  want(FUSE_CAP_EXPORT_SUPPORT);  // "." and ".." lookups: see Lookup
  want(FUSE_CAP_READDIRPLUS);
  want(FUSE_CAP_READDIRPLUS_AUTO);
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_ASYNC_READ);
  if (srv->opt.read_path != ReadPath::kCopy) want(FUSE_CAP_SPLICE_WRITE);
  if (srv->opt.read_path == ReadPath::kSpliceMove) want(FUSE_CAP_SPLICE_MOVE);
  else conn->want &= ~FUSE_CAP_SPLICE_MOVE;
  if (srv->opt.read_path == ReadPath::kCopy) conn->want &= ~FUSE_CAP_SPLICE_WRITE;
  // Alias symlinks move: their targets must be asked for every time.
  conn->want &= ~FUSE_CAP_CACHE_SYMLINKS;
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  conn->time_gran = 1;
}

// ---------------------------------------------------------------- names

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (!IsDir(dir)) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  if (!Allowed(req, policy::Action::kRead, dir.kind == NodeKind::kRoot ? name : dir.model)) return;

  Child c;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    // With export support the kernel asks for these to reconnect NFS
    // handles; we can answer for the inodes it still holds.
    auto n = srv.nodes.Get(name[1] ? dir.parent : dir.ino);
    if (!n) {
      fuse_reply_err(req, ESTALE);
      return;
    }
    c.node = *n;
    bool stable = false;
    if (int err = StatOf(srv, c.node, &c.st, &stable)) {
      fuse_reply_err(req, err);
      return;
    }
    c.stable = stable;
  } else if (dir.kind == NodeKind::kDraftDir) {
    Version v;
    std::shared_ptr<const PathFd> fd;
    int err = DraftOf(srv, dir, &v, &fd);
    if (!err) err = DraftChild(dir, v, fd->fd(), name, &c);
    if (err) {
      fuse_reply_err(req, err);
      return;
    }
  } else if (dir.kind == NodeKind::kModel && !ParseVersionDir(name) &&
             strcmp(name, "latest") != 0 && !CheckAliasName(name).ok()) {
    // Not an alias name: at most one of ln's temporary symlinks.
    auto l = srv.pending.Get(dir.model_id, name);
    if (!l) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    bool ignored;
    auto rs = srv.tree->Stat(Node{}, &ignored);
    c = PendingChild(dir, name, *l, rs.ok() ? rs->st_uid : 0, rs.ok() ? rs->st_gid : 0);
  } else {
    bool absent_stable = false;
    auto r = srv.tree->Lookup(dir, name, &absent_stable);
    if (!r.ok() && !absent_stable && dir.kind == NodeKind::kVersion &&
        r.status().code() == Code::kNotFound) {
      // Not in the index and not known absent for good: a draft's files
      // are in its staging directory.
      Version v;
      std::shared_ptr<const PathFd> fd;
      int err = DraftOf(srv, dir, &v, &fd);
      if (err == 0) {
        err = DraftChild(dir, v, fd->fd(), name, &c);
        if (err) {
          fuse_reply_err(req, err);
          return;
        }
        return ReplyEntry(req, c);
      }
    }
    if (!r.ok()) {
      if (absent_stable) {
        // A name absent from a ready version stays absent: a negative entry
        // the kernel may cache spares repeated probes (e.g. imports).
        fuse_entry_param e{};
        e.entry_timeout = kStableTimeout;
        fuse_reply_entry(req, &e);
        return;
      }
      if (r.status().code() == Code::kInvalid) {
        fuse_reply_err(req, ENOTDIR);
        return;
      }
      return ReplyStatus(req, r.status());
    }
    c = std::move(*r);
  }
  ReplyEntry(req, c);
}

void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  if (!S(req).nodes.Forget(ino, nlookup))
    Log("warning: forget of inode " + std::to_string(ino) + " beyond its lookup count");
  fuse_reply_none(req);
}

void ForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i)
    if (!S(req).nodes.Forget(forgets[i].ino, forgets[i].nlookup))
      Log("warning: forget of inode " + std::to_string(forgets[i].ino) +
          " beyond its lookup count");
  fuse_reply_none(req);
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (!Allowed(req, policy::Action::kRead, n.model)) return;
  bool stable = false;
  struct stat st;
  if (int err = StatOf(S(req), n, &st, &stable)) {
    fuse_reply_err(req, err);
    return;
  }
  double t = IsDraft(n) || n.kind == NodeKind::kPending
                 ? kDraftTimeout
                 : (stable ? kStableTimeout : kModelTimeout);
  fuse_reply_attr(req, &st, t);
}

void ReadLink(fuse_req_t req, fuse_ino_t ino) {
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (!Allowed(req, policy::Action::kRead, n.model)) return;
  if (n.kind == NodeKind::kPending) {
    auto l = S(req).pending.Get(n.model_id, n.name);
    if (!l || l->ino != n.ino) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    fuse_reply_readlink(req, l->target.c_str());
    return;
  }
  auto t = S(req).tree->ReadLink(n);
  if (!t.ok()) return ReplyStatus(req, t.status());
  fuse_reply_readlink(req, t->c_str());
}

void StatFs(fuse_req_t req, fuse_ino_t) {
  if (!Allowed(req, policy::Action::kRead, "")) return;
  // Capacity is that of the blob store, where the bytes live.
  struct statvfs sv {};
  if (statvfs(S(req).reg->blobs().blobs_dir().c_str(), &sv) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  sv.f_namemax = 255;
  fuse_reply_statfs(req, &sv);
}

// ---------------------------------------------------------------- directories

// One open directory: where its listing stopped. The kernel serialises
// readdir on one open file, but the mutex keeps that an assumption checked
// by construction rather than trusted.
//
// A draft directory is listed from its staging directory instead: the
// names are read at offset 0 (opendir, rewinddir) and served by position.
struct DirHandle {
  std::mutex mu;
  DirPos pos;
  std::shared_ptr<const PathFd> draft;  // set for a draft's directory
  struct DraftItem {
    std::string name;
    ino_t ino;
    unsigned char type;
  };
  std::vector<DraftItem> items;
};

int LoadDraftDir(DirHandle* h) {
  h->items.clear();
  int fd = open(FdPath(h->draft->fd()).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  DIR* d = fdopendir(fd);
  if (!d) {
    int err = errno;
    close(fd);
    return err;
  }
  while (struct dirent* de = readdir(d)) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    h->items.push_back({de->d_name, de->d_ino, de->d_type});
  }
  closedir(d);
  return 0;
}

void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (!IsDir(n)) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  if (!Allowed(req, policy::Action::kRead, n.model)) return;
  auto* h = new DirHandle;
  fi->fh = reinterpret_cast<uint64_t>(h);
  if (n.kind == NodeKind::kVersion || n.kind == NodeKind::kDir) {
    // A ready version's listing never changes: let the kernel cache it.
    bool stable = false;
    auto st = S(req).tree->Stat(n, &stable);
    if (st.ok() && stable) {
      fi->cache_readdir = 1;
      fi->keep_cache = 1;
    }
  }
  // Root and model listings are not cached by the kernel: its readdir cache
  // is only reset by a change of the directory's mtime, which a push from
  // another process does not give these directories.
  if (n.kind == NodeKind::kDraftDir || n.kind == NodeKind::kVersion) {
    Version v;
    std::shared_ptr<const PathFd> fd;
    int err = DraftOf(S(req), n, &v, &fd);
    if (err == 0) {
      h->draft = std::move(fd);
    } else if (err != EROFS) {
      delete h;
      fuse_reply_err(req, err);
      return;
    }
  }
  if (fuse_reply_open(req, fi) != 0) delete h;
}

void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                   bool plus) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, ino, &dir)) return;
  // Checked on every batch, not only at opendir: a policy reloaded while a
  // directory is open applies to it too (the decision costs ~100 ns).
  if (!Allowed(req, policy::Action::kRead, dir.model)) return;
  auto* h = reinterpret_cast<DirHandle*>(fi->fh);
  std::vector<char> buf(size);
  size_t used = 0;
  std::vector<ObjectId> refs;  // references taken, undone if the reply fails
  Status st;
  if (h->draft) {
    // Entries of readdirplus carry no node (ino 0): the kernel takes no
    // reference and looks names up when it needs them, so listing a big
    // draft does not open a descriptor per file. The lock is released
    // before replying, as below.
    int err = 0;
    {
      std::lock_guard<std::mutex> g(h->mu);
      if (off <= 0) err = LoadDraftDir(h);
      size_t first = off < 0 ? 0 : static_cast<size_t>(off);
      for (size_t i = first; !err && i < h->items.size() + 2; ++i) {
        std::string name;
        struct stat st {};
        if (i < 2) {
          name = i == 0 ? "." : "..";
          st.st_ino = i == 0 ? dir.ino : dir.parent;
          st.st_mode = S_IFDIR;
        } else {
          const auto& it = h->items[i - 2];
          name = it.name;
          st.st_ino = kDraftInoBit | it.ino;
          st.st_mode = it.type == DT_DIR ? S_IFDIR : S_IFREG;
        }
        char* p = buf.data() + used;
        size_t rem = size - used;
        size_t need;
        if (plus) {
          fuse_entry_param e{};
          e.attr = st;
          need = fuse_add_direntry_plus(req, p, rem, name.c_str(), &e, static_cast<off_t>(i + 1));
        } else {
          need = fuse_add_direntry(req, p, rem, name.c_str(), &st, static_cast<off_t>(i + 1));
        }
        if (need > rem) break;
        used += need;
      }
    }
    if (err) return Err(req, err);
    fuse_reply_buf(req, buf.data(), used);
    return;
  }
  // The root lists only the models the caller may read, as `modelfs list`
  // does; the others are skipped (their positions still count as offsets).
  std::shared_ptr<const policy::Policy> pol;
  policy::Identity caller;
  if (dir.kind == NodeKind::kRoot) {
    pol = srv.gate->policy();
    caller = srv.gate->IdentityOf(CallerOf(req));
  }
  {
    // Released before replying: once the reply is out the kernel may send
    // releasedir, which frees the handle, on another thread.
    std::lock_guard<std::mutex> g(h->mu);
    uint64_t want_off = off < 0 ? 0 : static_cast<uint64_t>(off);
    if (want_off != h->pos.offset) {
      // A seek (rewinddir, or seekdir to an offset we did not just return):
      // offsets are ordinal positions, so start over and skip that many.
      h->pos = DirPos{};
      if (want_off > 0)
        st = srv.tree->List(dir, &h->pos, false,
                            [&](const DirItem&) { return h->pos.offset < want_off; });
    }
    if (st.ok())
      st = srv.tree->List(dir, &h->pos, plus, [&](const DirItem& item) {
        if (pol && !item.dot && !pol->Decide(caller, policy::Action::kRead, item.name).allowed)
          return true;  // consumed, not shown
        char* p = buf.data() + used;
        size_t rem = size - used;
        off_t next = static_cast<off_t>(h->pos.offset + 1);
        size_t need;
        if (plus) {
          fuse_entry_param e{};
          if (item.dot) {
            // The kernel takes no reference for "." and "..": ino 0 says so.
            e.attr.st_ino = item.child.st.st_ino;
            e.attr.st_mode = item.child.st.st_mode;
          } else {
            e = EntryParam(item.child);
          }
          need = fuse_add_direntry_plus(req, p, rem, item.name.c_str(), &e, next);
          if (need > rem) return false;  // not added: no reference taken
          if (!item.dot) {
            srv.nodes.Ref(item.child.node);
            refs.push_back(item.child.node.ino);
          }
        } else {
          need = fuse_add_direntry(req, p, rem, item.name.c_str(), &item.child.st, next);
          if (need > rem) return false;
        }
        used += need;
        return true;
      });
  }
  if (!st.ok() && used == 0) return ReplyStatus(req, st);
  if (fuse_reply_buf(req, buf.data(), used) != 0)
    for (ObjectId ino2 : refs) srv.nodes.Forget(ino2, 1);
}

void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, false);
}

void ReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, true);
}

void ReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<DirHandle*>(fi->fh);
  fuse_reply_err(req, 0);
}

// ---------------------------------------------------------------- files

// An open file: the blob's descriptor and size. Reference-counted: once a
// read has replied the kernel may send release on another thread while the
// read still drops pages behind it, so release only drops its reference.
//
// A draft file's handle passes reads and writes through to its staging
// file; a writer's handle holds the writer's lock and mark (DraftWriters).
struct FileHandle {
  int fd;
  uint64_t size;
  std::atomic<int> refs{1};
  bool draft = false;    // a staging file: no fixed size, nothing to drop
  bool writing = false;  // counted in DraftWriters until release
  ObjectId ino = 0;      // draft: the node, for DraftWriters
  Node node;             // draft: the model, version and version id
};

void Unref(FileHandle* fh) {
  if (fh->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    close(fh->fd);
    delete fh;
  }
}

// The page cache of ext4 and friends holds large folios (up to 2 MiB): an
// fadvise(DONTNEED) of just the 128 KiB a read served drops nothing, since
// only whole folios inside the range go. So a range is dropped once reads
// have reached the end of its 2 MiB-aligned window (or of the file).
constexpr uint64_t kDropWindow = 2u << 20;

void DropServed(const FileHandle& fh, uint64_t off, uint64_t len) {
  uint64_t end = std::min(off + len, fh.size);
  if (end >= fh.size) {
    posix_fadvise(fh.fd, static_cast<off_t>(off / kDropWindow * kDropWindow), 0,
                  POSIX_FADV_DONTNEED);
  } else if (end / kDropWindow != off / kDropWindow) {
    uint64_t start = end / kDropWindow * kDropWindow - kDropWindow;
    posix_fadvise(fh.fd, static_cast<off_t>(start), static_cast<off_t>(kDropWindow),
                  POSIX_FADV_DONTNEED);
  }
}

// Opens a staging file for writing: admitted unless its draft is being
// sealed, with the writer's lock and mark taken, and the draft checked
// again afterwards (a seal from the CLI may have committed in between).
// O_TRUNC is applied only once the lock is held, never under a seal.
// Returns 0 with `*out` set, or an errno.
int OpenDraftWriter(Server& srv, const Version& v, ObjectId ino,
                    const std::function<int()>& open_fd, bool trunc, int* out) {
  auto admitted = srv.writers.Admit();
  Status st = srv.writers.CheckNotSealing(v.id);
  if (!st.ok()) return EBUSY;
  int fd = open_fd();
  if (fd < 0) return errno;
  if (ino == 0) {
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
      int err = errno;
      close(fd);
      return err;
    }
    ino = kDraftInoBit | sb.st_ino;
  }
  st = srv.writers.BeginWrite(ino, fd);
  if (!st.ok()) {
    close(fd);
    if (st.code() != Code::kBusy) Log("error: " + st.message());
    return ErrnoOf(st);
  }
  auto snap = srv.reg->Read();
  bool still = false;
  if (snap.ok()) {
    auto cur = snap->GetVersion(v.model_id, v.number);
    still = cur.ok() && cur->id == v.id && cur->state == State::kDraft;
  }
  if (!still || (trunc && ftruncate(fd, 0) != 0)) {
    int err = still ? errno : ESTALE;
    srv.writers.EndWrite(ino, fd);
    close(fd);
    return err;
  }
  *out = fd;
  return 0;
}

FileHandle* NewDraftHandle(int fd, bool writing, const Node& n, ObjectId ino) {
  auto* fh = new FileHandle{fd, 0, {1}, true, false, 0, Node{}};
  fh->draft = true;
  fh->writing = writing;
  fh->ino = ino;
  fh->node = n;
  fh->node.fd.reset();  // the handle needs no O_PATH descriptor
  return fh;
}

void OpenDraft(fuse_req_t req, const Node& n, fuse_file_info* fi) {
  Server& srv = S(req);
  Version v;
  std::shared_ptr<const PathFd> pf;
  if (int err = DraftOf(srv, n, &v, &pf)) {
    fuse_reply_err(req, err);
    return;
  }
  int acc = fi->flags & O_ACCMODE;
  bool write = acc != O_RDONLY || (fi->flags & O_TRUNC);
  if (!Allowed(req, write ? policy::Action::kWrite : policy::Action::kRead, n.model)) return;
  std::string path = FdPath(pf->fd());
  int fd = -1;
  if (write) {
    int flags = O_RDWR | O_CLOEXEC | (fi->flags & O_APPEND);
    int err = OpenDraftWriter(
        srv, v, n.ino, [&] { return open(path.c_str(), flags); }, fi->flags & O_TRUNC, &fd);
    if (err) {
      fuse_reply_err(req, err);
      return;
    }
  } else {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fuse_reply_err(req, errno);
      return;
    }
  }
  FileHandle* fh = NewDraftHandle(fd, write, n, n.ino);
  fi->fh = reinterpret_cast<uint64_t>(fh);
  fi->keep_cache = 0;  // the bytes change
  if (fuse_reply_open(req, fi) != 0) {
    if (fh->writing) srv.writers.EndWrite(fh->ino, fh->fd);
    Unref(fh);
  }
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Server& srv = S(req);
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (n.kind == NodeKind::kDraftFile) return OpenDraft(req, n, fi);
  if (n.kind != NodeKind::kFile) {
    fuse_reply_err(req, IsDir(n) ? EISDIR : EINVAL);
    return;
  }
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
    // Ready versions are immutable (SPEC §3).
    fuse_reply_err(req, EROFS);
    return;
  }
  if (!Allowed(req, policy::Action::kRead, n.model)) return;
  bool stable = false;
  auto e = srv.tree->FileEntry(n, &stable);
  if (!e.ok()) return ReplyStatus(req, e.status());
  if (srv.opt.verify && !srv.IsVerified(e->digest)) {
    // Two first opens may both hash: harmless, and cheaper than making
    // every open wait on a lock held for the length of a hash.
    Status st = srv.reg->blobs().Verify(e->digest);
    if (!st.ok()) {
      Log("error: refusing to serve " + n.model + "@" + std::to_string(n.version) + " " + n.name +
          ": " + st.message());
      fuse_reply_err(req, EIO);
      return;
    }
    srv.MarkVerified(e->digest);
  }
  std::string path = srv.reg->blobs().PathOf(e->digest);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Log("error: cannot open blob " + path + " for " + n.model + "@" + std::to_string(n.version) +
        " " + n.name + ": " + strerror(errno));
    fuse_reply_err(req, EIO);
    return;
  }
  auto* fh = new FileHandle{fd, e->size, {1}, false, false, 0, Node{}};
  fi->fh = reinterpret_cast<uint64_t>(fh);
  fi->keep_cache = stable ? 1 : 0;  // immutable bytes: keep pages across opens
  fi->noflush = 1;                  // nothing to flush on close
  if (fuse_reply_open(req, fi) != 0) Unref(fh);
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  Server& srv = S(req);
  // Until our reply the kernel holds the file open, so the handle is alive
  // here; the reference keeps it so past the reply.
  auto* hp = reinterpret_cast<FileHandle*>(fi->fh);
  hp->refs.fetch_add(1, std::memory_order_relaxed);
  const FileHandle& fh = *hp;
  int fd = fh.fd;
  if (srv.opt.read_path == ReadPath::kCopy) {
    // One buffer per worker thread, reused: reads are at most kMaxIo.
    thread_local std::vector<char> buf;
    if (buf.size() < size) buf.resize(size);
    size_t got = 0;
    while (got < size) {
      ssize_t r = pread(fd, buf.data() + got, size - got, off + static_cast<off_t>(got));
      if (r < 0) {
        if (errno == EINTR) continue;
        fuse_reply_err(req, EIO);
        Unref(hp);
        return;
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    fuse_reply_buf(req, buf.data(), got);
  } else {
    fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
    bv.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    bv.buf[0].fd = fd;
    bv.buf[0].pos = off;
    int rc = fuse_reply_data(req, &bv,
                             srv.opt.read_path == ReadPath::kSpliceMove ? FUSE_BUF_SPLICE_MOVE
                                                                        : fuse_buf_copy_flags{});
    if (rc != 0 && rc != -ENOENT) Log("error: read reply failed: " + std::string(strerror(-rc)));
  }
  // The reply has been copied into the kernel (the mounted file's page
  // cache) by now, so the blob's copy of these pages is redundant.
  // (A draft's staging file keeps its pages: the seal reads them next.)
  if (srv.opt.dontneed && !fh.draft) DropServed(fh, static_cast<uint64_t>(off), size);
  Unref(hp);
}

// Writes go straight to the staging file (from /dev/fuse's buffer; with
// splice, from its pipe).
void WriteBuf(fuse_req_t req, fuse_ino_t, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  if (!fh->writing) {
    fuse_reply_err(req, fh->draft ? EBADF : EROFS);
    return;
  }
  fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
  out.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  out.buf[0].fd = fh->fd;
  out.buf[0].pos = off;
  ssize_t r = fuse_buf_copy(&out, in, fuse_buf_copy_flags{});
  if (r < 0) fuse_reply_err(req, static_cast<int>(-r));
  else fuse_reply_write(req, static_cast<size_t>(r));
}

// A writer that slipped in while its draft was being sealed from another
// process wrote into a file the version will not have: close(2) says so
// rather than losing the bytes silently.
void Flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  if (fh->writing) {
    auto snap = S(req).reg->Read();
    if (snap.ok()) {
      auto cur = snap->GetVersion(fh->node.model_id, fh->node.version);
      if (!cur.ok() || cur->id != fh->node.version_id || cur->state != State::kDraft) {
        Log("error: " + fh->node.model + "@" + std::to_string(fh->node.version) + " " +
            fh->node.name + ": written while the draft was sealed or discarded; not kept");
        fuse_reply_err(req, EIO);
        return;
      }
    }
  }
  fuse_reply_err(req, 0);
}

void Fsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  int r = !fh->draft ? 0 : (datasync ? fdatasync(fh->fd) : fsync(fh->fd));
  fuse_reply_err(req, r == 0 ? 0 : errno);
}

void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  // The mark goes before the lock (the close in Unref): see DraftWriters.
  if (fh->writing) S(req).writers.EndWrite(fh->ino, fh->fd);
  Unref(fh);
  fuse_reply_err(req, 0);
}

// ---------------------------------------------------------------- xattrs

// xattr(7): size 0 asks for the length; a shorter buffer is ERANGE.
void ReplyXattr(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) fuse_reply_xattr(req, value.size());
  else if (size < value.size()) fuse_reply_err(req, ERANGE);
  else fuse_reply_buf(req, value.data(), value.size());
}

void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  // Only user.* exist; the kernel asks for security.* and system.* on many
  // operations, so answer those without reading the index.
  if (strncmp(name, "user.", 5) != 0) {
    fuse_reply_err(req, ENODATA);
    return;
  }
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (!Allowed(req, policy::Action::kRead, n.model)) return;
  auto xs = S(req).tree->GetXattrs(n);
  if (!xs.ok()) return ReplyStatus(req, xs.status());
  for (const auto& [k, v] : **xs)
    if (k == name) return ReplyXattr(req, v, size);
  fuse_reply_err(req, ENODATA);
}

void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (!Allowed(req, policy::Action::kRead, n.model)) return;
  auto xs = S(req).tree->GetXattrs(n);
  if (!xs.ok()) return ReplyStatus(req, xs.status());
  std::string names;
  for (const auto& [k, v] : **xs) {
    names += k;
    names.push_back('\0');
  }
  ReplyXattr(req, names, size);
}

// ---------------------------------------------------------------- write side

// Which metadata a version xattr names: the key SetMeta takes ("metrics.auc",
// "description"), "" when the name is not settable metadata. `special` is
// set for user.registry.state and user.registry.approval.
std::string MetaKeyOf(std::string_view name) {
  auto rest = [&](std::string_view prefix) -> std::string_view {
    return name.substr(0, prefix.size()) == prefix ? name.substr(prefix.size()) : std::string_view();
  };
  for (std::string_view family : {"metrics.", "params.", "tags."})
    if (auto k = rest("user." + std::string(family)); !k.empty())
      return std::string(family) + std::string(k);
  if (auto k = rest("user.lineage."); !k.empty())
    if (k == "parents" || k == "datasets" || k == "code" || k == "run")
      return "lineage." + std::string(k);
  if (name == "user.registry.description") return "description";
  return "";
}

// Whether the version's xattr `name` is set now (a fresh read).
bool HasXattr(Server& srv, const Node& n, const char* name) {
  srv.tree->Changed();
  auto xs = srv.tree->GetXattrs(n);
  if (!xs.ok()) return false;
  for (const auto& [k, v] : **xs)
    if (k == name) return true;
  return false;
}

// Replies after a registry change: our own caches (counts, xattrs) are
// dropped at once, so the caller's next getfattr or stat sees the change;
// the kernel's view is the freshness thread's job.
void ReplyChanged(fuse_req_t req, const Status& st) {
  if (st.ok()) {
    S(req).tree->Changed();
    fuse_reply_err(req, 0);
    return;
  }
  ReplyStatus(req, st);
}

// Seals through `setfattr -n user.registry.state -v ready`.
Status SealFromMount(Server& srv, const Node& n, const Actor& who) {
  auto snap = srv.reg->Read();
  if (!snap.ok()) return snap.status();
  auto v = snap->GetVersion(n.model_id, n.version);
  if (!v.ok()) return v.status();
  if (v->state == State::kReady) return Status::Ok();  // already: nothing to do
  if (v->state != State::kDraft) return Status::Invalid(v->ref() + " is archived, not a draft");
  MODELFS_RETURN_IF_ERROR(srv.writers.StartSeal(v->id));
  auto sealed = srv.reg->Seal(n.model, n.version, who);
  srv.writers.EndSeal(v->id);
  if (!sealed.ok()) return sealed.status();
  Log("sealed " + sealed->ref() + " (" + std::to_string(sealed->files) + " files, " +
      std::to_string(sealed->size) + " bytes) for " + who.name);
  return Status::Ok();
}

void SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags) {
  Server& srv = S(req);
  if (strncmp(name, "user.", 5) != 0) {
    fuse_reply_err(req, ENOTSUP);
    return;
  }
  Node n;
  if (!GetNode(req, ino, &n)) return;
  switch (n.kind) {
    case NodeKind::kVersion: break;
    case NodeKind::kFile:
    case NodeKind::kDir: fuse_reply_err(req, EROFS); return;
    case NodeKind::kModel: fuse_reply_err(req, EINVAL); return;
    default: fuse_reply_err(req, ENOTSUP); return;  // drafts' files: not kept
  }
  if (size > kMaxMetaValue) {
    fuse_reply_err(req, E2BIG);
    return;
  }
  std::string val(value, size);
  std::string_view nm(name);
  if ((flags & (XATTR_CREATE | XATTR_REPLACE)) != 0) {
    // Whether a name exists is itself something only readers may learn.
    if (!Allowed(req, policy::Action::kRead, n.model)) return;
    bool has = HasXattr(srv, n, name);
    if ((flags & XATTR_CREATE) && has) return Err(req, EEXIST);
    if ((flags & XATTR_REPLACE) && !has) return Err(req, ENODATA);
  }
  if (nm == "user.registry.state") {
    if (val == "ready") {
      if (!Allowed(req, policy::Action::kWrite, n.model)) return;
      return ReplyChanged(req, SealFromMount(srv, n, ActorOf(req)));
    }
    if (val == "archived") {
      if (!Allowed(req, policy::Action::kAdmin, n.model)) return;
      return ReplyChanged(req, srv.reg->Archive(n.model, n.version, ActorOf(req)));
    }
    Log("error: user.registry.state takes ready or archived, not " + val);
    return Err(req, EINVAL);
  }
  if (nm == "user.registry.approval") {
    if (val != "approved" && val != "rejected") {
      Log("error: user.registry.approval takes approved or rejected, not " + val);
      return Err(req, EINVAL);
    }
    if (!Allowed(req, policy::Action::kApprove, n.model)) return;
    return ReplyChanged(req,
                        srv.reg->Approve(n.model, n.version, val == "approved", "", ActorOf(req)));
  }
  std::string key = MetaKeyOf(nm);
  if (key.empty()) {
    Log("error: " + std::string(name) + " cannot be set (settable: user.metrics.*, user.params.*, "
        "user.tags.*, user.lineage.{parents,datasets,code,run}, user.registry.{description,state,"
        "approval})");
    return Err(req, EINVAL);
  }
  if (!Allowed(req, policy::Action::kWrite, n.model)) return;
  ReplyChanged(req, srv.reg->SetMeta(n.model, n.version, {MetaChange{key, val}}, ActorOf(req)));
}

void RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Server& srv = S(req);
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (strncmp(name, "user.", 5) != 0) return Err(req, ENODATA);
  switch (n.kind) {
    case NodeKind::kVersion: break;
    case NodeKind::kFile:
    case NodeKind::kDir: fuse_reply_err(req, EROFS); return;
    case NodeKind::kModel: fuse_reply_err(req, EINVAL); return;
    default: fuse_reply_err(req, ENODATA); return;
  }
  std::string key = MetaKeyOf(name);
  if (key.empty()) {
    if (strncmp(name, "user.registry.", 14) == 0) return Err(req, EINVAL);
    return Err(req, ENODATA);
  }
  if (!Allowed(req, policy::Action::kWrite, n.model)) return;
  // Lists, description, lineage: SetMeta clears them whether set or not;
  // removing what is absent is ENODATA (xattr(7)).
  if (!HasXattr(srv, n, name)) return Err(req, ENODATA);
  ReplyChanged(req, srv.reg->SetMeta(n.model, n.version, {MetaChange{key, std::nullopt}},
                                     ActorOf(req)));
}

void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  Server& srv = S(req);
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (!IsDraft(n) && n.kind != NodeKind::kVersion) {
    fuse_reply_err(req, EROFS);
    return;
  }
  Version v;
  std::shared_ptr<const PathFd> pf;
  if (int err = DraftOf(srv, n, &v, &pf)) {
    fuse_reply_err(req, err);
    return;
  }
  if (!Allowed(req, policy::Action::kWrite, n.model)) return;
  bool file = n.kind == NodeKind::kDraftFile;
  std::string path = FdPath(pf->fd());
  auto* fh = fi ? reinterpret_cast<FileHandle*>(fi->fh) : nullptr;
  if ((to_set & FUSE_SET_ATTR_SIZE) && !file) return Err(req, EISDIR);
  if (to_set & FUSE_SET_ATTR_SIZE) {
    int r;
    if (fh && fh->writing) {
      r = ftruncate(fh->fd, attr->st_size) == 0 ? 0 : errno;
    } else {
      // truncate(2) by name: a writer for the length of the call.
      int fd = -1;
      r = OpenDraftWriter(
          srv, v, n.ino, [&] { return open(path.c_str(), O_RDWR | O_CLOEXEC); }, false, &fd);
      if (r == 0) {
        if (ftruncate(fd, attr->st_size) != 0) r = errno;
        srv.writers.EndWrite(n.ino, fd);
        close(fd);
      }
    }
    if (r) return Err(req, r);
  }
  // Only the executable bit is part of a version; other bits and
  // ownership are accepted and ignored (see the top of this file).
  if ((to_set & FUSE_SET_ATTR_MODE) && file &&
      chmod(path.c_str(), (attr->st_mode & 0111) ? 0755 : 0644) != 0)
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
  bool stable = false;
  if (int err = StatOf(srv, n, &st, &stable)) return Err(req, err);
  fuse_reply_attr(req, &st, kDraftTimeout);
}

// The staging directory of a draft directory node, for the calls that
// create or remove names in it. Replies and returns false when there is
// none (EROFS in ready versions) or the caller may not write.
bool DraftParent(fuse_req_t req, const Node& dir, Version* v, std::shared_ptr<const PathFd>* pf,
                 DraftChangeLock* lock) {
  if (int err = DraftOf(S(req), dir, v, pf)) {
    fuse_reply_err(req, err == EINVAL ? EROFS : err);
    return false;
  }
  if (dir.kind == NodeKind::kDraftFile) {
    fuse_reply_err(req, ENOTDIR);
    return false;
  }
  if (!Allowed(req, policy::Action::kWrite, dir.model)) return false;
  // A change to the draft's names excludes a seal, this mount's or another
  // process's, for as long as the change takes (Registry::Seal).
  Status st = lock->Take(S(req).reg->DraftDir(*v));
  if (!st.ok()) {
    ReplyStatus(req, st);
    return false;
  }
  return true;
}

void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
            fuse_file_info* fi) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (dir.kind == NodeKind::kRoot || dir.kind == NodeKind::kModel) {
    fuse_reply_err(req, EINVAL);  // only models, versions and aliases live here
    return;
  }
  Version v;
  std::shared_ptr<const PathFd> pf;
  DraftChangeLock change;
  if (!DraftParent(req, dir, &v, &pf, &change)) return;
  int flags = O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW | (fi->flags & (O_EXCL | O_APPEND));
  mode_t fmode = (mode & 0111) ? 0755 : 0644;
  int fd = -1;
  int err = OpenDraftWriter(
      srv, v, 0, [&] { return openat(pf->fd(), name, flags, fmode); }, fi->flags & O_TRUNC, &fd);
  if (err) return Err(req, err);
  Child c;
  if ((err = DraftChild(dir, v, pf->fd(), name, &c)) != 0) {
    struct stat sb;
    fstat(fd, &sb);
    srv.writers.EndWrite(kDraftInoBit | sb.st_ino, fd);
    close(fd);
    return Err(req, err);
  }
  FileHandle* fh = NewDraftHandle(fd, true, c.node, c.node.ino);
  fi->fh = reinterpret_cast<uint64_t>(fh);
  fi->keep_cache = 0;
  fuse_entry_param e = EntryParam(c);
  srv.nodes.Ref(c.node);
  if (fuse_reply_create(req, &e, fi) != 0) {
    srv.nodes.Forget(c.node.ino, 1);
    srv.writers.EndWrite(fh->ino, fh->fd);
    Unref(fh);
  }
}

void MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (dir.kind == NodeKind::kRoot || dir.kind == NodeKind::kModel) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  Version v;
  std::shared_ptr<const PathFd> pf;
  DraftChangeLock change;
  if (!DraftParent(req, dir, &v, &pf, &change)) return;
  if (!S_ISREG(mode)) {
    fuse_reply_err(req, EPERM);  // a version holds regular files and directories only
    return;
  }
  if (mknodat(pf->fd(), name, S_IFREG | ((mode & 0111) ? 0755 : 0644), 0) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  Child c;
  if (int err = DraftChild(dir, v, pf->fd(), name, &c)) return Err(req, err);
  ReplyEntry(req, c);
}

// Looks a name just made in the index up again, to hand the kernel its node.
void ReplyIndexEntry(fuse_req_t req, const Node& dir, const char* name) {
  S(req).tree->Changed();
  bool ignored = false;
  auto c = S(req).tree->Lookup(dir, name, &ignored);
  if (!c.ok()) return ReplyStatus(req, c.status());
  ReplyEntry(req, *c);
}

void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (dir.kind == NodeKind::kRoot) {
    Status st = CheckModelName(name);
    if (!st.ok()) return ReplyStatus(req, st);
    if (!Allowed(req, policy::Action::kCreate, name)) return;
    auto m = srv.reg->CreateModel(name, ActorOf(req));
    if (!m.ok()) return ReplyStatus(req, m.status());
    return ReplyIndexEntry(req, dir, name);
  }
  if (dir.kind == NodeKind::kModel) {
    uint32_t number = ParseVersionDir(name);
    if (number == 0) {
      Log("error: mkdir " + dir.model + "/" + name + ": a model holds version directories v<N>");
      return Err(req, EINVAL);
    }
    if (!Allowed(req, policy::Action::kWrite, dir.model)) return;
    auto v = srv.reg->CreateDraft(dir.model, number, ActorOf(req));
    if (!v.ok()) return ReplyStatus(req, v.status());
    return ReplyIndexEntry(req, dir, name);
  }
  Version v;
  std::shared_ptr<const PathFd> pf;
  DraftChangeLock change;
  if (!DraftParent(req, dir, &v, &pf, &change)) return;
  if (mkdirat(pf->fd(), name, 0755) != 0) return Err(req, errno);
  Child c;
  if (int err = DraftChild(dir, v, pf->fd(), name, &c)) return Err(req, err);
  ReplyEntry(req, c);
}

// An alias's target as `ln -s` gives it: "vN" of a ready version of the
// same model. 0 and EINVAL (logged) otherwise.
uint32_t AliasTarget(Server& srv, const Node& model_dir, const std::string& target) {
  uint32_t number = ParseVersionDir(target);
  if (number == 0) {
    Log("error: an alias of " + model_dir.model + " points at v<N> of its own model, not " +
        target);
    return 0;
  }
  auto snap = srv.reg->Read();
  if (!snap.ok()) return 0;
  auto v = snap->GetVersion(model_dir.model_id, number);
  if (!v.ok() || v->state != State::kReady) {
    Log("error: an alias cannot point at " + model_dir.model + "/" + target + ": " +
        (v.ok() ? "it is " + std::string(StateName(v->state)) + ", not ready"
                : v.status().message()));
    return 0;
  }
  return number;
}

// Points `alias` at `number` with the policy's gates run at commit time; a
// gate's refusal is logged and audited like the CLI's.
Status MoveAliasFromMount(fuse_req_t req, const Node& model_dir, const std::string& alias,
                          uint32_t number, bool create_only = false) {
  Server& srv = S(req);
  Actor who = ActorOf(req);
  Guard gates = policy::GateGuard(srv.gate->policy(), alias, /*force=*/false);
  Guard guard = gates;
  if (create_only) {
    // `ln -s` onto an existing alias is EEXIST; checked in the transaction,
    // so two concurrent `ln -s` cannot both "create" it.
    ObjectId model_id = model_dir.model_id;
    guard = [gates, model_id, alias](const Snapshot& s, const Version& v, std::string* note) {
      if (s.GetAlias(model_id, alias).ok()) return Status::Exists(alias + " already exists");
      return gates(s, v, note);
    };
  }
  Status st = srv.reg->SetAlias(model_dir.model, alias, number, who, guard);
  if (st.code() == Code::kDenied) {
    std::string object = model_dir.model + "/" + alias + " -> v" + std::to_string(number);
    Log("denied: user " + who.name + " promote " + object + ": " + st.message());
    (void)srv.reg->AuditDenied(who, "promote", model_dir.model, object, st.message());
  }
  return st;
}

// The temporary name GNU ln -sf gives the new symlink before renaming it
// over the destination (coreutils' samedir_template: "Cu" and six letters
// or digits). Any other name that is not an alias name is refused.
bool IsLnTemporary(const std::string& name) {
  if (name.size() != 8 || name.compare(0, 2, "Cu") != 0) return false;
  return std::all_of(name.begin() + 2, name.end(), [](char c) { return isalnum(static_cast<unsigned char>(c)); });
}

void SymLink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (dir.kind != NodeKind::kModel) {
    // Aliases are the only symlinks there are.
    Log(std::string("error: symlink ") + name + ": symlinks exist only as aliases in a model");
    return Err(req, EINVAL);
  }
  std::string nm(name);
  if (nm == "latest" || ParseVersionDir(nm)) {
    Log("error: " + dir.model + "/" + nm + " cannot be an alias (latest is computed)");
    return Err(req, EINVAL);
  }
  if (!Allowed(req, policy::Action::kPromote, dir.model)) return;
  uint32_t number = AliasTarget(srv, dir, link);
  if (number == 0) return Err(req, EINVAL);
  if (Status bad = CheckAliasName(nm); !bad.ok()) {
    if (!IsLnTemporary(nm)) {
      Log("error: " + dir.model + "/" + nm + ": " + bad.message());
      return Err(req, EINVAL);
    }
    // ln -sfn's temporary: kept in memory until renamed over the alias.
    auto l = srv.pending.Add(dir.model_id, nm, link);
    if (!l.ok()) return ReplyStatus(req, l.status());
    bool ignored;
    auto rs = srv.tree->Stat(Node{}, &ignored);
    return ReplyEntry(req, PendingChild(dir, nm, *l, rs.ok() ? rs->st_uid : 0,
                                        rs.ok() ? rs->st_gid : 0));
  }
  Status st = MoveAliasFromMount(req, dir, nm, number, /*create_only=*/true);
  if (!st.ok()) return ReplyStatus(req, st);
  ReplyIndexEntry(req, dir, name);
}

void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (dir.kind == NodeKind::kModel) {
    std::string nm(name);
    if (nm == "latest") {
      Log("error: " + dir.model + "/latest is computed and cannot be removed");
      return Err(req, EINVAL);
    }
    if (!Allowed(req, policy::Action::kPromote, dir.model)) return;
    if (!CheckAliasName(nm).ok()) {
      if (srv.pending.Remove(dir.model_id, nm)) return Err(req, 0);
      return Err(req, ENOENT);
    }
    return ReplyChanged(req, srv.reg->DeleteAlias(dir.model, nm, ActorOf(req)));
  }
  if (dir.kind == NodeKind::kRoot) return Err(req, EISDIR);
  Version v;
  std::shared_ptr<const PathFd> pf;
  DraftChangeLock change;
  if (!DraftParent(req, dir, &v, &pf, &change)) return;
  fuse_reply_err(req, unlinkat(pf->fd(), name, 0) == 0 ? 0 : errno);
}

void RmDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (dir.kind == NodeKind::kRoot) {
    Log(std::string("error: rmdir ") + name + ": models are not removed through the mount");
    return Err(req, EROFS);
  }
  if (dir.kind == NodeKind::kModel) {
    uint32_t number = ParseVersionDir(name);
    auto snap = srv.reg->Read();
    if (!snap.ok()) return ReplyStatus(req, snap.status());
    auto v = snap->GetVersion(dir.model_id, number);
    if (!v.ok()) return Err(req, ENOENT);
    if (v->state != State::kDraft) {
      // SPEC §4: EBUSY deleting the target of an alias; ready is read-only.
      auto aliases = snap->AliasesOf(dir.model_id, number);
      if (!aliases.empty()) {
        Log("error: rmdir " + v->ref() + ": it is the target of alias " + JoinList(aliases));
        return Err(req, EBUSY);
      }
      return Err(req, EROFS);
    }
    if (!Allowed(req, policy::Action::kWrite, dir.model)) return;
    // rm -r empties it first; rmdir of a non-empty draft is ENOTEMPTY (POSIX).
    std::string staging = srv.reg->DraftDir(*v);
    if (DIR* d = opendir(staging.c_str())) {
      bool empty = true;
      while (struct dirent* de = readdir(d))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) empty = false;
      closedir(d);
      if (!empty) return Err(req, ENOTEMPTY);
    }
    return ReplyChanged(req, srv.reg->DiscardDraft(dir.model, number, ActorOf(req)));
  }
  Version v;
  std::shared_ptr<const PathFd> pf;
  DraftChangeLock change;
  if (!DraftParent(req, dir, &v, &pf, &change)) return;
  fuse_reply_err(req, unlinkat(pf->fd(), name, AT_REMOVEDIR) == 0 ? 0 : errno);
}

// Renames in a model directory: only ln -sfn's commit (a pending temporary
// renamed over an alias name) or a temporary renamed to another temporary.
void RenameInModel(fuse_req_t req, const Node& dir, const std::string& from,
                   const std::string& to, unsigned flags) {
  Server& srv = S(req);
  auto l = CheckAliasName(from).ok() ? std::nullopt : srv.pending.Get(dir.model_id, from);
  if (!l) {
    Log("error: rename " + dir.model + "/" + from + " -> " + to +
        ": versions and aliases are not renamed (ln -sfn vN ALIAS moves an alias)");
    return Err(req, EINVAL);
  }
  if (flags & RENAME_EXCHANGE) return Err(req, EINVAL);
  if (to == "latest" || ParseVersionDir(to)) {
    Log("error: " + dir.model + "/" + to + " cannot be an alias (latest is computed)");
    return Err(req, EINVAL);
  }
  if (!Allowed(req, policy::Action::kPromote, dir.model)) return;
  if (!CheckAliasName(to).ok()) return ReplyStatus(req, srv.pending.Rename(dir.model_id, from, to));
  if (flags & RENAME_NOREPLACE) {
    auto snap = srv.reg->Read();
    if (snap.ok() && snap->GetAlias(dir.model_id, to).ok()) return Err(req, EEXIST);
  }
  uint32_t number = AliasTarget(srv, dir, l->target);
  if (number == 0) return Err(req, EINVAL);
  Status st = MoveAliasFromMount(req, dir, to, number);
  if (!st.ok()) return ReplyStatus(req, st);  // the temporary stays: ln removes it
  srv.pending.Remove(dir.model_id, from);
  // The kernel now names the alias by the temporary's inode: resolve it by
  // name until the freshness thread makes the kernel look it up again.
  srv.nodes.Update(l->ino, [&](Node& n) {
    n.kind = NodeKind::kAlias;
    n.name = to;
    n.by_name = true;
  });
  srv.tree->Changed();
  fuse_reply_err(req, 0);
}

void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
            const char* newname, unsigned flags) {
  Server& srv = S(req);
  Node from, to;
  if (!GetNode(req, parent, &from) || !GetNode(req, newparent, &to)) return;
  if (from.kind == NodeKind::kModel || to.kind == NodeKind::kModel) {
    if (from.ino != to.ino) return Err(req, EINVAL);
    return RenameInModel(req, from, name, newname, flags);
  }
  if (from.kind == NodeKind::kRoot || to.kind == NodeKind::kRoot) {
    Log(std::string("error: rename ") + name + ": models are not renamed");
    return Err(req, EINVAL);
  }
  Version v1, v2;
  std::shared_ptr<const PathFd> p1, p2;
  DraftChangeLock change;
  if (!DraftParent(req, from, &v1, &p1, &change)) return;
  int err = DraftOf(srv, to, &v2, &p2);
  if (err) return Err(req, err == EINVAL ? EROFS : err);
  if (to.kind == NodeKind::kDraftFile) return Err(req, ENOTDIR);
  if (v1.id != v2.id) return Err(req, EXDEV);  // mv copies across drafts
  struct stat moved;
  bool known = fstatat(p1->fd(), name, &moved, AT_SYMLINK_NOFOLLOW) == 0;
  if (renameat2(p1->fd(), name, p2->fd(), newname, flags) != 0) return Err(req, errno);
  if (known)
    srv.nodes.Update(kDraftInoBit | moved.st_ino, [&](Node& n) {
      n.parent = to.ino;
      n.name = newname;
    });
  fuse_reply_err(req, 0);
}

// Hard links are refused: a version lists each path with its own bytes,
// and sealing locks every file by path (two names of one inode would lock
// each other out).
void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = Init;
  ops.lookup = Lookup;
  ops.forget = Forget;
  ops.forget_multi = ForgetMulti;
  ops.getattr = GetAttr;
  ops.readlink = ReadLink;
  ops.statfs = StatFs;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.readdirplus = ReadDirPlus;
  ops.releasedir = ReleaseDir;
  ops.open = Open;
  ops.read = Read;
  ops.write_buf = WriteBuf;
  ops.fsync = Fsync;
  ops.flush = Flush;
  ops.release = Release;
  ops.getxattr = GetXattr;
  ops.listxattr = ListXattr;
  ops.setxattr = SetXattr;
  ops.removexattr = RemoveXattr;
  ops.setattr = SetAttr;
  ops.mkdir = MkDir;
  ops.mknod = MkNod;
  ops.symlink = SymLink;
  ops.unlink = Unlink;
  ops.rmdir = RmDir;
  ops.rename = Rename;
  ops.link = Link;
  ops.create = Create;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& Operations() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace modelfs::fs
