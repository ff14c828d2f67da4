// Registry::Copy: a version of one model (of this registry or another)
// committed as the next version of a model here, with its files and
// metadata. Within one registry no byte is copied (the blobs are shared);
// from another, each missing blob is stored here and checked against its
// digest before the one transaction that names it commits.
#include <set>

#include "index/metadata.h"
#include "index/names.h"
#include "index/write_txn.h"

namespace modelfs {

Result<Version> Registry::Copy(const Snapshot& from, const BlobStore& from_blobs,
                               const Version& src, std::string_view model,
                               std::string_view from_label, const Actor& who) {
  MODELFS_RETURN_IF_ERROR(CheckModelName(model));
  if (src.state != State::kReady)
    return Status::Invalid(src.ref() + " is " + std::string(StateName(src.state)) +
                           ": only a ready version can be copied");
  const bool same_registry = from_blobs.blobs_dir() == blobs_.blobs_dir();
  std::vector<TreeItem> tree;
  MODELFS_RETURN_IF_ERROR(from.ForEachPath(src, [&](const std::string& path, const Entry& e) {
    tree.push_back({path, e.is_dir(), e.mode, e.size, e.digest, e.target});
    return true;
  }));

  auto lock = GcLock::Take(root_, false);  // no gc between storing and committing
  if (!lock.ok()) return lock.status();
  std::set<Digest> fresh;  // blobs stored here by this copy
  auto fail = [&](Status st) -> Status {
    if (!fresh.empty()) {
      lock->reset();
      DropFreshBlobs(fresh);
    }
    return st;
  };
  for (const auto& it : tree) {
    if (it.dir || it.mode == kSymlinkMode || blobs_.Has(it.digest, it.size)) continue;
    if (Status got = from_blobs.Ensure(it.digest); !got.ok()) return fail(got);
    auto stored = blobs_.PutFile(from_blobs.PathOf(it.digest), {}, &fresh);
    if (!stored.ok()) return fail(stored.status());
    if (!(stored->digest == it.digest))
      return fail(Status::Corrupt(src.ref() + " " + it.rel + ": its blob " + it.digest.hex() +
                                  " in " + std::string(from_label) + " is corrupt (its bytes hash to " +
                                  stored->digest.hex() + ")"));
  }

  Version out;
  auto commit = [&](WriteTxn& t) -> Status {
    bool new_model = false;
    auto mr = ModelOrNew(t, model, who, &new_model);
    if (!mr.ok()) return mr.status();
    Model m = std::move(*mr);
    auto nv = NewVersion(t, &m, State::kReady, who);
    if (!nv.ok()) return nv.status();
    Version v = std::move(*nv);
    v.description = src.description;
    v.metrics = src.metrics;
    v.params = src.params;
    v.tags = src.tags;
    v.lineage.datasets = src.lineage.datasets;
    v.lineage.code = src.lineage.code;
    v.lineage.run = src.lineage.run;
    // Another registry's MODEL@N may name something else here, or nothing:
    // its parents are not carried over, the source is named in a tag.
    std::vector<std::string> parents;
    if (same_registry) parents = src.lineage.parents;
    std::vector<MetaChange> extra;
    if (same_registry) parents.push_back(src.ref());
    else extra.push_back({"tags.copied_from", std::string(from_label)});
    extra.push_back({"lineage.parents", JoinList(parents)});
    for (const auto& c : extra) {
      std::string b, a;
      MODELFS_RETURN_IF_ERROR(ApplyMeta(t.view(), &v, c, &b, &a));
    }
    MODELFS_RETURN_IF_ERROR(PutTree(t, &v, tree));
    if (!(v.digest == src.digest))
      return Status::Corrupt(src.ref() + "'s entries do not add up to its digest " +
                             src.digest.hex() + "; run modelfs fsck on " + std::string(from_label));
    MODELFS_RETURN_IF_ERROR(t.PutModel(m));
    MODELFS_RETURN_IF_ERROR(t.PutVersion(v));
    if (new_model)
      MODELFS_RETURN_IF_ERROR(t.Audit(MakeAudit(who, "create", m.name, 0, "", m.name, "", "model")));
    MODELFS_RETURN_IF_ERROR(t.Audit(MakeAudit(who, "copy", m.name, v.number, "", v.ref(),
                                              std::string(from_label), "ready " + v.digest.hex())));
    out = v;
    return t.Commit();
  };
  Status st = Write(commit);
  if (!st.ok()) return fail(st);
  return out;
}

}  // namespace modelfs
