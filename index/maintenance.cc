// Registry::Gc and Registry::Fsck: what a crash or a retention rule leaves
// behind, found and removed; the index checked against the blob store.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cerrno>
#include <map>
#include <set>

#include "index/dir_names.h"
#include "index/links.h"
#include "index/write_txn.h"
#include "index/sys.h"

namespace modelfs {
namespace {

// What gc and fsck scan: an unreadable directory simply has nothing to
// remove (gc only ever removes what it listed).
std::vector<std::string> ListDir(const std::string& dir) {
  auto names = DirNames(dir);
  return names.ok() ? std::move(*names) : std::vector<std::string>{};
}

uint64_t SizeOf(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// What in staging/ nobody will finish: files whose writer is gone (a live
// writer holds an flock on its file, BlobStore::PutFd, so a file we can
// lock is abandoned) and, when every draft is known, draft directories
// whose draft no longer exists.
std::vector<std::string> AbandonedStaging(const std::string& staging,
                                          const std::set<ObjectId>& live_drafts,
                                          bool drafts_known = true) {
  std::vector<std::string> out;
  for (const auto& n : ListDir(staging)) {
    std::string p = staging + "/" + n;
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (drafts_known && n.rfind("draft-", 0) == 0) {
        ObjectId id = strtoull(n.c_str() + 6, nullptr, 10);
        if (!live_drafts.count(id)) out.push_back(p);
      }
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    int fd = sys::Open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) out.push_back(p);
    close(fd);
  }
  return out;
}

// The ids of every draft; an error aborts (a draft missed here would have
// its directory removed as an orphan).
Status LiveDrafts(const Snapshot& s, std::set<ObjectId>* ids) {
  Status err;
  Status st = s.ForEachModel("", [&](const Model& m) {
    err = s.ForEachVersion(m.id, 0, [&](const Version& v) {
      if (v.state == State::kDraft) ids->insert(v.id);
      return true;
    });
    return err.ok();
  });
  return st.ok() ? err : st;
}

uint64_t TreeSize(const std::string& p) {
  std::error_code ec;
  if (!std::filesystem::is_directory(p, ec)) return SizeOf(p);
  uint64_t total = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(p, ec))
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  return total;
}

}  // namespace

// Digests named by any version except those in `dropped` (version ids).
Status ReferencedBlobs(const Snapshot& s, const std::set<ObjectId>& dropped,
                       std::set<Digest>* refs) {
  // Any error aborts: a digest missed here would be a blob deleted under a
  // committed version.
  Status err;
  Status st = s.ForEachModel("", [&](const Model& m) {
    err = s.ForEachVersion(m.id, 0, [&](const Version& v) {
      if (dropped.count(v.id)) return true;
      err = s.ForEachPath(v, [&](const std::string&, const Entry& e) {
        if (e.is_file()) refs->insert(e.digest);
        return true;
      });
      return err.ok();
    });
    return err.ok();
  });
  return st.ok() ? err : st;
}

namespace {

// Every blob file as (digest, path); names that are not digests are listed
// with an invalid flag so fsck can report them.
struct BlobFile {
  std::string path;
  Digest digest;
  bool valid = false;
};

std::vector<BlobFile> AllBlobs(const std::string& blobs) {
  std::vector<BlobFile> out;
  for (const auto& d : ListDir(blobs)) {
    for (const auto& f : ListDir(blobs + "/" + d)) {
      BlobFile b;
      b.path = blobs + "/" + d + "/" + f;
      auto dg = Digest::FromHex(d + f);
      if (dg.ok()) {
        b.digest = *dg;
        b.valid = true;
      }
      out.push_back(b);
    }
  }
  return out;
}

}  // namespace

Result<GcReport> Registry::Gc(const GcOptions& opt, const Actor& who) {
  auto lock = GcLock::Take(root_, true);
  if (!lock.ok()) return lock.status();
  GcReport rep;
  uint64_t audit_upto = 0;  // the trail as it was before gc wrote to it
  {
    auto snap = Read();
    if (!snap.ok()) return snap.status();
    audit_upto = snap->LastAuditSeq();
  }
  std::set<ObjectId> dropped;  // versions removed (or, dry, to be removed)
  // A damaged record may name blobs, be a draft or be what an alias points
  // at: with one in the way, gc cannot tell what is garbage.
  auto refuse = [](Status st) {
    if (st.code() != Code::kCorrupt) return st;
    return Status::Corrupt("gc removes nothing while the index has damaged records "
                           "(modelfs fsck lists them): " + st.message());
  };

  // 1. Versions that retention lets go, in one transaction. Through Write:
  // on a multi-host registry, a commit of another host's first means the
  // choice is made again on the state that includes it.
  std::vector<std::string> removed_versions;
  MODELFS_RETURN_IF_ERROR(Write([&](WriteTxn& t) -> Status {
    dropped.clear();
    removed_versions.clear();
    std::vector<Version> drop;
    int64_t now = NowNs();
    Status err;  // any read error aborts gc before it removes anything
    MODELFS_RETURN_IF_ERROR(refuse(t.view().ForEachModel("", [&](const Model& m) {
      std::vector<Version> ready;
      std::set<uint32_t> aliased;
      err = t.view().ForEachAlias(m.id, "", [&](const Alias& a) {
        aliased.insert(a.version);
        return true;
      });
      if (!err.ok()) return false;
      err = t.view().ForEachVersion(m.id, 0, [&](const Version& v) {
        if (v.state == State::kDraft) {
          if (opt.draft_ttl_s && now - v.created_at_ns > *opt.draft_ttl_s * 1000000000LL)
            drop.push_back(v);
        } else if (v.state == State::kArchived) {
          if (opt.drop_archived && !aliased.count(v.number)) drop.push_back(v);
        } else if (!aliased.count(v.number)) {
          ready.push_back(v);
        }
        return true;
      });
      if (!err.ok()) return false;
      if (opt.keep_last && ready.size() > *opt.keep_last)
        drop.insert(drop.end(), ready.begin(), ready.end() - static_cast<long>(*opt.keep_last));
      return true;
    })));
    MODELFS_RETURN_IF_ERROR(refuse(err));
    for (const auto& v : drop) {
      dropped.insert(v.id);
      removed_versions.push_back("version " + v.ref() + " (" + std::string(StateName(v.state)) + ")");
      if (opt.dry_run) continue;
      MODELFS_RETURN_IF_ERROR(t.DelVersion(v));
      MODELFS_RETURN_IF_ERROR(t.Audit(MakeAudit(who, "gc", v.model, v.number, "", v.ref(),
                                                std::string(StateName(v.state)), "removed")));
    }
    if (!opt.dry_run && !drop.empty()) return t.Commit();
    return Status::Ok();
  }));
  rep.removed.insert(rep.removed.end(), removed_versions.begin(), removed_versions.end());

  // 2. Staging files of pushes that died, directories of dropped drafts.
  std::set<ObjectId> live;
  {
    auto snap = Read();
    if (!snap.ok()) return snap.status();
    MODELFS_RETURN_IF_ERROR(refuse(LiveDrafts(*snap, &live)));
    if (opt.dry_run)
      for (ObjectId id : dropped) live.erase(id);
  }
  // What cannot be removed (a disk error) is not reported as removed: gc
  // goes on freeing what it can, records that, then fails naming the first.
  Status not_removed;
  for (const auto& p : AbandonedStaging(blobs_.staging_dir(), live)) {
    uint64_t sz = TreeSize(p);
    std::error_code ec;
    if (!opt.dry_run) sys::RemoveAll(p, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
      if (not_removed.ok())
        not_removed = Status::FromErrno("gc cannot remove " + p, ec.value());
      continue;
    }
    rep.removed.push_back("staging " + p.substr(root_.size() + 1));
    rep.bytes += sz;
  }

  // 3. Blobs no remaining version references.
  std::set<Digest> refs;
  {
    auto snap = Read();
    if (!snap.ok()) return snap.status();
    MODELFS_RETURN_IF_ERROR(refuse(ReferencedBlobs(*snap, dropped, &refs)));
  }
  uint64_t blob_count = 0, blob_bytes = 0;
  for (const auto& b : AllBlobs(blobs_.blobs_dir())) {
    if (b.valid && refs.count(b.digest)) continue;
    uint64_t sz = SizeOf(b.path);
    if (!opt.dry_run && sys::Unlink(b.path.c_str()) != 0 && errno != ENOENT) {
      if (not_removed.ok()) not_removed = Status::FromErrno("gc cannot remove " + b.path, errno);
      continue;
    }
    rep.removed.push_back("blob " + b.path.substr(root_.size() + 1));
    rep.bytes += sz;
    ++blob_count;
    blob_bytes += sz;
  }
  if (!opt.dry_run && blob_count > 0) {
    // The blobs are gone already; a failure here loses only the record of
    // it, but that is the audit trail, so gc reports it.
    MODELFS_RETURN_IF_ERROR(Write([&](WriteTxn& t) -> Status {
      MODELFS_RETURN_IF_ERROR(t.Audit(MakeAudit(who, "gc", "", 0, "", "blobs",
                                                std::to_string(blob_count) + " unreferenced",
                                                std::to_string(blob_bytes) + " bytes freed")));
      return t.Commit();
    }));
  }
  MODELFS_RETURN_IF_ERROR(not_removed);

  // 4. Multi-host: blob objects of the object store no version names.
  MODELFS_RETURN_IF_ERROR(refuse(GcObjects(opt, dropped, who, &rep)));

  // 5. Audit records past [retention] audit_keep / audit_ttl.
  MODELFS_RETURN_IF_ERROR(TrimAudit(opt, audit_upto, who, &rep));
  return rep;
}

Status Registry::TrimAudit(const GcOptions& opt, uint64_t upto, const Actor& who,
                           GcReport* rep) {
  if (!opt.audit_keep && !opt.audit_ttl_s) return Status::Ok();
  auto tx = WriteTxn::Begin(this);
  if (!tx.ok()) return tx.status();
  WriteTxn& t = **tx;
  // The records up to `upto`, oldest first (keys are big-endian sequence
  // numbers). A key of the wrong size is fsck's to report; it stays.
  std::vector<uint64_t> seqs;
  std::vector<int64_t> at;  // their times; -1 for a record that does not decode
  {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(t.txn_, dbi_audit_, &cur);
    if (rc != 0) return lmdb::Error("reading the audit trail", rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      if (k.mv_size != 8) continue;
      uint64_t seq = lmdb::GetBE(lmdb::View(k), 0, 8);
      if (seq > upto) break;
      AuditRecord r;
      seqs.push_back(seq);
      at.push_back(Decode(lmdb::View(v), &r).ok() ? r.at_ns : -1);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::Error("reading the audit trail", rc);
  }
  // Both rules remove a prefix: the oldest beyond audit_keep, and every
  // record up to the newest one older than audit_ttl (sequence follows
  // time, so a damaged record before an expired one is older still).
  size_t cut = 0;
  if (opt.audit_keep && seqs.size() > *opt.audit_keep) cut = seqs.size() - *opt.audit_keep;
  if (opt.audit_ttl_s) {
    int64_t oldest_kept = NowNs() - *opt.audit_ttl_s * 1000000000LL;
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (at[i] < 0) continue;
      if (at[i] >= oldest_kept) break;
      cut = std::max(cut, i + 1);
    }
  }
  if (cut == 0) return Status::Ok();
  std::string range = std::to_string(cut) + " record" + (cut == 1 ? "" : "s") + " #" +
                      std::to_string(seqs.front()) + "-#" + std::to_string(seqs[cut - 1]);
  rep->removed.push_back("audit " + range);
  if (opt.dry_run) return Status::Ok();
  for (size_t i = 0; i < cut; ++i) {
    Status st = t.Del(dbi_audit_, lmdb::Key64(seqs[i]));
    if (!st.ok()) return st.WithContext("removing audit record #" + std::to_string(seqs[i]));
  }
  MODELFS_RETURN_IF_ERROR(t.Audit(MakeAudit(who, "gc", "", 0, "", "audit trail", range, "removed")));
  return t.Commit();
}

Result<FsckReport> Registry::Fsck(bool repair, const Actor& who) {
  FsckReport rep;
  std::set<Digest> refs;
  std::map<Digest, bool> checked;  // digest → blob good
  std::vector<std::pair<std::string, uint32_t>> fix_next;  // model, next_version
  // Damaged records come first, one problem each; the checks below skip
  // them (their Corrupt statuses say nothing new) and go on with the rest.
  bool damaged = false;
  std::set<std::pair<ObjectId, uint32_t>> damaged_versions;  // model id, number
  auto known = [&](const Status& st) { return st.code() == Code::kCorrupt && damaged; };
  {
    auto snap = Read();
    if (!snap.ok()) return snap.status();
    const Snapshot& s = *snap;
    MODELFS_RETURN_IF_ERROR(s.ForEachDamaged([&](const Snapshot::Damage& d) {
      damaged = true;
      if (d.table == "versions" && d.key.size() == 12)
        damaged_versions.emplace(lmdb::GetBE(d.key, 0, 8),
                                 static_cast<uint32_t>(lmdb::GetBE(d.key, 8, 4)));
      rep.problems.push_back(d.name + " is damaged: " + d.problem +
                             " (fsck --repair cannot rebuild it)");
      if (repair) {
        std::string how = d.table == "aliases"
                              ? "move the alias or delete it to replace the record"
                          : d.table == "audit" ? "the audit trail keeps it as it is"
                                               : "restore ROOT/index from a backup";
        rep.not_repaired.push_back(d.name + ": a damaged record cannot be rebuilt from what is "
                                   "left; " + how);
      }
      return true;
    }));
    Status ms = s.ForEachModel("", [&](const Model& m) {
      uint32_t max = 0;
      std::map<uint32_t, State> states;
      Status vs = s.ForEachVersion(m.id, 0, [&](const Version& v) {
        max = std::max(max, v.number);
        states[v.number] = v.state;
        if (v.state == State::kDraft) return true;  // contents live in staging
        VersionDigest vd;
        uint64_t size = 0, files = 0;
        Status ps = s.ForEachPath(v, [&](const std::string& path, const Entry& e) {
          if (e.is_dir()) return true;
          vd.Add(path, e.mode, e.digest);
          ++files;
          if (e.is_link()) {
            // No blob: the target is the whole of it.
            if (!(LinkDigest(e.target) == e.digest))
              rep.problems.push_back(v.ref() + " " + path + ": symlink digest does not match its target");
            return true;
          }
          size += e.size;
          refs.insert(e.digest);
          auto it = checked.find(e.digest);
          if (it == checked.end() && remote_ && !blobs_.Exists(e.digest)) {
            checked[e.digest] = true;  // multi-host: not cached yet, fetched when read
          } else if (it == checked.end()) {
            Status st = blobs_.Verify(e.digest);
            bool good = st.ok();
            if (good && SizeOf(blobs_.PathOf(e.digest)) != e.size) {
              good = false;
              st = Status::Corrupt("blob " + e.digest.hex() + " has the wrong size");
            }
            if (!good) rep.problems.push_back(v.ref() + " " + path + ": " + st.message());
            checked[e.digest] = good;
          } else if (!it->second) {
            rep.problems.push_back(v.ref() + " " + path + ": blob " + e.digest.hex() + " is bad");
          }
          return true;
        });
        if (!ps.ok()) {
          // With a file missing, its digest and size cannot match either.
          if (!known(ps))
            rep.problems.push_back(v.ref() + ": cannot read its files: " + ps.message());
          return true;
        }
        if (!(vd.Finish() == v.digest))
          rep.problems.push_back(v.ref() + ": version digest does not match its files");
        if (size != v.size || files != v.files)
          rep.problems.push_back(v.ref() + ": recorded size or file count does not match its files");
        for (const auto& p : v.lineage.parents) {
          auto r = ParseVersionRef(p);
          Status ls = r.ok() ? s.GetVersion(r->model, r->version).status() : r.status();
          if (ls.ok() || known(ls)) continue;
          // A parent existed when it was named (metadata.cc checks): one
          // numbered below its model's next version is gone by gc, which
          // lineage shows as missing; not damage.
          if (ls.code() == Code::kNotFound) {
            auto pm = s.GetModel(r->model);
            if (pm.ok() && r->version < pm->next_version) continue;
          }
          rep.problems.push_back(v.ref() + ": lineage parent " + p + " does not exist");
        }
        return true;
      });
      if (!vs.ok() && !known(vs))
        rep.problems.push_back("model " + m.name + ": cannot read its versions: " + vs.message());
      if (max >= m.next_version) {
        rep.problems.push_back("model " + m.name + ": next_version " + std::to_string(m.next_version) +
                               " is not above its highest version " + std::to_string(max));
        fix_next.emplace_back(m.name, max + 1);
      }
      Status as = s.ForEachAlias(m.id, "", [&](const Alias& a) {
        auto st = states.find(a.version);
        if (damaged_versions.count({m.id, a.version})) return true;  // reported above
        if (st == states.end())
          rep.problems.push_back("alias " + m.name + "/" + a.name + " points at missing v" +
                                 std::to_string(a.version));
        else if (st->second != State::kReady)
          rep.problems.push_back("alias " + m.name + "/" + a.name + " points at v" +
                                 std::to_string(a.version) + ", which is not ready");
        return true;
      });
      if (!as.ok() && !known(as))
        rep.problems.push_back("model " + m.name + ": cannot read its aliases: " + as.message());
      return true;
    });
    if (!ms.ok() && !known(ms)) return ms;
  }
  MODELFS_RETURN_IF_ERROR(CheckCounters(repair, damaged, who, &rep));
  MODELFS_RETURN_IF_ERROR(CheckChildren(repair, who, &rep));
  MODELFS_RETURN_IF_ERROR(CheckFindIndex(repair, &rep));

  // Leftovers. A damaged version record may be a draft whose directory is
  // in staging: draft directories are only garbage when every draft is known.
  std::set<ObjectId> live;
  bool drafts_known = true;
  {
    auto snap = Read();
    if (!snap.ok()) return snap.status();
    Status ls = LiveDrafts(*snap, &live);
    if (!ls.ok() && !known(ls)) return ls;
    drafts_known = ls.ok();
  }
  for (const auto& p : AbandonedStaging(blobs_.staging_dir(), live, drafts_known))
    rep.garbage.push_back("staging " + p.substr(root_.size() + 1));
  auto torn = TornDraftFiles(repair);
  if (!torn.ok()) {
    rep.problems.push_back("cannot check drafts for torn files: " + torn.status().message());
  } else {
    for (const auto& t : *torn) {
      rep.garbage.push_back("torn draft file " + t);
      if (repair) rep.repaired.push_back("dropped torn draft file " + t);
    }
  }
  for (const auto& b : AllBlobs(blobs_.blobs_dir())) {
    std::string rel = b.path.substr(root_.size() + 1);
    if (!b.valid) rep.garbage.push_back("stray file " + rel);
    else if (!refs.count(b.digest))
      rep.garbage.push_back("unreferenced blob " + rel +
                            (damaged ? " (unless a damaged record references it)" : ""));
  }
  if (repair) {
    if (!fix_next.empty()) {
      auto tx = WriteTxn::Begin(this);
      if (!tx.ok()) return tx.status();
      for (const auto& [name, next] : fix_next) {
        auto m = (*tx)->view().GetModel(name);
        if (!m.ok()) continue;
        Model mm = *m;
        std::string before = std::to_string(mm.next_version);
        mm.next_version = std::max(mm.next_version, next);
        MODELFS_RETURN_IF_ERROR((*tx)->PutModel(mm));
        MODELFS_RETURN_IF_ERROR((*tx)->Audit(MakeAudit(
            who, "fsck", name, 0, "", name + " next_version", before, std::to_string(next))));
        rep.repaired.push_back("model " + name + ": next_version set to " + std::to_string(next));
      }
      MODELFS_RETURN_IF_ERROR((*tx)->Commit());
    }
    if (!rep.garbage.empty() && damaged) {
      rep.not_repaired.push_back(
          "garbage: nothing removed while records are damaged: what a damaged record "
          "references cannot be known, so a blob that looks unreferenced may not be");
    } else if (!rep.garbage.empty()) {
      GcOptions garbage_only;
      garbage_only.drop_archived = false;
      auto gc = Gc(garbage_only, who);
      if (!gc.ok()) return gc.status();
      for (const auto& r : gc->removed) rep.repaired.push_back("removed " + r);
    }
  }
  return rep;
}

}  // namespace modelfs
