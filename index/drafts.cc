// Drafts: versions written file by file through the mount, then sealed.
// A draft's files are plain files under ROOT/staging/draft-<version id>/;
// sealing streams each into the blob store and commits entries, digest and
// the ready state in one write transaction, like a push.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <filesystem>
#include <map>
#include <optional>

#include "index/dir_names.h"
#include "index/names.h"
#include "index/write_txn.h"
#include "index/sys.h"

namespace modelfs {
namespace {

struct DraftFile {
  std::string rel;
  int fd = -1;  // held with LOCK_EX from check to commit
  bool dir = false;
  uint32_t mode = 0;
};

struct Locked {
  std::vector<DraftFile> files;
  ~Locked() {
    for (auto& f : files)
      if (f.fd >= 0) close(f.fd);
  }
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

// Walks the draft directory, locking every file exclusively: a file that a
// writer holds (LOCK_SH) makes the seal fail with Busy. A path too long to
// open (one renamed deeper) fails naming the limit, not as an I/O error.
Status LockTree(const std::string& ref, const std::string& dir, const std::string& rel,
                size_t max, Locked* out) {
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
      out->files.push_back({r, -1, true, 040555u});
      MODELFS_RETURN_IF_ERROR(LockTree(ref, p, r, max, out));
      continue;
    }
    if (!S_ISREG(st.st_mode)) return Status::Invalid("draft file " + r + " is not a regular file");
    int fd = sys::Open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Status::FromErrno("draft file " + r, errno);
    out->files.push_back({r, fd, false, (st.st_mode & 0111) ? 0100555u : 0100444u});
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
      return Status::Busy(r + " is open for writing");
    char v;
    if (fgetxattr(fd, Registry::kWritingXattr, &v, 1) >= 0 || errno == ERANGE)
      return Status::Corrupt(r + " was being written when its writer stopped: it may be torn; "
                             "write it again or remove it");
  }
  return Status::Ok();
}

// The version as the index has it now, outside any write transaction.
Result<Version> CurrentVersion(const Registry& reg, std::string_view model, uint32_t number) {
  auto snap = reg.Read();
  if (!snap.ok()) return snap.status();
  return snap->GetVersion(model, number);
}

}  // namespace

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
  auto tx = WriteTxn::Begin(this);
  if (!tx.ok()) return tx.status();
  WriteTxn& t = **tx;
  auto m = t.view().GetModel(model);
  if (!m.ok()) return m.status();
  Model mm = *m;
  if (number != mm.next_version)
    return Status::Invalid("v" + std::to_string(number) + " is not the next version of " + mm.name +
                           ": that is v" + std::to_string(mm.next_version));
  auto nv = NewVersion(t, &mm, State::kDraft, who);
  if (!nv.ok()) return nv.status();
  Version v = std::move(*nv);
  std::string dir = DraftDir(v);
  if (sys::Mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::FromErrno("cannot create draft directory " + dir, errno);
  MODELFS_RETURN_IF_ERROR(t.PutModel(mm));
  MODELFS_RETURN_IF_ERROR(t.PutVersion(v));
  MODELFS_RETURN_IF_ERROR(
      t.Audit(MakeAudit(who, "draft", mm.name, v.number, "", v.ref(), "", "draft")));
  Status st = t.Commit();
  if (!st.ok()) {
    sys::Rmdir(dir.c_str());
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
  // Changes to the draft's names hold a shared lock on its directory
  // (DraftLock): with it exclusive, the tree cannot change between
  // the walk below and the commit.
  auto dir_lock = DraftLock::Take(
      DraftDir(v), true, v.ref() + " is being changed (a file is being created, renamed or removed)");
  if (!dir_lock.ok()) return dir_lock.status();
  Locked files;
  MODELFS_RETURN_IF_ERROR(LockTree(v.ref(), DraftDir(v), "", MaxDraftPath(DraftDir(v)), &files));
  if (std::none_of(files.files.begin(), files.files.end(), [](auto& f) { return !f.dir; }))
    return Status::Invalid(v.ref() + " has no files: nothing to seal");
  std::map<std::string, BlobStore::Stored> stored;
  for (auto& f : files.files) {
    if (f.dir) continue;
    auto s = blobs_.PutFd(f.fd, DraftDir(v) + "/" + f.rel, {}, &fresh);
    if (!s.ok()) return s.status();
    stored[f.rel] = *s;
  }

  auto tx = WriteTxn::Begin(this);
  if (!tx.ok()) return tx.status();
  WriteTxn& t = **tx;
  auto cur = t.view().GetVersion(v.model_id, v.number);
  if (!cur.ok()) return cur.status();
  if (cur->id != v.id || cur->state != State::kDraft)
    return Status::Invalid(v.ref() + " is no longer a draft");
  v = *cur;
  std::vector<TreeItem> tree;
  for (const auto& f : files.files) {
    const BlobStore::Stored& b = stored[f.rel];
    tree.push_back({f.rel, f.dir, f.mode, f.dir ? 0 : b.size, f.dir ? Digest{} : b.digest});
  }
  MODELFS_RETURN_IF_ERROR(PutTree(t, &v, tree));
  v.state = State::kReady;
  v.created_at_ns = NowNs();  // a version exists from the moment it is sealed
  MODELFS_RETURN_IF_ERROR(t.PutVersion(v));
  MODELFS_RETURN_IF_ERROR(t.Audit(
      MakeAudit(who, "seal", v.model, v.number, "", v.ref(), "draft", "ready " + v.digest.hex())));
  MODELFS_RETURN_IF_ERROR(t.Commit());
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
  auto tx = WriteTxn::Begin(this);
  if (!tx.ok()) return tx.status();
  WriteTxn& t = **tx;
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
  MODELFS_RETURN_IF_ERROR(t.Commit());
  std::error_code ec;
  sys::RemoveAll(DraftDir(*cur), ec);  // leftovers are gc's
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
