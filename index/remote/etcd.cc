// The etcd client (etcd.h). Sections: base64 and keys; JSON mapping of the
// gateway's messages; requests; the watch thread.
#include "index/remote/etcd.h"

#include <algorithm>
#include <charconv>

namespace modelfs::remote {

using nlohmann::json;

// --- Base64 and keys ---

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view in) {
  auto bad = [&] { return Status::Invalid("not base64: \"" + std::string(in.substr(0, 64)) + "\""); };
  if (in.size() % 4 != 0) return bad();
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = in[i + j];
      uint32_t d;
      if (c == '=') {
        // Padding only at the very end, in the last two places.
        if (i + 4 != in.size() || j < 2) return bad();
        ++pad;
        d = 0;
      } else {
        if (pad > 0) return bad();
        const char* p = std::char_traits<char>::find(kB64, 64, c);
        if (p == nullptr) return bad();
        d = static_cast<uint32_t>(p - kB64);
      }
      v = (v << 6) | d;
    }
    out += static_cast<char>(v >> 16);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<uint8_t>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

// --- JSON mapping ---

Result<int64_t> JsonInt64(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return int64_t{0};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) return v;
  }
  return Status::Invalid(std::string("etcd: field \"") + name + "\" is not an int64: " +
                         it->dump().substr(0, 64));
}

namespace {

Result<std::string> JsonBytes(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Status::Invalid(std::string("etcd: field \"") + name + "\" is not a string");
  auto r = Base64Decode(it->get_ref<const std::string&>());
  if (!r.ok()) return r.status().WithContext(std::string("etcd: field \"") + name + "\"");
  return r;
}

bool JsonBool(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

#define ASSIGN_OR_RETURN(lhs, expr)      \
  do {                                   \
    auto _r = (expr);                    \
    if (!_r.ok()) return _r.status();    \
    lhs = std::move(_r).value();         \
  } while (0)

Result<int64_t> HeaderRevision(const json& resp) {
  auto h = resp.find("header");
  if (h == resp.end() || !h->is_object()) return int64_t{0};
  return JsonInt64(*h, "revision");
}

}  // namespace

Result<EtcdKeyValue> ParseKeyValue(const json& kv) {
  if (!kv.is_object()) return Status::Invalid("etcd: a key-value is not an object");
  EtcdKeyValue out;
  ASSIGN_OR_RETURN(out.key, JsonBytes(kv, "key"));
  ASSIGN_OR_RETURN(out.value, JsonBytes(kv, "value"));
  ASSIGN_OR_RETURN(out.create_revision, JsonInt64(kv, "create_revision"));
  ASSIGN_OR_RETURN(out.mod_revision, JsonInt64(kv, "mod_revision"));
  ASSIGN_OR_RETURN(out.version, JsonInt64(kv, "version"));
  ASSIGN_OR_RETURN(out.lease, JsonInt64(kv, "lease"));
  return out;
}

Result<EtcdRange> ParseRange(const json& resp) {
  if (!resp.is_object()) return Status::Invalid("etcd: a range response is not an object");
  EtcdRange out;
  ASSIGN_OR_RETURN(out.revision, HeaderRevision(resp));
  if (auto kvs = resp.find("kvs"); kvs != resp.end()) {
    if (!kvs->is_array()) return Status::Invalid("etcd: \"kvs\" is not an array");
    for (const auto& kv : *kvs) {
      EtcdKeyValue parsed;
      ASSIGN_OR_RETURN(parsed, ParseKeyValue(kv));
      out.kvs.push_back(std::move(parsed));
    }
  }
  out.more = JsonBool(resp, "more");
  ASSIGN_OR_RETURN(out.count, JsonInt64(resp, "count"));
  return out;
}

Result<EtcdTxnResult> ParseTxn(const json& resp) {
  if (!resp.is_object()) return Status::Invalid("etcd: a txn response is not an object");
  EtcdTxnResult out;
  ASSIGN_OR_RETURN(out.revision, HeaderRevision(resp));
  out.succeeded = JsonBool(resp, "succeeded");  // omitted when false
  if (auto rs = resp.find("responses"); rs != resp.end() && rs->is_array()) {
    for (const auto& r : *rs) {
      EtcdRange range;
      if (auto rr = r.find("response_range"); rr != r.end()) ASSIGN_OR_RETURN(range, ParseRange(*rr));
      out.responses.push_back(std::move(range));
    }
  }
  return out;
}

Status EtcdStatus(const std::string& what, const json& err) {
  // Unary errors: {"error", "code", "message"}; stream errors:
  // {"grpc_code", "http_code", "message", "http_status"}.
  int64_t code = 2;  // Unknown
  if (auto c = JsonInt64(err, "code"); c.ok() && *c != 0) code = *c;
  else if (auto g = JsonInt64(err, "grpc_code"); g.ok() && *g != 0) code = *g;
  std::string msg = "etcd " + what + ": ";
  if (auto m = err.find("message"); m != err.end() && m->is_string()) msg += m->get<std::string>();
  else msg += err.dump().substr(0, 200);
  switch (code) {
    case 3: return Status::Invalid(msg);    // InvalidArgument
    case 5: return Status::NotFound(msg);   // NotFound (lease)
    case 11: return Status::NotFound(msg);  // OutOfRange: compacted / future revision
    case 8: return Status::NoSpace(msg);    // ResourceExhausted: quota
    default: return Status::IO(msg);
  }
}

Result<EtcdWatchResponse> ParseWatchMessage(const json& msg) {
  if (!msg.is_object()) return Status::Invalid("etcd watch: a message is not an object");
  if (auto e = msg.find("error"); e != msg.end()) return EtcdStatus("watch", *e);
  auto r = msg.find("result");
  if (r == msg.end() || !r->is_object()) return Status::Invalid("etcd watch: a message without \"result\"");
  EtcdWatchResponse out;
  ASSIGN_OR_RETURN(out.revision, HeaderRevision(*r));
  out.created = JsonBool(*r, "created");
  out.canceled = JsonBool(*r, "canceled");
  ASSIGN_OR_RETURN(out.compact_revision, JsonInt64(*r, "compact_revision"));
  if (auto c = r->find("cancel_reason"); c != r->end() && c->is_string()) out.cancel_reason = *c;
  if (auto evs = r->find("events"); evs != r->end()) {
    if (!evs->is_array()) return Status::Invalid("etcd watch: \"events\" is not an array");
    for (const auto& ev : *evs) {
      EtcdEvent e;
      auto t = ev.find("type");  // omitted for PUT, the enum's default
      if (t != ev.end() && t->is_string() && *t == "DELETE") e.type = EtcdEvent::Type::kDelete;
      else if (t != ev.end() && !(t->is_string() && *t == "PUT")) {
        return Status::Invalid("etcd watch: unknown event type " + t->dump());
      }
      auto kv = ev.find("kv");
      if (kv == ev.end()) return Status::Invalid("etcd watch: an event without \"kv\"");
      ASSIGN_OR_RETURN(e.kv, ParseKeyValue(*kv));
      out.events.push_back(std::move(e));
    }
  }
  return out;
}

json CompareJson(const EtcdCompare& c) {
  static const char* kTargets[] = {"VERSION", "CREATE", "MOD", "VALUE"};
  static const char* kResults[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
  json j = {{"key", Base64Encode(c.key)},
            {"target", kTargets[static_cast<int>(c.target)]},
            {"result", kResults[static_cast<int>(c.result)]}};
  switch (c.target) {
    case EtcdCompare::Target::kVersion: j["version"] = std::to_string(c.number); break;
    case EtcdCompare::Target::kCreate: j["create_revision"] = std::to_string(c.number); break;
    case EtcdCompare::Target::kMod: j["mod_revision"] = std::to_string(c.number); break;
    case EtcdCompare::Target::kValue: j["value"] = Base64Encode(c.value); break;
  }
  return j;
}

json OpJson(const EtcdOp& op) {
  json body = {{"key", Base64Encode(op.key)}};
  switch (op.kind) {
    case EtcdOp::Kind::kPut:
      body["value"] = Base64Encode(op.value);
      if (op.lease != 0) body["lease"] = std::to_string(op.lease);
      return {{"request_put", body}};
    case EtcdOp::Kind::kDelete:
      if (!op.range_end.empty()) body["range_end"] = Base64Encode(op.range_end);
      return {{"request_delete_range", body}};
    case EtcdOp::Kind::kRange:
      if (!op.range_end.empty()) body["range_end"] = Base64Encode(op.range_end);
      return {{"request_range", body}};
  }
  return body;
}

// --- Requests ---

namespace {
// Each endpoint is tried once per round (an endpoint that does not answer
// is not waited for twice while another may); the policy's attempts are
// the rounds.
RetryPolicy OneAttempt(RetryPolicy p) {
  p.attempts = 1;
  return p;
}
}  // namespace

EtcdClient::EtcdClient(std::vector<std::string> endpoints, RetryPolicy retry)
    : endpoints_(std::move(endpoints)), http_(OneAttempt(retry)), rounds_(std::max(1, retry.attempts)),
      backoff_(retry.first_backoff) {}

Result<json> EtcdClient::Post(const std::string& path, const json& body) const {
  if (endpoints_.empty()) return Status::Invalid("etcd: no endpoint given");
  // Why each endpoint failed in the last round: a member that is down, one
  // that timed out (a hung peer, or no quorum behind it) and one that
  // answered 5xx are told apart in the error.
  std::vector<std::string> why(endpoints_.size());
  for (int round = 0; round < rounds_; ++round) {
    if (round > 0) std::this_thread::sleep_for(backoff_ * round);
    size_t first = current_.load();
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      size_t idx = (first + i) % endpoints_.size();
      HttpRequest req;
      req.method = "POST";
      req.url = endpoints_[idx] + path;
      req.headers.push_back("Content-Type: application/json");
      req.body = body.dump();
      auto r = http_.Send(req);
      if (!r.ok()) {
        why[idx] = r.status().message();  // unreachable: try the next member
        continue;
      }
      json j = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
      if (RetryableStatus(r->status)) {  // unavailable (no leader ...): the next one
        why[idx] = req.method + " " + req.url + ": HTTP " + std::to_string(r->status) +
                   (j.is_object() && j.contains("message") ? " " + j["message"].dump() : std::string());
        continue;
      }
      current_.store(idx);
      if (j.is_discarded() || !j.is_object()) {
        return Status::IO("etcd " + path + " at " + endpoints_[idx] + ": HTTP " +
                          std::to_string(r->status) + ", not JSON: " + r->body.substr(0, 200));
      }
      if (j.contains("error") || r->status != 200) return EtcdStatus(path, j);
      return j;
    }
  }
  std::string msg;
  for (const auto& w : why)
    if (!w.empty()) msg += (msg.empty() ? "" : "; ") + w;
  return Status::IO(msg + (rounds_ > 1 ? " (" + std::to_string(rounds_) + " rounds)" : ""));
}

Result<EtcdRange> EtcdClient::Range(const std::string& key, const std::string& range_end,
                                    int64_t revision, int64_t limit) const {
  json body = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) body["range_end"] = Base64Encode(range_end);
  if (revision != 0) body["revision"] = std::to_string(revision);
  if (limit != 0) body["limit"] = std::to_string(limit);
  auto r = Post("/v3/kv/range", body);
  if (!r.ok()) return r.status();
  return ParseRange(*r);
}

Result<int64_t> EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) const {
  json body = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) body["lease"] = std::to_string(lease);
  auto r = Post("/v3/kv/put", body);
  if (!r.ok()) return r.status();
  return HeaderRevision(*r);
}

Result<int64_t> EtcdClient::DeleteRange(const std::string& key, const std::string& range_end) const {
  json body = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) body["range_end"] = Base64Encode(range_end);
  auto r = Post("/v3/kv/deleterange", body);
  if (!r.ok()) return r.status();
  return JsonInt64(*r, "deleted");
}

Result<EtcdTxnResult> EtcdClient::Txn(const std::vector<EtcdCompare>& compares,
                                      const std::vector<EtcdOp>& success,
                                      const std::vector<EtcdOp>& failure) const {
  json body = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : compares) body["compare"].push_back(CompareJson(c));
  for (const auto& op : success) body["success"].push_back(OpJson(op));
  for (const auto& op : failure) body["failure"].push_back(OpJson(op));
  auto r = Post("/v3/kv/txn", body);
  if (!r.ok()) return r.status();
  return ParseTxn(*r);
}

Status EtcdClient::Compact(int64_t revision) const {
  auto r = Post("/v3/kv/compaction", {{"revision", std::to_string(revision)}, {"physical", true}});
  return r.ok() ? Status::Ok() : r.status();
}

Result<EtcdLease> EtcdClient::LeaseGrant(int64_t ttl_seconds) const {
  auto r = Post("/v3/lease/grant", {{"TTL", std::to_string(ttl_seconds)}});
  if (!r.ok()) return r.status();
  if (auto e = r->find("error"); e != r->end() && e->is_string() && !e->get<std::string>().empty()) {
    return Status::IO("etcd lease grant: " + e->get<std::string>());
  }
  EtcdLease lease;
  ASSIGN_OR_RETURN(lease.id, JsonInt64(*r, "ID"));
  ASSIGN_OR_RETURN(lease.ttl, JsonInt64(*r, "TTL"));
  return lease;
}

Result<int64_t> EtcdClient::LeaseKeepAlive(int64_t id) const {
  // The gateway's keepalive is a stream (one answer per request sent): read
  // the first answer, then close.
  if (endpoints_.empty()) return Status::Invalid("etcd: no endpoint given");
  std::string what = "lease keepalive " + std::to_string(id);
  Status last;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    size_t idx = (current_.load() + i) % endpoints_.size();
    HttpRequest req;
    req.method = "POST";
    req.url = endpoints_[idx] + "/v3/lease/keepalive";
    req.headers.push_back("Content-Type: application/json");
    req.body = json{{"ID", std::to_string(id)}}.dump();
    HttpResponse head;
    std::string buf;
    bool got = false;
    auto started = std::chrono::steady_clock::now();
    Status s = http_.Stream(
        req, &head,
        [&](const char* d, size_t n) {
          buf.append(d, n);
          got = buf.find('\n') != std::string::npos;
          return !got;
        },
        [&] { return std::chrono::steady_clock::now() - started > http_.policy().timeout; });
    if (!s.ok()) {
      last = s;
      continue;
    }
    if (!got) return Status::IO("etcd " + what + ": no answer within the timeout");
    json j = json::parse(buf.substr(0, buf.find('\n')), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::IO("etcd " + what + ": not JSON: " + buf.substr(0, 200));
    if (auto e = j.find("error"); e != j.end()) return EtcdStatus(what, *e);
    auto res = j.find("result");
    if (res == j.end()) return Status::IO("etcd " + what + ": no result: " + buf.substr(0, 200));
    int64_t ttl = 0;
    ASSIGN_OR_RETURN(ttl, JsonInt64(*res, "TTL"));
    // An expired lease is answered with TTL 0 (omitted), not an error.
    if (ttl <= 0) return Status::NotFound("etcd " + what + ": the lease has expired");
    return ttl;
  }
  return last;
}

Status EtcdClient::LeaseRevoke(int64_t id) const {
  auto r = Post("/v3/lease/revoke", {{"ID", std::to_string(id)}});
  return r.ok() ? Status::Ok() : r.status();
}

// --- The watch thread ---

std::unique_ptr<EtcdWatch> EtcdClient::Watch(const std::string& key, const std::string& range_end,
                                             int64_t start_revision,
                                             std::function<bool(const EtcdWatchResponse&)> on_response,
                                             std::function<void(const Status&)> on_end) const {
  std::unique_ptr<EtcdWatch> w(new EtcdWatch());
  json create = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) create["range_end"] = Base64Encode(range_end);
  if (start_revision != 0) create["start_revision"] = std::to_string(start_revision);
  HttpRequest req;
  req.method = "POST";
  req.url = endpoints_.empty() ? std::string() : endpoints_[current_.load() % endpoints_.size()] + "/v3/watch";
  req.headers.push_back("Content-Type: application/json");
  req.body = json{{"create_request", create}}.dump();
  EtcdWatch* raw = w.get();
  w->thread_ = std::thread([this, raw, req = std::move(req), on_response = std::move(on_response),
                            on_end = std::move(on_end)] {
    std::string buf;
    Status end;
    bool finished = false;  // ended by the server or the callback
    HttpResponse head;
    // The gateway writes one JSON document per line.
    auto sink = [&](const char* d, size_t n) {
      buf.append(d, n);
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded()) {
          end = Status::IO("etcd watch: not JSON: " + line.substr(0, 200));
          return false;
        }
        auto msg = ParseWatchMessage(j);
        if (!msg.ok()) {
          end = msg.status();
          return false;
        }
        if (!on_response(*msg) || msg->canceled) {
          finished = true;
          return false;
        }
      }
      return true;
    };
    Status s = req.url.empty() ? Status::Invalid("etcd: no endpoint given")
                               : http_.Stream(req, &head, sink, [raw] { return raw->stop_.load(); });
    if (end.ok() && !s.ok()) end = s;
    if (end.ok() && !finished && !raw->stop_.load()) {
      end = Status::IO("etcd watch: the stream ended" +
                       (head.status != 200 ? " (HTTP " + std::to_string(head.status) + ")" : std::string()));
    }
    raw->done_.store(true);
    if (on_end) on_end(end);
  });
  return w;
}

EtcdWatch::~EtcdWatch() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

}  // namespace modelfs::remote
