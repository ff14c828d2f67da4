// The children table (index/lineage.cc) kept consistent by every write that
// sets or drops lineage (push, set, copy, gc, draft discard), rebuilt on
// open for an index without it and by fsck --repair; the lineage walk over
// a DAG, a cycle, depth limits, missing and hidden parents; compare and diff.
#include <lmdb.h>

#include <set>

#include "index/compare.h"
#include "index/lineage.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

// The children of MODEL@N as the table lists them: "child@M", sorted.
std::set<std::string> Children(Registry& reg, const std::string& model, uint32_t n) {
  auto s = reg.Read();
  REQUIRE(s.ok());
  auto m = s->GetModel(model);
  REQUIRE(m.ok());
  std::set<std::string> out;
  REQUIRE(s->ForEachChild(m->id, n, [&](ObjectId cm, uint32_t cn) {
               auto v = s->GetVersion(cm, cn);
               out.insert(v.ok() ? v->ref() : "?");
               return true;
             }).ok());
  return out;
}

Version Get(Registry& reg, const std::string& model, uint32_t n) {
  auto s = reg.Read();
  REQUIRE(s.ok());
  auto v = s->GetVersion(model, n);
  REQUIRE(v.ok());
  return *v;
}

LineageGraph Walk(Registry& reg, const Version& root, LineageOptions opt) {
  auto s = reg.Read();
  REQUIRE(s.ok());
  auto g = BuildLineage(*s, root, opt);
  REQUIRE(g.ok());
  return *g;
}

std::set<std::string> Ids(const LineageGraph& g, LineageKind kind) {
  std::set<std::string> out;
  for (const auto& n : g.nodes)
    if (n.kind == kind) out.insert(n.id);
  return out;
}

// Empties the children table and drops its "built" mark, as in an index
// written before the table existed.
void MakeOld(const std::string& root) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
  REQUIRE(mdb_env_set_mapsize(env, size_t{1} << 30) == 0);
  REQUIRE(mdb_env_open(env, (root + "/index").c_str(), MDB_NOTLS, 0660) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  MDB_dbi children, meta;
  REQUIRE(mdb_dbi_open(txn, "children", 0, &children) == 0);
  REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
  REQUIRE(mdb_drop(txn, children, 1) == 0);  // the table itself, as before it existed
  MDB_val k{8, const_cast<char*>("children")};
  REQUIRE(mdb_del(txn, meta, &k, nullptr) == 0);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

}  // namespace

TEST_CASE("push, set and copy keep the children table", "[lineage]") {
  Fixture f;
  f.Push("feat");                                     // feat@1
  f.Push("feat");                                     // feat@2
  f.Push("churn", {{"lineage.parents", "feat@1"}});  // churn@1
  CHECK(Children(*f.reg, "feat", 1) == std::set<std::string>{"churn@1"});
  CHECK(Children(*f.reg, "feat", 2).empty());

  // set moves the edge: feat@1 loses churn@1, feat@2 gains it.
  REQUIRE(f.reg->SetMeta("churn", 1, {{"lineage.parents", "feat@2"}}, Alice()).ok());
  CHECK(Children(*f.reg, "feat", 1).empty());
  CHECK(Children(*f.reg, "feat", 2) == std::set<std::string>{"churn@1"});
  // Other fields leave it as it is.
  REQUIRE(f.reg->SetMeta("churn", 1, {{"metrics.auc", "0.9"}}, Alice()).ok());
  CHECK(Children(*f.reg, "feat", 2) == std::set<std::string>{"churn@1"});

  // copy records the source as a parent, besides the source's own parents.
  auto s = f.reg->Read();
  REQUIRE(s.ok());
  auto src = s->GetVersion("churn", 1);
  REQUIRE(src.ok());
  auto copied = f.reg->Copy(*s, f.reg->blobs(), *src, "churn-eu", "churn@1", Alice());
  REQUIRE(copied.ok());
  CHECK(Children(*f.reg, "churn", 1) == std::set<std::string>{"churn-eu@1"});
  CHECK(Children(*f.reg, "feat", 2) == std::set<std::string>{"churn-eu@1", "churn@1"});

  // Removing the parents removes the edges.
  REQUIRE(f.reg->SetMeta("churn", 1, {{"lineage.parents", std::nullopt}}, Alice()).ok());
  CHECK(Children(*f.reg, "feat", 2) == std::set<std::string>{"churn-eu@1"});

  auto rep = f.reg->Fsck(false, Alice());
  REQUIRE(rep.ok());
  CHECK(rep->problems.empty());
}

TEST_CASE("gc and draft discard drop the edges of the versions they remove", "[lineage]") {
  Fixture f;
  f.Push("feat");
  f.Push("churn", {{"lineage.parents", "feat@1"}});  // churn@1
  f.Push("churn", {{"lineage.parents", "feat@1"}});  // churn@2
  REQUIRE(f.reg->Archive("churn", 1, Alice()).ok());
  GcOptions opt;
  REQUIRE(f.reg->Gc(opt, Alice()).ok());
  CHECK(Children(*f.reg, "feat", 1) == std::set<std::string>{"churn@2"});

  auto d = f.reg->CreateDraft("churn", 3, Alice());
  REQUIRE(d.ok());
  REQUIRE(f.reg->SetMeta("churn", 3, {{"lineage.parents", "feat@1"}}, Alice()).ok());
  CHECK(Children(*f.reg, "feat", 1) == std::set<std::string>{"churn@2", "churn@3"});
  REQUIRE(f.reg->DiscardDraft("churn", 3, Alice()).ok());
  CHECK(Children(*f.reg, "feat", 1) == std::set<std::string>{"churn@2"});

  // A parent removed by gc: the child's walk up shows it as missing.
  REQUIRE(f.reg->Archive("feat", 1, Alice()).ok());
  REQUIRE(f.reg->Gc(opt, Alice()).ok());
  auto g = Walk(*f.reg, Get(*f.reg, "churn", 2), {});
  CHECK(Ids(g, LineageKind::kMissing) == std::set<std::string>{"feat@1"});
  auto rep = f.reg->Fsck(false, Alice());
  REQUIRE(rep.ok());
  for (const auto& p : rep->problems) CHECK(p.find("children index") == std::string::npos);
}

TEST_CASE("an index without the children table gets it on open", "[lineage]") {
  Fixture f;
  f.Push("feat");
  f.Push("churn", {{"lineage.parents", "feat@1"}});
  f.Push("serve", {{"lineage.parents", "churn@1,feat@1"}});
  f.reg.reset();
  MakeOld(f.root);
  auto r = Registry::Open(f.root);
  REQUIRE(r.ok());
  f.reg = std::move(*r);
  CHECK(Children(*f.reg, "feat", 1) == std::set<std::string>{"churn@1", "serve@1"});
  CHECK(Children(*f.reg, "churn", 1) == std::set<std::string>{"serve@1"});
  auto rep = f.reg->Fsck(false, Alice());
  REQUIRE(rep.ok());
  CHECK(rep->problems.empty());
}

TEST_CASE("fsck finds a children table out of step, and --repair rebuilds it", "[lineage]") {
  Fixture f;
  f.Push("feat");
  f.Push("churn", {{"lineage.parents", "feat@1"}});
  f.reg.reset();
  MakeOld(f.root);
  // Marked as built but empty: what a writer that did not keep it leaves.
  {
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
    REQUIRE(mdb_env_open(env, (f.root + "/index").c_str(), MDB_NOTLS, 0660) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi children, meta;
    REQUIRE(mdb_dbi_open(txn, "children", MDB_CREATE, &children) == 0);
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    MDB_val k{8, const_cast<char*>("children")}, v{1, const_cast<char*>("1")};
    REQUIRE(mdb_put(txn, meta, &k, &v, 0) == 0);
    // And a stale edge, between versions that do not exist.
    std::string stale(24, '\0');
    MDB_val sk{stale.size(), stale.data()}, sv{0, nullptr};
    REQUIRE(mdb_put(txn, children, &sk, &sv, 0) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
  auto r = Registry::Open(f.root);
  REQUIRE(r.ok());
  f.reg = std::move(*r);
  CHECK(Children(*f.reg, "feat", 1).empty());
  auto rep = f.reg->Fsck(false, Alice());
  REQUIRE(rep.ok());
  REQUIRE(rep->problems.size() == 2);
  CHECK(rep->problems[0].find("churn@1 names feat@1 as a parent") != std::string::npos);
  auto fixed = f.reg->Fsck(true, Alice());
  REQUIRE(fixed.ok());
  CHECK(fixed->repaired.size() == 1);
  CHECK(Children(*f.reg, "feat", 1) == std::set<std::string>{"churn@1"});
  auto again = f.reg->Fsck(false, Alice());
  REQUIRE(again.ok());
  CHECK(again->problems.empty());
}

TEST_CASE("lineage walks a diamond once, a cycle without looping, to a depth", "[lineage]") {
  Fixture f;
  f.Push("raw", {{"lineage.datasets", "s3://lake/raw"}});   // raw@1
  f.Push("a", {{"lineage.parents", "raw@1"}});              // a@1
  f.Push("b", {{"lineage.parents", "raw@1"}});              // b@1
  f.Push("top", {{"lineage.parents", "a@1,b@1"}, {"lineage.code", "git+x@1"}});  // top@1
  Version top = Get(*f.reg, "top", 1), raw = Get(*f.reg, "raw", 1);

  auto up = Walk(*f.reg, top, {});
  CHECK(Ids(up, LineageKind::kVersion) == std::set<std::string>{"top@1", "a@1", "b@1", "raw@1"});
  CHECK(Ids(up, LineageKind::kDataset) == std::set<std::string>{"dataset:s3://lake/raw"});
  CHECK(Ids(up, LineageKind::kCode) == std::set<std::string>{"code:git+x@1"});
  CHECK(up.edges.size() == 6);  // raw→a, raw→b, a→top, b→top, dataset→raw, code→top
  CHECK(up.nodes[0].id == "top@1");

  LineageOptions down;
  down.up = false;
  down.down = true;
  auto dn = Walk(*f.reg, raw, down);
  CHECK(Ids(dn, LineageKind::kVersion) == std::set<std::string>{"top@1", "a@1", "b@1", "raw@1"});
  LineageOptions one = down;
  one.depth = 1;
  CHECK(Ids(Walk(*f.reg, raw, one), LineageKind::kVersion) ==
        std::set<std::string>{"a@1", "b@1", "raw@1"});
  LineageOptions zero = down;
  zero.depth = 0;
  CHECK(Ids(Walk(*f.reg, raw, zero), LineageKind::kVersion) == std::set<std::string>{"raw@1"});

  // A cycle (set can make one across models): each node once.
  REQUIRE(f.reg->SetMeta("raw", 1, {{"lineage.parents", "top@1"}}, Alice()).ok());
  LineageOptions both = down;
  both.up = true;
  auto cyc = Walk(*f.reg, top, both);
  CHECK(Ids(cyc, LineageKind::kVersion) == std::set<std::string>{"top@1", "a@1", "b@1", "raw@1"});
  CHECK(cyc.nodes.size() == 6);

  // Hidden: a model the caller may not read is a node without a name, and
  // the walk does not pass through it.
  LineageOptions hide;
  hide.may_read = [](const std::string& m) { return m != "a"; };
  auto h = Walk(*f.reg, top, hide);
  CHECK(Ids(h, LineageKind::kHidden) == std::set<std::string>{"hidden:1"});
  for (const auto& n : h.nodes) CHECK(n.label.find("a@") == std::string::npos);
}

TEST_CASE("compare marks the rows that differ; diff lists files and fields", "[compare]") {
  Fixture f;
  f.Push("churn", {{"metrics.auc", "0.9"}, {"tags.team", "x"}});
  WriteFile(f.src + "/model.onnx", "weights-2");
  WriteFile(f.src + "/extra.bin", "e");
  std::filesystem::remove(f.src + "/conf/params.json");
  WriteFile(f.src + "/conf/params.json", "{}", 0644);  // same bytes, another mode
  f.Push("churn", {{"metrics.auc", "0.93"}, {"tags.team", "x"}});
  Version a = Get(*f.reg, "churn", 1), b = Get(*f.reg, "churn", 2);
  auto s = f.reg->Read();
  REQUIRE(s.ok());
  auto c = Compare(*s, {a, b});
  REQUIRE(c.ok());
  std::map<std::string, bool> differs;
  for (const auto& r : c->rows) differs[r.key] = r.differs;
  CHECK(differs.at("metrics.auc"));
  CHECK(!differs.at("tags.team"));
  CHECK(!differs.at("state"));
  CHECK(differs.at("digest"));

  auto d = Diff(*s, a, b);
  REQUIRE(d.ok());
  std::map<std::string, std::string> files;
  for (const auto& fc : d->files) files[fc.path] = std::string(FileChangeName(fc.kind));
  CHECK(files == std::map<std::string, std::string>{
                     {"extra.bin", "added"}, {"model.onnx", "changed"}, {"conf/params.json", "mode"}});
  REQUIRE(d->meta.size() == 1);
  CHECK(d->meta[0].key == "metrics.auc");
  CHECK(*d->meta[0].before == "0.9");
  CHECK(*d->meta[0].after == "0.93");
}
