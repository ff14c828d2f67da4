// The S3 client (index/remote/s3.h) against a real store: Swift with s3api,
// started once per ctest run by tests/fixtures/s3.sh (fixture "s3").
#include <poll.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "index/remote/s3.h"
#include "tests/remote/endpoints.h"

using namespace modelfs;
using namespace modelfs::remote;
using namespace modelfs::testing;

namespace {

S3Config Config() {
  auto env = FixtureEnv("MODELFS_S3_ENV");
  S3Config c;
  c.endpoint = env["S3_ENDPOINT"];
  c.region = env["S3_REGION"];
  c.access_key_id = env["AWS_ACCESS_KEY_ID"];
  c.secret_access_key = env["AWS_SECRET_ACCESS_KEY"];
  c.bucket = UniqueName("modelfs-test");
  return c;
}

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng{42};
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace

TEST_CASE("put, get, head, list and delete round-trip through Swift's s3api", "[s3]") {
  S3Client s3(Config());
  REQUIRE_OK(s3.CreateBucket());
  CHECK(s3.CreateBucket().code() == Code::kExists);

  const std::string big = RandomBytes(3 << 20);  // binary, several MiB
  const std::string odd = "reg/blobs/a b+c/é~*.bin";  // bytes that must be encoded
  REQUIRE_OK(s3.Put("reg/blobs/00/aa", "hello"));
  REQUIRE_OK(s3.Put("reg/blobs/01/bb", big));
  REQUIRE_OK(s3.Put(odd, ""));
  REQUIRE_OK(s3.Put("other/x", "not under the prefix"));

  auto hello = s3.Get("reg/blobs/00/aa");
  REQUIRE_OK(hello);
  CHECK(*hello == "hello");
  auto back = s3.Get("reg/blobs/01/bb");
  REQUIRE_OK(back);
  CHECK(back->size() == big.size());
  CHECK(*back == big);
  auto empty = s3.Get(odd);
  REQUIRE_OK(empty);
  CHECK(empty->empty());

  auto head = s3.Head("reg/blobs/01/bb");
  REQUIRE_OK(head);
  CHECK(head->size == big.size());
  CHECK(!head->etag.empty());

  // A replacement is whole.
  REQUIRE_OK(s3.Put("reg/blobs/00/aa", "hello again"));
  CHECK(*s3.Get("reg/blobs/00/aa") == "hello again");

  auto listed = s3.List("reg/");
  REQUIRE_OK(listed);
  REQUIRE(listed->size() == 3);
  CHECK((*listed)[0].key == "reg/blobs/00/aa");
  CHECK((*listed)[0].size == 11);
  CHECK((*listed)[1].key == "reg/blobs/01/bb");
  CHECK((*listed)[1].size == big.size());
  CHECK((*listed)[1].etag == head->etag);
  CHECK((*listed)[2].key == odd);

  // Pages of one key: continuation tokens followed to the end.
  auto paged = s3.List("reg/", 1);
  REQUIRE_OK(paged);
  REQUIRE(paged->size() == 3);
  CHECK((*paged)[2].key == odd);

  REQUIRE_OK(s3.Delete("reg/blobs/00/aa"));
  Status gone = s3.Get("reg/blobs/00/aa").status();
  CHECK(gone.code() == Code::kNotFound);
  CHECK(gone.message().find("NoSuchKey") != std::string::npos);
  CHECK(s3.Head("reg/blobs/00/aa").status().code() == Code::kNotFound);
  CHECK(s3.Delete("reg/blobs/00/aa").ok());  // already gone: not an error
  REQUIRE_OK(s3.Delete("reg/blobs/01/bb"));
  REQUIRE_OK(s3.Delete(odd));
  REQUIRE_OK(s3.Delete("other/x"));
  auto none = s3.List("reg/");
  REQUIRE_OK(none);
  CHECK(none->empty());
}

TEST_CASE("a body changed in transit is refused with BadDigest and stores nothing", "[s3]") {
  S3Client s3(Config());
  REQUIRE_OK(s3.CreateBucket());
  const std::string sent = "the bytes as they left";
  const std::string arrived = "the bytes as they came";  // same length, one flipped word
  Status s = s3.PutDeclaringSha256("blob", arrived, Sha256Hex(sent));
  CHECK(s.code() == Code::kCorrupt);
  CHECK(s.message().find("BadDigest") != std::string::npos);
  CHECK(s3.Head("blob").status().code() == Code::kNotFound);
  // The same store takes the honest request.
  REQUIRE_OK(s3.Put("blob", sent));
  CHECK(*s3.Get("blob") == sent);
  REQUIRE_OK(s3.Delete("blob"));
}

TEST_CASE("a wrong secret is refused by the signature check", "[s3]") {
  S3Config c = Config();
  c.secret_access_key = "wrong";
  S3Client s3(c);
  Status s = s3.Put("k", "v");
  CHECK(s.code() == Code::kNoAccess);
  CHECK(s.message().find("SignatureDoesNotMatch") != std::string::npos);
}

TEST_CASE("an absent bucket is NotFound", "[s3]") {
  S3Client s3(Config());  // a fresh name, never created
  Status s = s3.Get("k").status();
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.message().find("NoSuchBucket") != std::string::npos);
}

TEST_CASE("a store that does not answer fails after bounded retries", "[s3]") {
  S3Config c = Config();
  c.endpoint = "http://127.0.0.1:" + std::to_string(ClosedPort());
  c.retry.attempts = 3;
  c.retry.first_backoff = std::chrono::milliseconds(100);
  S3Client s3(c);
  auto start = std::chrono::steady_clock::now();
  Status s = s3.Put("k", "v");
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(s.code() == Code::kIO);
  CHECK(s.message().find("after 3 attempts") != std::string::npos);
  // Two backoffs of 100 ms and 200 ms, each +-50%: at least 150 ms.
  CHECK(took >= std::chrono::milliseconds(150));
  CHECK(took < std::chrono::seconds(5));
}

namespace {

// A one-thread HTTP server on 127.0.0.1 that answers each connection with
// the next of `replies` (then closes it), for retry tests. Each wait is
// bounded (poll, 10 s), so a client that never comes cannot hang the test.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> replies) : replies_(std::move(replies)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    REQUIRE(listen(fd_, 8) == 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // How many connections were answered, once the server has answered all
  // it will (it counts a reply after sending it: the client may have read
  // it before).
  int served() {
    if (thread_.joinable()) thread_.join();
    return served_.load();
  }

 private:
  void Serve() {
    for (const auto& reply : replies_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 10000) != 1) return;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 10000) != 1) break;
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, n);
      }
      (void)!write(c, reply.data(), reply.size());
      close(c);
      served_++;
    }
  }
  std::vector<std::string> replies_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> served_{0};
  std::thread thread_;
};

std::string Reply(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("a 5xx is retried with backoff and the answer after it returned", "[s3][retry]") {
  S3Config c = Config();
  c.retry.attempts = 4;
  c.retry.first_backoff = std::chrono::milliseconds(20);
  {
    ScriptedServer server({Reply(503, "busy"), Reply(500, ""), Reply(200, "the object")});
    c.endpoint = server.url();
    auto got = S3Client(c).Get("k");
    REQUIRE_OK(got);
    CHECK(*got == "the object");
    CHECK(server.served() == 3);
  }
  {
    // 4xx is the caller's mistake: not retried.
    ScriptedServer server({Reply(404, "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>")});
    c.endpoint = server.url();
    Status s = S3Client(c).Get("k").status();
    CHECK(s.code() == Code::kNotFound);
    CHECK(s.message() == "S3 GET " + c.bucket + "/k: NoSuchKey: gone");
    CHECK(server.served() == 1);
  }
  {
    // Out of attempts: the last 5xx is the error.
    c.retry.attempts = 2;
    ScriptedServer server({Reply(503, ""), Reply(503, "<Error><Code>ServiceUnavailable</Code></Error>")});
    c.endpoint = server.url();
    Status s = S3Client(c).Get("k").status();
    CHECK(s.code() == Code::kIO);
    CHECK(s.message().find("ServiceUnavailable") != std::string::npos);
    CHECK(server.served() == 2);
  }
}
