// Unit tests of the index's records as stored: damaged records (a Corrupt
// error naming the record, never a crash; every table damaged with the
// LMDB C API, then read, listed, fsck'd and repaired around), and the
// structured fields of audit records, old and new.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "index/lmdb_keys.h"
#include "index/registry.h"
#include "tests/tools/damage.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;
namespace stdfs = std::filesystem;

namespace {

std::string Cbor(const nlohmann::json& j) {
  std::vector<uint8_t> v = nlohmann::json::to_cbor(j);
  return std::string(v.begin(), v.end());
}

// The CBOR of `record` with field `key` replaced by `value` (or removed
// when value is discarded).
template <class T>
std::string WithField(const T& record, const char* key, const nlohmann::json& value) {
  nlohmann::json j = nlohmann::json::from_cbor(Encode(record));
  if (value.is_discarded()) j.erase(key);
  else j[key] = value;
  return Cbor(j);
}

Version SomeVersion() {
  Version v;
  v.id = 42;
  v.model_id = 2;
  v.model = "churn";
  v.number = 7;
  v.metrics["auc"] = 0.91;
  return v;
}

}  // namespace

TEST_CASE("a damaged record decodes to Corrupt saying what is wrong, never throws", "[records]") {
  using nlohmann::json;
  using Catch::Contains;
  const Version good = SomeVersion();
  struct Case {
    const char* key;
    json value;
    std::vector<std::string> says;
  };
  const std::vector<Case> cases = {
      {"lp", 3, {"\"lp\"", "array of strings", "not a number (3)"}},
      {"lp", json::array({"churn@1", 7}), {"\"lp\"", "item 1", "number (7)"}},
      {"n", "seven", {"\"n\"", "unsigned 32-bit integer", "string (\"seven\")"}},
      {"n", -1, {"\"n\"", "number (-1)"}},
      {"n", std::string("\xff\xfe"), {"\"n\"", "a string ("}},  // not UTF-8 either
      {"n", uint64_t{1} << 40, {"\"n\"", "unsigned 32-bit integer"}},
      {"id", 1.5, {"\"id\"", "unsigned integer", "number (1.5)"}},
      {"me", json::object({{"auc", "high"}}), {"\"me\"", "map of numbers", "\"auc\""}},
      {"me", json::array(), {"\"me\"", "map of numbers", "array"}},
      {"t", json::object({{"team", 1}}), {"\"t\"", "map of strings"}},
      {"s", 9, {"\"s\"", "state 9"}},
      {"dg", "abc", {"\"dg\"", "16-byte binary digest"}},
      {"ca", "yesterday", {"\"ca\"", "64-bit integer"}},
      {"m", json(json::value_t::discarded), {"\"m\" is missing"}},
  };
  for (const auto& c : cases) {
    INFO("field " << c.key << " = " << c.value.dump(-1, ' ', false, json::error_handler_t::replace));
    Version v;
    Status st;
    REQUIRE_NOTHROW(st = Decode(WithField(good, c.key, c.value), &v));
    CHECK(st.code() == Code::kCorrupt);
    for (const auto& word : c.says) CHECK_THAT(st.message(), Contains(word));
    CHECK(v.id == 0);  // nothing half-decoded
  }
  // A NaN metric cannot have been written (metrics are finite): damage.
  Version nan_metric;
  CHECK(Decode(WithField(good, "me", json::object({{"auc", NAN}})), &nan_metric).code() ==
        Code::kCorrupt);

  // Every record type checks its fields.
  Model m;
  m.id = 2;
  m.name = "churn";
  CHECK_THAT(Decode(WithField(m, "nv", "next"), &m).message(), Contains("\"nv\""));
  Entry e;
  e.id = 5;
  e.name = "a.bin";
  e.mode = 0100444;
  CHECK_THAT(Decode(WithField(e, "s", json::array()), &e).message(), Contains("\"s\""));
  Alias a;
  a.id = 6;
  a.name = "production";
  a.version = 1;
  CHECK_THAT(Decode(WithField(a, "v", "v1"), &a).message(), Contains("\"v\""));
  AuditRecord r;
  r.seq = 1;
  CHECK_THAT(Decode(WithField(r, "ok", "yes"), &r).message(), Contains("\"ok\""));

  // Not a map, not CBOR at all, nothing.
  Version v;
  CHECK_THAT(Decode(Cbor(json::array({1, 2})), &v).message(), Contains("not a map"));
  CHECK(Decode("garbage", &v).code() == Code::kCorrupt);
  CHECK(Decode("", &v).code() == Code::kCorrupt);
  // Fields it does not know (a newer writer) and absent optional ones are fine.
  Version extra;
  REQUIRE(Decode(WithField(good, "future", json::array({1})), &extra).ok());
  CHECK(extra.ref() == "churn@7");
  REQUIRE(Decode(WithField(good, "pal", json(json::value_t::discarded)), &extra).ok());
  CHECK(extra.past_aliases.empty());
}


// ------------------------------------------------------- damaged records

namespace {

// A registry whose records we damage: churn v1..v3 (production -> v3) and
// fraud v1. Damage() closes the registry, rewrites one record with the
// LMDB C API and opens it again.
struct DamageFixture : Fixture {
  ObjectId churn = 0;
  DamageFixture() {
    for (int i = 1; i <= 3; ++i) {
      WriteFile(src + "/model.onnx", "weights-" + std::to_string(i));
      Push("churn");
    }
    WriteFile(src + "/model.onnx", "fraud weights");
    Push("fraud");
    REQUIRE(reg->SetAlias("churn", "production", 3, Alice()).ok());
    churn = reg->Read()->GetModel("churn")->id;
  }
  void Damage(const char* table, const std::string& key, const char* field,
              const nlohmann::json& value) {
    reg.reset();
    REQUIRE(testing::SetRecordField(root, table, key, field, value) == "");
    auto r = Registry::Open(root);
    REQUIRE(r.ok());
    reg = std::move(*r);
  }
};

}  // namespace

TEST_CASE("a damaged version is Corrupt, named; the rest is still served", "[damage]") {
  using Catch::Contains;
  DamageFixture f;
  f.Damage("versions", lmdb::VersionKey(f.churn, 2), "lp", 3);
  auto s = f.reg->Read();
  REQUIRE(s.ok());

  auto v2 = s->GetVersion("churn", 2);
  REQUIRE_FALSE(v2.ok());
  CHECK(v2.status().code() == Code::kCorrupt);
  CHECK_THAT(v2.status().message(), Contains("versions record churn@2 is damaged") &&
                                        Contains("\"lp\"") && Contains("number (3)"));
  // Resolving and changing it say the same, never "does not exist".
  CHECK(s->Resolve(*ParseRef("churn@2")).status().code() == Code::kCorrupt);
  CHECK(f.reg->SetMeta("churn", 2, {{"tags.x", "1"}}, Alice()).code() == Code::kCorrupt);
  CHECK(f.reg->Approve("churn", 2, true, "", Alice()).code() == Code::kCorrupt);

  // Its neighbours, its model's aliases and other models read as before.
  CHECK(s->GetVersion("churn", 1).ok());
  CHECK(s->GetVersion("churn", 3).ok());
  CHECK(s->Resolve(*ParseRef("churn@production"))->number == 3);
  CHECK(s->Resolve(*ParseRef("churn"))->number == 3);
  CHECK(s->GetVersion("fraud", 1).ok());

  // A scan over the model visits the others, then reports the damage.
  std::vector<uint32_t> seen;
  Status st = s->ForEachVersion(f.churn, 0, [&](const Version& v) {
    seen.push_back(v.number);
    return true;
  });
  CHECK(st.code() == Code::kCorrupt);
  CHECK_THAT(st.message(), Contains("versions record churn@2"));
  CHECK(seen == std::vector<uint32_t>{1, 3});
  // Changes to other versions go on.
  CHECK(f.reg->SetMeta("churn", 3, {{"tags.x", "1"}}, Alice()).ok());
}

TEST_CASE("latest is never an older version than a damaged newest one", "[damage]") {
  DamageFixture f;
  f.Damage("versions", lmdb::VersionKey(f.churn, 3), "s", "ready");
  auto s = f.reg->Read();
  Status st;
  CHECK(s->LatestReady(f.churn, &st) == 0);
  CHECK(st.code() == Code::kCorrupt);
  CHECK_THAT(st.message(), Catch::Contains("versions record churn@3"));
  CHECK(s->Resolve(*ParseRef("churn")).status().code() == Code::kCorrupt);
  CHECK(s->Resolve(*ParseRef("churn@1"))->number == 1);
  // Nor can the alias that points at it be followed.
  CHECK(s->Resolve(*ParseRef("churn@production")).status().code() == Code::kCorrupt);
}

TEST_CASE("damaged models, aliases, entries and audit records are named", "[damage]") {
  using Catch::Contains;
  DamageFixture f;
  ObjectId v1_id = f.reg->Read()->GetVersion("churn", 1)->id;
  f.Damage("models", "fraud", "id", "seven");
  f.Damage("aliases", lmdb::Key64Name(f.churn, "production"), "v", nlohmann::json::array());
  f.Damage("entries", lmdb::Key64Name(v1_id, "model.onnx"), "dg", "abc");
  f.Damage("audit", lmdb::Key64(2), "a", 5);
  auto s = f.reg->Read();

  auto fraud = s->GetModel("fraud");
  CHECK_THAT(fraud.status().message(), Contains("models record \"fraud\" is damaged") &&
                                           Contains("\"id\""));
  std::vector<std::string> models;
  Status st = s->ForEachModel("", [&](const Model& m) {
    models.push_back(m.name);
    return true;
  });
  CHECK(models == std::vector<std::string>{"churn"});
  CHECK_THAT(st.message(), Contains("models record \"fraud\""));

  CHECK_THAT(s->GetAlias(f.churn, "production").status().message(),
             Contains("aliases record churn/production is damaged") && Contains("\"v\""));
  Status alias_st;
  CHECK(s->AliasesOf(f.churn, 3, &alias_st).empty());
  CHECK(alias_st.code() == Code::kCorrupt);
  // Archiving v3, which the damaged alias may name, is refused.
  CHECK(f.reg->Archive("churn", 3, Alice()).code() == Code::kCorrupt);

  auto v1 = s->GetVersion("churn", 1);
  REQUIRE(v1.ok());
  Status path_st = s->ForEachPath(*v1, [](const std::string&, const Entry&) { return true; });
  CHECK_THAT(path_st.message(), Contains("entries record \"model.onnx\" in churn@1 is damaged") &&
                                    Contains("\"dg\""));

  std::vector<uint64_t> seqs;
  Status audit_st = s->ForEachAudit(0, [&](const AuditRecord& r) {
    seqs.push_back(r.seq);
    return true;
  });
  CHECK_THAT(audit_st.message(), Contains("audit record #2 is damaged"));
  CHECK(seqs.size() == s->LastAuditSeq() - 1);  // all but #2
  CHECK(seqs[0] == 1);
  CHECK(seqs[1] == 3);

  // The owner repairs a damaged alias by moving or deleting it.
  CHECK(f.reg->SetAlias("churn", "production", 2, Alice()).ok());
  CHECK(f.reg->Read()->GetAlias(f.churn, "production")->version == 2);
  CHECK(f.reg->DeleteAlias("churn", "production", Alice()).ok());
}

TEST_CASE("a damaged id or audit counter stops changes instead of reusing numbers", "[damage]") {
  using Catch::Contains;
  DamageFixture f;
  uint64_t audits = f.reg->Read()->LastAuditSeq();
  f.reg.reset();
  REQUIRE(testing::EditRawRecord(f.root, "meta", "next_id", [](std::string* v) { *v = "bad"; }) == "");
  f.reg = std::move(*Registry::Open(f.root));
  PushRequest req;
  req.model = "churn";
  req.paths = {f.src};
  auto pushed = f.reg->Push(req, Alice());
  CHECK(pushed.status().code() == Code::kCorrupt);
  CHECK_THAT(pushed.status().message(), Contains("meta record \"next_id\" is damaged"));
  CHECK(f.reg->CreateModel("new", Alice()).status().code() == Code::kCorrupt);
  CHECK(f.reg->CreateDraft("churn", 4, Alice()).status().code() == Code::kCorrupt);
  {
    auto s = f.reg->Read();
    CHECK(s->GetModel("churn")->next_version == 4);  // nothing half-done
    CHECK(s->GetModel("new").status().code() == Code::kNotFound);
    CHECK(s->LastAuditSeq() == audits);
  }

  f.reg.reset();
  REQUIRE(testing::EditRawRecord(f.root, "meta", "audit_seq",
                                 [](std::string* v) { v->pop_back(); }) == "");
  f.reg = std::move(*Registry::Open(f.root));
  Status st = f.reg->SetMeta("churn", 1, {{"tags.x", "1"}}, Alice());
  CHECK(st.code() == Code::kCorrupt);
  CHECK_THAT(st.message(), Contains("meta record \"audit_seq\" is damaged"));
  CHECK(f.reg->Read()->GetVersion("churn", 1)->tags.empty());
}

TEST_CASE("fsck reports each damaged record, checks the rest, and repairs around it", "[damage]") {
  using Catch::Contains;
  DamageFixture f;
  // Damage elsewhere that fsck must still find: a blob of fraud@1 rotted.
  Digest fraud_blob;
  {
    auto s = f.reg->Read();
    REQUIRE(s->ForEachPath(*s->GetVersion("fraud", 1), [&](const std::string& path, const Entry& e) {
      if (path == "model.onnx") fraud_blob = e.digest;
      return true;
    }).ok());
  }
  std::string blob = f.reg->blobs().PathOf(fraud_blob);
  chmod(blob.c_str(), 0644);
  WriteFile(blob, "fraud weightz", 0444);
  // Garbage: a blob nothing references.
  std::string stray = f.root + "/blobs/ab/" + std::string(30, 'c');
  WriteFile(stray, "stray", 0444);
  f.Damage("versions", lmdb::VersionKey(f.churn, 2), "lp", 3);
  f.Damage("aliases", lmdb::Key64Name(f.churn, "production"), "v", "three");

  auto rep = f.reg->Fsck(false, Alice());
  REQUIRE(rep.ok());
  auto has = [](const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
  };
  INFO(JoinList(rep->problems));
  CHECK(has(rep->problems, "versions record churn@2 is damaged: field \"lp\""));
  CHECK(has(rep->problems, "aliases record churn/production is damaged: field \"v\""));
  CHECK(has(rep->problems, "fraud@1 model.onnx: blob " + fraud_blob.hex()));
  CHECK(has(rep->problems, "fsck --repair cannot rebuild it"));
  // No made-up consequences ("does not exist", "missing v2").
  CHECK_FALSE(has(rep->problems, "missing"));
  CHECK_FALSE(has(rep->problems, "does not exist"));
  CHECK(has(rep->garbage, "unreferenced blob blobs/ab/"));

  // Repair keeps the damaged records and says so; it removes no garbage
  // while a damaged record might still reference it.
  auto fixed = f.reg->Fsck(true, Alice());
  REQUIRE(fixed.ok());
  INFO(JoinList(fixed->not_repaired));
  CHECK(has(fixed->not_repaired, "versions record churn@2: a damaged record cannot be rebuilt"));
  CHECK(has(fixed->not_repaired, "aliases record churn/production"));
  CHECK(has(fixed->not_repaired, "garbage: nothing removed"));
  CHECK(fixed->repaired.empty());
  CHECK(stdfs::exists(stray));
  CHECK(f.reg->Read()->GetVersion("churn", 2).status().code() == Code::kCorrupt);

  // gc refuses too, and says why.
  auto gc = f.reg->Gc(GcOptions{}, Alice());
  CHECK(gc.status().code() == Code::kCorrupt);
  CHECK_THAT(gc.status().message(), Contains("gc removes nothing") && Contains("is damaged"));
  CHECK(stdfs::exists(stray));
  // So does the torn-file check, which cannot tell which drafts exist.
  CHECK(f.reg->TornDraftFiles(false).status().code() == Code::kCorrupt);
}

TEST_CASE("fsck --repair rebuilds damaged counters from the records", "[damage]") {
  using Catch::Contains;
  DamageFixture f;
  ObjectId max_id = 0;
  {
    auto s = f.reg->Read();
    REQUIRE(s->ForEachModel("", [&](const Model& m) {
      max_id = std::max({max_id, m.id, m.latest_id});
      (void)s->ForEachVersion(m.id, 0, [&](const Version& v) {
        max_id = std::max(max_id, v.id);
        (void)s->ForEachPath(v, [&](const std::string&, const Entry& e) {
          max_id = std::max(max_id, e.id);
          return true;
        });
        return true;
      });
      (void)s->ForEachAlias(m.id, "", [&](const Alias& a) {
        max_id = std::max(max_id, a.id);
        return true;
      });
      return true;
    }).ok());
  }
  uint64_t audits = f.reg->Read()->LastAuditSeq();
  f.reg.reset();
  REQUIRE(testing::EditRawRecord(f.root, "meta", "next_id", [](std::string* v) { *v = "xx"; }) == "");
  REQUIRE(testing::EditRawRecord(f.root, "meta", "audit_seq", [](std::string* v) { *v = "y"; }) == "");
  f.reg = std::move(*Registry::Open(f.root));

  auto rep = f.reg->Fsck(false, Alice());
  REQUIRE(rep.ok());
  INFO(JoinList(rep->problems));
  REQUIRE(rep->problems.size() == 2);
  CHECK_THAT(rep->problems[0], Contains("meta record \"next_id\" is damaged"));
  CHECK_THAT(rep->problems[1], Contains("meta record \"audit_seq\" is damaged"));

  auto fixed = f.reg->Fsck(true, Alice());
  REQUIRE(fixed.ok());
  CHECK(fixed->repaired == std::vector<std::string>{
                               "meta record \"next_id\" set to " + std::to_string(max_id + 1),
                               "meta record \"audit_seq\" set to " + std::to_string(audits)});
  CHECK(f.reg->Fsck(false, Alice())->problems.empty());
  // New objects get new ids; the audit trail goes on where it was.
  auto v4 = f.reg->Push({"churn", {f.src}, {}, ""}, Alice());
  REQUIRE(v4.ok());
  CHECK(v4->id > max_id);
  CHECK(f.reg->Read()->LastAuditSeq() == audits + 2 + 1);  // two fsck fixes, the push
}

TEST_CASE("fsck --repair does not rebuild next_id while records are damaged", "[damage]") {
  DamageFixture f;
  f.Damage("versions", lmdb::VersionKey(f.churn, 3), "id", "x");
  f.reg.reset();
  REQUIRE(testing::EditRawRecord(f.root, "meta", "next_id", [](std::string* v) { v->clear(); }) == "");
  f.reg = std::move(*Registry::Open(f.root));
  auto fixed = f.reg->Fsck(true, Alice());
  REQUIRE(fixed.ok());
  INFO(JoinList(fixed->not_repaired));
  CHECK(std::count_if(fixed->not_repaired.begin(), fixed->not_repaired.end(), [](const auto& l) {
          return l.find("meta record \"next_id\": not rebuilt while records are damaged") == 0;
        }) == 1);
  CHECK(f.reg->Push({"churn", {f.src}, {}, ""}, Alice()).status().code() == Code::kCorrupt);
}

// ------------------------------------------------------- audit fields

TEST_CASE("audit records name their version and alias as fields", "[audit]") {
  Fixture f;
  f.Push("churn");
  PushRequest req;
  req.model = "churn";
  req.paths = {f.src};
  req.alias = "staging";
  WriteFile(f.src + "/model.onnx", "weights-2");  // a blob only churn@2 has
  REQUIRE(f.reg->Push(req, Alice()).ok());        // churn@2, staging
  REQUIRE(f.reg->SetMeta("churn", 1, {{"tags.team", "growth"}}, Alice()).ok());
  REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  REQUIRE(f.reg->DeleteAlias("churn", "staging", Alice()).ok());
  REQUIRE(f.reg->Archive("churn", 2, Alice()).ok());
  REQUIRE(f.reg->CreateDraft("churn", 3, Alice()).ok());
  REQUIRE(f.reg->DiscardDraft("churn", 3, Alice()).ok());
  REQUIRE(f.reg->Gc(GcOptions{}, Alice()).ok());  // drops archived churn@2 and its blob
  REQUIRE(f.reg->AuditDenied(Alice(), "promote", "churn", "churn/prod -> v1", "no", 1, "prod").ok());

  std::vector<std::string> got;
  REQUIRE(f.reg->Read()->ForEachAudit(0, [&](const AuditRecord& r) {
    got.push_back(r.action + " " + r.model + " " + std::to_string(r.version) + " [" + r.alias + "]");
    return true;
  }).ok());
  CHECK(got == std::vector<std::string>{
                   "create churn 0 []",
                   "push churn 1 []",
                   "push churn 2 []",
                   "alias churn 2 [staging]",
                   "set churn 1 []",
                   "alias churn 1 [production]",
                   "unalias churn 2 [staging]",
                   "archive churn 2 []",
                   "draft churn 3 []",
                   "discard churn 3 []",
                   "gc churn 2 []",
                   "gc  0 []",  // the unreferenced blobs: registry-wide
                   "promote churn 1 [prod]",
               });
}

TEST_CASE("audit records written before version and alias were fields still decode",
          "[audit]") {
  // The encoding of format 1 before the fields existed.
  nlohmann::json old = {{"q", 7},        {"t", 1700000000000000000}, {"u", 1001},
                        {"un", "alice"}, {"a", "alias"},             {"m", "churn"},
                        {"o", "churn/production"}, {"b", "v1"},      {"af", "v2"},
                        {"ok", true},    {"r", ""}};
  AuditRecord r;
  REQUIRE(Decode(Cbor(old), &r).ok());
  CHECK(r.seq == 7);
  CHECK(r.version == 0);
  CHECK(r.alias.empty());
  CHECK(r.object == "churn/production");
  CHECK(r.after == "v2");

  // And when read from the index.
  DamageFixture f;
  uint64_t last = f.reg->Read()->LastAuditSeq();
  f.reg.reset();
  for (const char* field : {"v", "al"})
    REQUIRE(testing::SetRecordField(f.root, "audit", lmdb::Key64(last), field,
                                    nlohmann::json(nlohmann::json::value_t::discarded)) == "");
  f.reg = std::move(*Registry::Open(f.root));
  AuditRecord back;
  REQUIRE(f.reg->Read()->ForEachAudit(last - 1, [&](const AuditRecord& a) {
    back = a;
    return true;
  }).ok());
  CHECK(back.seq == last);
  CHECK(back.action == "alias");
  CHECK(back.version == 0);
  CHECK(back.alias.empty());
  CHECK(back.object == "churn/production");
}

TEST_CASE("audit records carry the host that wrote them; older ones decode without it",
          "[audit]") {
  AuditRecord r;
  r.seq = 3;
  r.action = "alias";
  r.host = "host-b";
  AuditRecord back;
  REQUIRE(Decode(Encode(r), &back).ok());
  CHECK(back.host == "host-b");
  CHECK(back == r);
  // A record without the field (written before hosts were recorded) reads
  // with no host, and re-encodes to the same bytes.
  nlohmann::json old = {{"q", 7}, {"t", 1}, {"u", 0}, {"un", "root"}, {"a", "gc"},
                        {"m", ""}, {"v", 0}, {"al", ""}, {"o", "blobs"}, {"b", ""},
                        {"af", ""}, {"ok", true}, {"r", ""}};
  REQUIRE(Decode(Cbor(old), &back).ok());
  CHECK(back.host.empty());
  CHECK(Encode(back) == Cbor(old));

  // Written through the registry: the host of the ROOT (the hostname here).
  DamageFixture f;
  AuditRecord last;
  REQUIRE(f.reg->Read()->ForEachAudit(0, [&](const AuditRecord& a) {
    last = a;
    return true;
  }).ok());
  CHECK(!last.host.empty());
  CHECK(last.host == f.reg->host());
  CHECK(f.reg->host() == MachineHostName());
}

// Found by tests/fuzz/records_fuzz: bytes that made the decoder throw or
// overflow the stack, messages that carried raw bytes, and a field that
// did not survive decode then encode.
TEST_CASE("bytes no record holds decode to Corrupt: huge lengths, deep nesting", "[records]") {
  using Catch::Contains;
  Version v;
  Status st;
  // A map and an array whose length is past what a container can hold:
  // nlohmann throws there even when asked not to.
  for (std::string bytes : {std::string("\xbb\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a", 9),
                            std::string("\x9b\xff\xff\xff\xff\xff\xff\xff\xff", 9)}) {
    REQUIRE_NOTHROW(st = Decode(bytes, &v));
    CHECK(st.code() == Code::kCorrupt);
  }
  // A megabyte of arrays in arrays: one level of recursion each in a plain
  // from_cbor, which overflows the stack.
  std::string deep = std::string(1 << 20, '\x81') + '\x00';
  REQUIRE_NOTHROW(st = Decode(deep, &v));
  CHECK(st.code() == Code::kCorrupt);
  CHECK_THAT(st.message(), Contains("nested more than 16 deep"));
  // Records themselves are two deep (a map of maps) and still decode.
  REQUIRE(Decode(Encode(SomeVersion()), &v).ok());
  CHECK(v == SomeVersion());
}

TEST_CASE("a damaged field's text is shown escaped, on one line", "[records]") {
  Version v;
  Status st = Decode(WithField(SomeVersion(), "n", "del\x7f c1\xc2\x9b nl\n"), &v);
  CHECK(st.code() == Code::kCorrupt);
  CHECK_THAT(st.message(), Catch::Contains("\"del\\x7f c1\\u009b nl\\n\""));
  CHECK(CheckEntryPath(st.message()).ok());  // valid UTF-8, no control characters
  st = Decode(WithField(SomeVersion(), "t", nlohmann::json::object({{"k\x7f", 1}})), &v);
  CHECK_THAT(st.message(), Catch::Contains("key \"k\\x7f\""));
}

TEST_CASE("a directory entry decodes without a digest, as it is encoded", "[records]") {
  nlohmann::json j = {{"id", 5}, {"p", 2}, {"n", "conf"}, {"m", 040555},
                      {"dg", nlohmann::json::binary(std::vector<uint8_t>(16, 1))}};
  Entry e;
  REQUIRE(Decode(Cbor(j), &e).ok());
  CHECK(e.is_dir());
  CHECK(e.digest == Digest{});
  Entry again;
  REQUIRE(Decode(Encode(e), &again).ok());
  CHECK(again == e);
  // A file keeps its digest.
  j["m"] = 0100444;
  REQUIRE(Decode(Cbor(j), &e).ok());
  CHECK(e.digest.bytes[0] == 1);
}
