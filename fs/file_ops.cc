// Open files: a ready version's file reads its blob (verified on first open
// since mount); a draft's file reads and writes its staging file, a writer
// holding a DraftWriter (index/draft_writers.h) until its last close. Both
// go through FUSE passthrough where the kernel allows it (it then reads,
// writes and maps the backing file itself, as a native one), else by
// requests (Read, WriteBuf).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "fs/handlers.h"
#include "index/names.h"

namespace modelfs::fs {

void Unref(FileHandle* fh) {
  if (fh->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (!fh->writer && fh->fd >= 0) close(fh->fd);  // a writer closes its own: mark first, then lock
  delete fh;
}

namespace {

// The page cache of ext4 and friends holds large folios (up to 2 MiB): an
// fadvise(DONTNEED) of just the 128 KiB a read served drops nothing, since
// only whole folios inside the range go. So a range is dropped once reads
// have reached the end of its 2 MiB-aligned window (or of the file).
constexpr uint64_t kDropWindow = 2u << 20;

void DropServed(int fd, uint64_t size, uint64_t off, uint64_t len) {
  uint64_t end = std::min(off + len, size);
  if (end >= size) {
    posix_fadvise(fd, static_cast<off_t>(off / kDropWindow * kDropWindow), 0,
                  POSIX_FADV_DONTNEED);
  } else if (end / kDropWindow != off / kDropWindow) {
    uint64_t start = end / kDropWindow * kDropWindow - kDropWindow;
    posix_fadvise(fd, static_cast<off_t>(start), static_cast<off_t>(kDropWindow),
                  POSIX_FADV_DONTNEED);
  }
}

// The log line and errno for a blob that cannot be served: never wrong
// bytes (SPEC §5), so a missing or damaged blob is EIO; the daemon running
// out of descriptors is EMFILE/ENFILE, said as such.
void RefuseBlob(fuse_req_t req, const std::string& what, const Status& st) {
  Log("error: refusing to serve " + what + ": " + st.message());
  int err = st.sys_errno();
  Err(req, err == EMFILE || err == ENFILE ? err : EIO);
}

// The backing id the kernel is to read (and, for a draft, write) inode
// `ino` through, or 0 to serve it by requests: the first open of an inode
// decides, later opens share its choice (and backing id) until the last
// release (ServedInodes); `allow` false makes a first open decide for
// requests. `fd` is the file's descriptor (a blob's, verified already; a
// staging file's): the kernel opens its own per open, with that open's flags.
int ServeInode(fuse_req_t req, fuse_ino_t ino, int fd, bool allow, const std::string& what) {
  Server& srv = S(req);
  ServedInodes& sv = srv.served;
  std::lock_guard<std::mutex> lock(sv.mu);
  ServedInodes::Inode& in = sv.open[ino];
  if (in.opens++ > 0) return in.backing_id;
  if (!allow || !sv.enabled.load(std::memory_order_relaxed) || sv.refused.count(ino)) return 0;
  errno = 0;
  int id = fuse_passthrough_open(req, fd);
  if (id > 0) return in.backing_id = id;
  int err = errno;
  // No CAP_SYS_ADMIN (EPERM) or no support in the kernel will not change
  // during the mount: stop asking. Anything else (a stacked filesystem
  // under the blob, ELOOP) is this inode's: it is not asked again.
  bool for_good = err == EPERM || err == ENOTTY || err == EOPNOTSUPP || err == ENOSYS;
  if (for_good) sv.enabled.store(false, std::memory_order_relaxed);
  else sv.refused.insert(ino);
  if (!sv.refusal_logged.exchange(true))
    Log("passthrough refused for " + what + " (" + (err ? strerror(err) : "no backing id") +
        "): serving " + (for_good ? "every file" : "such files") + " by read requests");
  return 0;
}

// Undoes ServeInode for one open; the last one closes the backing id.
void UnserveInode(fuse_req_t req, fuse_ino_t ino) {
  ServedInodes& sv = S(req).served;
  std::lock_guard<std::mutex> lock(sv.mu);
  auto it = sv.open.find(ino);
  if (it == sv.open.end() || --it->second.opens > 0) return;
  if (it->second.backing_id > 0) {
    if (int rc = fuse_passthrough_close(req, it->second.backing_id); rc < 0)
      Log("error: closing passthrough backing id " + std::to_string(it->second.backing_id) +
          ": " + strerror(errno));
  }
  sv.open.erase(it);
}

// Whether the kernel may write a draft's file `fd` without asking us
// (passthrough): such writes escape WriteBuf's check of
// [limits].max_file_size, so only while the file cannot outgrow the limit
// before the filesystem under it is full (the default limit, 256 GiB, is
// beyond most disks; a policy that sets a small one gets every write
// checked, by requests).
bool SizeLimitUnreachable(const Server& srv, int fd) {
  struct stat st;
  struct statvfs fs;
  if (fstat(fd, &st) != 0 || fstatvfs(fd, &fs) != 0) return false;
  uint64_t room = static_cast<uint64_t>(fs.f_bfree) * fs.f_frsize;
  return static_cast<uint64_t>(st.st_size) + room < srv.enforcer->policy()->limits().max_file_size;
}

// A draft's file handle, for reading or (with `writer`) writing; `fd` is
// the reader's (owned by the handle) or -1 for a writer.
FileHandle* NewDraftHandle(int fd, std::optional<DraftWriter> writer, const Version& v,
                           const std::string& name) {
  auto* fh = new FileHandle;
  fh->fd = writer ? writer->fd() : fd;
  fh->draft = true;
  fh->writer = std::move(writer);
  fh->version = v;
  fh->name = name;
  return fh;
}

// Replies to an open (entry null) or a create of draft file `ino` with
// `fh`: through passthrough when ServeInode grants it (the kernel then
// reads, writes and maps the staging file itself, as a native file; the
// handle still holds the writer's lock and mark until the release), else
// by requests. False when the reply failed (the caller undoes its part;
// the handle is gone).
bool ReplyDraftOpen(fuse_req_t req, fuse_ino_t ino, FileHandle* fh, fuse_file_info* fi,
                    const fuse_entry_param* entry) {
  Server& srv = S(req);
  int backing_id = ServeInode(req, ino, fh->fd, SizeLimitUnreachable(srv, fh->fd),
                              fh->version.ref() + " " + fh->name);
  fh->passthrough = backing_id > 0;
  fi->backing_id = backing_id;
  fi->fh = reinterpret_cast<uint64_t>(fh);
  fi->keep_cache = 0;  // the bytes change
  srv.open_drafts.Add(ino, fh->fd);
  if ((entry ? fuse_reply_create(req, entry, fi) : fuse_reply_open(req, fi)) == 0) return true;
  srv.open_drafts.Remove(ino);
  UnserveInode(req, ino);
  Unref(fh);
  return false;
}

void OpenDraft(fuse_req_t req, const Node& n, fuse_file_info* fi) {
  Server& srv = S(req);
  Version v;
  std::shared_ptr<const PathFd> pf;
  if (int err = DraftOf(srv, n, &v, &pf)) return Err(req, err);
  int acc = fi->flags & O_ACCMODE;
  bool write = acc != O_RDONLY || (fi->flags & O_TRUNC);
  if (!Allowed(req, write ? policy::Operation::kWriteDraft : policy::Operation::kRead, n.model))
    return;
  std::string path = FdPath(pf->fd());
  FileHandle* fh;
  if (write) {
    int flags = O_RDWR | O_CLOEXEC | (fi->flags & O_APPEND);
    auto w = srv.reg->OpenDraftWriter(
        v, [&] { return open(path.c_str(), flags); }, fi->flags & O_TRUNC);
    if (!w.ok()) return Err(req, w.status().code() == Code::kNotFound ? ESTALE : ErrnoOf(w.status()));
    fh = NewDraftHandle(-1, std::move(*w), v, n.name);
  } else {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Err(req, errno);
    fh = NewDraftHandle(fd, std::nullopt, v, n.name);
  }
  ReplyDraftOpen(req, n.ino, fh, fi, nullptr);
}

// The model card: generated from the index now (or taken from the tree's
// cache of it, valid until the index changes) and kept in the handle, so
// that every read of this open sees one text. Direct I/O: reads return
// exactly the handle's bytes, to EOF, whatever size the kernel cached from
// an earlier stat (the card may have changed between the two), and no
// stale pages outlive the open.
void OpenCard(fuse_req_t req, const Node& n, fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
    return ReplyStatus(req, CardReadOnly(n.model, "write"));
  if (!Allowed(req, policy::Operation::kRead, n.model)) return;
  auto text = S(req).tree->CardText(n);
  if (!text.ok()) return ReplyStatus(req, text.status());
  auto* fh = new FileHandle;
  fh->card = std::move(*text);
  fh->size = fh->card->size();
  fi->fh = reinterpret_cast<uint64_t>(fh);
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fi->noflush = 1;
  if (fuse_reply_open(req, fi) != 0) Unref(fh);
}

}  // namespace

void InitPassthrough(Server& srv, fuse_conn_info* conn) {
  bool on = srv.opt.passthrough && (conn->capable & FUSE_CAP_PASSTHROUGH);
  if (on) conn->want |= FUSE_CAP_PASSTHROUGH;  // and no writeback cache: Init never wants it
  else conn->want &= ~FUSE_CAP_PASSTHROUGH;
  srv.served.enabled.store(on);
  if (srv.opt.passthrough && !on)
    Log("passthrough: not offered by the kernel; reads are served by the daemon");
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Server& srv = S(req);
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (n.kind == NodeKind::kDraftFile) return OpenDraft(req, n, fi);
  if (n.kind == NodeKind::kCard) return OpenCard(req, n, fi);
  if (n.kind != NodeKind::kFile) {
    fuse_reply_err(req, IsDir(n) ? EISDIR : EINVAL);
    return;
  }
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
    return ReplyStatus(req, NotADraft(n));  // ready versions are immutable (SPEC §3)
  if (!Allowed(req, policy::Operation::kRead, n.model)) return;
  bool stable = false;
  auto e = srv.tree->FileEntry(n, &stable);
  if (!e.ok()) return ReplyStatus(req, e.status());
  if (e->is_link()) return Err(req, ELOOP);  // the kernel follows links itself
  // Verified (once per mount) and opened now, so that open(2) says what is
  // wrong; the descriptor is shared and stays cached for the reads.
  BlobFds::Hold hold;
  auto lease = srv.blob_fds->OpenToServe(e->digest, srv.opt.verify, &hold);
  if (!lease.ok())
    return RefuseBlob(req, FormatRef(n.model, n.version) + " " + n.name, lease.status());
  auto* fh = new FileHandle;
  fh->blob = e->digest;
  fh->size = e->size;
  int backing_id =
      ServeInode(req, ino, lease->fd(), true, FormatRef(n.model, n.version) + " " + n.name);
  if (backing_id > 0) {
    // The kernel holds the blob open itself now: our descriptor may go back
    // to the cache's bound (BlobFds), and the mounted file has no pages of
    // its own (the blob's are the ones read and mapped).
    fh->passthrough = true;
    fi->backing_id = backing_id;
    fi->keep_cache = 0;
  } else {
    fi->keep_cache = stable ? 1 : 0;  // immutable bytes: keep pages across opens
  }
  // Either way the open file holds its blob: on a multi-host ROOT that is
  // what keeps it from eviction (BlobFds::OpenToServe pins it).
  fh->hold = std::move(hold);
  fi->fh = reinterpret_cast<uint64_t>(fh);
  fi->noflush = 1;  // nothing to flush on close
  if (fuse_reply_open(req, fi) != 0) {
    UnserveInode(req, ino);
    Unref(fh);
    return;
  }
  // One map update under a mutex; the index hears of it at the next flush.
  if (srv.uses) srv.uses->Record(n.model_id, n.version, NowNs());
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  Server& srv = S(req);
  // Until our reply the kernel holds the file open, so the handle is alive
  // here; the reference keeps it so past the reply.
  auto* hp = reinterpret_cast<FileHandle*>(fi->fh);
  if (hp->card) {
    // The handle keeps its text alive until the release, which the kernel
    // sends only after this read has replied.
    const std::string& text = *hp->card;
    size_t from = std::min(text.size(), static_cast<size_t>(off < 0 ? 0 : off));
    fuse_reply_buf(req, text.data() + from, std::min(size, text.size() - from));
    return;
  }
  hp->refs.fetch_add(1, std::memory_order_relaxed);
  const FileHandle& fh = *hp;
  int fd = fh.fd;
  BlobFds::Lease lease;  // a ready file's blob, shared, held until we are done
  if (!fh.draft) {
    auto l = srv.blob_fds->Acquire(fh.blob);
    if (!l.ok()) {
      RefuseBlob(req, "blob " + fh.blob.hex(), l.status());
      Unref(hp);
      return;
    }
    lease = std::move(*l);
    fd = lease.fd();
  }
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
  if (srv.opt.dontneed && !fh.draft && !fh.passthrough)
    DropServed(fd, fh.size, static_cast<uint64_t>(off), size);
  lease.Reset();
  Unref(hp);
}

// Writes not passed through go to the staging file (from /dev/fuse's
// buffer; with splice, from its pipe).
void WriteBuf(fuse_req_t req, fuse_ino_t, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  if (!fh->writer) return Err(req, fh->draft ? EBADF : EROFS);
  Status limit = S(req).enforcer->policy()->CheckFileSize(
      fh->version.ref() + " " + fh->name, static_cast<uint64_t>(off) + fuse_buf_size(in));
  if (!limit.ok()) return ReplyStatus(req, limit);
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
  if (fh->writer) {
    Status st = S(req).reg->CheckDraft(fh->version);
    if (st.code() == Code::kNotFound) {
      Log("error: " + fh->version.ref() + " " + fh->name +
          ": written while the draft was sealed or discarded; not kept");
      return Err(req, EIO);
    }
  }
  fuse_reply_err(req, 0);
}

void Fsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  int r = !fh->draft ? 0 : (datasync ? fdatasync(fh->fd) : fsync(fh->fd));
  fuse_reply_err(req, r == 0 ? 0 : errno);
}

void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  if (fh->draft) S(req).open_drafts.Remove(ino);
  UnserveInode(req, ino);
  Unref(fh);
  fuse_reply_err(req, 0);
}

void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
            fuse_file_info* fi) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (IsCard(dir, name)) return ReplyStatus(req, CardReadOnly(dir.model, "create"));
  if (dir.kind == NodeKind::kRoot || dir.kind == NodeKind::kModel)
    return ReplyStatus(req, Status::Invalid(std::string("create ") + name + ": " + kHolds));
  Version v;
  std::shared_ptr<const PathFd> pf;
  std::optional<DraftLock> change;
  if (!DraftParent(req, dir, &v, &pf, &change)) return;
  if (!DraftPathFits(req, v, pf->fd(), name)) return;
  int flags = O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW | (fi->flags & (O_EXCL | O_APPEND));
  mode_t fmode = mode & 0777;  // kept until the seal (see draft_ops.cc)
  auto w = srv.reg->OpenDraftWriter(
      v, [&] { return openat(pf->fd(), name, flags, fmode); }, fi->flags & O_TRUNC);
  if (!w.ok()) return Err(req, w.status().code() == Code::kNotFound ? ESTALE : ErrnoOf(w.status()));
  Child c;
  int err = DraftChild(dir, v, pf->fd(), name, &c);
  change.reset();  // before the reply: the caller's next request may seal
  if (err) return Err(req, err);
  FileHandle* fh = NewDraftHandle(-1, std::move(*w), v, name);
  fuse_entry_param e = EntryParam(c);
  srv.nodes.Ref(c.node);
  if (!ReplyDraftOpen(req, c.node.ino, fh, fi, &e)) srv.nodes.Forget(c.node.ino, 1);
}

}  // namespace modelfs::fs
