// Replication (index/replication.h) without a server: the change-set
// encoding, the etcd and S3 key mapping of the engine, and two replicas of
// one registry on an in-memory index of record (the JuiceFS way: an engine
// for tests beside the real one), which shows that every write is recorded,
// applied in order on the other replica, and re-run on a conflict.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>

#include <map>
#include <mutex>

#include "fixture.h"
#include "index/remote/engine.h"
#include "index/write_txn.h"

namespace modelfs {
namespace {

using testing::Alice;
using testing::TempDir;
using testing::WriteFile;

TEST_CASE("a change set encodes and decodes to itself") {
  std::vector<Change> in = {
      {"models", "churn", std::string("{\"id\":3}")},
      {"entries", std::string("\0\0\0\0\0\0\0\x07w.bin", 13), std::string("\x01\x02\0\xff", 4)},
      {"aliases", std::string("\0\0\0\0\0\0\0\x03prod", 12), std::nullopt},
      {"meta", "next_id", std::string()},  // an empty value is a put, not a delete
  };
  auto out = DecodeChanges(EncodeChanges(in));
  REQUIRE(out.ok());
  CHECK(*out == in);
  auto none = DecodeChanges(EncodeChanges({}));
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("a damaged change set is Corrupt, never half read") {
  std::string good = EncodeChanges({{"models", "churn", std::string("x")}});
  CHECK(DecodeChanges("").status().code() == Code::kCorrupt);
  CHECK(DecodeChanges("XXXX" + good.substr(4)).status().code() == Code::kCorrupt);
  for (size_t cut = 5; cut < good.size(); ++cut)
    CHECK(DecodeChanges(good.substr(0, cut)).status().code() == Code::kCorrupt);
  std::string bad_kind = good;
  bad_kind[4] = 'Q';
  CHECK(DecodeChanges(bad_kind).status().code() == Code::kCorrupt);
  // A table no host replicates (drafts' files are each host's own).
  auto other = DecodeChanges(EncodeChanges({{"drafts", "k", std::string("v")}}));
  CHECK(other.status().code() == Code::kCorrupt);
  CHECK(other.status().message().find("drafts") != std::string::npos);
}

TEST_CASE("the replicated tables are listed once") {
  for (const char* t : {"meta", "models", "versions", "entries", "aliases", "audit"})
    CHECK(IsReplicatedTable(t));
  CHECK_FALSE(IsReplicatedTable("staging"));
}

TEST_CASE("etcd and S3 keys of the engine") {
  remote::RegistrySettings s;
  REQUIRE(remote::ParseS3Url("s3://models/team/reg/", &s).ok());
  CHECK(s.s3_bucket == "models");
  CHECK(s.s3_prefix == "team/reg/");
  auto d = Digest::FromHex("0123456789abcdef0123456789abcdef");
  REQUIRE(d.ok());
  CHECK(remote::BlobKey(s, *d) == "team/reg/blobs/01/23456789abcdef0123456789abcdef");
  CHECK(remote::LogKey("/m/", 26) == "/m/log/000000000000001a");
  CHECK(remote::LogSeq("/m/", "/m/log/000000000000001a") == 26u);
  CHECK_FALSE(remote::LogSeq("/m/", "/m/head"));
  CHECK_FALSE(remote::LogSeq("/m/", "/m/log/00000000000000zz"));
  CHECK_FALSE(remote::LogSeq("/n/", "/m/log/000000000000001a"));
  // Log keys sort by number: a range read returns commits in order.
  CHECK(remote::LogKey("/m/", 9) < remote::LogKey("/m/", 10));
  CHECK(remote::LogKey("/m/", 255) < remote::LogKey("/m/", 256));
  REQUIRE(remote::ParseS3Url("s3://b", &s).ok());
  CHECK(s.s3_prefix == "");
  CHECK_FALSE(remote::ParseS3Url("http://b/x", &s).ok());
  CHECK_FALSE(remote::ParseS3Url("s3:///x", &s).ok());
}

TEST_CASE("registry.toml reads back what init wrote, and refuses the unknown") {
  remote::RegistrySettings s;
  s.etcd = {"http://a:2379", "http://b:2379"};
  s.etcd_prefix = "/x \"q\"/";
  REQUIRE(remote::ParseS3Url("s3://bucket/p", &s).ok());
  s.s3_endpoint = "http://s3:8080";
  s.credentials = "/etc/modelfs/creds";
  auto back = remote::ParseSettings(remote::FormatSettings(s), "registry.toml");
  REQUIRE(back.ok());
  CHECK(back->etcd == s.etcd);
  CHECK(back->etcd_prefix == s.etcd_prefix);
  CHECK(back->s3_bucket == "bucket");
  CHECK(back->s3_prefix == "p/");
  CHECK(back->s3_endpoint == s.s3_endpoint);
  CHECK(back->credentials == s.credentials);
  auto unknown = remote::ParseSettings(remote::FormatSettings(s) + "secret = \"x\"\n", "r.toml");
  CHECK(unknown.status().code() == Code::kInvalid);
}

// ------------------------------------------------- an in-memory engine

// The index of record: a log of commits and an object store, shared by the
// replicas of one test.
struct MemoryRecord {
  std::mutex mu;
  std::vector<std::vector<Change>> commits;  // commit N at [N-1]
  std::map<Digest, std::string> objects;
  int conflicts = 0;
  // Run once, at the next commit, before it is decided (another host's
  // commit slipping in between a replica's catch-up and its commit).
  std::function<void()> before_next_commit;
};

class MemoryReplication : public Replication {
 public:
  explicit MemoryReplication(MemoryRecord* rec) : rec_(rec) {}
  Status CatchUp(Registry& reg) override {
    for (;;) {
      auto pos = reg.Position();
      if (!pos.ok()) return pos.status();
      std::vector<Change> next;
      {
        std::lock_guard<std::mutex> g(rec_->mu);
        if (pos->seq >= rec_->commits.size()) return Status::Ok();
        next = rec_->commits[pos->seq];
      }
      MODELFS_RETURN_IF_ERROR(
          reg.ApplyCommit({pos->seq + 1, static_cast<int64_t>(pos->seq + 1)}, next));
    }
  }
  Result<std::optional<ReplicaPosition>> Commit(Registry& reg, const ChangeSet& set,
                                                const ReplicaPosition& base) override {
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> g(rec_->mu);
      hook = std::move(rec_->before_next_commit);
      rec_->before_next_commit = nullptr;
    }
    if (hook) hook();
    std::lock_guard<std::mutex> g(rec_->mu);
    for (const Digest& d : set.blobs) rec_->objects[d] = testing::ReadFile(reg.blobs().PathOf(d));
    if (base.seq != rec_->commits.size()) {
      ++rec_->conflicts;
      return std::optional<ReplicaPosition>();
    }
    rec_->commits.push_back(set.changes);
    uint64_t seq = rec_->commits.size();
    return std::optional<ReplicaPosition>(ReplicaPosition{seq, static_cast<int64_t>(seq)});
  }
  Status FetchBlobTo(const Digest& d, int fd, uint64_t* size) override {
    std::lock_guard<std::mutex> g(rec_->mu);
    auto it = rec_->objects.find(d);
    if (it == rec_->objects.end()) return Status::NotFound("no object " + d.hex());
    const std::string& body = it->second;
    if (pwrite(fd, body.data(), body.size(), 0) != static_cast<ssize_t>(body.size()))
      return Status::FromErrno("pwrite", errno);
    *size = body.size();
    return Status::Ok();
  }
  Status Follow(Registry& reg) override { return CatchUp(reg); }

 private:
  MemoryRecord* rec_;
};

// A host: a ROOT with registry.toml, opened on the shared record.
struct Host {
  TempDir tmp;
  std::string root = tmp.path + "/reg";
  std::unique_ptr<Registry> reg;
  explicit Host(MemoryRecord* rec) {
    REQUIRE(Registry::Init(root, "# policy\n").ok());
    WriteFile(root + "/registry.toml", "# the memory engine\n");
    SetReplicationFactory([rec](const std::string&) -> Result<std::unique_ptr<Replication>> {
      return std::unique_ptr<Replication>(new MemoryReplication(rec));
    });
    auto r = Registry::Open(root);
    SetReplicationFactory(nullptr);
    REQUIRE(r.ok());
    reg = std::move(*r);
    REQUIRE(reg->multi_host());
    REQUIRE(reg->CatchUp().ok());
  }
  Result<Version> Push(const std::string& model, const std::string& bytes) {
    WriteFile(tmp.path + "/src/w.bin", bytes);
    PushRequest req;
    req.model = model;
    req.paths = {tmp.path + "/src"};
    return reg->Push(req, Alice());
  }
};

TEST_CASE("a multi-host ROOT cannot be opened without an engine") {
  TempDir tmp;
  std::string root = tmp.path + "/reg";
  REQUIRE(Registry::Init(root, "# policy\n").ok());
  WriteFile(root + "/registry.toml", "etcd = []\n");
  auto r = Registry::Open(root);
  CHECK(r.status().code() == Code::kInvalid);
  CHECK(r.status().message().find("multi-host") != std::string::npos);
}

TEST_CASE("a single-host write records no change set") {
  testing::Fixture f;
  CHECK_FALSE(f.reg->multi_host());
  int runs = 0;
  Status st = f.reg->Write([&](WriteTxn& t) -> Status {
    ++runs;
    auto m = NewModel(t, "churn", Alice());
    REQUIRE(m.ok());
    MODELFS_RETURN_IF_ERROR(t.PutModel(*m));
    CHECK(t.changes().empty());
    return t.Commit();
  });
  CHECK(st.ok());
  CHECK(runs == 1);
}

TEST_CASE("what one replica commits, the other applies: records and blobs") {
  MemoryRecord rec;
  Host a(&rec), b(&rec);
  auto v = a.Push("churn", "weights-1");
  REQUIRE(v.ok());
  REQUIRE(a.reg->SetAlias("churn", "production", 1, Alice()).ok());
  // push: create + version + audit records; alias: its own commit.
  CHECK(rec.commits.size() == 2);
  bool has_version = false;
  for (const Change& c : rec.commits[0]) has_version |= c.table == "versions" && c.value;
  CHECK(has_version);

  REQUIRE(b.reg->CatchUp().ok());
  auto snap = b.reg->Read();
  REQUIRE(snap.ok());
  auto got = snap->Resolve(Ref{"churn", 0, "production"});
  REQUIRE(got.ok());
  CHECK(got->number == 1);
  CHECK(got->digest == v->digest);
  CHECK(snap->LastAuditSeq() == a.reg->Read()->LastAuditSeq());
  auto pos = b.reg->Position();
  REQUIRE(pos.ok());
  CHECK(pos->seq == 2);

  // The blob is not on B until it is first read; then it is, verified.
  Digest d;
  REQUIRE(snap->ForEachPath(*got, [&](const std::string&, const Entry& e) {
    d = e.digest;
    return false;
  }).ok());
  CHECK_FALSE(b.reg->blobs().Exists(d));
  REQUIRE(b.reg->blobs().Ensure(d).ok());
  CHECK(testing::ReadFile(b.reg->blobs().PathOf(d)) == "weights-1");
}

TEST_CASE("a fetched blob that does not match its digest is refused and not kept") {
  MemoryRecord rec;
  Host a(&rec), b(&rec);
  REQUIRE(a.Push("churn", "weights-1").ok());
  REQUIRE(b.reg->CatchUp().ok());
  Digest d = rec.objects.begin()->first;
  rec.objects[d] = "weights-2";  // damaged in the store
  Status st = b.reg->blobs().Ensure(d);
  CHECK(st.code() == Code::kCorrupt);
  CHECK_FALSE(b.reg->blobs().Exists(d));
  rec.objects.erase(d);  // gone from the store
  CHECK(b.reg->blobs().Ensure(d).code() == Code::kNotFound);
  CHECK_FALSE(b.reg->blobs().Exists(d));
}

TEST_CASE("a conflict re-runs the whole write on the caught-up replica") {
  MemoryRecord rec;
  Host a(&rec), b(&rec);
  REQUIRE(a.Push("churn", "one").ok());
  // B catches up, decides churn@2, but A commits churn@2 first.
  rec.before_next_commit = [&] {
    rec.before_next_commit = nullptr;
    auto v = a.Push("churn", "two-from-a");
    REQUIRE(v.ok());
    CHECK(v->number == 2);
  };
  auto vb = b.Push("churn", "three-from-b");
  REQUIRE(vb.ok());
  CHECK(rec.conflicts == 1);
  CHECK(vb->number == 3);  // decided again: numbers stay consecutive
  REQUIRE(a.reg->CatchUp().ok());
  for (Host* h : {&a, &b}) {
    auto snap = h->reg->Read();
    REQUIRE(snap.ok());
    auto m = snap->GetModel("churn");
    REQUIRE(m.ok());
    CHECK(m->next_version == 4);
    std::vector<uint32_t> numbers;
    REQUIRE(snap->ForEachVersion(m->id, 0, [&](const Version& v) {
      numbers.push_back(v.number);
      return true;
    }).ok());
    CHECK(numbers == std::vector<uint32_t>{1, 2, 3});
  }
}

TEST_CASE("a gate re-runs on a conflict, on the state it commits on") {
  MemoryRecord rec;
  Host a(&rec), b(&rec);
  REQUIRE(a.Push("churn", "one").ok());
  REQUIRE(a.Push("churn", "two").ok());
  REQUIRE(b.reg->CatchUp().ok());
  // A archives churn@2 while B moves production to it: B's re-run sees it
  // archived and refuses, rather than point the alias at an archived version.
  rec.before_next_commit = [&] { REQUIRE(a.reg->Archive("churn", 2, Alice()).ok()); };
  int guard_runs = 0;
  Guard count = [&](const Snapshot&, const Version&, std::string*) {
    ++guard_runs;
    return Status::Ok();
  };
  Status st = b.reg->SetAlias("churn", "production", 2, Alice(), count);
  CHECK(st.code() == Code::kInvalid);
  CHECK(guard_runs == 1);  // the second run stopped at the target check
  CHECK(rec.conflicts == 1);
}

TEST_CASE("commits are applied in order, once, and a bad one changes nothing") {
  MemoryRecord rec;
  Host b(&rec);
  std::vector<Change> c1 = {{"models", "x", std::string("not read here")}};
  CHECK(b.reg->ApplyCommit({2, 2}, c1).code() == Code::kCorrupt);  // 1 is missing
  REQUIRE(b.reg->ApplyCommit({1, 1}, c1).ok());
  REQUIRE(b.reg->ApplyCommit({1, 1}, {}).ok());  // applied already: skipped
  std::vector<Change> bad = {{"models", "y", std::string("v")}, {"nosuch", "k", std::nullopt}};
  CHECK(b.reg->ApplyCommit({2, 2}, bad).code() == Code::kCorrupt);
  auto pos = b.reg->Position();
  REQUIRE(pos.ok());
  CHECK(pos->seq == 1);
  // Deleting a key the replica lacks is not an error (it converges).
  REQUIRE(b.reg->ApplyCommit({2, 5}, {{"models", "x", std::nullopt},
                                      {"aliases", "absent-key", std::nullopt}}).ok());
  pos = b.reg->Position();
  REQUIRE(pos.ok());
  CHECK(pos->seq == 2);
  CHECK(pos->revision == 5);
}

}  // namespace
}  // namespace modelfs
