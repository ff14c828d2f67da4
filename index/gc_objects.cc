// gc of a multi-host registry's object store (SPEC §7): blob objects that
// the committed index no longer references and that are older than a grace
// period are deleted, so that an upload whose commit is in flight (a commit
// uploads its blobs before its etcd transaction) is never deleted.
//
// The order matters. The store is listed first, and only then is the index
// read, fresh from etcd (a catch-up; gc refuses to sweep when etcd cannot
// be reached, since a stale replica misses commits that name objects): so
// every commit that could name a listed object and has committed is seen,
// and one not yet committed is in flight, and its fresh upload is younger
// than the grace period. Known gap: a commit does not re-upload a blob the
// store holds already, so a commit in flight that names an old object no
// version references (an earlier push failed after its upload, or the
// version that named it was removed) is not protected by the grace period.
#include <ctime>

#include "index/registry.h"
#include "index/write_txn.h"

namespace modelfs {

Status Registry::GcObjects(const GcOptions& opt, const std::set<ObjectId>& dropped,
                           const Actor& who, GcReport* rep) {
  if (!remote_) return Status::Ok();
  const int64_t now_s = static_cast<int64_t>(time(nullptr));
  auto listed = remote_->ListBlobs();
  if (!listed.ok()) return listed.status().WithContext("gc of the object store");
  if (listed->empty()) return Status::Ok();
  if (Status st = remote_->CatchUp(*this); !st.ok())
    return st.WithContext("gc of the object store needs the index of record, not a replica "
                          "that may be behind it");
  std::set<Digest> refs;
  {
    auto snap = Read();
    if (!snap.ok()) return snap.status();
    MODELFS_RETURN_IF_ERROR(ReferencedBlobs(*snap, dropped, &refs));
  }
  uint64_t count = 0, bytes = 0;
  Status not_deleted;
  for (const StoredBlob& b : *listed) {
    if (refs.count(b.digest)) continue;
    // An object of unknown age may be an upload in flight.
    if (b.modified_s < 0 || b.modified_s + opt.object_grace_s > now_s) continue;
    if (!opt.dry_run) {
      if (Status st = remote_->DeleteBlob(b.digest); !st.ok()) {
        if (not_deleted.ok()) not_deleted = st.WithContext("gc cannot delete object " + b.key);
        continue;
      }
    }
    rep->removed.push_back("object " + b.key);
    ++count;
    bytes += b.size;
  }
  rep->objects += count;
  rep->object_bytes += bytes;
  if (!opt.dry_run && count > 0) {
    MODELFS_RETURN_IF_ERROR(Write([&](WriteTxn& t) -> Status {
      MODELFS_RETURN_IF_ERROR(t.Audit(MakeAudit(who, "gc", "", 0, "", "objects",
                                                std::to_string(count) + " unreferenced",
                                                std::to_string(bytes) + " bytes deleted")));
      return t.Commit();
    }));
  }
  return not_deleted;
}

}  // namespace modelfs
