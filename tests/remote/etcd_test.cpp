// The etcd client (index/remote/etcd.h) against a real etcd 3.4 through its
// JSON gateway, started once per ctest run by tests/fixtures/etcd.sh
// (fixture "etcd"). Each test works under a prefix of its own.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "index/remote/etcd.h"
#include "tests/remote/endpoints.h"

using namespace modelfs;
using namespace modelfs::remote;
using namespace modelfs::testing;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> Endpoints() { return SplitComma(FixtureEnv("MODELFS_ETCD_ENV")["ETCD_ENDPOINTS"]); }

std::string Prefix() { return UniqueName("test") + "/"; }

// What a watch delivered, for the test thread to wait on.
struct Collected {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<EtcdWatchResponse> responses;
  std::vector<EtcdEvent> events;
  bool ended = false;
  Status end;

  // Waits (at most `limit`) until `pred` holds.
  template <class Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, limit, [&] { return pred(); });
  }
};

std::unique_ptr<EtcdWatch> WatchInto(const EtcdClient& etcd, const std::string& prefix, int64_t from,
                                     Collected& c) {
  return etcd.Watch(
      prefix, PrefixEnd(prefix), from,
      [&c](const EtcdWatchResponse& r) {
        std::lock_guard lk(c.mu);
        c.responses.push_back(r);
        c.events.insert(c.events.end(), r.events.begin(), r.events.end());
        c.cv.notify_all();
        return true;
      },
      [&c](const Status& s) {
        std::lock_guard lk(c.mu);
        c.ended = true;
        c.end = s;
        c.cv.notify_all();
      });
}

}  // namespace

TEST_CASE("put, range and delete-range with binary keys and values", "[etcd]") {
  EtcdClient etcd(Endpoints());
  std::string p = Prefix();
  std::string binary_key = p + std::string("k\0\xff\x01", 4);
  std::string binary_value("v\0\xfe", 3);
  auto r1 = etcd.Put(p + "a", "1");
  REQUIRE_OK(r1);
  auto r2 = etcd.Put(binary_key, binary_value);
  REQUIRE_OK(r2);
  CHECK(*r2 == *r1 + 1);
  REQUIRE_OK(etcd.Put(p + "a", ""));  // an empty value (omitted on the wire)

  auto all = etcd.Range(p, PrefixEnd(p));
  REQUIRE_OK(all);
  REQUIRE(all->kvs.size() == 2);
  CHECK(all->count == 2);
  CHECK(all->kvs[0].key == p + "a");
  CHECK(all->kvs[0].value.empty());
  CHECK(all->kvs[0].version == 2);
  CHECK(all->kvs[0].create_revision == *r1);
  CHECK(all->kvs[0].mod_revision == *r2 + 1);
  CHECK(all->kvs[1].key == binary_key);
  CHECK(all->kvs[1].value == binary_value);
  CHECK(all->revision >= *r2 + 1);

  // The past: the value at the first put's revision.
  auto past = etcd.Range(p + "a", "", *r1);
  REQUIRE_OK(past);
  REQUIRE(past->kvs.size() == 1);
  CHECK(past->kvs[0].value == "1");

  auto one = etcd.Range(p, PrefixEnd(p), 0, 1);
  REQUIRE_OK(one);
  CHECK(one->kvs.size() == 1);
  CHECK(one->more);
  CHECK(one->count == 2);

  auto deleted = etcd.DeleteRange(p, PrefixEnd(p));
  REQUIRE_OK(deleted);
  CHECK(*deleted == 2);
  auto none = etcd.Range(p, PrefixEnd(p));
  REQUIRE_OK(none);
  CHECK(none->kvs.empty());
  CHECK(none->count == 0);
  CHECK(*etcd.DeleteRange(p + "a") == 0);
}

TEST_CASE("a txn whose compare fails changes nothing; one whose compare holds commits", "[etcd]") {
  EtcdClient etcd(Endpoints());
  std::string k = Prefix() + "alias";
  auto created = etcd.Put(k, "v1");
  REQUIRE_OK(created);
  auto moved = etcd.Put(k, "v2");  // someone moved it after we read v1
  REQUIRE_OK(moved);

  // Decided on the stale read (mod_revision of v1): loses, and the failure
  // branch reads the current state.
  auto lost = etcd.Txn({EtcdCompare::ModRevision(k, *created)}, {EtcdOp::Put(k, "v3")},
                       {EtcdOp::Range(k)});
  REQUIRE_OK(lost);
  CHECK(!lost->succeeded);
  CHECK(lost->revision == *moved);  // nothing written
  REQUIRE(lost->responses.size() == 1);
  REQUIRE(lost->responses[0].kvs.size() == 1);
  CHECK(lost->responses[0].kvs[0].value == "v2");
  CHECK(lost->responses[0].kvs[0].mod_revision == *moved);

  // Re-decided on the fresh read: wins.
  auto won = etcd.Txn({EtcdCompare::ModRevision(k, *moved)}, {EtcdOp::Put(k, "v3")}, {EtcdOp::Range(k)});
  REQUIRE_OK(won);
  CHECK(won->succeeded);
  CHECK(won->revision == *moved + 1);
  CHECK(etcd.Range(k)->kvs[0].value == "v3");

  // Create-if-absent (version 0) and compare on the value.
  std::string fresh = k + "-new";
  CHECK(etcd.Txn({EtcdCompare::Version(fresh, 0)}, {EtcdOp::Put(fresh, "x")})->succeeded);
  CHECK(!etcd.Txn({EtcdCompare::Version(fresh, 0)}, {EtcdOp::Put(fresh, "y")})->succeeded);
  CHECK(!etcd.Txn({EtcdCompare::Value(fresh, "y")}, {EtcdOp::Delete(fresh)})->succeeded);
  CHECK(etcd.Txn({EtcdCompare::Value(fresh, "x")}, {EtcdOp::Delete(fresh)})->succeeded);
  CHECK(etcd.Range(fresh)->kvs.empty());
}

TEST_CASE("two txns racing on one key: exactly one wins, and no update is lost", "[etcd]") {
  EtcdClient etcd(Endpoints());
  std::string k = Prefix() + "next";
  REQUIRE_OK(etcd.Put(k, "0"));

  // Each round: both read the same mod_revision, then both commit at once.
  for (int round = 0; round < 10; ++round) {
    auto read = etcd.Range(k);
    REQUIRE_OK(read);
    int64_t rev = read->kvs.at(0).mod_revision;
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    bool wins[2] = {false, false};
    Status errors[2];
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        ready++;
        while (!go.load()) std::this_thread::yield();
        auto r = etcd.Txn({EtcdCompare::ModRevision(k, rev)}, {EtcdOp::Put(k, "host" + std::to_string(t))});
        if (r.ok()) wins[t] = r->succeeded;
        else errors[t] = r.status();
      });
    }
    while (ready.load() < 2) std::this_thread::yield();
    go = true;
    for (auto& th : threads) th.join();
    INFO("round " << round << ": " << errors[0].message() << " / " << errors[1].message());
    REQUIRE(errors[0].ok());
    REQUIRE(errors[1].ok());
    CHECK(wins[0] + wins[1] == 1);
  }

  // A counter incremented by 4 threads, each re-reading after a lost
  // compare: every increment lands.
  REQUIRE_OK(etcd.Put(k, "0"));
  constexpr int kThreads = 4, kEach = 10;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        for (;;) {
          auto cur = etcd.Range(k);
          if (!cur.ok()) return;
          const auto& kv = cur->kvs.at(0);
          auto r = etcd.Txn({EtcdCompare::ModRevision(k, kv.mod_revision)},
                            {EtcdOp::Put(k, std::to_string(std::stoi(kv.value) + 1))});
          if (!r.ok()) return;
          if (r->succeeded) break;
          conflicts++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(etcd.Range(k)->kvs.at(0).value == std::to_string(kThreads * kEach));
  WARN("conflicts retried: " << conflicts.load());
}

TEST_CASE("a watch sees every event of its prefix in revision order", "[etcd]") {
  EtcdClient etcd(Endpoints());
  std::string p = Prefix();
  auto start = etcd.Put(p + "before", "x");  // before the watch's revision: not seen
  REQUIRE_OK(start);
  Collected c;
  auto watch = WatchInto(etcd, p, *start + 1, c);

  std::vector<int64_t> revs;
  for (int i = 0; i < 20; ++i) {
    auto r = etcd.Put(p + "k" + std::to_string(i % 3), std::to_string(i));
    REQUIRE_OK(r);
    revs.push_back(*r);
  }
  REQUIRE_OK(etcd.Put("elsewhere-" + p, "not watched"));
  auto txn = etcd.Txn({}, {EtcdOp::Delete(p + "k0"), EtcdOp::Put(p + "k9", "t")});
  REQUIRE_OK(txn);
  REQUIRE(c.WaitFor([&] { return c.events.size() >= 22; }));
  watch.reset();  // stops the stream and joins

  REQUIRE(c.events.size() == 22);
  for (int i = 0; i < 20; ++i) {
    INFO("event " << i);
    CHECK(c.events[i].type == EtcdEvent::Type::kPut);
    CHECK(c.events[i].kv.key == p + "k" + std::to_string(i % 3));
    CHECK(c.events[i].kv.value == std::to_string(i));
    CHECK(c.events[i].kv.mod_revision == revs[i]);
  }
  // One txn, one revision, its events in the order written.
  CHECK(c.events[20].type == EtcdEvent::Type::kDelete);
  CHECK(c.events[20].kv.key == p + "k0");
  CHECK(c.events[20].kv.mod_revision == txn->revision);
  CHECK(c.events[21].type == EtcdEvent::Type::kPut);
  CHECK(c.events[21].kv.mod_revision == txn->revision);
  for (size_t i = 1; i < c.events.size(); ++i) CHECK(c.events[i].kv.mod_revision >= c.events[i - 1].kv.mod_revision);
  CHECK(c.responses.front().created);
}

TEST_CASE("a watch from a compacted revision is canceled with the compact revision", "[etcd]") {
  EtcdClient etcd(Endpoints());
  std::string p = Prefix();
  auto first = etcd.Put(p + "a", "1");
  REQUIRE_OK(first);
  auto last = etcd.Put(p + "a", "2");
  REQUIRE_OK(last);
  REQUIRE_OK(etcd.Compact(*last));

  // The history before `last` is gone: a range there says so...
  Status old = etcd.Range(p + "a", "", *first).status();
  CHECK(old.code() == Code::kNotFound);
  CHECK(old.message().find("compacted") != std::string::npos);

  // ...and a watch from there is canceled, naming the compaction.
  Collected c;
  auto watch = WatchInto(etcd, p, *first, c);
  REQUIRE(c.WaitFor([&] { return c.ended; }));
  CHECK(c.end.ok());
  REQUIRE(!c.responses.empty());
  CHECK(c.responses.back().canceled);
  CHECK(c.responses.back().compact_revision == *last);
  CHECK(c.events.empty());
  CHECK(watch->done());

  // From the compact revision on, the watch works (the replica's re-sync).
  Collected again;
  auto resumed = WatchInto(etcd, p, *last, again);
  REQUIRE(again.WaitFor([&] { return again.events.size() == 1; }));
  CHECK(again.events[0].kv.value == "2");
}

TEST_CASE("a lease keeps its keys alive until revoked", "[etcd]") {
  EtcdClient etcd(Endpoints());
  std::string k = Prefix() + "host-a";
  auto lease = etcd.LeaseGrant(30);
  REQUIRE_OK(lease);
  CHECK(lease->id != 0);
  CHECK(lease->ttl == 30);
  REQUIRE_OK(etcd.Put(k, "alive", lease->id));
  CHECK(etcd.Range(k)->kvs.at(0).lease == lease->id);
  auto ttl = etcd.LeaseKeepAlive(lease->id);
  REQUIRE_OK(ttl);
  CHECK(*ttl == 30);
  REQUIRE_OK(etcd.LeaseRevoke(lease->id));
  CHECK(etcd.Range(k)->kvs.empty());  // the lease's keys went with it
  CHECK(etcd.LeaseKeepAlive(lease->id).status().code() == Code::kNotFound);
  CHECK(etcd.LeaseRevoke(lease->id).code() == Code::kNotFound);
}

TEST_CASE("an endpoint that does not answer is passed over for the next", "[etcd]") {
  RetryPolicy quick;
  quick.attempts = 2;
  quick.first_backoff = 10ms;
  std::vector<std::string> eps{"http://127.0.0.1:" + std::to_string(ClosedPort())};
  eps.push_back(Endpoints().at(0));
  EtcdClient etcd(eps, quick);
  std::string k = Prefix() + "k";
  REQUIRE_OK(etcd.Put(k, "v"));
  CHECK(etcd.Range(k)->kvs.at(0).value == "v");

  EtcdClient dead({eps[0]}, quick);
  Status s = dead.Put(k, "w").status();
  CHECK(s.code() == Code::kIO);
  CHECK(s.message().find("127.0.0.1") != std::string::npos);
}

TEST_CASE("an endpoint that hangs is given up on after one timeout, not one per attempt", "[etcd]") {
  // A listening socket that never accepts: connections complete (the
  // kernel's backlog), requests are never answered, as with a member
  // frozen by SIGSTOP.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(fd, 16) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  RetryPolicy p;
  p.attempts = 3;
  p.first_backoff = 10ms;
  p.timeout = 700ms;
  std::string hung = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  EtcdClient etcd({hung, Endpoints().at(0)}, p);
  std::string k = Prefix() + "hung";
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE_OK(etcd.Put(k, "v"));
  // One timeout (0.7 s) and the good member's answer; retrying the hung
  // one first would take 3 x 0.7 s.
  CHECK(std::chrono::steady_clock::now() - t0 < 1400ms);
  t0 = std::chrono::steady_clock::now();
  CHECK(etcd.Range(k)->kvs.at(0).value == "v");  // the member that answered is asked first
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);

  EtcdClient alone({hung}, p);
  Status s = alone.Range(k).status();
  CHECK(s.code() == Code::kIO);
  CHECK(s.message().find(hung) != std::string::npos);
  CHECK(s.message().find("3 rounds") != std::string::npos);
  close(fd);
}
