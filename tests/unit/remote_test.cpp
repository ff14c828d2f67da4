// Unit tests of the remote clients' pure parts (index/remote/): what is
// signed (query order and encoding, key paths, the body's SHA-256), S3's XML
// answers, and the mapping of etcd's JSON gateway messages (base64 bytes,
// int64 as strings, omitted defaults). The servers themselves are driven by
// tests/remote/.
#include <catch2/catch.hpp>

#include "index/remote/etcd.h"
#include "index/remote/s3.h"

using namespace modelfs;
using namespace modelfs::remote;
using nlohmann::json;

TEST_CASE("the body's SHA-256 is the standard digest", "[remote][s3]") {
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("query parameters are signed sorted and encoded", "[remote][s3]") {
  std::map<std::string, std::string> q{{"prefix", "m/a b+c"}, {"list-type", "2"},
                                       {"continuation-token", "x/y=="}, {"max-keys", "1000"}};
  CHECK(CanonicalQuery(q) ==
        "continuation-token=x%2Fy%3D%3D&list-type=2&max-keys=1000&prefix=m%2Fa%20b%2Bc");
  CHECK(CanonicalQuery({}) == "");
  CHECK(CanonicalQuery({{"prefix", ""}}) == "prefix=");
}

TEST_CASE("object paths keep '/' and encode everything else but unreserved bytes", "[remote][s3]") {
  CHECK(ObjectPath("bkt", "reg/blobs/ab/cdef") == "/bkt/reg/blobs/ab/cdef");
  CHECK(ObjectPath("bkt", "a b/~x_y-z.1*é") == "/bkt/a%20b/~x_y-z.1%2A%C3%A9");
  CHECK(ObjectPath("bkt", "") == "/bkt");
  CHECK(UriEncode("a/b", false) == "a%2Fb");
}

TEST_CASE("S3 errors keep their code and message and map to a Status", "[remote][s3]") {
  std::string xml =
      "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>BadDigest</Code><Message>The "
      "Content-MD5 you specified did not match &amp; what we received.</Message>"
      "<RequestId>tx1</RequestId></Error>";
  auto e = ParseS3Error(xml);
  REQUIRE(e);
  CHECK(e->code == "BadDigest");
  CHECK(e->message == "The Content-MD5 you specified did not match & what we received.");
  Status s = S3Status("PUT b/k", 400, xml);
  CHECK(s.code() == Code::kCorrupt);
  CHECK(s.message() ==
        "S3 PUT b/k: BadDigest: The Content-MD5 you specified did not match & what we received.");

  CHECK(S3Status("GET b/k", 404, "<Error><Code>NoSuchKey</Code><Message>m</Message></Error>").code() ==
        Code::kNotFound);
  CHECK(S3Status("HEAD b/k", 404, "").code() == Code::kNotFound);  // HEAD: no body
  CHECK(S3Status("GET b/k", 403, "<Error><Code>SignatureDoesNotMatch</Code></Error>").code() ==
        Code::kNoAccess);
  CHECK(S3Status("PUT b", 409, "<Error><Code>BucketAlreadyExists</Code></Error>").code() ==
        Code::kExists);
  CHECK(S3Status("PUT b/k", 400, "<Error><Code>EntityTooLarge</Code></Error>").code() ==
        Code::kTooBig);
  Status unavailable = S3Status("GET b/k", 503, "<html>busy</html>");
  CHECK(unavailable.code() == Code::kIO);
  CHECK(unavailable.message() == "S3 GET b/k: HTTP 503");
  CHECK(S3Status("GET b/k", 400, "<Error><Code>InvalidArgument</Code></Error>").code() ==
        Code::kInvalid);
}

TEST_CASE("a ListObjectsV2 page is read with its keys unescaped", "[remote][s3]") {
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "
      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>p/</Prefix>"
      "<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>tok&amp;1</NextContinuationToken>"
      "<Contents><Key>p/a&amp;b&lt;&#233;&#x4E2D;</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
      "<ETag>&quot;900150983cd24fb0d6963f7d28e17f72&quot;</ETag><Size>3</Size></Contents>"
      "<Contents><Key>p/z</Key><ETag>\"e\"</ETag><Size>18446744073709551615</Size></Contents>"
      "</ListBucketResult>";
  auto page = ParseListObjectsV2(xml);
  REQUIRE(page.ok());
  CHECK(page->truncated);
  CHECK(page->next_token == "tok&1");
  REQUIRE(page->objects.size() == 2);
  CHECK(page->objects[0].key == "p/a&b<\xC3\xA9\xE4\xB8\xAD");
  CHECK(page->objects[0].size == 3);
  CHECK(page->objects[0].etag == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(page->objects[1].size == 18446744073709551615ull);
  // LastModified, for gc's grace period: seconds since the epoch; unknown
  // (-1) when absent, so gc never takes an object of unknown age as old.
  CHECK(page->objects[0].modified_s == 1767225600);
  CHECK(page->objects[1].modified_s == -1);
  CHECK(ParseIsoTime("2026-11-27T22:10:03Z") == 1795817403);
  CHECK(ParseIsoTime("2026-11-27") == -1);
  CHECK(ParseIsoTime("yesterday") == -1);

  auto empty = ParseListObjectsV2("<ListBucketResult xmlns=\"x\"><Prefix/><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>");
  REQUIRE(empty.ok());
  CHECK(empty->objects.empty());
  CHECK(!empty->truncated);

  CHECK(!ParseListObjectsV2("<Error><Code>x</Code></Error>").ok());
  CHECK(!ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>"
                            "</ListBucketResult>").ok());
  CHECK(!ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>").ok());
}

TEST_CASE("base64 round-trips every byte and refuses what is not base64", "[remote][etcd]") {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= 5; ++n) {
    auto back = Base64Decode(Base64Encode(all.substr(0, n)));
    REQUIRE(back.ok());
    CHECK(*back == all.substr(0, n));
  }
  CHECK(*Base64Decode(Base64Encode(all)) == all);
  CHECK(Base64Encode("key") == "a2V5");
  CHECK(Base64Encode("k") == "aw==");
  CHECK(Base64Encode("ke") == "a2U=");
  for (const char* bad : {"a", "a2V", "a2V5a", "a=V5", "a2V5=", "aw==aw==", "a2U*", "a===", "=aaa"}) {
    INFO(bad);
    CHECK(Base64Decode(bad).status().code() == Code::kInvalid);
  }
}

TEST_CASE("a prefix's range end covers exactly the keys under it", "[remote][etcd]") {
  CHECK(PrefixEnd("reg/") == "reg0");
  CHECK(PrefixEnd("a\xff") == "b");
  CHECK(PrefixEnd(std::string("\xff\xff")) == std::string(1, '\0'));
  CHECK(PrefixEnd("") == std::string(1, '\0'));
}

TEST_CASE("gateway messages: int64 as strings, omitted defaults restored", "[remote][etcd]") {
  // A range as etcd 3.4's gateway writes it.
  json range = json::parse(R"({"header":{"cluster_id":"9676429747843324780","revision":"9223372036854775807"},
      "kvs":[{"key":"a2V5","create_revision":"2","mod_revision":"3","version":"2","value":"djI="},
             {"key":"ZW1wdHk=","create_revision":"4","mod_revision":"4","version":"1"}],"count":"2"})");
  auto r = ParseRange(range);
  REQUIRE(r.ok());
  CHECK(r->revision == INT64_MAX);
  CHECK(r->count == 2);
  CHECK(!r->more);
  REQUIRE(r->kvs.size() == 2);
  CHECK(r->kvs[0].key == "key");
  CHECK(r->kvs[0].value == "v2");
  CHECK(r->kvs[0].create_revision == 2);
  CHECK(r->kvs[0].mod_revision == 3);
  CHECK(r->kvs[0].version == 2);
  CHECK(r->kvs[0].lease == 0);
  CHECK(r->kvs[1].value.empty());  // an empty value is omitted

  // No kvs and no count at all: an empty range.
  auto none = ParseRange(json::parse(R"({"header":{"revision":"5"}})"));
  REQUIRE(none.ok());
  CHECK(none->kvs.empty());
  CHECK(none->count == 0);

  CHECK(ParseRange(json::parse(R"({"header":{"revision":"x5"}})")).status().code() == Code::kInvalid);
  CHECK(ParseRange(json::parse(R"({"kvs":[{"key":"!!!!"}]})")).status().code() == Code::kInvalid);
  CHECK(*JsonInt64(json::parse(R"({"n":42})"), "n") == 42);  // a number is taken too
  CHECK(!JsonInt64(json::parse(R"({"n":"42 "})"), "n").ok());
  CHECK(!JsonInt64(json::parse(R"({"n":true})"), "n").ok());

  // A txn whose compare failed: "succeeded" is omitted.
  auto lost = ParseTxn(json::parse(R"({"header":{"revision":"3"},
      "responses":[{"response_range":{"header":{"revision":"3"},"kvs":[{"key":"aw==","value":"dg==","mod_revision":"3","version":"1","create_revision":"3"}],"count":"1"}}]})"));
  REQUIRE(lost.ok());
  CHECK(!lost->succeeded);
  CHECK(lost->revision == 3);
  REQUIRE(lost->responses.size() == 1);
  REQUIRE(lost->responses[0].kvs.size() == 1);
  CHECK(lost->responses[0].kvs[0].value == "v");
  auto won = ParseTxn(json::parse(R"({"header":{"revision":"4"},"succeeded":true,
      "responses":[{"response_put":{"header":{"revision":"4"}}}]})"));
  REQUIRE(won.ok());
  CHECK(won->succeeded);
  CHECK(won->responses.size() == 1);
}

TEST_CASE("watch messages: PUT omitted, DELETE named, compaction reported", "[remote][etcd]") {
  auto ev = ParseWatchMessage(json::parse(R"({"result":{"header":{"revision":"7"},"events":[
      {"kv":{"key":"YQ==","create_revision":"5","mod_revision":"6","version":"1","value":"MQ=="}},
      {"type":"DELETE","kv":{"key":"Yg==","mod_revision":"7"}}]}})"));
  REQUIRE(ev.ok());
  CHECK(ev->revision == 7);
  REQUIRE(ev->events.size() == 2);
  CHECK(ev->events[0].type == EtcdEvent::Type::kPut);
  CHECK(ev->events[0].kv.key == "a");
  CHECK(ev->events[0].kv.value == "1");
  CHECK(ev->events[1].type == EtcdEvent::Type::kDelete);
  CHECK(ev->events[1].kv.key == "b");
  CHECK(ev->events[1].kv.mod_revision == 7);

  // What etcd 3.4's gateway sent for a watch from a compacted revision.
  auto compacted = ParseWatchMessage(json::parse(
      R"({"result":{"header":{"cluster_id":"1","member_id":"2","raft_term":"2"},"canceled":true,"compact_revision":"2"}})"));
  REQUIRE(compacted.ok());
  CHECK(compacted->canceled);
  CHECK(compacted->compact_revision == 2);
  CHECK(compacted->events.empty());

  auto created = ParseWatchMessage(json::parse(R"({"result":{"header":{"revision":"3"},"created":true}})"));
  REQUIRE(created.ok());
  CHECK(created->created);
  CHECK(!created->canceled);

  Status err = ParseWatchMessage(json::parse(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}})"))
                   .status();
  CHECK(err.code() == Code::kIO);
  CHECK(err.message() == "etcd watch: etcdserver: no leader");
  CHECK(ParseWatchMessage(json::parse(R"({"result":{"events":[{"type":"BOGUS","kv":{}}]}})")).status().code() ==
        Code::kInvalid);
}

TEST_CASE("compares and operations are written as the gateway reads them", "[remote][etcd]") {
  CHECK(CompareJson(EtcdCompare::ModRevision("k", 12)) ==
        json::parse(R"({"key":"aw==","target":"MOD","result":"EQUAL","mod_revision":"12"})"));
  CHECK(CompareJson(EtcdCompare::Version("k", 0)) ==
        json::parse(R"({"key":"aw==","target":"VERSION","result":"EQUAL","version":"0"})"));
  CHECK(CompareJson(EtcdCompare::Value("k", "v")) ==
        json::parse(R"({"key":"aw==","target":"VALUE","result":"EQUAL","value":"dg=="})"));
  CHECK(OpJson(EtcdOp::Put("k", "v", 9)) ==
        json::parse(R"({"request_put":{"key":"aw==","value":"dg==","lease":"9"}})"));
  CHECK(OpJson(EtcdOp::Delete("k", PrefixEnd("k"))) ==
        json::parse(R"({"request_delete_range":{"key":"aw==","range_end":"bA=="}})"));
  CHECK(OpJson(EtcdOp::Range("k")) == json::parse(R"({"request_range":{"key":"aw=="}})"));

  CHECK(EtcdStatus("/v3/kv/range", json::parse(R"({"error":"x","code":11,"message":"etcdserver: mvcc: required revision has been compacted"})"))
            .code() == Code::kNotFound);
  CHECK(EtcdStatus("/v3/kv/put", json::parse(R"({"code":8,"message":"etcdserver: mvcc: database space exceeded"})"))
            .code() == Code::kNoSpace);
  CHECK(EtcdStatus("/v3/kv/put", json::parse(R"({"code":3,"message":"etcdserver: key is not provided"})"))
            .message() == "etcd /v3/kv/put: etcdserver: key is not provided");
}
