// The mounted tree computed from the index (see tree.h). Sections: stat
// building, counts (nlink), lookup, listing, symlinks, xattrs.
#include "fs/tree.h"

#include <cstring>

#include "index/card.h"
#include "index/names.h"

namespace modelfs::fs {

namespace {

// Where writes are possible (the root: mkdir of a model; a model: mkdir of
// a draft, ln -s of an alias; a draft) directories show write bits; ready
// versions and everything in them are read-only.
constexpr uint32_t kDirMode = S_IFDIR | 0555;
constexpr uint32_t kWritableDirMode = S_IFDIR | 0755;
constexpr uint32_t kLinkMode = S_IFLNK | 0777;
// Far more cached counts than directories a walk keeps hot; past it the
// cache starts over rather than growing without bound.
constexpr size_t kMaxCachedCounts = 1 << 20;
// Cached xattr lists (a version's is ~1 KiB): getfattr -d reads one node's
// list and values one after another, so a few thousand cover any walk's
// working set, and a walk over 100,000 versions does not keep them all.
constexpr size_t kMaxCachedXattrs = 4096;
// Cached model cards (a few KiB each): one per model a walk passes.
constexpr size_t kMaxCachedCards = 1024;

std::string VersionDir(uint32_t n) { return "v" + std::to_string(n); }

bool IsStable(const Version& v) { return v.state != State::kDraft; }

void SetTime(struct timespec* ts, int64_t ns) {
  ts->tv_sec = ns / 1000000000;
  ts->tv_nsec = ns % 1000000000;
}

}  // namespace

// ---------------------------------------------------------------- stat

Result<Tree::View> Tree::Read() const {
  uint64_t epoch = epoch_.load(std::memory_order_acquire);
  auto snap = reg_->Read();
  if (!snap.ok()) return snap.status();
  return View{std::move(*snap), epoch};
}

struct stat Tree::BaseStat(ObjectId ino, uint32_t mode, int64_t time_ns) const {
  struct stat st {};
  st.st_ino = ino;
  st.st_mode = mode;
  st.st_nlink = 1;
  st.st_uid = uid_;
  st.st_gid = gid_;
  st.st_blksize = 4096;
  SetTime(&st.st_mtim, time_ns);
  st.st_ctim = st.st_mtim;
  st.st_atim = st.st_mtim;
  return st;
}

Result<Child> Tree::ModelChild(const View& s, const Model& m) const {
  Child c;
  c.node.kind = NodeKind::kModel;
  c.node.ino = m.id;
  c.node.parent = kRootId;
  c.node.model_id = m.id;
  c.node.model = m.name;
  c.node.name = m.name;
  c.st = BaseStat(m.id, kWritableDirMode, m.created_at_ns);
  c.st.st_nlink = 2 + VersionCount(s, m.id);
  return c;
}

Child Tree::VersionChild(const View& s, const Node& model_dir, const Version& v) const {
  Child c;
  c.node.kind = NodeKind::kVersion;
  c.node.ino = v.id;
  c.node.parent = model_dir.ino;
  c.node.model_id = v.model_id;
  c.node.model = model_dir.model;
  c.node.version = v.number;
  c.node.name = VersionDir(v.number);
  c.stable = IsStable(v);
  c.st = BaseStat(v.id, c.stable ? kDirMode : kWritableDirMode, v.created_at_ns);
  c.st.st_nlink = 2 + SubdirCount(s, v.id, c.stable);
  return c;
}

Child Tree::EntryChild(const View& s, const Node& dir, const Version& v, const Entry& e) const {
  Child c;
  c.node.kind = e.is_dir() ? NodeKind::kDir : NodeKind::kFile;
  c.node.ino = e.id;
  c.node.parent = dir.ino;
  c.node.model_id = dir.model_id;
  c.node.model = dir.model;
  c.node.version = dir.version;
  c.node.entry_parent = dir.ino;
  c.node.name = e.name;
  c.stable = IsStable(v);
  if (e.is_dir()) {
    c.st = BaseStat(e.id, kDirMode, v.created_at_ns);
    c.st.st_nlink = 2 + SubdirCount(s, e.id, c.stable);
  } else if (e.is_link()) {
    c.st = BaseStat(e.id, kLinkMode, v.created_at_ns);
    c.st.st_size = static_cast<off_t>(e.target.size());
  } else {
    // Only the permission bits the index allows: 0444, or 0555 if executable.
    c.st = BaseStat(e.id, S_IFREG | ((e.mode & 0111) ? 0555 : 0444), v.created_at_ns);
    c.st.st_size = static_cast<off_t>(e.size);
    c.st.st_blocks = static_cast<blkcnt_t>((e.size + 511) / 512);
  }
  return c;
}

Child Tree::AliasChild(const Node& model_dir, const Alias& a) const {
  return LinkChild(model_dir, NodeKind::kAlias, a.id, a.name, VersionDir(a.version),
                   a.updated_at_ns);
}

Child Tree::LinkChild(const Node& model_dir, NodeKind kind, ObjectId ino, const std::string& name,
                      const std::string& target, int64_t time_ns) const {
  Child c;
  c.node.kind = kind;
  c.node.ino = ino;
  c.node.parent = model_dir.ino;
  c.node.model_id = model_dir.model_id;
  c.node.model = model_dir.model;
  c.node.name = name;
  c.st = BaseStat(ino, kLinkMode, time_ns);
  c.st.st_size = static_cast<off_t>(target.size());
  return c;
}

Result<Child> Tree::LatestChild(const Snapshot& s, const Node& model_dir) const {
  auto m = s.GetModel(model_dir.model);
  if (!m.ok()) return m.status();
  uint32_t n = s.LatestReady(m->id);
  if (n == 0) return Status::NotFound(m->name + " has no ready version");
  auto v = s.GetVersion(m->id, n);
  if (!v.ok()) return v.status();
  Child c;
  c.node.kind = NodeKind::kLatest;
  c.node.ino = m->latest_id;
  c.node.parent = model_dir.ino;
  c.node.model_id = m->id;
  c.node.model = m->name;
  c.node.name = "latest";
  c.st = BaseStat(m->latest_id, kLinkMode, v->created_at_ns);
  c.st.st_size = static_cast<off_t>(VersionDir(n).size());
  return c;
}

Result<Tree::Card> Tree::CardOf(const View& s, const Node& n) const {
  uint64_t now = epoch_.load(std::memory_order_acquire);
  {
    std::lock_guard<std::mutex> g(card_mu_);
    auto it = cards_.find(n.model_id);
    if (it != cards_.end() && it->second.epoch == now) return it->second.card;
  }
  auto m = s.snap.GetModel(n.model);
  if (!m.ok()) return m.status();
  Card c;
  auto text = ModelCard(s.snap, *m, CardOptions{}, &c.mtime_ns);
  if (!text.ok()) return text.status();
  c.text = std::make_shared<const std::string>(std::move(*text));
  std::lock_guard<std::mutex> g(card_mu_);
  if (cards_.size() >= kMaxCachedCards) cards_.clear();
  // Under the epoch read before the snapshot (see GetXattrs).
  cards_[n.model_id] = CachedCard{s.epoch, c};
  return c;
}

Result<Child> Tree::CardChild(const View& s, const Node& model_dir) const {
  Child c;
  c.node.kind = NodeKind::kCard;
  c.node.ino = kCardInoBit | model_dir.model_id;
  c.node.parent = model_dir.model_id;
  c.node.model_id = model_dir.model_id;
  c.node.model = model_dir.model;
  c.node.name = std::string(kCardName);
  auto card = CardOf(s, c.node);
  if (!card.ok()) return card.status();
  c.st = BaseStat(c.node.ino, S_IFREG | 0444, card->mtime_ns);
  c.st.st_size = static_cast<off_t>(card->text->size());
  c.st.st_blocks = static_cast<blkcnt_t>((card->text->size() + 511) / 512);
  return c;
}

Result<std::shared_ptr<const std::string>> Tree::CardText(const Node& n) const {
  if (n.kind != NodeKind::kCard && n.kind != NodeKind::kModel)
    return Status::Invalid("not a model card");
  auto view = Read();
  if (!view.ok()) return view.status();
  auto c = CardOf(*view, n);
  if (!c.ok()) return c.status();
  return c->text;
}

Result<Version> Tree::VersionOf(const Snapshot& s, const Node& n) const {
  return s.GetVersion(n.model_id, n.version);
}

Result<struct stat> Tree::Stat(const Node& n, bool* stable) const {
  *stable = false;
  auto view = Read();
  if (!view.ok()) return view.status();
  const View& vw = *view;
  const Snapshot& s = vw.snap;
  switch (n.kind) {
    case NodeKind::kRoot: {
      struct stat st = BaseStat(kRootId, kWritableDirMode, root_time_ns_);
      st.st_nlink = 2 + ModelCount(vw);
      return st;
    }
    case NodeKind::kModel: {
      auto m = s.GetModel(n.model);
      if (!m.ok()) return m.status();
      auto c = ModelChild(vw, *m);
      if (!c.ok()) return c.status();
      return c->st;
    }
    case NodeKind::kVersion: {
      auto v = VersionOf(s, n);
      if (!v.ok()) return v.status();
      Node model_dir;
      model_dir.ino = n.parent;
      model_dir.model = n.model;
      Child c = VersionChild(vw, model_dir, *v);
      *stable = c.stable;
      return c.st;
    }
    case NodeKind::kDir:
    case NodeKind::kFile: {
      auto v = VersionOf(s, n);
      if (!v.ok()) return v.status();
      auto e = s.GetEntry(n.entry_parent, n.name);
      if (!e.ok()) return e.status();
      Node dir;
      dir.ino = n.entry_parent;
      Child c = EntryChild(vw, dir, *v, *e);
      *stable = c.stable;
      return c.st;
    }
    case NodeKind::kAlias: {
      auto a = s.GetAlias(n.model_id, n.name);
      if (!a.ok()) return a.status();
      if (n.by_name) {
        struct stat st = AliasChild(n, *a).st;
        st.st_ino = n.ino;  // the inode the kernel knows it by
        return st;
      }
      if (a->id != n.ino) return Status::NotFound("alias " + n.name + " was replaced");
      return AliasChild(n, *a).st;
    }
    case NodeKind::kLatest: {
      Node model_dir;
      model_dir.ino = n.parent;
      model_dir.model = n.model;
      auto c = LatestChild(s, model_dir);
      if (!c.ok()) return c.status();
      return c->st;
    }
    case NodeKind::kCard: {
      auto c = CardChild(vw, n);
      if (!c.ok()) return c.status();
      return c->st;
    }
    case NodeKind::kDraftDir:
    case NodeKind::kDraftFile:
    case NodeKind::kPending:
      break;  // not in the index: the handlers stat them from staging and memory
  }
  return Status::Invalid("unknown node");
}

// ---------------------------------------------------------------- counts

bool Tree::CachedCount(ObjectId key, uint32_t* out) const {
  uint64_t now = epoch_.load(std::memory_order_acquire);
  std::lock_guard<std::mutex> g(count_mu_);
  auto it = counts_.find(key);
  if (it == counts_.end() || (it->second.epoch != 0 && it->second.epoch != now)) return false;
  *out = it->second.n;
  return true;
}

void Tree::StoreCount(ObjectId key, uint64_t epoch, bool forever, uint32_t n) const {
  std::lock_guard<std::mutex> g(count_mu_);
  if (counts_.size() >= kMaxCachedCounts) counts_.clear();
  counts_[key] = Count{forever ? 0 : epoch, n};
}

uint32_t Tree::SubdirCount(const View& s, ObjectId parent, bool stable) const {
  uint32_t n = 0;
  if (CachedCount(parent, &n)) return n;
  uint64_t epoch = s.epoch;
  (void)s.snap.ForEachEntry(parent, "", [&](const Entry& e) {
    if (e.is_dir()) ++n;
    return true;
  });
  StoreCount(parent, epoch, stable, n);
  return n;
}

uint32_t Tree::VersionCount(const View& s, ObjectId model_id) const {
  uint32_t n = 0;
  if (CachedCount(model_id, &n)) return n;
  uint64_t epoch = s.epoch;
  (void)s.snap.ForEachVersion(model_id, 0, [&](const Version&) {
    ++n;
    return true;
  });
  StoreCount(model_id, epoch, false, n);
  return n;
}

uint32_t Tree::ModelCount(const View& s) const {
  uint32_t n = 0;
  if (CachedCount(kRootId, &n)) return n;
  uint64_t epoch = s.epoch;
  (void)s.snap.ForEachModel("", [&](const Model&) {
    ++n;
    return true;
  });
  StoreCount(kRootId, epoch, false, n);
  return n;
}

// ---------------------------------------------------------------- lookup

Result<Child> Tree::Lookup(const Node& dir, std::string_view name, bool* absent_stable) const {
  *absent_stable = false;
  auto view = Read();
  if (!view.ok()) return view.status();
  const View& vw = *view;
  const Snapshot& s = vw.snap;
  switch (dir.kind) {
    case NodeKind::kRoot: {
      auto m = s.GetModel(name);
      if (!m.ok()) return m.status();
      return ModelChild(vw, *m);
    }
    case NodeKind::kModel: {
      if (name == "latest") return LatestChild(s, dir);
      if (name == kCardName) return CardChild(vw, dir);
      if (uint32_t n = ParseVersionDir(name)) {
        auto v = s.GetVersion(dir.model_id, n);
        if (!v.ok()) return v.status();
        return VersionChild(vw, dir, *v);
      }
      auto a = s.GetAlias(dir.model_id, name);
      if (!a.ok()) return a.status();
      return AliasChild(dir, *a);
    }
    case NodeKind::kVersion:
    case NodeKind::kDir: {
      auto v = VersionOf(s, dir);
      if (!v.ok()) return v.status();
      auto e = s.GetEntry(dir.ino, name);
      if (!e.ok()) {
        *absent_stable = e.status().code() == Code::kNotFound && IsStable(*v);
        return e.status();
      }
      return EntryChild(vw, dir, *v, *e);
    }
    default:
      return Status::Invalid("not a directory");
  }
}

// ---------------------------------------------------------------- listing

Status Tree::List(const Node& dir, DirPos* pos, bool plus,
                  const std::function<bool(const DirItem&)>& fn) const {
  switch (dir.kind) {
    case NodeKind::kRoot:
    case NodeKind::kModel:
    case NodeKind::kVersion:
    case NodeKind::kDir:
      break;
    default:  // files, symlinks, and drafts' contents (listed from staging)
      return Status::Invalid("not a directory of the index");
  }
  auto view = Read();
  if (!view.ok()) return view.status();
  const View& vw = *view;
  const Snapshot& s = vw.snap;

  // Offers one item; on acceptance moves the position past it.
  bool stop = false;
  auto offer = [&](DirItem& item, auto&& advance) {
    if (!fn(item)) {
      stop = true;
      return false;
    }
    advance();
    ++pos->offset;
    return true;
  };

  // Phases 0 and 1: "." and "..".
  while (pos->phase < 2 && !stop) {
    DirItem item;
    item.dot = true;
    item.name = pos->phase == 0 ? "." : "..";
    item.child.st.st_ino = pos->phase == 0 ? dir.ino : dir.parent;
    item.child.st.st_mode = kDirMode;
    offer(item, [&] { ++pos->phase; });
  }
  if (stop) return Status::Ok();

  if (dir.kind == NodeKind::kRoot) {
    if (pos->phase == 2) {
      Status st = s.ForEachModel(pos->after, [&](const Model& m) {
        DirItem item;
        item.name = m.name;
        if (plus) {
          auto c = ModelChild(vw, m);
          if (!c.ok()) return true;  // skip what cannot be read; never abort a listing
          item.child = std::move(*c);
        } else {
          item.child.st.st_ino = m.id;
          item.child.st.st_mode = kDirMode;
        }
        return offer(item, [&] { pos->after = m.name; });
      });
      if (!st.ok()) return st;
      if (!stop) pos->phase = 3;
    }
    return Status::Ok();
  }

  if (dir.kind == NodeKind::kModel) {
    if (pos->phase == 2) {
      Status st = s.ForEachVersion(dir.model_id, pos->after_version, [&](const Version& v) {
        DirItem item;
        item.name = VersionDir(v.number);
        if (plus) {
          item.child = VersionChild(vw, dir, v);
        } else {
          item.child.st.st_ino = v.id;
          item.child.st.st_mode = kDirMode;
        }
        return offer(item, [&] { pos->after_version = v.number; });
      });
      if (!st.ok()) return st;
      if (stop) return Status::Ok();
      pos->phase = 3;
      pos->after.clear();
    }
    if (pos->phase == 3) {
      Status st = s.ForEachAlias(dir.model_id, pos->after, [&](const Alias& a) {
        DirItem item;
        item.name = a.name;
        item.child = AliasChild(dir, a);  // cheap: no further reads
        return offer(item, [&] { pos->after = a.name; });
      });
      if (!st.ok()) return st;
      if (stop) return Status::Ok();
      pos->phase = 4;
    }
    if (pos->phase == 4) {
      auto c = LatestChild(s, dir);
      if (!c.ok()) {
        pos->phase = 5;  // no ready version: no latest
      } else {
        DirItem item;
        item.name = "latest";
        item.child = std::move(*c);
        offer(item, [&] { pos->phase = 5; });
      }
    }
    if (pos->phase == 5 && !stop) {
      DirItem item;
      item.name = std::string(kCardName);
      bool skip = false;
      if (plus) {
        // A card that cannot be made (a damaged record) is left out, as a
        // model the root cannot read is: the listing goes on; opening
        // README.md says what is wrong.
        auto c = CardChild(vw, dir);
        if (c.ok()) item.child = std::move(*c);
        else skip = true;
      } else {
        item.child.st.st_ino = kCardInoBit | dir.model_id;
        item.child.st.st_mode = S_IFREG;
      }
      if (skip) pos->phase = 6;
      else offer(item, [&] { pos->phase = 6; });
    }
    return Status::Ok();
  }

  // A version or a directory inside one.
  if (pos->phase == 2) {
    Version v;
    if (plus) {
      auto vr = VersionOf(s, dir);
      if (!vr.ok()) return vr.status();
      v = std::move(*vr);
    }
    Status st = s.ForEachEntry(dir.ino, pos->after, [&](const Entry& e) {
      DirItem item;
      item.name = e.name;
      if (plus) {
        item.child = EntryChild(vw, dir, v, e);
      } else {
        item.child.st.st_ino = e.id;
        item.child.st.st_mode = e.is_dir() ? kDirMode : e.is_link() ? kLinkMode : S_IFREG;
      }
      return offer(item, [&] { pos->after = e.name; });
    });
    if (!st.ok()) return st;
    if (!stop) pos->phase = 3;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- symlinks

Result<std::string> Tree::ReadLink(const Node& n) const {
  auto snap = reg_->Read();
  if (!snap.ok()) return snap.status();
  if (n.kind == NodeKind::kAlias) {
    auto a = snap->GetAlias(n.model_id, n.name);
    if (!a.ok()) return a.status();
    return VersionDir(a->version);
  }
  if (n.kind == NodeKind::kLatest) {
    uint32_t v = snap->LatestReady(n.model_id);
    if (v == 0) return Status::NotFound(n.model + " has no ready version");
    return VersionDir(v);
  }
  if (n.kind == NodeKind::kFile) {  // a symlink kept in a version
    auto e = snap->GetEntry(n.entry_parent, n.name);
    if (!e.ok()) return e.status();
    if (e->is_link()) return e->target;
  }
  return Status::Invalid("not a symlink");
}

Result<Entry> Tree::FileEntry(const Node& n, bool* stable) const {
  if (n.kind != NodeKind::kFile) return Status::Invalid("not a file");
  auto snap = reg_->Read();
  if (!snap.ok()) return snap.status();
  auto v = VersionOf(*snap, n);
  if (!v.ok()) return v.status();
  *stable = IsStable(*v);
  return snap->GetEntry(n.entry_parent, n.name);
}

// ---------------------------------------------------------------- xattrs

Result<std::shared_ptr<const Xattrs>> Tree::GetXattrs(const Node& n) const {
  static const auto kNone = std::make_shared<const Xattrs>();
  if (n.kind != NodeKind::kModel && n.kind != NodeKind::kVersion && n.kind != NodeKind::kFile)
    return kNone;
  uint64_t now = epoch_.load(std::memory_order_acquire);
  // Read before the snapshot, as the epoch: a flush announced after it
  // makes what is built from it stale.
  uint64_t usage_now = usage_epoch_.load(std::memory_order_acquire);
  {
    std::lock_guard<std::mutex> g(xattr_mu_);
    auto it = xattrs_.find(n.ino);
    // Only a version's list shows use (last_used_at).
    if (it != xattrs_.end() && it->second.epoch == now &&
        (n.kind != NodeKind::kVersion || it->second.usage_epoch == usage_now))
      return it->second.list;
  }
  auto view = Read();
  if (!view.ok()) return view.status();
  bool cacheable = true;
  auto built = BuildXattrs(*view, n, &cacheable);
  if (!built.ok()) return built.status();
  auto list = std::make_shared<const Xattrs>(std::move(*built));
  if (!cacheable) return list;
  std::lock_guard<std::mutex> g(xattr_mu_);
  if (xattrs_.size() >= kMaxCachedXattrs) xattrs_.clear();
  // Stored under the epoch read before the snapshot: a change announced
  // since then makes this entry stale at once.
  xattrs_[n.ino] = CachedXattrs{view->epoch, usage_now, list};
  return list;
}

Result<Xattrs> Tree::BuildXattrs(const View& vw, const Node& n, bool* cacheable) const {
  const Snapshot& s = vw.snap;
  if (n.kind == NodeKind::kModel) {
    auto m = s.GetModel(n.model);
    if (!m.ok()) return m.status();
    return ModelAttributes(s, *m);
  }
  auto v = VersionOf(s, n);
  if (!v.ok()) return v.status();
  if (n.kind == NodeKind::kFile) {
    auto e = s.GetEntry(n.entry_parent, n.name);
    if (!e.ok()) return e.status();
    return FileAttributes(*e);
  }
  if (v->state == State::kDraft) {
    // A draft's size is that of its staging files, which change with every
    // write and announce no epoch: computed each time, never cached.
    *cacheable = false;
    Version draft = *v;
    draft.size = reg_->DraftSize(draft);
    return VersionAttributes(s, draft);
  }
  return VersionAttributes(s, *v);
}

}  // namespace modelfs::fs
