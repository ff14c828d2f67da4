// The etcd + S3 engine of a multi-host registry (engine.h): settings,
// init/join, the commit protocol, catch-up and the follower thread.
#include "index/remote/engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "index/blob_cache.h"
#include "index/registry.h"

namespace modelfs::remote {

namespace {

// etcd: a member that does not answer is given up on quickly, so that a
// write without quorum fails well within SPEC §7's 10 seconds.
RetryPolicy EtcdRetry() {
  RetryPolicy p;
  p.attempts = 2;
  p.first_backoff = std::chrono::milliseconds(100);
  p.connect_timeout = std::chrono::milliseconds(1000);
  p.timeout = std::chrono::milliseconds(2000);
  return p;
}

// A failed catch-up is remembered this long: the next one in the process
// (the write after a command's first read) fails at once rather than wait
// for the same unreachable members again.
constexpr auto kOfflineMemo = std::chrono::seconds(2);
// Commits read per range request while catching up.
constexpr int64_t kCatchUpPage = 256;

std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string Hex16(uint64_t v) {
  char b[17];
  snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::string RandomToken() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t v = rng();
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

Result<std::string> ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::FromErrno("cannot read " + path, errno);
  std::ostringstream ss;
  ss << f.rdbuf();
  if (!f && !f.eof()) return Status::IO("cannot read " + path);
  return ss.str();
}

class Engine : public Replication {
 public:
  Engine(RegistrySettings s, S3Config s3, uint64_t cache_limit)
      : s_(std::move(s)), etcd_(s_.etcd, EtcdRetry()), s3_(std::move(s3)),
        cache_limit_(cache_limit) {}

  ~Engine() override {
    {
      std::lock_guard<std::mutex> g(follow_mu_);
      stop_ = true;
    }
    follow_cv_.notify_all();
    if (follower_.joinable()) follower_.join();
  }

  Status CatchUp(Registry& reg) override { return CatchUpTo(reg, nullptr); }

  Result<std::optional<ReplicaPosition>> Commit(Registry& reg, const ChangeSet& set,
                                                const ReplicaPosition& base) override {
    // Blobs first: no host may see an entry whose blob the store lacks.
    std::set<Digest> uploaded;
    for (const Digest& d : set.blobs) {
      if (!uploaded.insert(d).second) continue;
      std::string key = BlobKey(s_, d);
      auto head = s3_.Head(key);
      if (head.ok()) continue;
      if (head.status().code() != Code::kNotFound)
        return head.status().WithContext("object store");
      Status put = UploadBlob(reg.blobs().PathOf(d), key);
      if (!put.ok()) return put.WithContext("uploading blob " + d.hex() + " to the object store");
    }
    uint64_t seq = base.seq + 1;
    std::string value = RandomToken() + EncodeChanges(set.changes);
    std::string log = LogKey(s_.etcd_prefix, seq);
    auto r = etcd_.Txn({EtcdCompare::Value(HeadKey(), std::to_string(base.seq))},
                       {EtcdOp::Put(log, value), EtcdOp::Put(HeadKey(), std::to_string(seq))},
                       {EtcdOp::Range(log)});
    if (!r.ok()) return Unreachable(r.status());
    if (r->succeeded) return std::optional<ReplicaPosition>(ReplicaPosition{seq, r->revision});
    // A retried request whose first answer was lost finds its own write:
    // that is a success, not a conflict (etcd.h).
    if (!r->responses.empty() && !r->responses[0].kvs.empty() &&
        r->responses[0].kvs[0].value == value)
      return std::optional<ReplicaPosition>(
          ReplicaPosition{seq, r->responses[0].kvs[0].mod_revision});
    return std::optional<ReplicaPosition>();
  }

  Status FetchBlobTo(const Digest& d, int fd, uint64_t* size) override {
    return s3_.GetToFd(BlobKey(s_, d), fd, size);
  }
  uint64_t CacheLimit() const override { return cache_limit_; }

  // Caught up before it returns (a mount serves nothing older than the
  // registry as it was when it started), then follows on its thread; an
  // error of that first catch-up is returned, and the thread keeps trying.
  Status Follow(Registry& reg) override {
    Status first = CatchUp(reg);
    std::lock_guard<std::mutex> g(follow_mu_);
    if (!follower_.joinable()) follower_ = std::thread([this, &reg] { RunFollower(reg); });
    return first;
  }

  const RegistrySettings& settings() const { return s_; }
  const EtcdClient& etcd() const { return etcd_; }
  const S3Client& s3() const { return s3_; }

 private:
  std::string HeadKey() const { return s_.etcd_prefix + "head"; }

  // Streams the blob file at `path` to object `key` (s3_transfer.cc).
  Status UploadBlob(const std::string& path, const std::string& key) const {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("cannot read " + path, errno);
    struct stat st;
    Status put = fstat(fd, &st) == 0
                     ? s3_.PutFile(key, fd, static_cast<uint64_t>(st.st_size))
                     : Status::FromErrno("cannot stat " + path, errno);
    close(fd);
    return put;
  }

  Status Unreachable(const Status& st) const {
    return Status::IO("etcd (" + JoinEndpoints() + ") cannot be reached: " + st.message());
  }
  std::string JoinEndpoints() const {
    std::string out;
    for (const auto& e : s_.etcd) out += (out.empty() ? "" : ",") + e;
    return out;
  }

  // Applies every commit after the replica's position; *revision (when
  // given) gets the etcd revision the last range read saw.
  Status CatchUpTo(Registry& reg, int64_t* revision) {
    std::lock_guard<std::mutex> g(catchup_mu_);
    auto now = std::chrono::steady_clock::now();
    if (!last_error_.ok() && now - last_error_at_ < kOfflineMemo) return last_error_;
    Status st = CatchUpLocked(reg, revision);
    last_error_ = st.code() == Code::kIO ? st : Status::Ok();
    last_error_at_ = now;
    return st;
  }

  Status CatchUpLocked(Registry& reg, int64_t* revision) {
    std::string end = PrefixEnd(s_.etcd_prefix + "log/");
    for (;;) {
      auto pos = reg.Position();
      if (!pos.ok()) return pos.status();
      auto r = etcd_.Range(LogKey(s_.etcd_prefix, pos->seq + 1), end, 0, kCatchUpPage);
      if (!r.ok()) return Unreachable(r.status());
      if (revision) *revision = r->revision;
      for (const auto& kv : r->kvs) {
        auto seq = LogSeq(s_.etcd_prefix, kv.key);
        if (!seq) return Status::Corrupt("etcd key " + kv.key + " is not a commit's");
        if (kv.value.size() < 8)
          return Status::Corrupt("commit " + std::to_string(*seq) + " is empty");
        auto changes = DecodeChanges(std::string_view(kv.value).substr(8));
        if (!changes.ok()) return changes.status().WithContext("commit " + std::to_string(*seq));
        MODELFS_RETURN_IF_ERROR(reg.ApplyCommit({*seq, kv.mod_revision}, *changes));
      }
      if (!r->more) return Status::Ok();
    }
  }

  void RunFollower(Registry& reg) {
    std::unique_ptr<EtcdWatch> watch;
    std::string last_error;
    std::unique_lock<std::mutex> lk(follow_mu_);
    while (!stop_) {
      lk.unlock();
      int64_t rev = 0;
      Status st = CatchUpTo(reg, &rev);
      if (!st.ok() && st.message() != last_error)
        std::cerr << "modelfs: following the registry: " << st.message() << "\n";
      last_error = st.ok() ? "" : st.message();
      if (st.ok() && (!watch || watch->done())) {
        watch.reset();
        // From the revision the range read saw: no commit after it is missed.
        watch = etcd_.Watch(
            HeadKey(), "", rev + 1,
            [this](const EtcdWatchResponse& r) {
              if (!r.events.empty() || r.canceled) Kick();
              return true;
            },
            [this](const Status&) { Kick(); });
      }
      lk.lock();
      follow_cv_.wait_for(lk, st.ok() ? std::chrono::seconds(5) : std::chrono::seconds(1),
                          [this] { return stop_ || kicked_; });
      kicked_ = false;
    }
    lk.unlock();
    watch.reset();
  }

  void Kick() {
    {
      std::lock_guard<std::mutex> g(follow_mu_);
      kicked_ = true;
    }
    follow_cv_.notify_all();
  }

  RegistrySettings s_;
  EtcdClient etcd_;
  S3Client s3_;
  uint64_t cache_limit_;  // bytes, 0 = none
  std::mutex catchup_mu_;  // one catch-up at a time in this process
  Status last_error_;      // guarded by catchup_mu_
  std::chrono::steady_clock::time_point last_error_at_;
  std::mutex follow_mu_;  // guards stop_, kicked_, follower_
  std::condition_variable follow_cv_;
  bool stop_ = false;
  bool kicked_ = false;
  std::thread follower_;
};

}  // namespace

Status ParseS3Url(const std::string& url, RegistrySettings* s) {
  const std::string scheme = "s3://";
  if (url.rfind(scheme, 0) != 0 || url.size() == scheme.size())
    return Status::Invalid("--s3 " + url + ": expected s3://BUCKET/PREFIX");
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  s->s3_bucket = rest.substr(0, slash);
  s->s3_prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  while (!s->s3_prefix.empty() && s->s3_prefix.back() == '/') s->s3_prefix.pop_back();
  if (!s->s3_prefix.empty()) s->s3_prefix += '/';
  if (s->s3_bucket.empty()) return Status::Invalid("--s3 " + url + ": no bucket");
  return Status::Ok();
}

std::string FormatSettings(const RegistrySettings& s) {
  std::string etcd;
  for (const auto& e : s.etcd) etcd += (etcd.empty() ? "" : ", ") + TomlString(e);
  std::string out =
      "# A multi-host registry (SPEC §7): this ROOT is a replica of the index in\n"
      "# etcd and a cache of the blobs in the object store. No secrets here.\n"
      "etcd = [" + etcd + "]\n" +
      "etcd_prefix = " + TomlString(s.etcd_prefix) + "\n" +
      "s3 = " + TomlString("s3://" + s.s3_bucket + "/" + s.s3_prefix) + "\n" +
      "s3_endpoint = " + TomlString(s.s3_endpoint) + "\n" +
      "s3_region = " + TomlString(s.s3_region) + "\n";
  if (!s.cache_size.empty()) out += "cache_size = " + TomlString(s.cache_size) + "\n";
  if (!s.credentials.empty()) out += "credentials = " + TomlString(s.credentials) + "\n";
  return out;
}

Result<RegistrySettings> ParseSettings(const std::string& text, const std::string& file) {
  toml::table t;
  try {
    t = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    return Status::Invalid(file + ":" + std::to_string(e.source().begin.line) + ":" +
                           std::to_string(e.source().begin.column) + ": " +
                           std::string(e.description()));
  }
  RegistrySettings s;
  for (auto& [k, v] : t) {
    std::string key(k.str());
    auto str = [&]() -> Result<std::string> {
      if (!v.is_string()) return Status::Invalid(file + ": " + key + " must be a string");
      return std::string(*v.value<std::string>());
    };
    if (key == "etcd") {
      const toml::array* a = v.as_array();
      if (!a) return Status::Invalid(file + ": etcd must be a list of URLs");
      for (auto& e : *a) {
        if (!e.is_string()) return Status::Invalid(file + ": etcd must be a list of URLs");
        s.etcd.push_back(*e.value<std::string>());
      }
      continue;
    }
    auto val = str();
    if (!val.ok()) return val.status();
    if (key == "etcd_prefix") s.etcd_prefix = *val;
    else if (key == "s3") MODELFS_RETURN_IF_ERROR(ParseS3Url(*val, &s));
    else if (key == "s3_endpoint") s.s3_endpoint = *val;
    else if (key == "s3_region") s.s3_region = *val;
    else if (key == "cache_size") s.cache_size = *val;
    else if (key == "credentials") s.credentials = *val;
    else return Status::Invalid(file + ": unknown setting " + key);
  }
  if (s.etcd.empty()) return Status::Invalid(file + ": no etcd endpoints");
  if (s.s3_bucket.empty()) return Status::Invalid(file + ": no s3 bucket");
  if (s.s3_endpoint.empty()) return Status::Invalid(file + ": no s3_endpoint");
  return s;
}

Result<RegistrySettings> LoadSettings(const std::string& root) {
  std::string file = root + "/registry.toml";
  auto text = ReadAll(file);
  if (!text.ok()) return text.status();
  return ParseSettings(*text, file);
}

Result<S3Config> S3ConfigOf(const RegistrySettings& s) {
  S3Config c;
  c.endpoint = s.s3_endpoint;
  c.region = s.s3_region;
  c.bucket = s.s3_bucket;
  const char* id = getenv("AWS_ACCESS_KEY_ID");
  const char* secret = getenv("AWS_SECRET_ACCESS_KEY");
  if (id && *id && secret && *secret) {
    c.access_key_id = id;
    c.secret_access_key = secret;
    return c;
  }
  if (s.credentials.empty())
    return Status::Invalid("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                           "or name a credentials file (mode 0600) in registry.toml");
  struct stat st;
  if (stat(s.credentials.c_str(), &st) != 0)
    return Status::FromErrno("credentials file " + s.credentials, errno);
  if ((st.st_mode & 077) != 0)
    return Status::NoAccess("credentials file " + s.credentials +
                            " may be read by others: chmod 600 it");
  auto text = ReadAll(s.credentials);
  if (!text.ok()) return text.status();
  // The AWS CLI's form: aws_access_key_id = ..., aws_secret_access_key = ...
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto trim = [](std::string x) {
      x.erase(0, x.find_first_not_of(" \t"));
      x.erase(x.find_last_not_of(" \t\r") + 1);
      return x;
    };
    std::string k = trim(line.substr(0, eq)), v = trim(line.substr(eq + 1));
    if (k == "aws_access_key_id") c.access_key_id = v;
    if (k == "aws_secret_access_key") c.secret_access_key = v;
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return Status::Invalid("credentials file " + s.credentials +
                           " lacks aws_access_key_id or aws_secret_access_key");
  return c;
}

std::string BlobKey(const RegistrySettings& s, const Digest& d) {
  std::string hex = d.hex();
  return s.s3_prefix + "blobs/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

std::string LogKey(const std::string& prefix, uint64_t seq) { return prefix + "log/" + Hex16(seq); }

std::optional<uint64_t> LogSeq(const std::string& prefix, const std::string& key) {
  std::string head = prefix + "log/";
  if (key.size() != head.size() + 16 || key.compare(0, head.size(), head) != 0) return std::nullopt;
  uint64_t v = 0;
  for (char c : key.substr(head.size())) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<uint64_t>(d);
  }
  return v;
}

Status InitMultiHost(const std::string& root, const RegistrySettings& s,
                     const std::string& policy_text, bool* joined) {
  auto s3c = S3ConfigOf(s);
  if (!s3c.ok()) return s3c.status();
  EtcdClient etcd(s.etcd, EtcdRetry());
  std::string endpoints;
  for (const auto& e : s.etcd) endpoints += (endpoints.empty() ? "" : ",") + e;
  auto head = etcd.Range(s.etcd_prefix + "head");
  if (!head.ok())
    return Status::IO("etcd does not answer at " + endpoints + ": " + head.status().message());
  S3Client s3(*s3c);
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  std::string probe = s.s3_prefix + "probe/" + host + "-" + std::to_string(getpid());
  std::string where = "s3://" + s.s3_bucket + "/" + probe + " at " + s.s3_endpoint;
  if (Status st = s3.Put(probe, "modelfs probe"); !st.ok())
    return st.WithContext("cannot write a probe object " + where);
  auto got = s3.Get(probe);
  if (!got.ok()) return got.status().WithContext("cannot read back the probe object " + where);
  if (*got != "modelfs probe")
    return Status::Corrupt("the probe object " + where + " read back different bytes");
  if (Status st = s3.Delete(probe); !st.ok())
    return st.WithContext("cannot delete the probe object " + where);

  // Create the registry at an empty prefix, or find it there.
  auto r = etcd.Txn({EtcdCompare::Version(s.etcd_prefix + "head", 0)},
                    {EtcdOp::Put(s.etcd_prefix + "head", "0"),
                     EtcdOp::Put(s.etcd_prefix + "policy", policy_text)},
                    {EtcdOp::Range(s.etcd_prefix + "policy")});
  if (!r.ok()) return Status::IO("etcd at " + endpoints + ": " + r.status().message());
  *joined = !r->succeeded;
  std::string policy = policy_text;
  if (*joined && !r->responses.empty() && !r->responses[0].kvs.empty())
    policy = r->responses[0].kvs[0].value;  // the registry's, not a default
  MODELFS_RETURN_IF_ERROR(Registry::Init(root, policy));
  {
    std::string file = root + "/registry.toml";
    std::ofstream f(file);
    f << FormatSettings(s);
    if (!f) return Status::IO("cannot write " + file);
  }
  auto reg = Registry::Open(root);
  if (!reg.ok()) return reg.status();
  return (*reg)->CatchUp();
}

Result<RegistryStatus> StatusOf(Registry& reg) {
  auto* engine = dynamic_cast<Engine*>(reg.replication());
  if (!engine) return Status::Invalid(reg.root() + " is a single-host registry (no registry.toml)");
  RegistryStatus out;
  out.settings = engine->settings();
  auto pos = reg.Position();
  if (!pos.ok()) return pos.status();
  out.applied = *pos;
  auto head = engine->etcd().Range(out.settings.etcd_prefix + "head");
  if (head.ok()) {
    out.etcd_ok = true;
    out.etcd_revision = head->revision;
    if (!head->kvs.empty()) out.head = std::strtoull(head->kvs[0].value.c_str(), nullptr, 10);
  } else {
    out.etcd_error = head.status().message();
  }
  auto probe = engine->s3().Head(out.settings.s3_prefix + "blobs/");
  out.s3_ok = probe.ok() || probe.status().code() == Code::kNotFound;
  if (!out.s3_ok) out.s3_error = probe.status().message();
  return out;
}

void InstallEngine() {
  SetReplicationFactory([](const std::string& root) -> Result<std::unique_ptr<Replication>> {
    auto s = LoadSettings(root);
    if (!s.ok()) return s.status();
    auto s3 = S3ConfigOf(*s);
    if (!s3.ok()) return s3.status();
    uint64_t limit = 0;
    if (!s->cache_size.empty()) {
      auto n = ParseCacheSize(s->cache_size);
      if (!n.ok()) return n.status().WithContext(root + "/registry.toml");
      limit = *n;
    }
    return std::unique_ptr<Replication>(new Engine(std::move(*s), std::move(*s3), limit));
  });
}

}  // namespace modelfs::remote
