// Registry::Push: lay the input out as `cp -r` would, stream every file into
// the blob store, then commit the version in one write transaction.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "index/dir_names.h"
#include "index/links.h"
#include "index/names.h"
#include "index/write_txn.h"
#include "index/sys.h"

namespace modelfs {
namespace {

struct Item {
  std::string rel;  // path inside the version
  std::string src;  // path on disk
  bool dir = false;
  uint32_t mode = 0;
  uint64_t size = 0;
  std::string target;  // a symlink kept as one (mode kSymlinkMode)
  bool link() const { return mode == kSymlinkMode; }
};

std::string BaseName(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// Keeps a symlink inside the input as a symlink (CheckVersionLinks then
// decides whether it may be kept), or with `deref` follows it and stores
// what it leads to; the PATHs given are always followed. Refuses what is
// not a regular file, directory or symlink.
Status Walk(const std::string& src, const std::string& rel, std::vector<Item>* out, int depth,
            bool deref) {
  if (depth > 64) return Status::Invalid(src + ": directories nested too deeply (or a symlink loop)");
  // Refused before a byte is copied: a version's names are UTF-8 text.
  if (!rel.empty()) {
    Status name = CheckEntryPath(rel);
    if (!name.ok()) return Status::Invalid("cannot push " + EscapeText(src) + ": " + name.message());
  }
  struct stat st;
  if (depth > 0 && !deref) {
    if (lstat(src.c_str(), &st) != 0) return Status::FromErrno("cannot read " + src, errno);
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = readlink(src.c_str(), target.data(), target.size());
      if (n < 0) return Status::FromErrno("cannot read symlink " + src, errno);
      if (static_cast<size_t>(n) >= target.size())
        return Status::Invalid(src + ": symlink changed while it was read");
      target.resize(static_cast<size_t>(n));
      out->push_back({rel, src, false, kSymlinkMode, target.size(), std::move(target)});
      return Status::Ok();
    }
  }
  if (stat(src.c_str(), &st) != 0) return Status::FromErrno("cannot read " + src, errno);
  if (S_ISREG(st.st_mode)) {
    if (access(src.c_str(), R_OK) != 0) return Status::FromErrno("cannot read " + src, errno);
    out->push_back({rel, src, false, (st.st_mode & 0111) ? 0100555u : 0100444u,
                    static_cast<uint64_t>(st.st_size), {}});
    return Status::Ok();
  }
  if (!S_ISDIR(st.st_mode))
    return Status::Invalid(src + " is neither a regular file nor a directory");
  if (!rel.empty()) out->push_back({rel, src, true, 040555u, 0, {}});
  auto names = DirNames(src);
  if (!names.ok()) return names.status();
  for (const auto& n : *names)
    MODELFS_RETURN_IF_ERROR(
        Walk(src + "/" + n, rel.empty() ? n : rel + "/" + n, out, depth + 1, deref));
  return Status::Ok();
}

std::vector<TreeItem> TreeOf(const std::vector<Item>& items) {
  std::vector<TreeItem> tree;
  for (const auto& it : items) tree.push_back({it.rel, it.dir, it.mode, it.size, {}, it.target});
  return tree;
}

Status Plan(const std::vector<std::string>& paths, bool deref, std::vector<Item>* items) {
  if (paths.empty()) return Status::Invalid("nothing to push: give a file or directory");
  struct stat st;
  if (paths.size() == 1 && stat(paths[0].c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    MODELFS_RETURN_IF_ERROR(Walk(paths[0], "", items, 0, deref));
  } else {
    std::set<std::string> bases;
    for (const auto& p : paths) {
      std::string b = BaseName(p);
      if (b.empty() || b == "." || b == ".." || b == "/")
        return Status::Invalid("cannot push " + p + ": give it by a name (e.g. dir/ rather than .)");
      if (!bases.insert(b).second)
        return Status::Invalid("two paths have the same base name " + b + ": " + p);
      MODELFS_RETURN_IF_ERROR(Walk(p, b, items, 0, deref));
    }
  }
  bool any_file = std::any_of(items->begin(), items->end(), [](const Item& i) { return !i.dir; });
  if (!any_file) return Status::Invalid("nothing to push: no files in " + paths[0]);
  // Before a byte is copied: a link the version could not keep.
  return CheckVersionLinks(TreeOf(*items), "cannot push " + EscapeText(paths[0]),
                           "push with --dereference to store what it leads to (or copy the "
                           "input with cp -L)");
}

// Stores the files of `items` (adding to `fresh` each blob it wrote that was
// not there before) and commits the version in one write transaction.
Result<Version> StoreAndCommit(Registry* reg, const PushRequest& req, const Actor& who,
                               const BlobStore::Progress& progress, const Guard& alias_guard,
                               std::vector<Item>* items, std::set<Digest>* fresh, bool* reused) {
  std::map<std::string, Digest> digests;
  uint64_t done = 0;
  for (auto& it : *items) {
    if (it.dir || it.link()) continue;
    uint64_t base = done;
    auto stored = reg->blobs().PutFile(
        it.src, [&](uint64_t n) { if (progress) progress(base + n); }, fresh);
    if (!stored.ok()) return stored.status();
    done += stored->size;
    digests[it.rel] = stored->digest;
    it.size = stored->size;  // the file may have changed since it was planned
  }

  // Decided in the transaction (re-run on a conflict with another host).
  Version out;
  MODELFS_RETURN_IF_ERROR(reg->Write([&](WriteTxn& t) -> Status {
    if (reused) *reused = false;
    bool new_model = false;
    auto mr = ModelOrNew(t, req.model, who, &new_model);
    if (!mr.ok()) return mr.status();
    Model m = std::move(*mr);
    auto nv = NewVersion(t, &m, State::kReady, who);
    if (!nv.ok()) return nv.status();
    Version v = std::move(*nv);
    for (const auto& c : req.meta) {
      std::string b, a;
      MODELFS_RETURN_IF_ERROR(ApplyMeta(t.view(), &v, c, &b, &a));
    }
    std::vector<TreeItem> tree = TreeOf(*items);
    for (auto& it : tree)
      if (!it.dir && it.mode != kSymlinkMode) it.digest = digests.at(it.rel);
    if (req.if_changed && !new_model) {
      // Decided in the transaction, against the latest as it is at commit.
      Status read;
      uint32_t latest = t.view().LatestReady(m.id, &read);
      MODELFS_RETURN_IF_ERROR(read);
      if (latest != 0) {
        auto lv = t.view().GetVersion(m.id, latest);
        if (!lv.ok()) return lv.status();
        if (lv->digest == TreeDigest(tree) && SameMeta(*lv, v)) {
          if (reused) *reused = true;
          out = *lv;
          if (req.alias.empty()) return Status::Ok();  // nothing changes: the transaction aborts
          auto cur = t.view().GetAlias(m.id, req.alias);
          if (cur.ok() && cur->version == lv->number) return Status::Ok();
          std::string note;
          if (alias_guard) MODELFS_RETURN_IF_ERROR(alias_guard(t.view(), *lv, &note));
          MODELFS_RETURN_IF_ERROR(MoveAlias(t, m, &*lv, req.alias, who, note));
          out = *lv;
          return t.Commit();
        }
      }
    }
    MODELFS_RETURN_IF_ERROR(PutTree(t, &v, tree));
    MODELFS_RETURN_IF_ERROR(t.PutModel(m));
    MODELFS_RETURN_IF_ERROR(t.PutVersion(v));
    if (new_model)
      MODELFS_RETURN_IF_ERROR(
          t.Audit(MakeAudit(who, "create", m.name, 0, "", m.name, "", "model")));
    MODELFS_RETURN_IF_ERROR(t.Audit(MakeAudit(who, "push", m.name, v.number, "", v.ref(), "",
                                              "ready " + v.digest.hex())));
    if (!req.alias.empty()) {
      std::string note;
      if (alias_guard) MODELFS_RETURN_IF_ERROR(alias_guard(t.view(), v, &note));
      MODELFS_RETURN_IF_ERROR(MoveAlias(t, m, &v, req.alias, who, note));
    }
    out = v;
    return t.Commit();
  }));
  return out;
}

}  // namespace

// Only with ROOT/gc.lock exclusive (no push or seal in flight: the index is
// final) and only the blobs no version names, for a push that ran alongside
// may have found one stored and committed it. When another process holds
// the lock, gc removes them later.
void Registry::DropFreshBlobs(std::set<Digest> fresh) {
  auto lock = GcLock::Take(root_, true, false);
  if (!lock.ok()) return;
  auto snap = Read();
  if (!snap.ok()) return;
  Status err;
  Status st = snap->ForEachModel("", [&](const Model& m) {
    err = snap->ForEachVersion(m.id, 0, [&](const Version& v) {
      err = snap->ForEachPath(v, [&](const std::string&, const Entry& e) {
        if (e.is_file()) fresh.erase(e.digest);
        return !fresh.empty();
      });
      return err.ok() && !fresh.empty();
    });
    return err.ok() && !fresh.empty();
  });
  if (!st.ok() || !err.ok()) return;  // unsure what is named: keep them all
  for (const auto& d : fresh) sys::Unlink(blobs_.PathOf(d).c_str());
}

Result<std::unique_ptr<GcLock>> GcLock::Take(const std::string& root, bool exclusive,
                                             bool wait) {
  // Read-only suffices for flock, so any account that can reach ROOT can
  // take the lock, whoever created the file.
  std::string path = root + "/gc.lock";
  int fd = sys::Open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0660);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  while (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;  // signal handlers without SA_RESTART
    Status st = errno == EWOULDBLOCK ? Status::Busy(path + " is held by another process")
                                     : Status::FromErrno("cannot lock " + path, errno);
    close(fd);
    return st;
  }
  return std::unique_ptr<GcLock>(new GcLock(fd));
}

GcLock::~GcLock() { close(fd_); }

Status Registry::PlanPush(const std::vector<std::string>& paths, bool dereference,
                          uint64_t* bytes, uint64_t* files, const FileCheck& each_file) {
  std::vector<Item> items;
  MODELFS_RETURN_IF_ERROR(Plan(paths, dereference, &items));
  *bytes = 0;
  *files = 0;
  for (const auto& i : items) {
    if (i.dir || i.link()) continue;
    if (each_file) MODELFS_RETURN_IF_ERROR(each_file(i.src, i.size));
    *bytes += i.size;
    ++*files;
  }
  return Status::Ok();
}

Result<Version> Registry::Push(const PushRequest& req, const Actor& who,
                               const BlobStore::Progress& progress, const Guard& alias_guard,
                               bool* reused) {
  if (reused) *reused = false;
  MODELFS_RETURN_IF_ERROR(CheckModelName(req.model));
  if (!req.alias.empty()) MODELFS_RETURN_IF_ERROR(CheckAliasName(req.alias));
  {
    // Check the metadata before copying gigabytes, against a scratch version.
    auto snap = Read();
    if (!snap.ok()) return snap.status();
    Version scratch;
    scratch.model = req.model;
    scratch.number = UINT32_MAX;
    for (const auto& c : req.meta) {
      std::string b, a;
      MODELFS_RETURN_IF_ERROR(ApplyMeta(*snap, &scratch, c, &b, &a));
    }
  }
  std::vector<Item> items;
  MODELFS_RETURN_IF_ERROR(Plan(req.paths, req.dereference, &items));

  auto lock = GcLock::Take(root_, false);
  if (!lock.ok()) return lock.status();
  std::set<Digest> fresh;  // blobs this push wrote that were not there before
  auto v = StoreAndCommit(this, req, who, progress, alias_guard, &items, &fresh, reused);
  if (!v.ok() && !fresh.empty()) {
    lock->reset();  // our shared hold would keep us from the exclusive one
    DropFreshBlobs(fresh);
  }
  return v;
}

}  // namespace modelfs
