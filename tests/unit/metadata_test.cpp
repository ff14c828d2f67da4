// Unit tests of index/metadata: the one table that names every metadata
// field (set key, xattr, JSON path) and validates its values.
#include "index/metadata.h"

#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

TEST_CASE("every settable key maps to one xattr and back", "[metadata]") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"metrics.auc", "user.metrics.auc"},
      {"params.lr", "user.params.lr"},
      {"tags.team", "user.tags.team"},
      {"lineage.parents", "user.lineage.parents"},
      {"lineage.datasets", "user.lineage.datasets"},
      {"lineage.code", "user.lineage.code"},
      {"lineage.run", "user.lineage.run"},
      {"description", "user.registry.description"},
  };
  for (const auto& [key, xattr] : table) {
    INFO(key);
    auto k = ParseMetaKey(key);
    REQUIRE(k.ok());
    CHECK(k->name() == key);
    CHECK(k->xattr() == xattr);
    auto back = MetaKeyOfXattr(xattr);
    REQUIRE(back);
    CHECK(*back == *k);
  }
  CHECK(ParseMetaKey("registry.description")->name() == "description");
}

TEST_CASE("keys that are not settable metadata are refused with a reason", "[metadata]") {
  for (const char* bad : {"state", "registry.state", "approval", "digest", "aliases", "version"}) {
    auto k = ParseMetaKey(bad);
    CHECK(k.status().code() == Code::kInvalid);
    CHECK(k.status().message().find("cannot be set") != std::string::npos);
  }
  auto unknown = ParseMetaKey("colour");
  CHECK(unknown.status().code() == Code::kInvalid);
  CHECK(unknown.status().message().find("metrics.K") != std::string::npos);  // names the keys
  CHECK(ParseMetaKey("metrics.").status().message().find("metrics.") == 0);
  CHECK_FALSE(ParseMetaKey("tags.a b").ok());
  CHECK_FALSE(ParseMetaKey("lineage.other").ok());
  CHECK_FALSE(MetaKeyOfXattr("user.registry.state"));
  CHECK_FALSE(MetaKeyOfXattr("user.lineage.other"));
  CHECK_FALSE(MetaKeyOfXattr("user.other.x"));
}

TEST_CASE("create-only and replace-only writes are decided against the record", "[metadata]") {
  Fixture f;
  f.Push("churn");
  auto set = [&](std::string key, std::optional<std::string> value, MetaExpect e) {
    return f.reg->SetMeta("churn", 1, {MetaChange{std::move(key), std::move(value), e}}, Alice());
  };
  CHECK(set("metrics.auc", "0.9", MetaExpect::kPresent).code() == Code::kNoData);
  CHECK(set("metrics.auc", "0.9", MetaExpect::kAbsent).ok());
  CHECK(set("metrics.auc", "0.8", MetaExpect::kAbsent).code() == Code::kExists);
  CHECK(set("metrics.auc", "0.7", MetaExpect::kPresent).ok());
  CHECK(set("description", "x", MetaExpect::kPresent).code() == Code::kNoData);
  CHECK(set("description", "x", MetaExpect::kAny).ok());
  CHECK(set("description", "y", MetaExpect::kAbsent).code() == Code::kExists);
  // Removing: a whole field that is unset is fine unless it must be there
  // (removexattr); a family key that is unset is always ENODATA.
  CHECK(set("lineage.code", std::nullopt, MetaExpect::kAny).ok());
  CHECK(set("lineage.code", std::nullopt, MetaExpect::kPresent).code() == Code::kNoData);
  CHECK(set("tags.none", std::nullopt, MetaExpect::kAny).code() == Code::kNoData);
  CHECK(set("description", std::nullopt, MetaExpect::kPresent).ok());
  auto v = f.reg->Read()->GetVersion("churn", 1);
  CHECK(v->metrics.at("auc") == 0.7);
  CHECK(v->description.empty());
  // A refused write changes nothing, in the record or the audit trail.
  uint64_t seq = f.reg->Read()->LastAuditSeq();
  CHECK(set("metrics.auc", "0.1", MetaExpect::kAbsent).code() == Code::kExists);
  CHECK(f.reg->Read()->LastAuditSeq() == seq);
  CHECK(f.reg->Read()->GetVersion("churn", 1)->metrics.at("auc") == 0.7);
}

TEST_CASE("values are validated per field", "[metadata]") {
  Fixture f;
  f.Push("features");
  f.Push("churn");
  f.Push("churn");
  auto set = [&](const std::string& key, const std::string& value) {
    return f.reg->SetMeta("churn", 2, {MetaChange{key, value}}, Alice());
  };
  CHECK(set("metrics.auc", "abc").code() == Code::kInvalid);
  CHECK(set("metrics.auc", "inf").code() == Code::kInvalid);
  CHECK(set("tags.big", std::string(kMaxMetaValue + 1, 'x')).code() == Code::kTooBig);
  CHECK(set("tags.fits", std::string(kMaxMetaValue, 'x')).ok());
  CHECK(set("lineage.parents", "features@9").code() == Code::kInvalid);   // no such version
  CHECK(set("lineage.parents", "churn@2").code() == Code::kInvalid);      // not earlier
  CHECK(set("lineage.parents", "churn").code() == Code::kInvalid);        // not MODEL@N
  CHECK(set("lineage.parents", "features@1, churn@1").ok());
  CHECK(set("lineage.datasets", "s3://x#xxh3:zz").code() == Code::kInvalid);
  CHECK(set("lineage.datasets", "s3://a,s3://b").ok());
  auto v = f.reg->Read()->GetVersion("churn", 2);
  CHECK(v->lineage.parents == std::vector<std::string>{"features@1", "churn@1"});
  CHECK(GetMeta(*v, *ParseMetaKey("lineage.datasets")) == "s3://a,s3://b");
  CHECK_FALSE(GetMeta(*v, *ParseMetaKey("lineage.run")));
}

TEST_CASE("xattrs and show --json come from the same table", "[metadata]") {
  Fixture f;
  Version v = f.Push("churn", {{"metrics.auc", "0.91"},
                               {"params.lr", "0.05"},
                               {"tags.team", "growth"},
                               {"lineage.code", "git+x"},
                               {"description", "first"}});
  auto snap = f.reg->Read();
  auto built = VersionAttributes(*snap, v);
  REQUIRE(built.ok());
  Attributes xs = *built;
  auto value = [&](const std::string& name) -> std::optional<std::string> {
    for (const auto& [k, x] : xs)
      if (k == name) return x;
    return std::nullopt;
  };
  CHECK(value("user.registry.version") == "1");
  CHECK(value("user.registry.state") == "ready");
  CHECK(value("user.registry.digest") == v.digest.hex());
  CHECK(value("user.metrics.auc") == "0.91");
  CHECK(value("user.params.lr") == "0.05");
  CHECK(value("user.tags.team") == "growth");
  CHECK(value("user.lineage.code") == "git+x");
  CHECK(value("user.registry.description") == "first");
  CHECK_FALSE(value("user.lineage.run"));  // unset: absent (ENODATA), not empty
  nlohmann::json j = MetaJson(v);
  CHECK(j["metrics"]["auc"] == 0.91);
  CHECK(j["params"]["lr"] == "0.05");
  CHECK(j["tags"]["team"] == "growth");
  CHECK(j["lineage"]["code"] == "git+x");
  CHECK(j["lineage"]["run"] == "");
  CHECK(j["lineage"]["parents"].is_array());
  CHECK(j["description"] == "first");
  // Every xattr of a settable field is the xattr of a key whose JSON path
  // holds the same value.
  for (const auto& [name, text] : xs) {
    auto k = MetaKeyOfXattr(name);
    if (!k) continue;
    INFO(name);
    CHECK(GetMeta(v, *k) == text);
  }
}

TEST_CASE("values and keys that are not UTF-8 are refused, changing nothing", "[metadata]") {
  Fixture f;
  f.Push("churn");
  uint64_t seq = f.reg->Read()->LastAuditSeq();
  for (const char* key : {"tags.x", "params.lr", "description", "lineage.code", "lineage.run",
                          "lineage.datasets"}) {
    INFO(key);
    Status st = f.reg->SetMeta("churn", 1, {MetaChange{key, "x\xff\xfe"}}, Alice());
    CHECK(st.code() == Code::kInvalid);
    CHECK(st.message().find("not valid UTF-8") != std::string::npos);
    CHECK(st.message().find("x\\xff\\xfe") != std::string::npos);  // escaped, not raw
  }
  CHECK(f.reg->SetMeta("churn", 1, {MetaChange{"tags.x\xff", "1"}}, Alice()).code() ==
        Code::kInvalid);
  CHECK(f.reg->Approve("churn", 1, true, "ok\xff", Alice()).code() == Code::kInvalid);
  CHECK(f.reg->Read()->LastAuditSeq() == seq);
  auto v = f.reg->Read()->GetVersion("churn", 1);
  CHECK(v->tags.empty());
  CHECK(v->description.empty());
  CHECK(v->approval.by.empty());
  // UTF-8 text, control characters included, is kept as given.
  CHECK(f.reg->SetMeta("churn", 1, {MetaChange{"description", "caf\xc3\xa9\nline 2"}}, Alice())
            .ok());
  CHECK(f.reg->Read()->GetVersion("churn", 1)->description == "caf\xc3\xa9\nline 2");
}

TEST_CASE("push refuses metadata that is not UTF-8 before it copies anything", "[metadata]") {
  Fixture f;
  PushRequest req;
  req.model = "churn";
  req.paths = {f.src};
  req.meta = {MetaChange{"tags.team", "gr\xffowth"}};
  auto v = f.reg->Push(req, Alice());
  CHECK(v.status().code() == Code::kInvalid);
  CHECK(f.reg->Read()->GetModel("churn").status().code() == Code::kNotFound);
}

TEST_CASE("a version's xattr names fit one listxattr: a key that would not is TooBig",
          "[metadata]") {
  Fixture f;
  f.Push("churn");
  REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  REQUIRE(f.reg->Approve("churn", 1, true, "ok", Alice()).ok());
  REQUIRE(f.reg->SetMeta("churn", 1,
                         {{"description", "d"}, {"lineage.code", "c"}, {"lineage.run", "r"},
                          {"lineage.datasets", "s3://x"}},
                         Alice())
              .ok());
  // Tags with the longest keys, one per write, until one is refused.
  auto tag = [](int i) { return "tags." + std::string(120, 'k') + std::to_string(1000 + i); };
  Status refused;
  int added = 0;
  for (; added < 1000; ++added) {
    refused = f.reg->SetMeta("churn", 1, {{tag(added), "v"}}, Alice());
    if (!refused.ok()) break;
  }
  CHECK(added > 400);  // 64 KiB of ~140-byte names
  CHECK(refused.code() == Code::kTooBig);
  CHECK(refused.message().find("65536") != std::string::npos);
  auto snap = f.reg->Read();
  auto v = snap->GetVersion("churn", 1);
  REQUIRE(v.ok());
  CHECK(v->tags.size() == static_cast<size_t>(added));
  // What the mount lists fits the limit, every registry attribute included.
  auto xs = VersionAttributes(*snap, *v);
  REQUIRE(xs.ok());
  size_t names = 0;
  for (const auto& [k, x] : *xs) names += k.size() + 1;
  CHECK(names <= kMaxXattrList);
  CHECK(names > kMaxXattrList - 200);  // the bound is close: nearly all of it is usable
  // Replacing and removing still work on a full version; once one name is
  // gone, the refused one fits.
  CHECK(f.reg->SetMeta("churn", 1, {{tag(0), "w"}}, Alice()).ok());
  CHECK(f.reg->SetMeta("churn", 1, {{tag(0), std::nullopt}}, Alice()).ok());
  CHECK(f.reg->SetMeta("churn", 1, {{tag(added), "v"}}, Alice()).ok());
  // push checks the same before storing anything.
  PushRequest req;
  req.model = "churn";
  req.paths = {f.src};
  for (int i = 0; i < added + 1; ++i) req.meta.push_back({tag(i), "v"});
  CHECK(f.reg->Push(req, Alice()).status().code() == Code::kTooBig);
}

// Found by tests/fuzz/metadata_fuzz: the message quoted the value raw.
TEST_CASE("a bad dataset is named escaped, on one line", "[metadata]") {
  Fixture f;
  f.Push("churn");
  Status st = f.reg->SetMeta("churn", 1, {MetaChange{"lineage.datasets", "s3://a\x01\n#xxh3:zz"}},
                             Alice());
  CHECK(st.code() == Code::kInvalid);
  CHECK_THAT(st.message(), Catch::Contains("s3://a\\x01\\n#xxh3:zz"));
  CHECK(CheckEntryPath(st.message()).ok());
}
