// Find (index/find.h) and the find index (index/find_index.h): the index
// follows every change of a version in its transaction, is built on open
// when missing and checked by fsck; the planner reads it for a selective
// test (counted in decoded records) and gives what a scan would.
#include <lmdb.h>

#include <algorithm>
#include <set>

#include "fixture.h"
#include "index/find.h"
#include "index/find_index.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

std::vector<std::string> AllFindKeys(Registry& reg) {
  auto s = reg.Read();
  REQUIRE(s.ok());
  std::vector<std::string> keys;
  REQUIRE(s->ForEachFindKey("", "", [&](std::string_view k) {
    keys.emplace_back(k);
    return true;
  }).ok());
  return keys;
}

// What the index must hold: the keys of every version now stored.
std::vector<std::string> WantedKeys(Registry& reg) {
  auto s = reg.Read();
  REQUIRE(s.ok());
  std::vector<std::string> keys;
  REQUIRE(s->ForEachModel("", [&](const Model& m) {
    REQUIRE(s->ForEachVersion(m.id, 0, [&](const Version& v) {
      auto k = findindex::KeysOf(v);
      keys.insert(keys.end(), k.begin(), k.end());
      return true;
    }).ok());
    return true;
  }).ok());
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::vector<std::string> Refs(Registry& reg, const std::string& text, FindStats* stats = nullptr,
                              FindOptions opt = {}) {
  auto e = expr::Expr::Parse(text);
  INFO(text << ": " << e.status().message());
  REQUIRE(e.ok());
  auto s = reg.Read();
  REQUIRE(s.ok());
  std::vector<std::string> out;
  REQUIRE(Find(*s, *e, opt, [&](const Version& v, const expr::EvalContext&) {
    out.push_back(v.ref());
    return true;
  }, stats).ok());
  return out;
}

// The same question answered by evaluating every version (no index).
std::vector<std::string> Scan(Registry& reg, const std::string& text) {
  auto e = expr::Expr::Parse(text);
  REQUIRE(e.ok());
  auto s = reg.Read();
  REQUIRE(s.ok());
  std::vector<std::string> out;
  REQUIRE(s->ForEachModel("", [&](const Model& m) {
    REQUIRE(s->ForEachVersion(m.id, 0, [&](const Version& v) {
      expr::EvalContext ctx;
      ctx.aliases = [&](const Version& x) { return s->AliasesOf(x.model_id, x.number); };
      if (e->Eval(v, ctx)) out.push_back(v.ref());
      return true;
    }).ok());
    return true;
  }).ok());
  return out;
}

MetaChange Set(const std::string& k, const std::string& v) { return MetaChange{k, v}; }

// Raw LMDB access to ROOT/index with the registry closed: for damage.
struct RawIndex {
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  explicit RawIndex(const std::string& root) {
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
    REQUIRE(mdb_env_set_mapsize(env, size_t{1} << 30) == 0);
    REQUIRE(mdb_env_open(env, (root + "/index").c_str(), 0, 0660) == 0);
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  }
  MDB_dbi Table(const char* name) {
    MDB_dbi d;
    REQUIRE(mdb_dbi_open(txn, name, 0, &d) == 0);
    return d;
  }
  ~RawIndex() {
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
};

}  // namespace

TEST_CASE("the find index follows push, set, archive and gc") {
  Fixture f;
  f.Push("churn", {Set("metrics.auc", "0.9"), Set("tags.team", "growth"), Set("params.lr", "0.1")});
  f.Push("churn", {Set("metrics.auc", "0.8"), Set("metrics.f1", "-0.5")});
  f.Push("fraud", {Set("metrics.auc", "0.95")});
  CHECK(AllFindKeys(*f.reg).size() == 6);
  CHECK(AllFindKeys(*f.reg) == WantedKeys(*f.reg));

  REQUIRE(f.reg->SetMeta("churn", 1, {Set("metrics.auc", "0.97"), MetaChange{"tags.team", std::nullopt},
                                      Set("tags.owner", "ana")}, Alice()).ok());
  CHECK(AllFindKeys(*f.reg) == WantedKeys(*f.reg));
  CHECK(Refs(*f.reg, "metrics.auc >= 0.96") == std::vector<std::string>{"churn@1"});
  CHECK(Refs(*f.reg, "tags.team = \"growth\"").empty());
  CHECK(Refs(*f.reg, "tags.owner = \"ana\"") == std::vector<std::string>{"churn@1"});

  REQUIRE(f.reg->Archive("churn", 2, Alice()).ok());
  CHECK(AllFindKeys(*f.reg) == WantedKeys(*f.reg));
  CHECK(Refs(*f.reg, "metrics.f1 < 0 and state = \"archived\"") == std::vector<std::string>{"churn@2"});
  auto gc = f.reg->Gc(GcOptions{}, Alice());
  REQUIRE(gc.ok());
  CHECK(AllFindKeys(*f.reg) == WantedKeys(*f.reg));
  CHECK(Refs(*f.reg, "exists(metrics.f1)").empty());
  CHECK(AllFindKeys(*f.reg).size() == 4);  // churn@1: auc, lr, owner; fraud@1: auc
  auto fsck = f.reg->Fsck(false, Alice());
  REQUIRE(fsck.ok());
  CHECK(fsck->problems.empty());
}

TEST_CASE("the find index: built on open when missing, checked and rebuilt by fsck") {
  Fixture f;
  f.Push("churn", {Set("metrics.auc", "0.9")});
  f.Push("churn", {Set("metrics.auc", "0.7"), Set("tags.team", "growth")});
  auto want = WantedKeys(*f.reg);
  REQUIRE(want.size() == 3);
  f.reg.reset();
  {  // an index from before the find index: no table contents, no meta record
    RawIndex raw(f.root);
    REQUIRE(mdb_drop(raw.txn, raw.Table("find"), 0) == 0);
    MDB_val k{10, const_cast<char*>("find_index")};
    REQUIRE(mdb_del(raw.txn, raw.Table("meta"), &k, nullptr) == 0);
  }
  auto r = Registry::Open(f.root);
  REQUIRE(r.ok());
  f.reg = std::move(*r);
  CHECK(AllFindKeys(*f.reg) == want);

  f.reg.reset();
  {  // damage: an entry lost, a stale one added
    RawIndex raw(f.root);
    MDB_dbi find = raw.Table("find");
    MDB_val k{want[0].size(), want[0].data()};
    REQUIRE(mdb_del(raw.txn, find, &k, nullptr) == 0);
    std::string stale = findindex::MetricPrefix("auc") + findindex::EncodeDouble(0.5) +
                        std::string(11, '\0') + "\x09";
    MDB_val sk{stale.size(), stale.data()}, empty{0, nullptr};
    REQUIRE(mdb_put(raw.txn, find, &sk, &empty, 0) == 0);
  }
  r = Registry::Open(f.root);
  REQUIRE(r.ok());
  f.reg = std::move(*r);
  auto fsck = f.reg->Fsck(false, Alice());
  REQUIRE(fsck.ok());
  REQUIRE(fsck->problems.size() == 1);
  CHECK_THAT(fsck->problems[0], Catch::Contains("1 entries missing, 1 stale"));
  // Find still answers right: the stale entry names no version.
  CHECK(Refs(*f.reg, "metrics.auc <= 0.5").empty());
  fsck = f.reg->Fsck(true, Alice());
  REQUIRE(fsck.ok());
  CHECK(fsck->repaired.size() == 1);
  CHECK(AllFindKeys(*f.reg) == want);
  fsck = f.reg->Fsck(false, Alice());
  REQUIRE(fsck.ok());
  CHECK(fsck->problems.empty());
}

TEST_CASE("doubles keep their order as keys") {
  std::vector<double> xs = {-1e300, -2.5, -1, -1e-9, 0, 1e-9, 0.5, 1, 3, 1e300};
  for (size_t i = 0; i + 1 < xs.size(); ++i) {
    CHECK(findindex::EncodeDouble(xs[i]) < findindex::EncodeDouble(xs[i + 1]));
    CHECK(findindex::DecodeDouble(findindex::EncodeDouble(xs[i])) == xs[i]);
  }
  CHECK(findindex::EncodeDouble(-0.0) == findindex::EncodeDouble(0.0));
  // A value with 0x00 bytes still sorts under its own prefix.
  CHECK(findindex::TextValuePrefix('t', "k", std::string("a\0b", 3)) >
        findindex::TextValuePrefix('t', "k", "a"));
}

TEST_CASE("the planner reads the index for a selective test") {
  Fixture f;
  // 3 models x 40 versions: auc = i/120 over all, tag team a/b/c by model.
  int i = 0;
  for (const char* model : {"alpha", "beta", "gamma"}) {
    for (int n = 0; n < 40; ++n, ++i) {
      std::vector<MetaChange> meta = {Set("metrics.auc", std::to_string(i / 120.0)),
                                      Set("tags.team", std::string(1, model[0]))};
      if (n % 10 == 0) meta.push_back(Set("params.opt", "sgd"));
      f.Push(model, meta);
    }
  }
  const uint64_t total = 120;
  struct Row {
    const char* expr;
    const char* plan;  // how the plan starts
    uint64_t max_decoded;
  } rows[] = {
      {"metrics.auc >= 0.98", "index metrics.auc >= 0.98", 3},
      {"metrics.auc > 0.975 and model ~ \"g*\"", "index metrics.auc > 0.975", 3},
      {"metrics.auc < 0.02", "index metrics.auc < 0.02", 3},
      {"metrics.auc <= 0.0167", "index", 3},
      {"metrics.auc in (0, 0.5)", "index metrics.auc in (0, 0.5)", 2},
      {"params.opt = \"sgd\" and metrics.auc > 0.5", "index params.opt = \"sgd\"", 12},
      {"exists(params.opt)", "index exists(params.opt)", 12},
      // Two indexed tests: only their intersection is decoded.
      {"metrics.auc < 0.2 and params.opt = \"sgd\"", "index metrics.auc < 0.2 and params.opt = \"sgd\"", 3},
      {"params.opt = \"sgd\" and model = \"beta\"", "index params.opt = \"sgd\" and model = \"beta\"", 4},
      {"model = \"beta\" and version <= 3", "models model = \"beta\"", 40},
      {"model ~ \"gam*\"", "models model ~ \"gam*\"", 40},
      {"model in (\"alpha\", \"nope\")", "models", 40},
      {"tags.team = \"a\" or metrics.auc > 0.99", "scan", total},     // or: no conjunct
      {"metrics.auc >= 0", "scan", total},                             // matches all: a scan streams
      {"not metrics.auc < 0.5", "scan", total},
      {"metrics.auc != 0.5", "scan", total},
  };
  for (const auto& r : rows) {
    INFO(r.expr);
    FindStats st;
    auto got = Refs(*f.reg, r.expr, &st);
    CHECK_THAT(st.plan, Catch::StartsWith(r.plan));
    CHECK(st.decoded <= r.max_decoded);
    CHECK(got == Scan(*f.reg, r.expr));
  }
  // A version whose metric moved out of the range is no longer a candidate.
  REQUIRE(f.reg->SetMeta("gamma", 40, {Set("metrics.auc", "0.1")}, Alice()).ok());
  FindStats st;
  CHECK(Refs(*f.reg, "metrics.auc >= 0.99", &st).empty());
  CHECK(st.decoded == 0);
}

TEST_CASE("find: policy, sort, limit and aliases") {
  Fixture f;
  f.Push("churn", {Set("metrics.auc", "0.9")});
  f.Push("churn", {Set("metrics.auc", "0.95")});
  f.Push("churn", {});
  f.Push("secret", {Set("metrics.auc", "0.99")});
  f.Push("fraud", {Set("metrics.auc", "0.7")});
  REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());

  FindOptions opt;
  opt.may_read = [](const std::string& m) { return m != "secret"; };
  CHECK(Refs(*f.reg, "metrics.auc > 0.5", nullptr, opt) ==
        std::vector<std::string>{"churn@1", "churn@2", "fraud@1"});
  CHECK(Refs(*f.reg, "model = \"secret\"", nullptr, opt).empty());

  auto sort = ParseSortKey("-metrics.auc");
  REQUIRE(sort.ok());
  opt.sort = {*sort};
  auto all = expr::Expr::All();
  auto s = f.reg->Read();
  REQUIRE(s.ok());
  std::vector<std::string> got;
  REQUIRE(Find(*s, all, opt, [&](const Version& v, const expr::EvalContext&) {
    got.push_back(v.ref());
    return true;
  }).ok());
  // Missing values last, whichever the direction.
  CHECK(got == std::vector<std::string>{"churn@2", "churn@1", "fraud@1", "churn@3"});
  opt.sort = {*ParseSortKey("metrics.auc")};
  opt.limit = 2;
  got.clear();
  REQUIRE(Find(*s, all, opt, [&](const Version& v, const expr::EvalContext&) {
    got.push_back(v.ref());
    return true;
  }).ok());
  CHECK(got == std::vector<std::string>{"fraud@1", "churn@1"});
  // Several keys: alias first (versions without one last), then auc.
  opt.sort = {*ParseSortKey("alias"), *ParseSortKey("-metrics.auc")};
  opt.limit = 0;
  got.clear();
  REQUIRE(Find(*s, all, opt, [&](const Version& v, const expr::EvalContext& ctx) {
    got.push_back(v.ref() + ":" + JoinList(ctx.aliases(v)));
    return true;
  }).ok());
  CHECK(got == std::vector<std::string>{"churn@1:production", "churn@2:", "fraud@1:", "churn@3:"});

  CHECK(Refs(*f.reg, "alias = \"production\"") == std::vector<std::string>{"churn@1"});
  CHECK(Refs(*f.reg, "not alias = \"production\" and model = \"churn\"") ==
        std::vector<std::string>{"churn@2", "churn@3"});
  CHECK(!ParseSortKey("-bogus").ok());
}

TEST_CASE("the find index follows drafts: set, seal, discard") {
  Fixture f;
  f.Push("churn", {Set("metrics.auc", "0.5")});
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  WriteFile(f.reg->DraftDir(*d) + "/m.bin", "m");
  REQUIRE(f.reg->SetMeta("churn", 2, {Set("metrics.auc", "0.99"), Set("tags.stage", "draft")}, Alice()).ok());
  CHECK(Refs(*f.reg, "metrics.auc > 0.9 and state = \"draft\"") == std::vector<std::string>{"churn@2"});
  REQUIRE(f.reg->Seal("churn", 2, Alice()).ok());
  CHECK(Refs(*f.reg, "metrics.auc > 0.9 and state = \"ready\"") == std::vector<std::string>{"churn@2"});
  CHECK(AllFindKeys(*f.reg) == WantedKeys(*f.reg));

  auto d3 = f.reg->CreateDraft("churn", 3, Alice());
  REQUIRE(d3.ok());
  REQUIRE(f.reg->SetMeta("churn", 3, {Set("metrics.auc", "0.97")}, Alice()).ok());
  CHECK(Refs(*f.reg, "metrics.auc > 0.9") == std::vector<std::string>{"churn@2", "churn@3"});
  REQUIRE(f.reg->DiscardDraft("churn", 3, Alice()).ok());
  CHECK(Refs(*f.reg, "metrics.auc > 0.9") == std::vector<std::string>{"churn@2"});
  CHECK(AllFindKeys(*f.reg) == WantedKeys(*f.reg));
  CHECK(AllFindKeys(*f.reg).size() == 3);  // churn@1 auc; churn@2 auc, stage
}
