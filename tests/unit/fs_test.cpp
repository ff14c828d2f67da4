// Unit tests of the parts of fs/ that have no FUSE types: the mounted tree
// (Tree) against a real registry in a temporary directory, the node table,
// ln -sfn's pending links (the caller cache: callers_test.cpp). No mount.
#include <fcntl.h>
#include <unistd.h>

// Say which values differ when a check fails.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#define CATCH_CONFIG_ENABLE_PAIR_STRINGMAKER
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>

#include "fs/inodes.h"
#include "fs/pending_links.h"
#include "fs/tree.h"
#include "index/registry.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::fs;
using modelfs::testing::Alice;
using modelfs::testing::TempDir;
using modelfs::testing::WriteFile;
namespace stdfs = std::filesystem;

namespace {

constexpr uid_t kUid = 4242;
constexpr gid_t kGid = 4343;
constexpr int64_t kRootTimeNs = 1'700'000'000'123'456'789;

// A registry whose pushes hold model.onnx (9 bytes, 0644) and
// conf/params.json (2 bytes, 0755), and a Tree over it.
struct Fixture : testing::Fixture {
  std::unique_ptr<Tree> tree = std::make_unique<Tree>(reg.get(), kUid, kGid, kRootTimeNs);
};

// The root as the mount's node table holds it.
Node RootNode() { return *NodeTable().Get(kRootId); }

Child Look(const Tree& t, const Node& dir, std::string_view name) {
  bool absent_stable = true;
  auto c = t.Lookup(dir, name, &absent_stable);
  INFO("lookup " << name << ": " << c.status().message());
  REQUIRE(c.ok());
  CHECK_FALSE(absent_stable);
  return *c;
}

std::vector<DirItem> ListAll(const Tree& t, const Node& dir, bool plus) {
  DirPos pos;
  std::vector<DirItem> out;
  Status st = t.List(dir, &pos, plus, [&](const DirItem& i) {
    out.push_back(i);
    return true;
  });
  REQUIRE(st.ok());
  CHECK(pos.offset == out.size());
  return out;
}

std::vector<std::string> Names(const std::vector<DirItem>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.name);
  return out;
}

std::vector<std::string> Names(const Tree& t, const Node& dir) { return Names(ListAll(t, dir, false)); }

// Lists `dir` in calls that each accept at most `budget` items, as readdir
// with a small buffer does; checks that each call starts with the item the
// previous one refused and that the offset counts what was returned.
std::vector<std::string> ListInChunks(const Tree& t, const Node& dir, size_t budget) {
  DirPos pos;
  std::vector<std::string> out;
  std::optional<std::string> refused;
  for (int call = 0; call < 100; ++call) {
    size_t taken = 0;
    std::optional<std::string> first, refused_now;
    REQUIRE(t.List(dir, &pos, false, [&](const DirItem& i) {
               if (!first) first = i.name;
               if (taken == budget) {
                 refused_now = i.name;
                 return false;
               }
               ++taken;
               out.push_back(i.name);
               return true;
             }).ok());
    if (refused) CHECK(first == refused);
    CHECK(pos.offset == out.size());
    if (!refused_now) return out;
    refused = refused_now;
  }
  FAIL("listing never ended");
  return out;
}

int64_t Ns(const struct timespec& ts) { return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec; }

std::optional<std::string> XattrOf(const Xattrs& xs, const std::string& name) {
  for (const auto& [k, v] : xs)
    if (k == name) return v;
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------- Tree

TEST_CASE("the root lists models in name order and counts them", "[tree]") {
  Fixture f;
  for (const char* m : {"fraud", "alpha", "churn"}) f.Push(m);
  Node root = RootNode();
  auto items = ListAll(*f.tree, root, true);
  CHECK(Names(items) == std::vector<std::string>{".", "..", "alpha", "churn", "fraud"});
  CHECK(items[0].dot);
  CHECK(items[1].dot);
  CHECK(items[0].child.st.st_ino == kRootId);
  CHECK(items[1].child.st.st_ino == kRootId);
  CHECK_FALSE(items[2].dot);
  Child churn = Look(*f.tree, root, "churn");
  CHECK(items[3].child.node.ino == churn.node.ino);
  CHECK(items[3].child.st.st_ino == churn.node.ino);
  CHECK(churn.node.kind == NodeKind::kModel);
  CHECK(churn.node.model == "churn");
  CHECK(S_ISDIR(churn.st.st_mode));
  CHECK_FALSE(churn.stable);  // model-level: relies on invalidation

  bool stable = true;
  auto st = f.tree->Stat(root, &stable);
  REQUIRE(st.ok());
  CHECK_FALSE(stable);
  CHECK(S_ISDIR(st->st_mode));
  CHECK(st->st_nlink == 2 + 3);
  CHECK(st->st_uid == kUid);
  CHECK(st->st_gid == kGid);
  CHECK(Ns(st->st_mtim) == kRootTimeNs);

  bool absent_stable = true;
  CHECK(f.tree->Lookup(root, "nope", &absent_stable).status().code() == Code::kNotFound);
  CHECK_FALSE(absent_stable);

  // Listings read the index afresh; counts follow once Changed() says so.
  f.Push("beta");
  CHECK(Names(*f.tree, root) ==
        std::vector<std::string>{".", "..", "alpha", "beta", "churn", "fraud"});
  f.tree->Changed();
  CHECK(f.tree->Stat(root, &stable)->st_nlink == 2 + 4);
}

TEST_CASE("a model lists versions, aliases, latest and its card in a stable order", "[tree]") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.Push("churn");
  REQUIRE(f.reg->SetAlias("churn", "staging", 1, Alice()).ok());
  REQUIRE(f.reg->SetAlias("churn", "production", 2, Alice()).ok());
  Child model = Look(*f.tree, RootNode(), "churn");
  CHECK(model.st.st_nlink == 2 + 3);

  auto items = ListAll(*f.tree, model.node, true);
  CHECK(Names(items) == std::vector<std::string>{".", "..", "v1", "v2", "v3", "production",
                                                 "staging", "latest", "README.md"});
  CHECK(items[0].child.st.st_ino == model.node.ino);
  CHECK(items[1].child.st.st_ino == kRootId);
  CHECK(items[2].child.node.kind == NodeKind::kVersion);
  CHECK(items[2].child.node.version == 1);
  CHECK(items[2].child.stable);
  CHECK(items[5].child.node.kind == NodeKind::kAlias);
  CHECK(S_ISLNK(items[5].child.st.st_mode));
  CHECK_FALSE(items[5].child.stable);
  CHECK(items[7].child.node.kind == NodeKind::kLatest);
  CHECK_FALSE(items[7].child.stable);
  // The card: a read-only regular file, its size that of its text.
  CHECK(items[8].child.node.kind == NodeKind::kCard);
  CHECK(items[8].child.node.ino == (kCardInoBit | model.node.model_id));
  CHECK(items[8].child.st.st_mode == (S_IFREG | 0444));
  CHECK_FALSE(items[8].child.stable);
  auto card = f.tree->CardText(items[8].child.node);
  REQUIRE(card.ok());
  CHECK(items[8].child.st.st_size == static_cast<off_t>((*card)->size()));
  CHECK((*card)->rfind("# churn\n", 0) == 0);
  Child looked = Look(*f.tree, model.node, "README.md");
  CHECK(looked.node.ino == items[8].child.node.ino);
  CHECK(looked.st.st_size == items[8].child.st.st_size);
  // Without `plus` the inode and the type are there all the same.
  auto bare = ListAll(*f.tree, model.node, false);
  REQUIRE(bare.size() == items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    INFO(items[i].name);
    CHECK(bare[i].child.st.st_ino == items[i].child.st.st_ino);
    CHECK((bare[i].child.st.st_mode & S_IFMT) == (items[i].child.st.st_mode & S_IFMT));
  }

  Child prod = Look(*f.tree, model.node, "production");
  CHECK(prod.node.ino == items[5].child.node.ino);
  CHECK(*f.tree->ReadLink(prod.node) == "v2");
  CHECK(prod.st.st_size == 2);
  Child latest = Look(*f.tree, model.node, "latest");
  CHECK(*f.tree->ReadLink(latest.node) == "v3");
  CHECK(f.tree->ReadLink(Look(*f.tree, model.node, "v1").node).status().code() == Code::kInvalid);

  // Archived versions stay listed but are never latest.
  REQUIRE(f.reg->Archive("churn", 3, Alice()).ok());
  CHECK(*f.tree->ReadLink(latest.node) == "v2");
  bool stable = false;
  CHECK(f.tree->Stat(Look(*f.tree, model.node, "v3").node, &stable).ok());
  CHECK(stable);  // archived is as immutable as ready

  // Alias moves and new versions show at once in listings and links;
  // the model's count once Changed() says so.
  REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  f.Push("churn");
  f.tree->Changed();
  CHECK(*f.tree->ReadLink(prod.node) == "v1");
  CHECK(*f.tree->ReadLink(latest.node) == "v4");
  CHECK(f.tree->Stat(model.node, &stable)->st_nlink == 2 + 4);
  CHECK_FALSE(stable);
  CHECK(Names(*f.tree, model.node) == std::vector<std::string>{
                                          ".", "..", "v1", "v2", "v3", "v4", "production",
                                          "staging", "latest", "README.md"});
  // The card follows the change once Changed() says so: its size too.
  auto card4 = f.tree->CardText(looked.node);
  REQUIRE(card4.ok());
  CHECK((*card4)->find("| v4 |") != std::string::npos);
  CHECK(f.tree->Stat(looked.node, &stable)->st_size == static_cast<off_t>((*card4)->size()));

  bool absent_stable = true;
  CHECK(f.tree->Lookup(model.node, "v9", &absent_stable).status().code() == Code::kNotFound);
  CHECK(f.tree->Lookup(model.node, "canary", &absent_stable).status().code() == Code::kNotFound);
  CHECK_FALSE(absent_stable);
}

TEST_CASE("a model without a ready version has no latest", "[tree]") {
  Fixture f;
  REQUIRE(f.reg->CreateModel("fresh", Alice()).ok());
  REQUIRE(f.reg->CreateDraft("fresh", 1, Alice()).ok());
  Child model = Look(*f.tree, RootNode(), "fresh");
  CHECK(Names(*f.tree, model.node) == std::vector<std::string>{".", "..", "v1", "README.md"});
  bool absent_stable = true;
  CHECK(f.tree->Lookup(model.node, "latest", &absent_stable).status().code() ==
        Code::kNotFound);
  Node latest = model.node;
  latest.kind = NodeKind::kLatest;
  latest.name = "latest";
  CHECK(f.tree->ReadLink(latest).status().code() == Code::kNotFound);

  // A draft is writable and not stable; its files live in staging, so a
  // name missing from the index is not known absent.
  Child draft = Look(*f.tree, model.node, "v1");
  CHECK(draft.node.kind == NodeKind::kVersion);
  CHECK_FALSE(draft.stable);
  CHECK((draft.st.st_mode & 0777) == 0755);
  CHECK(f.tree->Lookup(draft.node, "model.onnx", &absent_stable).status().code() ==
        Code::kNotFound);
  CHECK_FALSE(absent_stable);
  CHECK(f.tree->GetXattrs(draft.node).ok());
  CHECK(XattrOf(**f.tree->GetXattrs(draft.node), "user.registry.state") == "draft");
}

TEST_CASE("files of a ready version are immutable, exact and dated", "[tree]") {
  Fixture f;
  Version v = f.Push("churn");
  Child model = Look(*f.tree, RootNode(), "churn");
  Child ver = Look(*f.tree, model.node, "v1");
  CHECK(ver.stable);
  CHECK(ver.st.st_mode == (S_IFDIR | 0555));
  CHECK(ver.st.st_nlink == 2 + 1);  // conf/
  CHECK(Ns(ver.st.st_mtim) == v.created_at_ns);

  auto items = ListAll(*f.tree, ver.node, true);
  CHECK(Names(items) == std::vector<std::string>{".", "..", "conf", "model.onnx"});
  CHECK(items[1].child.st.st_ino == model.node.ino);

  Child file = Look(*f.tree, ver.node, "model.onnx");
  CHECK(file.node.kind == NodeKind::kFile);
  CHECK(file.stable);
  CHECK(file.st.st_mode == (S_IFREG | 0444));
  CHECK(file.st.st_size == 9);
  CHECK(file.st.st_uid == kUid);
  CHECK(file.st.st_gid == kGid);
  CHECK(Ns(file.st.st_mtim) == v.created_at_ns);
  CHECK(items[3].child.st.st_ino == file.node.ino);
  CHECK(items[3].child.st.st_size == 9);

  Child conf = Look(*f.tree, ver.node, "conf");
  CHECK(conf.node.kind == NodeKind::kDir);
  CHECK(conf.st.st_mode == (S_IFDIR | 0555));
  CHECK(conf.stable);
  Child exe = Look(*f.tree, conf.node, "params.json");
  CHECK(exe.st.st_mode == (S_IFREG | 0555));  // pushed executable
  CHECK(exe.st.st_size == 2);
  CHECK(Names(*f.tree, conf.node) == std::vector<std::string>{".", "..", "params.json"});

  // Stat of a held node says what the lookup said.
  bool stable = false;
  auto st = f.tree->Stat(exe.node, &stable);
  REQUIRE(st.ok());
  CHECK(stable);
  CHECK(st->st_ino == exe.node.ino);
  CHECK(st->st_mode == exe.st.st_mode);
  CHECK(st->st_size == 2);
  CHECK(Ns(st->st_mtim) == v.created_at_ns);

  stable = false;
  auto e = f.tree->FileEntry(file.node, &stable);
  REQUIRE(e.ok());
  CHECK(stable);
  CHECK(e->size == 9);
  CHECK(e->digest == f.reg->Read()->GetEntry(v.id, "model.onnx")->digest);
  CHECK(f.tree->FileEntry(conf.node, &stable).status().code() == Code::kInvalid);

  // Absence from a ready version is permanent.
  for (const Node* dir : {&ver.node, &conf.node}) {
    bool absent_stable = false;
    CHECK(f.tree->Lookup(*dir, "missing", &absent_stable).status().code() == Code::kNotFound);
    CHECK(absent_stable);
  }
  bool absent_stable = true;
  CHECK(f.tree->Lookup(file.node, "x", &absent_stable).status().code() == Code::kInvalid);
  DirPos pos;
  auto none = [](const DirItem&) { return true; };
  CHECK(f.tree->List(file.node, &pos, false, none).code() == Code::kInvalid);
  CHECK(f.tree->List(Look(*f.tree, model.node, "latest").node, &pos, false, none).code() ==
        Code::kInvalid);
}

TEST_CASE("a listing resumes where its callback refused", "[tree]") {
  Fixture f;
  for (const char* m : {"c", "b", "d"}) f.Push(m);
  for (int i = 0; i < 3; ++i) f.Push("a");
  REQUIRE(f.reg->SetAlias("a", "staging", 1, Alice()).ok());
  REQUIRE(f.reg->SetAlias("a", "production", 2, Alice()).ok());
  Node root = RootNode();
  Child model = Look(*f.tree, root, "a");
  Child ver = Look(*f.tree, model.node, "v1");
  for (const Node* dir : {&root, &model.node, &ver.node}) {
    auto all = Names(*f.tree, *dir);
    for (size_t budget : {1, 2, 3}) {
      INFO("dir " << dir->name << ", budget " << budget);
      CHECK(ListInChunks(*f.tree, *dir, budget) == all);
    }
  }

  // A finished listing stays finished.
  DirPos pos;
  size_t n = 0;
  auto count = [&](const DirItem&) {
    ++n;
    return true;
  };
  REQUIRE(f.tree->List(model.node, &pos, false, count).ok());
  CHECK(n == 9);
  REQUIRE(f.tree->List(model.node, &pos, false, count).ok());
  CHECK(n == 9);
  CHECK(pos.offset == 9);

  // Resumption is by name, not by count: what changed before the stopping
  // point does not shift the rest, and what comes after it is seen.
  DirPos p2;
  std::vector<std::string> got;
  auto upto_v2 = [&](const DirItem& i) {
    if (i.name == "v3") return false;
    got.push_back(i.name);
    return true;
  };
  REQUIRE(f.tree->List(model.node, &p2, false, upto_v2).ok());
  f.Push("a");  // v4
  REQUIRE(f.reg->DeleteAlias("a", "staging", Alice()).ok());
  REQUIRE(f.tree->List(model.node, &p2, false, [&](const DirItem& i) {
             got.push_back(i.name);
             return true;
           }).ok());
  CHECK(got == std::vector<std::string>{".", "..", "v1", "v2", "v3", "v4", "production", "latest",
                                        "README.md"});
  CHECK(p2.offset == got.size());

  // A seek to an ordinal offset (how readdir answers seekdir/rewinddir):
  // skipping k items from the start, then listing, gives the rest.
  auto all = Names(*f.tree, model.node);
  for (uint64_t k = 0; k <= all.size(); ++k) {
    DirPos sp;
    REQUIRE(f.tree->List(model.node, &sp, false, [&](const DirItem&) { return sp.offset < k; }).ok());
    CHECK(sp.offset == k);
    std::vector<std::string> rest;
    REQUIRE(f.tree->List(model.node, &sp, true, [&](const DirItem& i) {
               rest.push_back(i.name);
               return true;
             }).ok());
    CHECK(rest == std::vector<std::string>(all.begin() + static_cast<long>(k), all.end()));
  }
}

// List once listed "." and ".." of a pending symlink or a draft file (and,
// with `plus`, then failed NotFound): only the index's directories list.
TEST_CASE("List refuses every node that is not a directory of the index", "[tree]") {
  Fixture f;
  f.Push("churn");
  Child model = Look(*f.tree, RootNode(), "churn");
  for (NodeKind k : {NodeKind::kFile, NodeKind::kAlias, NodeKind::kLatest, NodeKind::kPending,
                     NodeKind::kDraftFile, NodeKind::kDraftDir}) {
    Node n = model.node;
    n.kind = k;
    n.ino = kPendingInoBit | 1;
    for (bool plus : {false, true}) {
      INFO("kind " << static_cast<int>(k) << (plus ? " plus" : ""));
      DirPos pos;
      size_t items = 0;
      Status st = f.tree->List(n, &pos, plus, [&](const DirItem&) {
        ++items;
        return true;
      });
      CHECK(st.code() == Code::kInvalid);
      CHECK(items == 0);
    }
  }
}

TEST_CASE("xattrs show the registry's records and follow Changed()", "[tree][xattr]") {
  Fixture f;
  Version v = f.Push("churn", {{"metrics.auc", "0.913"}, {"params.lr", "0.1"}});
  Child model = Look(*f.tree, RootNode(), "churn");
  Child ver = Look(*f.tree, model.node, "v1");
  Child file = Look(*f.tree, ver.node, "model.onnx");

  auto xs = f.tree->GetXattrs(ver.node);
  REQUIRE(xs.ok());
  const Xattrs& x = **xs;
  CHECK(XattrOf(x, "user.registry.version") == "1");
  CHECK(XattrOf(x, "user.registry.state") == "ready");
  CHECK(XattrOf(x, "user.registry.digest") == v.digest.hex());
  CHECK(XattrOf(x, "user.registry.size") == "11");
  CHECK(XattrOf(x, "user.registry.created_at") == FormatTime(v.created_at_ns));
  CHECK(XattrOf(x, "user.metrics.auc") == "0.913");
  CHECK(XattrOf(x, "user.params.lr") == "0.1");
  CHECK_FALSE(XattrOf(x, "user.registry.aliases"));
  CHECK_FALSE(XattrOf(x, "user.metrics.loss"));
  // Repeated queries (getfattr -d asks for each value twice) hit the cache.
  CHECK(*f.tree->GetXattrs(ver.node) == *xs);

  auto fx = f.tree->GetXattrs(file.node);
  REQUIRE(fx.ok());
  CHECK(**fx == Xattrs{{"user.registry.digest",
                        f.reg->Read()->GetEntry(v.id, "model.onnx")->digest.hex()}});
  CHECK(XattrOf(**f.tree->GetXattrs(model.node), "user.registry.latest") == "1");
  CHECK(XattrOf(**f.tree->GetXattrs(model.node), "user.registry.next_version") == "2");
  CHECK((*f.tree->GetXattrs(Look(*f.tree, ver.node, "conf").node))->empty());
  CHECK((*f.tree->GetXattrs(Look(*f.tree, model.node, "latest").node))->empty());

  REQUIRE(f.reg->SetMeta("churn", 1, {{"metrics.auc", "0.95"}, {"tags.team", "growth"}},
                         Alice())
              .ok());
  REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  f.Push("churn");
  f.tree->Changed();
  auto x2 = f.tree->GetXattrs(ver.node);
  REQUIRE(x2.ok());
  CHECK(XattrOf(**x2, "user.metrics.auc") == "0.95");
  CHECK(XattrOf(**x2, "user.tags.team") == "growth");
  CHECK(XattrOf(**x2, "user.registry.aliases") == "production");
  auto mx = f.tree->GetXattrs(model.node);
  CHECK(XattrOf(**mx, "user.registry.latest") == "2");
  CHECK(XattrOf(**mx, "user.registry.next_version") == "3");
  CHECK(XattrOf(**mx, "user.registry.aliases") == "production=1");

  REQUIRE(f.reg->SetAlias("churn", "production", 2, Alice()).ok());
  REQUIRE(f.reg->Archive("churn", 1, Alice()).ok());
  f.tree->Changed();
  CHECK(XattrOf(**f.tree->GetXattrs(ver.node), "user.registry.state") == "archived");
  CHECK_FALSE(XattrOf(**f.tree->GetXattrs(ver.node), "user.registry.aliases"));
}

TEST_CASE("an alias node is resolved by id, or by name after ln -sfn's rename", "[tree]") {
  Fixture f;
  f.Push("churn");
  f.Push("churn");
  REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  Child model = Look(*f.tree, RootNode(), "churn");
  Child prod = Look(*f.tree, model.node, "production");
  bool stable = true;
  auto st = f.tree->Stat(prod.node, &stable);
  REQUIRE(st.ok());
  CHECK_FALSE(stable);
  CHECK(S_ISLNK(st->st_mode));
  CHECK(st->st_ino == prod.node.ino);

  // The kernel still names an alias that was deleted and made again by the
  // old inode: that object is gone.
  REQUIRE(f.reg->DeleteAlias("churn", "production", Alice()).ok());
  REQUIRE(f.reg->SetAlias("churn", "production", 2, Alice()).ok());
  CHECK(f.tree->Stat(prod.node, &stable).status().code() == Code::kNotFound);

  // A pending symlink renamed over the alias: the node table turns the
  // temporary's node into a by-name alias, which stats as the alias under
  // the inode the kernel knows.
  NodeTable nodes;
  PendingLinks pending;
  auto l = pending.Add(model.node.model_id, "CuAb12Cd", "v1");
  REQUIRE(l.ok());
  Node tmp = model.node;
  tmp.kind = NodeKind::kPending;
  tmp.ino = l->ino;
  tmp.parent = model.node.ino;
  tmp.name = "CuAb12Cd";
  nodes.Ref(tmp);
  REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  nodes.Update(l->ino, [](Node& n) {
    n.kind = NodeKind::kAlias;
    n.name = "production";
    n.by_name = true;
  });
  Node moved = *nodes.Get(l->ino);
  st = f.tree->Stat(moved, &stable);
  REQUIRE(st.ok());
  CHECK(st->st_ino == l->ino);
  CHECK(S_ISLNK(st->st_mode));
  CHECK(*f.tree->ReadLink(moved) == "v1");
}

// ---------------------------------------------------------------- NodeTable

TEST_CASE("the node table counts lookups as the FUSE contract says", "[inodes]") {
  NodeTable t;
  CHECK(t.size() == 1);
  auto root = t.Get(kRootId);
  REQUIRE(root);
  CHECK(root->kind == NodeKind::kRoot);
  CHECK(root->parent == kRootId);
  // The kernel never looks the root up and may forget it: it stays.
  t.Forget(kRootId, 1);
  t.Forget(kRootId, 100);
  CHECK(t.Get(kRootId));

  Node n;
  n.kind = NodeKind::kModel;
  n.ino = 7;
  n.model = "churn";
  n.name = "churn";
  t.Ref(n);
  t.Ref(n);
  t.Ref(n);
  CHECK(t.size() == 2);
  CHECK(t.Forget(7, 2));
  CHECK(t.Get(7));
  CHECK(t.Forget(7, 1));
  CHECK_FALSE(t.Get(7));
  CHECK(t.size() == 1);
  CHECK_FALSE(t.Forget(7, 1));  // unknown now

  t.Ref(n);
  CHECK_FALSE(t.Forget(7, 2));  // more than the kernel was given

  // A new reference refreshes what the node records, and still counts.
  t.Ref(n);
  Node renamed = n;
  renamed.name = "churn2";
  t.Ref(renamed);
  CHECK(t.Get(7)->name == "churn2");
  CHECK(t.Forget(7, 1));
  CHECK(t.Get(7));
  CHECK(t.Forget(7, 1));
  CHECK_FALSE(t.Get(7));
}

TEST_CASE("the node table updates held nodes and finds a model's nodes", "[inodes]") {
  NodeTable t;
  auto make = [](NodeKind k, ObjectId ino, const std::string& model, const std::string& name) {
    Node n;
    n.kind = k;
    n.ino = ino;
    n.model = model;
    n.name = name;
    return n;
  };
  t.Ref(make(NodeKind::kModel, 10, "churn", "churn"));
  t.Ref(make(NodeKind::kVersion, 11, "churn", "v1"));
  t.Ref(make(NodeKind::kAlias, 12, "churn", "production"));
  t.Ref(make(NodeKind::kLatest, 13, "churn", "latest"));
  t.Ref(make(NodeKind::kDraftFile, kDraftInoBit | 11, "churn", "model.onnx"));
  t.Ref(make(NodeKind::kModel, 20, "fraud", "fraud"));
  t.Ref(make(NodeKind::kVersion, 21, "fraud", "v1"));

  std::set<ObjectId> got;
  for (const Node& n : t.NodesOfModel("churn")) {
    CHECK(n.model == "churn");
    got.insert(n.ino);
  }
  CHECK(got == std::set<ObjectId>{10, 11, 12, 13, kDraftInoBit | 11});
  CHECK(t.NodesOfModel("nope").empty());

  t.Update(12, [](Node& n) { n.name = "staging"; });
  CHECK(t.Get(12)->name == "staging");
  bool called = false;
  t.Update(99, [&](Node&) { called = true; });
  CHECK_FALSE(called);
  CHECK_FALSE(t.Get(99));
}

TEST_CASE("inode ranges of index objects, drafts and pending links are disjoint", "[inodes]") {
  static_assert((kDraftInoBit & kPendingInoBit) == 0);
  Fixture f;
  Version v = f.Push("churn");
  for (ObjectId id : {v.id, v.model_id, f.reg->Read()->GetEntry(v.id, "model.onnx")->id}) {
    CHECK((id & kDraftInoBit) == 0);
    CHECK((id & kPendingInoBit) == 0);
  }
  PendingLinks p;
  auto a = p.Add(v.model_id, "CuAAAAAA", "v1");
  auto b = p.Add(v.model_id, "CuBBBBBB", "v1");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK((a->ino & kPendingInoBit) != 0);
  CHECK((a->ino & kDraftInoBit) == 0);
  CHECK(a->ino != b->ino);
}

TEST_CASE("a draft node is found by its path, which follows renames and inode reuse",
          "[inodes]") {
  NodeTable t;
  Node ver;
  ver.kind = NodeKind::kVersion;
  ver.ino = 40;
  ver.model_id = 7;
  ver.version = 3;
  t.Ref(ver);
  auto draft = [&](NodeKind kind, ObjectId ino, ObjectId parent, const std::string& name) {
    Node n;
    n.kind = kind;
    n.ino = kDraftInoBit | ino;
    n.parent = parent;
    n.model_id = 7;
    n.version = 3;
    n.version_id = 40;
    n.name = name;
    t.Ref(n);
    return n;
  };
  Node a = draft(NodeKind::kDraftDir, 100, ver.ino, "a");
  Node b = draft(NodeKind::kDraftDir, 101, a.ino, "b");
  Node f = draft(NodeKind::kDraftFile, 102, b.ino, "f.bin");
  CHECK(t.DraftPath(f) == std::optional<std::string>("a/b/f.bin"));
  CHECK(t.DraftPath(a) == std::optional<std::string>("a"));
  // mv a/b c: the moved node's name and parent change; what is below follows.
  t.Update(b.ino, [&](Node& n) {
    n.parent = ver.ino;
    n.name = "c";
  });
  CHECK(t.DraftPath(f) == std::optional<std::string>("c/f.bin"));  // the stale copy's name is not used
  // The staging inode of f reused by a new file elsewhere: the lookup that
  // hands it to the kernel again makes the table describe the new file.
  draft(NodeKind::kDraftFile, 102, a.ino, "g.bin");
  CHECK(t.DraftPath(f) == std::optional<std::string>("a/g.bin"));
  // A chain the kernel no longer holds, or that leads to another draft.
  CHECK(t.Forget(a.ino, 1));
  CHECK(t.DraftPath(f) == std::nullopt);
  Node other = draft(NodeKind::kDraftFile, 103, b.ino, "x");
  other.version_id = 41;
  t.Ref(other);
  CHECK(t.DraftPath(other) == std::nullopt);
  CHECK(t.DraftPath(b) == std::optional<std::string>("c"));
}

// ---------------------------------------------------------------- PendingLinks

TEST_CASE("pending links are per model, unique by name, renamed and removed", "[pending]") {
  PendingLinks p;
  int64_t before = NowNs();
  auto a = p.Add(1, "CuXy12ab", "v3");
  REQUIRE(a.ok());
  CHECK(a->target == "v3");
  CHECK(a->created_ns >= before);
  CHECK(a->created_ns <= NowNs());
  CHECK(p.Add(1, "CuXy12ab", "v4").status().code() == Code::kExists);
  auto other = p.Add(2, "CuXy12ab", "v4");  // another model
  REQUIRE(other.ok());
  CHECK(other->ino != a->ino);

  auto g = p.Get(1, "CuXy12ab");
  REQUIRE(g);
  CHECK(g->ino == a->ino);
  CHECK(g->target == "v3");
  CHECK(p.Get(2, "CuXy12ab")->target == "v4");
  CHECK_FALSE(p.Get(1, "CuNope00"));

  CHECK(p.Rename(1, "CuXy12ab", "CuZz99zz", false).ok());
  CHECK_FALSE(p.Get(1, "CuXy12ab"));
  auto r = p.Get(1, "CuZz99zz");
  REQUIRE(r);
  CHECK(r->ino == a->ino);
  CHECK(r->target == "v3");
  CHECK(p.Rename(1, "CuXy12ab", "CuQq11qq", false).code() == Code::kNotFound);
  CHECK(p.Add(1, "CuXy12ab", "v5").ok());  // the old name is free again
  // RENAME_NOREPLACE onto a taken name: Exists, both kept as they were.
  CHECK(p.Rename(1, "CuXy12ab", "CuZz99zz", true).code() == Code::kExists);
  CHECK(p.Get(1, "CuXy12ab")->target == "v5");
  CHECK(p.Get(1, "CuZz99zz")->target == "v3");

  CHECK(p.Remove(1, "CuZz99zz"));
  CHECK_FALSE(p.Remove(1, "CuZz99zz"));
  CHECK_FALSE(p.Get(1, "CuZz99zz"));
  CHECK(p.Get(2, "CuXy12ab"));
}

TEST_CASE("only GNU ln's temporary names are pending-link names", "[pending]") {
  for (const char* ok : {"CuXy12ab", "Cu000000", "CuZZZZZZ", "Cuabcdef"}) {
    INFO(ok);
    CHECK(IsLnTemporary(ok));
  }
  for (const char* bad : {"", "Cu", "Cu12345", "Cu1234567", "cu123456", "CU123456", "Cu12345-",
                          "Cu12345.", "Cu12_456", "production", "v1", "latest"}) {
    INFO(bad);
    CHECK_FALSE(IsLnTemporary(bad));
  }
}
