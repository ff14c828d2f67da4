// Drafts: versions written file by file through the mount, then sealed.
// A draft's files are plain files under ROOT/staging/draft-<version id>/;
// sealing hashes each and makes it its own blob (BlobStore::Adopt: a hard
// link, no byte copied), then commits entries, digest and the ready state
// in one write transaction, like a push.
//
// Why a link and not a rename: with a link the draft stays whole at every
// instant (a crash or a failed seal leaves every file where it was), and
// only the sharing has to be undone; a rename would take the files out of
// the draft, and a crash would need a journal to put them back. The cost
// is that a draft file and a blob share an inode between the link and the
// removal of the draft directory after the commit: a write to the draft
// file then would change a blob. So nothing writes such an inode:
//   - the seal marks the draft directory (kSealingXattr) before it adopts
//     the first file, and each adopted file (kSealModeXattr, its draft
//     mode; the inode becomes 0444, the blob's mode);
//   - a marked draft is restored (RestoreDraftFiles) before any writer is
//     admitted (OpenDraftWriter), by a seal that fails, by the next seal,
//     at mount start and by fsck --repair: an adopted file still linked
//     elsewhere is replaced by a private copy (the only copy, and only
//     after a failure), the others get their mode back;
//   - and, whatever happens, DraftWriters::Open refuses an inode that
//     carries kSealModeXattr.
// On success the draft directory is removed after the commit, leaving each
// adopted inode to its blob name alone.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "index/dir_names.h"
#include "index/links.h"
#include "index/names.h"
#include "index/write_txn.h"
#include "index/sys.h"

namespace modelfs {
namespace {

// A descriptor closed at the end of its scope.
struct Fd {
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(fd); }
  int fd;
};

struct DraftFile {
  std::string rel;
  bool dir = false;
  uint32_t mode = 0;
  std::string target;  // symlinks (mode kSymlinkMode)
};

// The longest path inside `draft` whose staging path, `draft_dir`/PATH,
// fits PATH_MAX (with its NUL): seal opens every file by that path.
size_t MaxDraftPath(const std::string& draft_dir) {
  size_t prefix = draft_dir.size() + 1;
  return prefix < PATH_MAX - 1 ? PATH_MAX - 1 - prefix : 0;
}

Status DraftPathTooLong(const std::string& ref, std::string_view rel, size_t max) {
  std::string shown = rel.size() > 60 ? std::string(rel.substr(0, 60)) + "..." : std::string(rel);
  return Status::FromErrno(ref + ": path " + shown + " is " + std::to_string(rel.size()) +
                               " bytes, more than the " + std::to_string(max) +
                               " a path in this draft may take (its staging path must fit "
                               "PATH_MAX, " + std::to_string(PATH_MAX) + " bytes)",
                           ENAMETOOLONG);
}

// Takes the seal's exclusive lock on a draft file (draft_writers.h), or
// false while a writer holds it. A writer through the mount lets go when
// the daemon gets its release, which FUSE sends after close(2) has
// returned: a seal right after `cp` waits a moment (bounded) for it.
bool LockWhenClosed(int fd) {
  for (int waited_ms = 0;; waited_ms += 5) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno != EWOULDBLOCK || waited_ms >= 500) return false;
    usleep(5000);
  }
}

// Walks the draft directory, checking each file for a writer and for a
// crashed writer's mark, one file at a time: no descriptor is kept, so a
// draft of any size seals with a bounded number of them. The caller holds
// the draft's DraftLock exclusively, so no name changes and no new writer
// opens (OpenDraftWriter takes it shared) until the commit: a file that
// has no writer now has none until then, and needs no lock of its own. A
// writer holds LOCK_SH on its file, so a file that cannot be locked
// exclusively is open for writing (Busy). A path too long to open (one
// renamed deeper) fails naming the limit, not as an I/O error.
Status WalkDraft(const std::string& ref, const std::string& dir, const std::string& rel,
                 size_t max, std::vector<DraftFile>* out) {
  auto names = DirNames(dir);
  if (!names.ok()) return names.status();
  for (const auto& n : *names) {
    std::string p = dir + "/" + n;
    std::string r = rel.empty() ? n : rel + "/" + n;
    if (r.size() > max) return DraftPathTooLong(ref, r, max);
    // The names a version keeps are UTF-8 text (see CheckEntryPath).
    MODELFS_RETURN_IF_ERROR(CheckEntryPath(r));
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) return Status::FromErrno("draft file " + r, errno);
    if (S_ISDIR(st.st_mode)) {
      out->push_back({r, true, 040555u, {}});
      MODELFS_RETURN_IF_ERROR(WalkDraft(ref, p, r, max, out));
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      // Kept if it resolves inside the version (CheckVersionLinks).
      std::string target(PATH_MAX, '\0');
      ssize_t n = readlink(p.c_str(), target.data(), target.size());
      if (n < 0) return Status::FromErrno("draft symlink " + r, errno);
      target.resize(static_cast<size_t>(n));
      out->push_back({r, false, kSymlinkMode, std::move(target)});
      continue;
    }
    if (!S_ISREG(st.st_mode)) return Status::Invalid("draft file " + r + " is not a regular file");
    int fd = sys::Open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Status::FromErrno("draft file " + r, errno);
    Fd held(fd);
    if (!LockWhenClosed(fd)) return Status::Busy(r + " is open for writing");
    char v;
    if (fgetxattr(fd, Registry::kWritingXattr, &v, 1) >= 0 || errno == ERANGE)
      return Status::Corrupt(r + " was being written when its writer stopped: it may be torn; "
                             "write it again or remove it");
    out->push_back({r, false, (st.st_mode & 0111) ? 0100555u : 0100444u, {}});
  }
  return Status::Ok();
}

// The version as the index has it now, outside any write transaction.
Result<Version> CurrentVersion(const Registry& reg, std::string_view model, uint32_t number) {
  auto snap = reg.Read();
  if (!snap.ok()) return snap.status();
  return snap->GetVersion(model, number);
}

// What a draft's file is when the seal adopted it: its draft mode, or
// nullopt when it was not adopted (an error if that cannot be told).
Result<std::optional<mode_t>> AdoptedMode(int fd, const std::string& what) {
  char buf[16];
  ssize_t n = fgetxattr(fd, Registry::kSealModeXattr, buf, sizeof buf - 1);
  if (n < 0) {
    if (errno == ENODATA) return std::optional<mode_t>();
    return Status::FromErrno("cannot read " + std::string(Registry::kSealModeXattr) + " of " + what,
                             errno);
  }
  buf[n] = '\0';
  return std::optional<mode_t>(static_cast<mode_t>(strtoul(buf, nullptr, 8) & 0777));
}

// Replaces the file at `path` (open as `fd`) with a private copy of its
// bytes with `mode`: written in staging/ (gc's if we die: it is locked
// meanwhile), fsynced, then renamed over `path`, so the name always leads
// to complete bytes. Holes stay holes.
Status Unshare(const std::string& staging, const std::string& path, int fd, mode_t mode) {
  static std::atomic<uint64_t> counter{0};
  std::string tmp = staging + "/unshare-" + std::to_string(getpid()) + "-" +
                    std::to_string(counter++) + ".tmp";
  int out = sys::Open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) return Status::FromErrno("cannot create " + tmp, errno);
  Fd held(out);
  flock(out, LOCK_EX);
  auto fail = [&](const std::string& what, int err) {
    sys::Unlink(tmp.c_str());
    return Status::FromErrno(what, err);
  };
  constexpr size_t kChunk = 1 << 20;
  std::unique_ptr<char[]> buf(new char[kChunk]);
  static const std::unique_ptr<char[]> zeros(new char[kChunk]());
  uint64_t off = 0;
  for (;;) {
    ssize_t n = sys::Pread(fd, buf.get(), kChunk, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot read " + path, errno);
    }
    if (n == 0) break;
    if (std::memcmp(buf.get(), zeros.get(), static_cast<size_t>(n)) != 0) {
      for (ssize_t w = 0; w < n;) {
        ssize_t k = sys::Pwrite(out, buf.get() + w, static_cast<size_t>(n - w),
                                static_cast<off_t>(off) + w);
        if (k < 0) {
          if (errno == EINTR) continue;
          return fail("cannot write " + tmp, errno);
        }
        w += k;
      }
    }
    off += static_cast<uint64_t>(n);
  }
  if (sys::Ftruncate(out, static_cast<off_t>(off)) != 0) return fail("cannot write " + tmp, errno);
  if (sys::Fchmod(out, mode) != 0) return fail("chmod " + tmp, errno);
  if (sys::Fsync(out) != 0) return fail("fsync " + tmp, errno);
  if (sys::Rename(tmp.c_str(), path.c_str()) != 0)
    return fail("rename " + tmp + " to " + path, errno);
  return Status::Ok();
}

}  // namespace

Status Registry::RestoreDraftFiles(const std::string& dir, int dir_fd) {
  char c;
  if (fgetxattr(dir_fd, kSealingXattr, &c, 1) < 0 && errno != ERANGE) {
    if (errno == ENODATA) return Status::Ok();
    return Status::FromErrno("cannot read " + std::string(kSealingXattr) + " of " + dir, errno);
  }
  std::error_code ec;
  auto it = std::filesystem::recursive_directory_iterator(dir, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fe;
    if (it->is_symlink(fe) || !it->is_regular_file(fe)) continue;
    std::string path = it->path();
    int fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Status::FromErrno("cannot restore draft file " + path, errno);
    Fd held(fd);
    auto mode = AdoptedMode(fd, path);
    if (!mode.ok()) return mode.status();
    if (!*mode) continue;
    struct stat st;
    if (fstat(fd, &st) != 0) return Status::FromErrno("stat " + path, errno);
    if (st.st_nlink > 1) {
      // Still a blob too (or on its way to be one): the draft gets a copy.
      MODELFS_RETURN_IF_ERROR(Unshare(blobs_.staging_dir(), path, fd, **mode));
      continue;
    }
    // Its only name is the draft's: it is the draft's again. The mark goes
    // last, so an interrupted restore is redone.
    if ((st.st_mode & 0777) != **mode && sys::Fchmod(fd, **mode) != 0)
      return Status::FromErrno("chmod " + path, errno);
    if (sys::Fremovexattr(fd, kSealModeXattr) != 0 && errno != ENODATA)
      return Status::FromErrno("cannot restore draft file " + path, errno);
  }
  if (ec) return Status::IO("cannot list draft directory " + dir + ": " + ec.message());
  if (sys::Fremovexattr(dir_fd, kSealingXattr) != 0 && errno != ENODATA)
    return Status::FromErrno("cannot restore draft directory " + dir, errno);
  return Status::Ok();
}

std::string Registry::DraftDir(const Version& v) const {
  return blobs_.staging_dir() + "/draft-" + std::to_string(v.id);
}

uint64_t Registry::DraftSize(const Version& draft) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  uint64_t total = 0;
  fs::recursive_directory_iterator it(DraftDir(draft), fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fe;
    if (!it->is_regular_file(fe) || it->is_symlink(fe)) continue;
    uint64_t n = it->file_size(fe);
    if (!fe) total += n;
  }
  return total;
}

Status Registry::CheckDraftPath(const Version& draft, std::string_view rel) const {
  size_t max = MaxDraftPath(DraftDir(draft));
  if (rel.size() > max) return DraftPathTooLong(draft.ref(), rel, max);
  return Status::Ok();
}

Result<Version> Registry::CreateDraft(std::string_view model, uint32_t number, const Actor& who) {
  // Its directory exists before the commit names it: gc must not see it
  // as an orphan in between.
  auto lock = GcLock::Take(root_, false);
  if (!lock.ok()) return lock.status();
  Version v;
  std::string dir;
  Status st = Write([&](WriteTxn& t) -> Status {
    if (!dir.empty()) sys::Rmdir(dir.c_str());  // a conflict's: decided afresh
    dir.clear();
    auto m = t.view().GetModel(model);
    if (!m.ok()) return m.status();
    Model mm = *m;
    if (number != mm.next_version)
      return Status::Invalid("v" + std::to_string(number) + " is not the next version of " +
                             mm.name + ": that is v" + std::to_string(mm.next_version));
    auto nv = NewVersion(t, &mm, State::kDraft, who);
    if (!nv.ok()) return nv.status();
    v = std::move(*nv);
    dir = DraftDir(v);
    if (sys::Mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::FromErrno("cannot create draft directory " + dir, errno);
    MODELFS_RETURN_IF_ERROR(t.PutModel(mm));
    MODELFS_RETURN_IF_ERROR(t.PutVersion(v));
    MODELFS_RETURN_IF_ERROR(
        t.Audit(MakeAudit(who, "draft", mm.name, v.number, "", v.ref(), "", "draft")));
    return t.Commit();
  });
  if (!st.ok()) {
    if (!dir.empty()) sys::Rmdir(dir.c_str());
    return st;
  }
  return v;
}

Result<Version> Registry::Seal(std::string_view model, uint32_t number, const Actor& who) {
  auto got = CurrentVersion(*this, model, number);
  if (!got.ok()) return got.status();
  Version v = std::move(*got);
  if (v.state == State::kReady) return v;  // sealed already: nothing to do
  if (v.state != State::kDraft)
    return Status::Invalid(v.ref() + " is " + std::string(StateName(v.state)) + ", not a draft");
  // No writer of this process may start while the seal walks and commits.
  MODELFS_RETURN_IF_ERROR(writers_.StartSeal(v.id));
  struct Sealing {
    DraftWriters& w;
    ObjectId id;
    ~Sealing() { w.EndSeal(id); }
  } sealing{writers_, v.id};
  // The blobs a seal that fails wrote are removed, as a failed push's are:
  // once the locks below are released (it needs gc.lock exclusive).
  std::set<Digest> fresh;
  bool sealed = false;
  struct DropIfFailed {
    Registry* reg;
    std::set<Digest>& fresh;
    bool& sealed;
    ~DropIfFailed() {
      if (!sealed && !fresh.empty()) reg->DropFreshBlobs(std::move(fresh));
    }
  } drop{this, fresh, sealed};
  auto lock = GcLock::Take(root_, false);
  if (!lock.ok()) return lock.status();
  // Changes to the draft's names, and writers while they open, hold a
  // shared lock on its directory (DraftLock): with it exclusive, the tree
  // and its files cannot change between the walk below and the commit.
  auto dir_lock = DraftLock::Take(
      DraftDir(v), true,
      v.ref() + " is being changed (a file is being opened for writing, created, renamed or "
                "removed)");
  if (!dir_lock.ok()) return dir_lock.status();
  // What an earlier seal left adopted (it crashed or could not undo it):
  // draft modes back, sharing broken, before the walk reads the modes.
  MODELFS_RETURN_IF_ERROR(RestoreDraftFiles(DraftDir(v), dir_lock->fd()));
  std::vector<DraftFile> files;
  MODELFS_RETURN_IF_ERROR(WalkDraft(v.ref(), DraftDir(v), "", MaxDraftPath(DraftDir(v)), &files));
  if (std::none_of(files.begin(), files.end(), [](auto& f) { return !f.dir; }))
    return Status::Invalid(v.ref() + " has no files: nothing to seal");
  std::vector<TreeItem> tree;
  for (const auto& f : files) {
    TreeItem item;
    item.rel = f.rel;
    item.dir = f.dir;
    item.mode = f.mode;
    item.target = f.target;
    tree.push_back(std::move(item));
  }
  MODELFS_RETURN_IF_ERROR(CheckVersionLinks(
      tree, v.ref(), "copy what it leads to instead (cp -L), or remove it"));
  // A seal that fails gives the draft back as it was (before the locks go,
  // after the staging links below are removed): no file of it stays
  // shared with a blob. If that fails too, the marks stay, and the draft
  // is restored before it is next written (see the top of this file).
  struct Restore {
    Registry* reg;
    std::string dir;
    int dir_fd;
    bool& sealed;
    ~Restore() {
      if (!sealed) (void)reg->RestoreDraftFiles(dir, dir_fd);
    }
  } restore{this, DraftDir(v), dir_lock->fd(), sealed};
  // One file open at a time: each is hashed (its only read) and, when its
  // bytes are new, adopted as its own blob; the blobs are made durable
  // and put in place together (Publish), rather than with two disk
  // flushes each.
  std::map<std::string, BlobStore::Stored> stored;
  std::set<Digest> adopted;  // two files of the same bytes: one blob
  bool marked = false;
  struct Unpublished {  // a seal that fails leaves no staging file behind
    std::map<std::string, BlobStore::Stored>& s;
    bool done = false;
    ~Unpublished() {
      if (!done)
        for (const auto& [rel, b] : s)
          if (!b.pending.empty()) sys::Unlink(b.pending.c_str());
    }
  } unpublished{stored};
  for (auto& f : files) {
    if (f.dir || f.mode == kSymlinkMode) continue;
    std::string path = DraftDir(v) + "/" + f.rel;
    int fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Status::FromErrno("draft file " + f.rel, errno);
    Fd held(fd);
    // The disk starts on the file's bytes (Publish waits for them) while
    // they are hashed from the page cache.
    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    uint64_t size = 0;
    auto digest = BlobStore::HashFd(fd, &size);
    if (!digest.ok()) return digest.status().WithContext("draft file " + f.rel);
    if (adopted.count(*digest) || blobs_.Has(*digest, size)) {
      // Stored already (Publish makes it durable): this file is dropped.
      BlobStore::Stored s;
      s.digest = *digest;
      s.size = size;
      s.existed = true;
      stored[f.rel] = s;
      continue;
    }
    if (!marked) {
      if (sys::Fsetxattr(dir_lock->fd(), kSealingXattr, "1", 1, 0) != 0)
        return Status::FromErrno("cannot mark draft directory " + DraftDir(v), errno);
      marked = true;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) return Status::FromErrno("draft file " + f.rel, errno);
    char m[8];
    int n = snprintf(m, sizeof m, "%o", st.st_mode & 0777);
    if (sys::Fsetxattr(fd, kSealModeXattr, m, static_cast<size_t>(n), 0) != 0)
      return Status::FromErrno("cannot mark draft file " + f.rel, errno);
    auto s = blobs_.Adopt(fd, path, *digest, size, &fresh);
    if (!s.ok()) return s.status();
    adopted.insert(*digest);
    stored[f.rel] = *s;
  }
  {
    std::vector<BlobStore::Stored> all;
    all.reserve(stored.size());
    for (const auto& [rel, s] : stored) all.push_back(s);
    MODELFS_RETURN_IF_ERROR(blobs_.Publish(all, &fresh));
    unpublished.done = true;
  }

  const Version drafted = v;
  MODELFS_RETURN_IF_ERROR(Write([&](WriteTxn& t) -> Status {
    auto cur = t.view().GetVersion(drafted.model_id, drafted.number);
    if (!cur.ok()) return cur.status();
    if (cur->id != drafted.id || cur->state != State::kDraft)
      return Status::Invalid(drafted.ref() + " is no longer a draft");
    v = *cur;
    for (auto& item : tree) {
      auto b = stored.find(item.rel);
      if (b == stored.end()) continue;  // directories and symlinks
      item.size = b->second.size;
      item.digest = b->second.digest;
    }
    MODELFS_RETURN_IF_ERROR(PutTree(t, &v, tree));
    v.state = State::kReady;
    v.created_at_ns = NowNs();  // a version exists from the moment it is sealed
    MODELFS_RETURN_IF_ERROR(t.PutVersion(v));
    MODELFS_RETURN_IF_ERROR(t.Audit(
        MakeAudit(who, "seal", v.model, v.number, "", v.ref(), "draft",
                  "ready " + v.digest.hex())));
    return t.Commit();
  }));
  sealed = true;
  std::error_code ec;
  sys::RemoveAll(DraftDir(v), ec);  // leftovers are gc's
  return v;
}

Status Registry::DiscardDraft(std::string_view model, uint32_t number, const Actor& who,
                              DiscardMode mode) {
  auto got = CurrentVersion(*this, model, number);
  if (!got.ok()) return got.status();
  Version v = std::move(*got);
  // Exclusive on the draft's directory: no name changes, no seal, while we
  // look at its contents and commit. (A ready version has no directory.)
  std::optional<DraftLock> dir_lock;
  if (v.state == State::kDraft) {
    auto l = DraftLock::Take(DraftDir(v), true, v.ref() + " is being changed or sealed");
    if (!l.ok() && l.status().code() != Code::kNotFound) return l.status();
    if (l.ok()) dir_lock.emplace(std::move(*l));
  }
  if (dir_lock && mode == DiscardMode::kMustBeEmpty) {
    auto names = DirNames(DraftDir(v));
    if (!names.ok()) return names.status();
    if (!names->empty()) return Status::NotEmpty(v.ref() + " is not empty");
  }
  Version gone;
  MODELFS_RETURN_IF_ERROR(Write([&](WriteTxn& t) -> Status {
    auto cur = t.view().GetVersion(v.model_id, v.number);
    if (!cur.ok()) return cur.status();
    if (cur->state != State::kDraft) {
      // SPEC §4: EBUSY deleting the target of an alias; ready is read-only.
      Status read;
      auto aliases = t.view().AliasesOf(cur->model_id, cur->number, &read);
      MODELFS_RETURN_IF_ERROR(read);
      if (!aliases.empty())
        return Status::Busy(cur->ref() + " is the target of alias " + JoinList(aliases));
      return Status::ReadOnly(cur->ref() + " is " + std::string(StateName(cur->state)) +
                              ": only drafts can be discarded");
    }
    if (cur->id != v.id) return Status::NotFound(v.ref() + " changed while it was discarded");
    MODELFS_RETURN_IF_ERROR(t.DelVersion(*cur));
    MODELFS_RETURN_IF_ERROR(
        t.Audit(MakeAudit(who, "discard", cur->model, cur->number, "", cur->ref(), "draft", "")));
    gone = *cur;
    return t.Commit();
  }));
  std::error_code ec;
  sys::RemoveAll(DraftDir(gone), ec);  // leftovers are gc's
  return Status::Ok();
}

Status Registry::CheckDraft(const Version& draft) const {
  auto snap = Read();
  if (!snap.ok()) return snap.status();
  auto cur = snap->GetVersion(draft.model_id, draft.number);
  if (!cur.ok() && cur.status().code() != Code::kNotFound) return cur.status();
  if (!cur.ok() || cur->id != draft.id || cur->state != State::kDraft)
    return Status::NotFound(draft.ref() + " is no longer a draft (sealed or discarded)");
  return Status::Ok();
}

Result<DraftWriter> Registry::OpenDraftWriter(const Version& draft,
                                              const std::function<int()>& open_fd,
                                              bool truncate) {
  // Held while the writer opens and locks its file (see draft_writers.h):
  // a seal, from this process or another, that holds it exclusively sees
  // every writer's lock, and no writer starts until it commits.
  // A seal that crashed or failed may have left files shared with blobs:
  // restored first (exclusively), then opened as usual. Only a draft a
  // seal is marking again meanwhile goes round more than once.
  std::optional<DraftLock> opening;
  for (int tries = 0;; ++tries) {
    auto l = DraftLock::Take(DraftDir(draft), false, draft.ref() + " is being sealed");
    if (!l.ok()) return l.status();
    opening.emplace(std::move(*l));
    char c;
    if (fgetxattr(opening->fd(), kSealingXattr, &c, 1) < 0 && errno == ENODATA) break;
    opening.reset();  // let go of it before taking it exclusively
    if (tries == 3) return Status::Busy(draft.ref() + " is being sealed");
    auto excl = DraftLock::Take(DraftDir(draft), true, draft.ref() + " is being sealed");
    if (!excl.ok()) return excl.status();
    MODELFS_RETURN_IF_ERROR(CheckDraft(draft));
    MODELFS_RETURN_IF_ERROR(RestoreDraftFiles(DraftDir(draft), excl->fd()));
  }
  return writers_.Open(draft.id, open_fd, [&] { return CheckDraft(draft); }, truncate);
}

Result<DraftLock> Registry::BeginDraftNameChange(const Version& draft) const {
  return DraftLock::Take(DraftDir(draft), false, draft.ref() + " is being sealed or discarded");
}

Result<std::vector<std::string>> Registry::TornDraftFiles(bool remove) {
  std::vector<Version> drafts;
  {
    auto snap = Read();
    if (!snap.ok()) return snap.status();
    Status err;
    Status st = snap->ForEachModel("", [&](const Model& m) {
      err = snap->ForEachVersion(m.id, 0, [&](const Version& v) {
        if (v.state == State::kDraft) drafts.push_back(v);
        return true;
      });
      return err.ok();
    });
    if (!st.ok()) return st;
    if (!err.ok()) return err;
  }
  std::vector<std::string> torn;
  for (const Version& v : drafts) {
    std::string dir = DraftDir(v);
    if (remove) {
      // An interrupted seal's adopted files (busy: a seal or a writer is at
      // work on it, and the writer's open restores it anyway).
      auto excl = DraftLock::Take(dir, true, "busy");
      if (excl.ok()) {
        Status st = CheckDraft(v);
        if (st.ok()) st = RestoreDraftFiles(dir, excl->fd());
        if (!st.ok() && st.code() != Code::kNotFound)
          return st;
      }
    }
    std::error_code ec;
    auto it = std::filesystem::recursive_directory_iterator(dir, ec);
    // Sealed or discarded since the snapshot: its directory went with it.
    if (ec == std::errc::no_such_file_or_directory) continue;
    for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code gone;  // a file removed meanwhile is simply not torn
      if (it->is_symlink(gone) || !it->is_regular_file(gone)) continue;
      std::string path = it->path();
      int fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) {
        if (errno == ENOENT) continue;  // removed by its writer meanwhile
        return Status::FromErrno(v.ref() + ": cannot check draft file " + path, errno);
      }
      char c;
      bool marked = fgetxattr(fd, kWritingXattr, &c, 1) >= 0 || errno == ERANGE;
      // A live writer (a running mount) holds LOCK_SH: not torn, busy.
      if (marked && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        struct stat st {};
        fstat(fd, &st);
        std::string rel = path.substr(dir.size() + 1);
        if (remove && sys::Unlink(path.c_str()) != 0 && errno != ENOENT) {
          Status err = Status::FromErrno(v.ref() + ": cannot remove torn draft file " + rel, errno);
          close(fd);
          return err;
        }
        torn.push_back(v.ref() + " " + rel + " (" + std::to_string(st.st_size) + " bytes)");
      }
      close(fd);
    }
    if (ec && ec != std::errc::no_such_file_or_directory)
      return Status::IO(v.ref() + ": cannot list draft directory " + dir + ": " + ec.message());
  }
  return torn;
}

}  // namespace modelfs
