// The FUSE low-level request handlers: each maps one request to a Tree or
// BlobStore call and replies. Sections: helpers (errno, the policy hook,
// timeouts), init, names (lookup/forget/getattr/readlink), directories,
// files, xattrs, the write side's placeholders, the operations table.
//
// Handlers run on libfuse's worker threads. They hold no lock across a
// reply, and never make notify calls (the freshness thread in mount.cc does).
#define FUSE_USE_VERSION 312  // 3.12: fuse_loop_cfg_set_max_threads for --threads
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "fs/server.h"

namespace modelfs::fs {

namespace {

// ---------------------------------------------------------------- helpers

// Contents of ready versions never change: the kernel may keep their names,
// attributes and pages for a day (effectively forever). Model-level names
// (versions appearing, aliases moving, latest) are invalidated by the
// freshness thread within ~200 ms; the short timeout only bounds the damage
// should a notification be lost.
constexpr double kStableTimeout = 86400.0;
constexpr double kModelTimeout = 1.0;
// The largest read/write the kernel may send: 1 MiB (256 pages, the
// kernel's FUSE_MAX_MAX_PAGES); fewer, larger requests stream faster.
constexpr unsigned kMaxIo = 1u << 20;

Server& S(fuse_req_t req) { return *static_cast<Server*>(fuse_req_userdata(req)); }

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
         n.kind == NodeKind::kVersion || n.kind == NodeKind::kDir;
}

fuse_entry_param EntryParam(const Child& c) {
  fuse_entry_param e{};
  e.ino = c.node.ino;
  e.generation = 0;  // ObjectIds are never reused: the id alone is unique
  e.attr = c.st;
  e.attr_timeout = c.stable ? kStableTimeout : kModelTimeout;
  e.entry_timeout = c.stable ? kStableTimeout : kModelTimeout;
  return e;
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
    auto st = srv.tree->Stat(c.node, &stable);
    if (!st.ok()) return ReplyStatus(req, st.status());
    c.st = *st;
    c.stable = stable;
  } else {
    bool absent_stable = false;
    auto r = srv.tree->Lookup(dir, name, &absent_stable);
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
  fuse_entry_param e = EntryParam(c);
  // Count the reference before replying: once the reply is out the kernel
  // may forget it on another thread.
  srv.nodes.Ref(c.node);
  if (fuse_reply_entry(req, &e) != 0) srv.nodes.Forget(c.node.ino, 1);
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
  auto st = S(req).tree->Stat(n, &stable);
  if (!st.ok()) return ReplyStatus(req, st.status());
  fuse_reply_attr(req, &*st, stable ? kStableTimeout : kModelTimeout);
}

void ReadLink(fuse_req_t req, fuse_ino_t ino) {
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (!Allowed(req, policy::Action::kRead, n.model)) return;
  auto t = S(req).tree->ReadLink(n);
  if (!t.ok()) return ReplyStatus(req, t.status());
  fuse_reply_readlink(req, t->c_str());
}

void StatFs(fuse_req_t req, fuse_ino_t) {
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
struct DirHandle {
  std::mutex mu;
  DirPos pos;
};

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
  if (fuse_reply_open(req, fi) != 0) delete h;
}

void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                   bool plus) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, ino, &dir)) return;
  auto* h = reinterpret_cast<DirHandle*>(fi->fh);
  std::vector<char> buf(size);
  size_t used = 0;
  std::vector<ObjectId> refs;  // references taken, undone if the reply fails
  Status st;
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
struct FileHandle {
  int fd;
  uint64_t size;
  std::atomic<int> refs{1};
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

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Server& srv = S(req);
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (n.kind != NodeKind::kFile) {
    fuse_reply_err(req, IsDir(n) ? EISDIR : EINVAL);
    return;
  }
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
    // Ready versions are immutable; drafts become writable with the write side.
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
  auto* fh = new FileHandle{fd, e->size};
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
  if (srv.opt.dontneed) DropServed(fh, static_cast<uint64_t>(off), size);
  Unref(hp);
}

void Flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Unref(reinterpret_cast<FileHandle*>(fi->fh));
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

// Changes arrive with the write side (SPEC §4); until then the mount is
// read-only and says so with EROFS rather than ENOSYS.
void SetXattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) {
  fuse_reply_err(req, EROFS);
}
void RemoveXattr(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void SetAttr(fuse_req_t req, fuse_ino_t, struct stat*, int, fuse_file_info*) {
  fuse_reply_err(req, EROFS);
}
void MkDir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { fuse_reply_err(req, EROFS); }
void MkNod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { fuse_reply_err(req, EROFS); }
void SymLink(fuse_req_t req, const char*, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void Unlink(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void RmDir(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void Rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) {
  fuse_reply_err(req, EROFS);
}
void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void Create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
  fuse_reply_err(req, EROFS);
}

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
