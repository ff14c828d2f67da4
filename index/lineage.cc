// Lineage: the children table (lineage.parents turned around, kept by
// WriteTxn in the transaction of every version write, built on open for an
// index older than it, checked and rebuilt by fsck) and the walk that turns
// it and the parents into a LineageGraph.
//
// An edge's key is the parent's version key then the child's (registry.cc's
// layout). A parent is keyed by its model's id, found by name when the edge
// is written: models are never removed, so the id stays the name's; a
// parent whose model does not exist has no edge (nothing can be below it).
#include "index/lineage.h"

#include <lmdb.h>

#include <deque>
#include <map>
#include <set>

#include "index/lmdb_keys.h"
#include "index/write_txn.h"

namespace modelfs {

using namespace lmdb;

namespace {

constexpr size_t kEdgeKeySize = 24;  // parent model_id(8) number(4), child the same
constexpr const char* kBuiltKey = "children";  // meta: the table is built

// Visits every key/value of `dbi` starting with `prefix`, in key order.
template <class F>
Status ScanRaw(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix, F&& fn) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return Error("index cursor", rc);
  MDB_val k = Val(prefix), v;
  rc = mdb_cursor_get(cur, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0) {
    std::string_view key = View(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, View(v))) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return Error("index scan", rc);
  return Status::Ok();
}

// The version keys of `v`'s parents whose models exist. *unknown (when
// given) is set when a parent's model record cannot be read (damaged): its
// edge may or may not be due.
std::set<std::string> ParentKeys(const Snapshot& s, const Version& v, bool* unknown = nullptr) {
  std::set<std::string> out;
  for (const auto& p : v.lineage.parents) {
    auto r = ParseVersionRef(p);
    if (!r.ok()) continue;
    auto m = s.GetModel(r->model);
    if (m.ok()) out.insert(VersionKey(m->id, r->version));
    else if (unknown && m.status().code() != Code::kNotFound) *unknown = true;
  }
  return out;
}

// Every edge the versions table implies, and the keys of the versions
// whose edges are unknown (a record that does not decode, or names a
// parent whose model record does not).
Status ExpectedEdges(const Snapshot& s, MDB_txn* txn, MDB_dbi versions,
                     std::set<std::string>* edges, std::set<std::string>* damaged) {
  return ScanRaw(txn, versions, "", [&](std::string_view key, std::string_view val) {
    Version v;
    if (key.size() != 12 || !Decode(val, &v).ok()) {
      damaged->insert(std::string(key));
      return true;
    }
    bool unknown = false;
    for (const auto& pk : ParentKeys(s, v, &unknown)) edges->insert(pk + std::string(key));
    if (unknown) damaged->insert(std::string(key));
    return true;
  });
}

Status PutEdge(MDB_txn* txn, MDB_dbi dbi, const std::string& key) {
  MDB_val k = Val(key), v = Val("");
  int rc = mdb_put(txn, dbi, &k, &v, 0);
  return rc == 0 ? Status::Ok() : Error("index write", rc);
}

Status DelEdge(MDB_txn* txn, MDB_dbi dbi, const std::string& key) {
  MDB_val k = Val(key);
  int rc = mdb_del(txn, dbi, &k, nullptr);
  return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : Error("index delete", rc);
}

}  // namespace

// ------------------------------------------------------ the children table

Status WriteTxn::UpdateChildren(const Version& key, const Result<Version>& stored,
                                const Version* now) {
  if (stored.ok() && now && stored->lineage.parents == now->lineage.parents) return Status::Ok();
  std::set<std::string> before, after;
  if (stored.ok()) before = ParentKeys(view_, *stored);
  else if (stored.status().code() != Code::kNotFound) before = ParentKeys(view_, key);  // damaged
  if (now) after = ParentKeys(view_, *now);
  std::string child = VersionKey(key.model_id, key.number);
  // Recorded like every other write, so that a multi-host replica's table
  // follows the versions it applies.
  for (const auto& p : before) {
    if (after.count(p)) continue;
    MODELFS_RETURN_IF_ERROR(DelEdge(txn_, reg_->dbi_children_, p + child));
    Record(reg_->dbi_children_, p + child, std::nullopt);
  }
  for (const auto& p : after) {
    if (before.count(p)) continue;
    MODELFS_RETURN_IF_ERROR(PutEdge(txn_, reg_->dbi_children_, p + child));
    Record(reg_->dbi_children_, p + child, std::string_view());
  }
  return Status::Ok();
}

Status Snapshot::ForEachChild(ObjectId model_id, uint32_t number,
                              const std::function<bool(ObjectId, uint32_t)>& fn) const {
  return ScanRaw(txn_, reg_->dbi_children_, VersionKey(model_id, number),
                 [&](std::string_view key, std::string_view) {
                   if (key.size() != kEdgeKeySize) return true;  // fsck reports it
                   return fn(GetBE(key, 12, 8), static_cast<uint32_t>(GetBE(key, 20, 4)));
                 });
}

Status Registry::EnsureChildren() {
  {
    auto s = Read();
    if (!s.ok()) return s.status();
    MDB_val k = Val(kBuiltKey), v;
    int rc = mdb_get(s->txn_, dbi_meta_, &k, &v);
    if (rc == 0) return Status::Ok();
    if (rc != MDB_NOTFOUND) return Error("reading meta record \"children\"", rc);
  }
  // An index from before the table (or a new one): build it once. Another
  // process may be doing the same; the second finds it built.
  auto t = WriteTxn::Begin(this);
  if (!t.ok()) return t.status();
  MDB_txn* txn = (*t)->txn_;
  MDB_val k = Val(kBuiltKey), v;
  if (mdb_get(txn, dbi_meta_, &k, &v) == 0) return Status::Ok();
  std::set<std::string> edges, damaged;
  MODELFS_RETURN_IF_ERROR(ExpectedEdges((*t)->view(), txn, dbi_versions_, &edges, &damaged));
  for (const auto& e : edges) MODELFS_RETURN_IF_ERROR(PutEdge(txn, dbi_children_, e));
  MODELFS_RETURN_IF_ERROR((*t)->Put(dbi_meta_, kBuiltKey, "1"));
  return (*t)->Commit();
}

Status Registry::CheckChildren(bool repair, const Actor& who, FsckReport* rep) {
  std::unique_ptr<WriteTxn> tx;
  std::optional<Snapshot> snap;
  if (repair) {
    auto t = WriteTxn::Begin(this);
    if (!t.ok()) return t.status();
    tx = std::move(*t);
  } else {
    auto s = Read();
    if (!s.ok()) return s.status();
    snap.emplace(std::move(*s));
  }
  const Snapshot& s = tx ? tx->view() : *snap;
  MDB_txn* txn = s.txn_;
  std::set<std::string> expected, damaged, stored;
  MODELFS_RETURN_IF_ERROR(ExpectedEdges(s, txn, dbi_versions_, &expected, &damaged));
  MODELFS_RETURN_IF_ERROR(ScanRaw(txn, dbi_children_, "", [&](std::string_view key, std::string_view) {
    stored.insert(std::string(key));
    return true;
  }));
  std::map<ObjectId, std::string> names;
  (void)s.ForEachModel("", [&](const Model& m) {  // names for messages only
    names[m.id] = m.name;
    return true;
  });
  auto ref = [&](std::string_view key, size_t off) {
    ObjectId id = GetBE(key, off, 8);
    auto n = static_cast<uint32_t>(GetBE(key, off + 8, 4));
    auto it = names.find(id);
    return it == names.end() ? "model id " + std::to_string(id) + " v" + std::to_string(n)
                             : FormatRef(it->second, n);
  };
  std::vector<std::string> add, drop;
  for (const auto& e : expected) {
    if (stored.count(e)) continue;
    add.push_back(e);
    rep->problems.push_back("children index: " + ref(e, 12) + " names " + ref(e, 0) +
                            " as a parent, but the index does not list it (fsck --repair rebuilds it)");
  }
  for (const auto& e : stored) {
    if (expected.count(e)) continue;
    if (e.size() == kEdgeKeySize && damaged.count(e.substr(12))) continue;  // unknown: kept
    drop.push_back(e);
    if (e.size() != kEdgeKeySize)
      rep->problems.push_back("children index: a malformed key of " + std::to_string(e.size()) +
                              " bytes (fsck --repair removes it)");
    else
      rep->problems.push_back("children index: lists " + ref(e, 12) + " below " + ref(e, 0) +
                              ", which it does not name as a parent (fsck --repair removes it)");
  }
  if (!repair || (add.empty() && drop.empty())) return Status::Ok();
  for (const auto& e : add) MODELFS_RETURN_IF_ERROR(PutEdge(txn, dbi_children_, e));
  for (const auto& e : drop) MODELFS_RETURN_IF_ERROR(DelEdge(txn, dbi_children_, e));
  MODELFS_RETURN_IF_ERROR(tx->Put(dbi_meta_, kBuiltKey, "1"));
  std::string what = std::to_string(add.size()) + " added, " + std::to_string(drop.size()) + " removed";
  rep->repaired.push_back("children index rebuilt: " + what);
  MODELFS_RETURN_IF_ERROR(
      tx->Audit(MakeAudit(who, "fsck", "", 0, "", "children index", "", what)));
  return tx->Commit();
}

// ---------------------------------------------------------------- the graph

std::string_view LineageKindName(LineageKind k) {
  switch (k) {
    case LineageKind::kVersion: return "version";
    case LineageKind::kMissing: return "missing";
    case LineageKind::kHidden: return "hidden";
    case LineageKind::kDataset: return "dataset";
    case LineageKind::kCode: return "code";
  }
  return "?";
}

std::vector<size_t> LineageGraph::Upstream(size_t i) const {
  std::vector<size_t> out;
  for (const auto& e : edges)
    if (e.to == i) out.push_back(e.from);
  return out;
}

std::vector<size_t> LineageGraph::Downstream(size_t i) const {
  std::vector<size_t> out;
  for (const auto& e : edges)
    if (e.from == i) out.push_back(e.to);
  return out;
}

namespace {

class Walk {
 public:
  Walk(const Snapshot& s, const LineageOptions& opt) : s_(s), opt_(opt) {}

  Result<LineageGraph> Run(const Version& root) {
    size_t r = VersionNode(root, 0);
    if (opt_.up) MODELFS_RETURN_IF_ERROR(Go(r, root, true));
    if (opt_.down) MODELFS_RETURN_IF_ERROR(Go(r, root, false));
    return std::move(g_);
  }

 private:
  bool MayRead(const std::string& model) const { return !opt_.may_read || opt_.may_read(model); }

  // The node named `key` (internal: hidden nodes are not shown by it), and
  // whether it was new.
  std::pair<size_t, bool> Node(const std::string& key, LineageNode n) {
    auto [it, fresh] = index_.emplace(key, g_.nodes.size());
    if (fresh) g_.nodes.push_back(std::move(n));
    return {it->second, fresh};
  }

  void Edge(size_t from, size_t to) {
    if (edge_set_.insert({from, to}).second) g_.edges.push_back({from, to});
  }

  // A readable version's node; its datasets and code come with it.
  size_t VersionNode(const Version& v, int depth) {
    LineageNode n{v.ref(), LineageKind::kVersion, v.ref(), v, depth};
    auto [i, fresh] = Node(v.ref(), std::move(n));
    if (!fresh) return i;
    for (const auto& d : v.lineage.datasets)
      Edge(Node("dataset:" + d, {"dataset:" + d, LineageKind::kDataset, d, std::nullopt, depth}).first, i);
    if (!v.lineage.code.empty()) {
      const std::string& c = v.lineage.code;
      Edge(Node("code:" + c, {"code:" + c, LineageKind::kCode, c, std::nullopt, depth}).first, i);
    }
    return i;
  }

  size_t HiddenNode(const std::string& ref, int depth) {
    auto found = index_.find(ref);
    if (found != index_.end()) return found->second;
    std::string id = "hidden:" + std::to_string(++hidden_);
    return Node(ref, {id, LineageKind::kHidden, "(hidden)", std::nullopt, depth}).first;
  }

  // Breadth first from `root` (node r), up or down, to the depth asked.
  Status Go(size_t r, const Version& root, bool up) {
    std::set<size_t>& expanded = up ? up_done_ : down_done_;
    struct Item {
      size_t node;
      Version v;
      unsigned hops;
    };
    std::deque<Item> queue{{r, root, 0}};
    expanded.insert(r);
    while (!queue.empty()) {
      Item it = std::move(queue.front());
      queue.pop_front();
      if (opt_.depth && it.hops >= *opt_.depth) continue;
      int depth = up ? -static_cast<int>(it.hops + 1) : static_cast<int>(it.hops + 1);
      auto reach = [&](const Version& next) {
        size_t n = VersionNode(next, depth);
        up ? Edge(n, it.node) : Edge(it.node, n);
        if (expanded.insert(n).second) queue.push_back({n, next, it.hops + 1});
      };
      if (up) {
        for (const auto& p : it.v.lineage.parents) {
          auto ref = ParseVersionRef(p);
          if (ref.ok() && !MayRead(ref->model)) {
            Edge(HiddenNode(p, depth), it.node);
            continue;
          }
          auto pv = ref.ok() ? s_.GetVersion(ref->model, ref->version) : Result<Version>(ref.status());
          if (!pv.ok() && pv.status().code() != Code::kNotFound && ref.ok()) return pv.status();
          if (!pv.ok()) {
            Edge(Node(p, {p, LineageKind::kMissing, p, std::nullopt, depth}).first, it.node);
            continue;
          }
          reach(*pv);
        }
      } else {
        std::vector<std::pair<ObjectId, uint32_t>> kids;
        MODELFS_RETURN_IF_ERROR(s_.ForEachChild(it.v.model_id, it.v.number, [&](ObjectId m, uint32_t n) {
          kids.emplace_back(m, n);
          return true;
        }));
        for (const auto& [m, n] : kids) {
          auto cv = s_.GetVersion(m, n);
          if (!cv.ok() && cv.status().code() == Code::kNotFound) continue;  // fsck's to report
          if (!cv.ok()) return cv.status();
          if (!MayRead(cv->model)) {
            Edge(it.node, HiddenNode(cv->ref(), depth));
            continue;
          }
          reach(*cv);
        }
      }
    }
    return Status::Ok();
  }

  const Snapshot& s_;
  const LineageOptions& opt_;
  LineageGraph g_;
  std::map<std::string, size_t> index_;
  std::set<std::pair<size_t, size_t>> edge_set_;
  std::set<size_t> up_done_, down_done_;
  int hidden_ = 0;
};

}  // namespace

Result<LineageGraph> BuildLineage(const Snapshot& s, const Version& root,
                                  const LineageOptions& opt) {
  return Walk(s, opt).Run(root);
}

}  // namespace modelfs
