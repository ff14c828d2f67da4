// The read side of names: lookup, attributes, symlink targets, statfs and
// directory listings, for the registry's own tree (Tree) and for drafts
// (their staging directories). Every request is checked by the Enforcer.
#include <dirent.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "fs/handlers.h"
#include "index/names.h"

namespace modelfs::fs {

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
  // Symlink targets cached in the kernel's page cache: `getfattr -R`
  // follows latest and production for each name it reads, a readlink each.
  // Aliases and latest move, but the freshness thread invalidates the
  // inodes of a changed model's links (inval_inode drops the page, waiting
  // for a readlink in flight to fill it first, so none is left stale).
  want(FUSE_CAP_CACHE_SYMLINKS);
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  conn->time_gran = 1;
  InitPassthrough(*srv, conn);
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (!IsDir(dir)) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  bool dot = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
  if (dir.kind == NodeKind::kRoot && !dot) {
    // A model: mkdir looks it up first, and one who may create it but not
    // read it must learn that it is absent (the Enforcer decides).
    auto who = CallerOf(req);
    if (!who.ok()) return ReplyStatus(req, who.status());
    Status st = srv.enforcer->CheckRootLookup(*who, name, [&]() -> Result<bool> {
      bool absent_stable = false;
      auto r = srv.tree->Lookup(dir, name, &absent_stable);
      if (r.ok()) return true;
      // Not a model name: absent too, and mkdir says why it cannot be one.
      if (r.status().code() == Code::kNotFound || r.status().code() == Code::kInvalid) return false;
      return r.status();
    });
    if (!st.ok()) return ReplyStatus(req, st);
  } else if (dir.kind == NodeKind::kRoot) {
    if (!AllowedToRead(req, dir)) return;
  } else {
    // The name asked for is the object: a denial's record says what was
    // looked for (the Enforcer bounds how many such records one caller gets).
    // Built only on the way to a refusal: lookups are the hottest request.
    auto who = CallerOf(req);
    if (!who.ok()) return ReplyStatus(req, who.status());
    if (!srv.enforcer->MayRead(*who, dir.model)) {
      std::string object = dir.model + (dir.kind == NodeKind::kModel ? "/" : "/.../") + name;
      if (!Allowed(req, policy::Operation::kRead, dir.model, object)) return;
    }
  }

  Child c;
  if (dot) {
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
             strcmp(name, "latest") != 0 && !IsCard(dir, name) && !CheckAliasName(name).ok()) {
    // Not an alias name: at most one of ln's temporary symlinks.
    auto l = srv.pending.Get(dir.model_id, name);
    if (!l) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    c = PendingChild(srv, dir, name, *l);
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
  if (!AllowedToRead(req, n)) return;
  bool stable = false;
  struct stat st;
  if (int err = StatOf(S(req), n, &st, &stable)) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_attr(req, &st, TimeoutOf(n, stable));
}

void ReadLink(fuse_req_t req, fuse_ino_t ino) {
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (!AllowedToRead(req, n)) return;
  if (n.kind == NodeKind::kDraftFile) {
    std::string target;
    if (int err = DraftReadLink(S(req), n, &target)) return Err(req, err);
    fuse_reply_readlink(req, target.c_str());
    return;
  }
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
  if (!Allowed(req, policy::Operation::kReadRoot, "")) return;
  // Capacity is that of the blob store, where the bytes live.
  struct statvfs sv {};
  if (statvfs(S(req).reg->blobs().blobs_dir().c_str(), &sv) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  sv.f_namemax = 255;
  fuse_reply_statfs(req, &sv);
}

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
  if (!AllowedToRead(req, n)) return;
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
  if (!AllowedToRead(req, dir)) return;
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
          st.st_mode = it.type == DT_DIR ? S_IFDIR : it.type == DT_LNK ? S_IFLNK : S_IFREG;
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
  std::optional<policy::Identity> caller;
  if (dir.kind == NodeKind::kRoot) {
    auto who = CallerOf(req);
    if (!who.ok()) return ReplyStatus(req, who.status());
    caller = std::move(*who);
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
        if (caller && !item.dot && !srv.enforcer->MayRead(*caller, item.name))
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

}  // namespace modelfs::fs
