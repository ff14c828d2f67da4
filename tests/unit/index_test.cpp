// Unit tests of index/: names, records, blob store and the registry itself,
// on a real registry in a temporary directory, without a mount.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "index/lmdb_keys.h"
#include "index/registry.h"
#include "tests/tools/damage.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;
namespace stdfs = std::filesystem;


TEST_CASE("model and alias names follow SPEC §3", "[names]") {
  CHECK(CheckModelName("churn").ok());
  CHECK(CheckModelName("a.b_c-1").ok());
  CHECK(CheckModelName("9lives").ok());
  CHECK_FALSE(CheckModelName("").ok());
  CHECK_FALSE(CheckModelName("Churn").ok());
  CHECK_FALSE(CheckModelName("-x").ok());
  CHECK_FALSE(CheckModelName(".hidden").ok());
  CHECK_FALSE(CheckModelName("..").ok());
  CHECK_FALSE(CheckModelName("a/b").ok());
  CHECK_FALSE(CheckModelName(std::string(129, 'a')).ok());
  CHECK(CheckModelName(std::string(128, 'a')).ok());

  CHECK(CheckAliasName("production").ok());
  CHECK(CheckAliasName("v").ok());
  CHECK(CheckAliasName("v2a").ok());
  CHECK_FALSE(CheckAliasName("latest").ok());
  CHECK_FALSE(CheckAliasName("v12").ok());
  CHECK_FALSE(CheckAliasName("1st").ok());
  CHECK_FALSE(CheckAliasName("Prod").ok());
  CHECK_FALSE(CheckAliasName("a.b").ok());
  CHECK_FALSE(CheckAliasName(std::string(65, 'a')).ok());
}

TEST_CASE("version directories, refs and metrics parse strictly", "[names]") {
  CHECK(ParseVersionDir("v1") == 1);
  CHECK(ParseVersionDir("v4294967295") == 4294967295u);
  CHECK(ParseVersionDir("v0") == 0);
  CHECK(ParseVersionDir("v01") == 0);
  CHECK(ParseVersionDir("v") == 0);
  CHECK(ParseVersionDir("v4294967296") == 0);
  CHECK(ParseVersionDir("x1") == 0);

  auto r = ParseRef("churn@12");
  REQUIRE(r.ok());
  CHECK(r->model == "churn");
  CHECK(r->version == 12);
  CHECK(ParseRef("churn@production")->alias == "production");
  CHECK(ParseRef("churn")->version == 0);
  CHECK_FALSE(ParseRef("churn@").ok());
  CHECK_FALSE(ParseRef("churn@0").ok());
  CHECK_FALSE(ParseVersionRef("churn@prod").ok());
  CHECK(FormatRef("churn", 12) == "churn@12");
  auto back = ParseVersionRef(FormatRef("a.b-c", 4294967295u));
  REQUIRE(back.ok());
  CHECK(back->model == "a.b-c");
  CHECK(back->version == 4294967295u);

  CHECK(*ParseMetric("auc", "0.913") == 0.913);
  CHECK(*ParseMetric("x", "-2e-3") == -0.002);
  CHECK(*ParseMetric("x", "+0.5") == 0.5);
  for (const char* bad : {"", "nan", "inf", "-inf", "1e999", "0x10", "1.2.3", "abc", " 1", "+",
                          "++1", "+-1"})
    CHECK_FALSE(ParseMetric("m", bad).ok());
  CHECK(FormatMetric(0.913) == "0.913");
  CHECK(FormatMetric(12) == "12");
  // One form everywhere: a whole number never gains ".0", and the JSON
  // number show --json prints has exactly the xattr's text.
  CHECK(FormatMetric(14.0) == "14");
  CHECK(FormatMetric(-3.0) == "-3");
  CHECK(FormatMetric(0.0001) == "0.0001");
  for (double x : {14.0, 0.913, 0.0001, 1e-07, -2.5, 1.5e20, 9007199254740992.0, 123456789.125,
                   0.1 + 0.2}) {
    INFO(x);
    CHECK(MetricJson(x).dump() == FormatMetric(x));
    CHECK(*ParseMetric("m", FormatMetric(x)) == x);
  }
}

TEST_CASE("records round-trip through their encoding", "[records]") {
  Version v;
  v.id = 42;
  v.model = "churn";
  v.number = 7;
  v.metrics["auc"] = 0.91;
  v.params["lr"] = "0.1";
  v.lineage.parents = {"churn@6"};
  v.approval.status = "approved";
  v.past_aliases = {"staging"};
  v.digest.bytes[0] = 0xab;
  Version back;
  REQUIRE(Decode(Encode(v), &back).ok());
  CHECK(back.id == 42);
  CHECK(back.ref() == "churn@7");
  CHECK(back.metrics.at("auc") == 0.91);
  CHECK(back.lineage.parents == std::vector<std::string>{"churn@6"});
  CHECK(back.approval.status == "approved");
  CHECK(back.digest == v.digest);
  CHECK(back.past_aliases == v.past_aliases);
  Entry e;
  CHECK_FALSE(Decode("garbage", &e).ok());

  auto d = Digest::FromHex(v.digest.hex());
  REQUIRE(d.ok());
  CHECK(*d == v.digest);
  CHECK_FALSE(Digest::FromHex("xyz").ok());
}

TEST_CASE("blob store writes each content once, read-only, and verifies it", "[blobs]") {
  Fixture f;
  BlobStore& bs = f.reg->blobs();
  auto a = bs.PutFile(f.src + "/model.onnx");
  REQUIRE(a.ok());
  CHECK_FALSE(a->existed);
  CHECK(a->size == 9);
  auto b = bs.PutFile(f.src + "/model.onnx");
  REQUIRE(b.ok());
  CHECK(b->existed);
  CHECK(a->digest == b->digest);
  std::string p = bs.PathOf(a->digest);
  CHECK(ReadFile(p) == "weights-1");
  struct stat st;
  REQUIRE(stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0444);
  CHECK(p.substr(p.size() - 33) == a->digest.hex().substr(0, 2) + "/" + a->digest.hex().substr(2));
  CHECK(stdfs::is_empty(f.root + "/staging"));
  CHECK(bs.Verify(a->digest).ok());
  chmod(p.c_str(), 0644);
  WriteFile(p, "weights-X");
  CHECK(bs.Verify(a->digest).code() == Code::kCorrupt);
}

TEST_CASE("push commits a ready version with files, digest and metadata", "[registry]") {
  Fixture f;
  Version v1 = f.Push("churn", {{"metrics.auc", "0.9"}, {"tags.team", "growth"}});
  CHECK(v1.number == 1);
  CHECK(v1.state == State::kReady);
  CHECK(v1.size == 11);
  CHECK(v1.files == 2);
  Version v2 = f.Push("churn", {{"lineage.parents", "churn@1"}});
  CHECK(v2.number == 2);
  CHECK(v2.digest == v1.digest);  // same files, same version digest

  auto s = f.reg->Read();
  REQUIRE(s.ok());
  auto m = s->GetModel("churn");
  REQUIRE(m.ok());
  CHECK(m->next_version == 3);
  CHECK(s->LatestReady(m->id) == 2);
  auto got = s->GetVersion("churn", 1);
  REQUIRE(got.ok());
  CHECK(got->metrics.at("auc") == 0.9);
  CHECK(got->tags.at("team") == "growth");
  std::map<std::string, Entry> files;
  REQUIRE(s->ForEachPath(*got, [&](const std::string& p, const Entry& e) {
    files[p] = e;
    return true;
  }).ok());
  REQUIRE(files.size() == 3);
  CHECK(files.at("conf").is_dir());
  CHECK(files.at("conf/params.json").mode == 0100555);
  CHECK(files.at("model.onnx").mode == 0100444);
  CHECK(ReadFile(f.reg->blobs().PathOf(files.at("model.onnx").digest)) == "weights-1");
  // Object ids are unique across kinds: the mount's inode numbers.
  std::set<ObjectId> ids{m->id, m->latest_id, got->id, v2.id};
  for (auto& [p, e] : files) ids.insert(e.id);
  CHECK(ids.size() == 7);
}

TEST_CASE("bad push input changes nothing", "[registry]") {
  Fixture f;
  f.Push("churn");
  PushRequest req;
  req.model = "churn";
  req.paths = {f.tmp.path + "/missing"};
  CHECK(f.reg->Push(req, Alice()).status().code() == Code::kNotFound);
  req.paths = {f.src};
  req.meta = {{"metrics.auc", "high"}};
  CHECK(f.reg->Push(req, Alice()).status().code() == Code::kInvalid);
  req.meta = {{"lineage.parents", "churn@9"}};
  CHECK_FALSE(f.reg->Push(req, Alice()).ok());
  req.meta = {};
  req.model = "Bad";
  CHECK(f.reg->Push(req, Alice()).status().code() == Code::kInvalid);
  auto s = f.reg->Read();
  CHECK(s->GetModel("churn")->next_version == 2);
  CHECK(s->LastAuditSeq() == 2);  // create + push
}

TEST_CASE("aliases point at ready versions of their own model", "[registry]") {
  Fixture f;
  f.Push("churn");
  f.Push("churn");
  CHECK(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  // SPEC §4: an alias to what is not a version of its model is EINVAL.
  CHECK(f.reg->SetAlias("churn", "production", 9, Alice()).code() == Code::kInvalid);
  CHECK(f.reg->SetAlias("churn", "latest", 1, Alice()).code() == Code::kInvalid);
  CHECK(f.reg->SetAlias("churn", "production", 2, Alice()).ok());
  auto s = f.reg->Read();
  auto m = s->GetModel("churn");
  CHECK(s->GetAlias(m->id, "production")->version == 2);
  CHECK(s->AliasesOf(m->id, 2) == std::vector<std::string>{"production"});
  CHECK(s->GetVersion("churn", 1)->past_aliases == std::vector<std::string>{"production"});
  // The target of an alias cannot be archived; the alias must move first.
  CHECK(f.reg->Archive("churn", 2, Alice()).code() == Code::kBusy);
  CHECK(f.reg->Archive("churn", 1, Alice()).ok());
  CHECK(f.reg->SetAlias("churn", "production", 1, Alice()).code() == Code::kInvalid);
  CHECK(f.reg->DeleteAlias("churn", "production", Alice()).ok());
  CHECK(f.reg->DeleteAlias("churn", "production", Alice()).code() == Code::kNotFound);
  // A guard runs inside the transaction and can refuse the move.
  Guard no = [](const Snapshot&, const Version&, std::string*) { return Status::Denied("gate"); };
  CHECK(f.reg->SetAlias("churn", "staging", 2, Alice(), no).code() == Code::kDenied);
  auto s2 = f.reg->Read();
  CHECK_FALSE(s2->GetAlias(m->id, "staging").ok());
}

TEST_CASE("metadata, approval and archive are validated and audited", "[registry]") {
  Fixture f;
  f.Push("churn");
  CHECK(f.reg->SetMeta("churn", 1, {{"metrics.auc", "0.8"}, {"params.lr", "0.1"}}, Alice()).ok());
  CHECK(f.reg->SetMeta("churn", 1, {{"metrics.auc", "nan"}}, Alice()).code() == Code::kInvalid);
  CHECK(f.reg->SetMeta("churn", 1, {{"bogus.x", "1"}}, Alice()).code() == Code::kInvalid);
  CHECK(f.reg->SetMeta("churn", 1, {{"tags.bad key", "1"}}, Alice()).code() == Code::kInvalid);
  CHECK(f.reg->SetMeta("churn", 1, {{"tags.big", std::string(4097, 'x')}}, Alice()).code() ==
        Code::kTooBig);
  CHECK(f.reg->SetMeta("churn", 1, {{"tags.none", std::nullopt}}, Alice()).code() == Code::kNoData);
  CHECK(f.reg->SetMeta("churn", 1, {{"params.lr", std::nullopt}}, Alice()).ok());
  CHECK(f.reg->Approve("churn", 1, true, "looks good", Actor{1002, "bob"}).ok());
  auto s = f.reg->Read();
  auto v = s->GetVersion("churn", 1);
  CHECK(v->metrics.at("auc") == 0.8);
  CHECK(v->params.empty());
  CHECK(v->approval.status == "approved");
  CHECK(v->approval.by == "bob");
  std::vector<AuditRecord> log;
  REQUIRE(s->ForEachAudit(0, [&](const AuditRecord& r) {
    log.push_back(r);
    return true;
  }).ok());
  REQUIRE(log.size() == 6);  // create, push, set auc, set lr, unset lr, approve
  CHECK(log[2].action == "set");
  CHECK(log[2].object == "churn@1 metrics.auc");
  CHECK(log[2].after == "0.8");
  CHECK(log[5].user == "bob");
  CHECK(log[5].before == "pending");
  CHECK(log[5].after == "approved");
  CHECK(f.reg->AuditDenied(Alice(), "promote", "churn", "churn/production", "no").ok());
  auto s2 = f.reg->Read();
  CHECK(s2->LastAuditSeq() == 7);
}

TEST_CASE("concurrent pushes get distinct consecutive numbers", "[registry]") {
  Fixture f;
  constexpr int kThreads = 4, kEach = 10;
  std::vector<std::thread> ts;
  std::vector<std::vector<uint32_t>> got(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        PushRequest req;
        req.model = "churn";
        req.paths = {f.src};
        auto v = f.reg->Push(req, Alice());
        if (v.ok()) got[t].push_back(v->number);
      }
    });
  }
  for (auto& t : ts) t.join();
  std::set<uint32_t> all;
  for (auto& g : got) all.insert(g.begin(), g.end());
  CHECK(all.size() == kThreads * kEach);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == kThreads * kEach);
}

TEST_CASE("gc removes garbage and retention; fsck finds problems", "[maintenance]") {
  Fixture f;
  for (int i = 0; i < 4; ++i) {
    WriteFile(f.src + "/model.onnx", "weights-" + std::to_string(i));
    f.Push("churn");
  }
  REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  // An unreferenced blob and an abandoned staging file.
  WriteFile(f.tmp.path + "/stray", "stray");
  auto stray = f.reg->blobs().PutFile(f.tmp.path + "/stray");
  REQUIRE(stray.ok());
  WriteFile(f.root + "/staging/blob-dead.tmp", "partial");
  auto fsck = f.reg->Fsck(false, Alice());
  REQUIRE(fsck.ok());
  CHECK(fsck->problems.empty());
  CHECK(fsck->garbage.size() == 2);

  GcOptions opt;
  opt.keep_last = 1;
  opt.dry_run = true;
  auto dry = f.reg->Gc(opt, Alice());
  REQUIRE(dry.ok());
  // v2 and v3, the staging file, the stray blob, and the blobs only v2 and
  // v3 named (their model.onnx; conf/params.json is shared with v4).
  CHECK(dry->removed.size() == 2 + 1 + 1 + 2);
  CHECK(f.reg->blobs().Exists(stray->digest));
  opt.dry_run = false;
  auto rep = f.reg->Gc(opt, Alice());
  REQUIRE(rep.ok());
  CHECK_FALSE(f.reg->blobs().Exists(stray->digest));
  CHECK(stdfs::is_empty(f.root + "/staging"));
  auto s = f.reg->Read();
  CHECK(s->GetVersion("churn", 1).ok());        // aliased
  CHECK_FALSE(s->GetVersion("churn", 2).ok());  // beyond keep_last
  CHECK_FALSE(s->GetVersion("churn", 3).ok());
  CHECK(s->GetVersion("churn", 4).ok());  // the last ready one
  CHECK(s->GetModel("churn")->next_version == 5);  // numbers are never reused
  auto after = f.reg->Fsck(false, Alice());
  CHECK(after->problems.empty());
  CHECK(after->garbage.empty());

  // A corrupted blob is a problem fsck reports.
  auto v4 = s->GetVersion("churn", 4);
  Entry e = *s->GetEntry(v4->id, "model.onnx");
  std::string p = f.reg->blobs().PathOf(e.digest);
  chmod(p.c_str(), 0644);
  WriteFile(p, "weights-?");
  auto bad = f.reg->Fsck(false, Alice());
  REQUIRE(bad.ok());
  REQUIRE(bad->problems.size() == 1);
  CHECK(bad->problems[0].find("churn@4 model.onnx") != std::string::npos);
}

TEST_CASE("opening what is not a registry fails clearly", "[registry]") {
  TempDir tmp;
  auto r = Registry::Open(tmp.path);
  CHECK(r.status().code() == Code::kInvalid);
  CHECK(r.status().message().find("not a modelfs registry") != std::string::npos);
  CHECK(Registry::Open(tmp.path + "/nope").status().code() == Code::kNotFound);
  REQUIRE(Registry::Init(tmp.path + "/r", "").ok());
  CHECK(Registry::Init(tmp.path + "/r", "").code() == Code::kExists);
  struct stat st;
  REQUIRE(stat((tmp.path + "/r").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("drafts are written in staging and sealed in one commit", "[drafts]") {
  Fixture f;
  Version pushed = f.Push("churn");
  CHECK(f.reg->CreateDraft("churn", 3, Alice()).status().code() == Code::kInvalid);
  CHECK(f.reg->CreateDraft("nope", 1, Alice()).status().code() == Code::kNotFound);
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  CHECK(d->state == State::kDraft);
  std::string dir = f.reg->DraftDir(*d);
  CHECK(f.reg->Seal("churn", 2, Alice()).status().code() == Code::kInvalid);  // empty
  WriteFile(dir + "/model.onnx", "weights-1");
  WriteFile(dir + "/conf/params.json", "{}", 0755);
  {
    auto s = f.reg->Read();
    CHECK(s->LatestReady(s->GetModel("churn")->id) == 1);  // drafts are not latest
  }
  {
    // A change of names in progress (the mount's DraftChangeLock) holds the
    // draft directory shared: sealing must wait for it.
    int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(flock(dfd, LOCK_SH) == 0);
    CHECK(f.reg->Seal("churn", 2, Alice()).status().code() == Code::kBusy);
    close(dfd);
  }
  // A writer holds a shared lock: sealing must wait for it.
  int fd = open((dir + "/model.onnx").c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(flock(fd, LOCK_SH) == 0);
  CHECK(f.reg->Seal("churn", 2, Alice()).status().code() == Code::kBusy);
  // A writer that died with the file open leaves the marker: torn, refused.
  REQUIRE(fsetxattr(fd, Registry::kWritingXattr, "1", 1, 0) == 0);
  close(fd);
  CHECK(f.reg->Seal("churn", 2, Alice()).status().code() == Code::kCorrupt);
  REQUIRE(removexattr((dir + "/model.onnx").c_str(), Registry::kWritingXattr) == 0);

  auto sealed = f.reg->Seal("churn", 2, Alice());
  REQUIRE(sealed.ok());
  CHECK(sealed->state == State::kReady);
  CHECK(sealed->digest == pushed.digest);  // same files, same digest as a push
  CHECK(sealed->files == 2);
  CHECK_FALSE(stdfs::exists(dir));
  // Sealing what is sealed already does nothing (the mount and the CLI alike).
  uint64_t seq = f.reg->Read()->LastAuditSeq();
  auto again = f.reg->Seal("churn", 2, Alice());
  REQUIRE(again.ok());
  CHECK(again->digest == sealed->digest);
  CHECK(f.reg->Read()->LastAuditSeq() == seq);
  CHECK(f.reg->DiscardDraft("churn", 2, Alice()).code() == Code::kReadOnly);

  auto d3 = f.reg->CreateDraft("churn", 3, Alice());
  REQUIRE(d3.ok());
  WriteFile(f.reg->DraftDir(*d3) + "/x", "x");
  REQUIRE(f.reg->DiscardDraft("churn", 3, Alice()).ok());
  CHECK_FALSE(stdfs::exists(f.reg->DraftDir(*d3)));
  CHECK(f.reg->CreateDraft("churn", 3, Alice()).status().code() == Code::kInvalid);  // never reused
  auto d4 = f.reg->CreateDraft("churn", 4, Alice());
  REQUIRE(d4.ok());
  // A file its writer left marked (a crash) is torn: fsck shows it, and
  // repair (like the mount at start) drops it while keeping complete files.
  std::string torn = f.reg->DraftDir(*d4) + "/half.bin";
  WriteFile(torn, "half");
  WriteFile(f.reg->DraftDir(*d4) + "/whole.bin", "whole");
  REQUIRE(setxattr(torn.c_str(), Registry::kWritingXattr, "1", 1, 0) == 0);
  {
    int held = open(torn.c_str(), O_RDONLY);
    REQUIRE(flock(held, LOCK_SH) == 0);  // a live writer: not torn
    CHECK(f.reg->TornDraftFiles(false)->empty());
    close(held);
  }
  REQUIRE(*f.reg->TornDraftFiles(false) == std::vector<std::string>{"churn@4 half.bin (4 bytes)"});
  auto torn_fsck = f.reg->Fsck(true, Alice());
  REQUIRE(torn_fsck.ok());
  CHECK(torn_fsck->repaired == std::vector<std::string>{"dropped torn draft file churn@4 half.bin (4 bytes)"});
  CHECK_FALSE(stdfs::exists(torn));
  CHECK(stdfs::exists(f.reg->DraftDir(*d4) + "/whole.bin"));
  // A draft directory whose draft is gone is garbage; a live one is not.
  stdfs::create_directories(f.root + "/staging/draft-999999");
  auto fsck = f.reg->Fsck(false, Alice());
  REQUIRE(fsck.ok());
  REQUIRE(fsck->garbage.size() == 1);
  CHECK(fsck->garbage[0] == "staging staging/draft-999999");
  REQUIRE(f.reg->Gc(GcOptions{}, Alice()).ok());
  CHECK_FALSE(stdfs::exists(f.root + "/staging/draft-999999"));
  CHECK(stdfs::exists(f.reg->DraftDir(*d4)));
  // An expired draft goes with its directory.
  GcOptions ttl;
  ttl.draft_ttl_s = 0;
  REQUIRE(f.reg->Gc(ttl, Alice()).ok());
  CHECK_FALSE(stdfs::exists(f.reg->DraftDir(*d4)));
  CHECK_FALSE(f.reg->Read()->GetVersion("churn", 4).ok());
}

TEST_CASE("push refuses file names that are not UTF-8 text, before copying", "[registry]") {
  for (std::string name : {std::string("x\xff\xfe"), std::string("two\nlines")}) {
    INFO(EscapeText(name));
    Fixture f;
    WriteFile(f.src + "/sub/" + name, "bytes");
    PushRequest req;
    req.model = "churn";
    req.paths = {f.src};
    auto v = f.reg->Push(req, Alice());
    CHECK(v.status().code() == Code::kInvalid);
    CHECK(v.status().message().find("sub/" + EscapeText(name)) != std::string::npos);
    CHECK(v.status().message().find(name) == std::string::npos);  // never raw
    CHECK(f.reg->Read()->GetModel("churn").status().code() == Code::kNotFound);
    // Nothing was stored: the refusal came before the first blob.
    size_t blobs = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(f.root + "/blobs"))
      blobs += e.is_regular_file();
    CHECK(blobs == 0);
    // Given by name, the path is checked as well.
    req.paths = {f.src + "/sub/" + name};
    CHECK(f.reg->Push(req, Alice()).status().code() == Code::kInvalid);
  }
}

TEST_CASE("MODELFS_MAP_SIZE is a whole number of bytes, or the index is not opened",
          "[registry]") {
  Fixture f;
  struct Env {
    ~Env() { unsetenv("MODELFS_MAP_SIZE"); }
  } restore;
  for (const char* bad : {"64G", "-1", "0", "12x", " 5", "99999999999999999999999"}) {
    INFO(bad);
    setenv("MODELFS_MAP_SIZE", bad, 1);
    auto r = Registry::Open(f.root);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalid);
    CHECK(r.status().message().find("MODELFS_MAP_SIZE") != std::string::npos);
  }
  setenv("MODELFS_MAP_SIZE", "1073741824", 1);
  CHECK(Registry::Open(f.root).ok());
}
