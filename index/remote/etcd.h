// A client of etcd's v3 API through its JSON gateway (etcd 3.4: /v3/...),
// for the index of record of a multi-host registry (SPEC §7): range, put,
// delete-range, txn (compares on value, version, create or mod revision),
// watch from a revision as a stream, and leases. Keys and values are bytes
// (base64 on the wire); int64 fields arrive as JSON strings, and fields at
// their default (0, false, "", PUT) are omitted, which the mapping here
// restores. Several endpoints may be given: a request that gets no answer
// from one (refused, timed out: a member down or hung) or a 5xx goes to the
// next at once, round the endpoints RetryPolicy::attempts times; the error
// then says what each endpoint did. Thread-safe.
//
// Retries make an answer ambiguous, never a change double: a txn whose
// first answer was lost (a dropped connection, a 5xx after the commit) and
// which is sent again finds its own write and reports its compares failed.
// A caller that gets !succeeded therefore re-reads before it decides
// (as the commit protocol of SPEC §7 does anyway); a plain Put sent twice
// writes the same value at two revisions.
//
// Errors: a gateway error document {"code": gRPC code, "message": ...}
// becomes a Status naming the request and etcd's message: InvalidArgument
// -> kInvalid, NotFound (a lease) -> kNotFound, OutOfRange (a revision that
// was compacted, or is in the future) -> kNotFound, ResourceExhausted (the
// space quota) -> kNoSpace, anything else and no answer -> kIO.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "index/remote/http.h"
#include "index/status.h"

namespace modelfs::remote {

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // 0: the key does not exist (in a compare)
  int64_t lease = 0;
};

struct EtcdRange {
  int64_t revision = 0;  // the store's revision when the range was read
  std::vector<EtcdKeyValue> kvs;
  bool more = false;
  int64_t count = 0;
};

// One comparison of a transaction: the key's field against a value.
struct EtcdCompare {
  enum class Target { kVersion, kCreate, kMod, kValue };
  enum class Result { kEqual, kGreater, kLess, kNotEqual };
  Target target = Target::kMod;
  Result result = Result::kEqual;
  std::string key;
  int64_t number = 0;  // version / create_revision / mod_revision
  std::string value;   // kValue

  static EtcdCompare ModRevision(std::string key, int64_t rev) {
    return {Target::kMod, Result::kEqual, std::move(key), rev, {}};
  }
  static EtcdCompare Version(std::string key, int64_t v) {  // 0: absent
    return {Target::kVersion, Result::kEqual, std::move(key), v, {}};
  }
  static EtcdCompare Value(std::string key, std::string v) {
    return {Target::kValue, Result::kEqual, std::move(key), 0, std::move(v)};
  }
};

// One operation of a transaction's branch.
struct EtcdOp {
  enum class Kind { kPut, kDelete, kRange };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;      // kPut
  std::string range_end;  // kDelete, kRange: "" = just `key`
  int64_t lease = 0;      // kPut

  static EtcdOp Put(std::string k, std::string v, int64_t lease = 0) {
    return {Kind::kPut, std::move(k), std::move(v), {}, lease};
  }
  static EtcdOp Delete(std::string k, std::string end = {}) {
    return {Kind::kDelete, std::move(k), {}, std::move(end), 0};
  }
  static EtcdOp Range(std::string k, std::string end = {}) {
    return {Kind::kRange, std::move(k), {}, std::move(end), 0};
  }
};

struct EtcdTxnResult {
  bool succeeded = false;  // the compares held: `success` ran, else `failure`
  int64_t revision = 0;    // the store's revision after the txn
  // One entry per operation of the branch that ran; a range's result is
  // filled, others are empty.
  std::vector<EtcdRange> responses;
};

struct EtcdEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  EtcdKeyValue kv;  // for a delete: key and mod_revision (the delete's)
};

// One message of a watch stream.
struct EtcdWatchResponse {
  int64_t revision = 0;
  bool created = false;
  bool canceled = false;
  // Set when the watch could not start at its revision, which compaction
  // removed; the watch is canceled and the caller re-syncs from a range.
  int64_t compact_revision = 0;
  std::string cancel_reason;
  std::vector<EtcdEvent> events;
};

struct EtcdLease {
  int64_t id = 0;
  int64_t ttl = 0;  // seconds
};

class EtcdWatch;

class EtcdClient {
 public:
  // `endpoints`: http://host:port of each member.
  explicit EtcdClient(std::vector<std::string> endpoints, RetryPolicy retry = {});

  // The keys in [key, range_end) ("" = just `key`), at `revision` (0 =
  // the latest), at most `limit` (0 = all).
  Result<EtcdRange> Range(const std::string& key, const std::string& range_end = {},
                          int64_t revision = 0, int64_t limit = 0) const;
  // Returns the revision of the put.
  Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0) const;
  // Returns how many keys were deleted.
  Result<int64_t> DeleteRange(const std::string& key, const std::string& range_end = {}) const;
  Result<EtcdTxnResult> Txn(const std::vector<EtcdCompare>& compares,
                            const std::vector<EtcdOp>& success,
                            const std::vector<EtcdOp>& failure = {}) const;
  // Compacts the history up to `revision` (tests; etcd's own auto-compaction
  // does it in production).
  Status Compact(int64_t revision) const;

  Result<EtcdLease> LeaseGrant(int64_t ttl_seconds) const;
  // One keepalive: returns the lease's renewed TTL; kNotFound once it expired.
  Result<int64_t> LeaseKeepAlive(int64_t id) const;
  Status LeaseRevoke(int64_t id) const;

  // Watches [key, range_end) from `start_revision` on a thread of its own,
  // calling `on_response` for each message in order (not concurrently).
  // The watch ends when the server cancels it (compaction), when the
  // callback returns false, when the stream breaks (then `on_end` gets the
  // Status) or when the EtcdWatch is destroyed; `on_end` is called once in
  // every case, with Ok unless the stream broke. The watch reads from one
  // endpoint (a broken stream is the caller's to resume, from the revision
  // after the last it applied). The client must outlive the watch.
  std::unique_ptr<EtcdWatch> Watch(const std::string& key, const std::string& range_end,
                                   int64_t start_revision,
                                   std::function<bool(const EtcdWatchResponse&)> on_response,
                                   std::function<void(const Status&)> on_end = {}) const;

  // POSTs `body` to `path` (/v3/kv/range ...), trying each endpoint.
  Result<nlohmann::json> Post(const std::string& path, const nlohmann::json& body) const;

 private:
  std::vector<std::string> endpoints_;
  Http http_;          // one attempt per request: Post goes round the endpoints
  int rounds_;         // rounds over the endpoints (RetryPolicy::attempts)
  std::chrono::milliseconds backoff_;
  mutable std::atomic<size_t> current_{0};  // the endpoint that last answered
};

// A running watch: its thread reads the stream until told to stop.
class EtcdWatch {
 public:
  ~EtcdWatch();  // stops the stream (within about a second) and joins
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;
  // Whether the stream has ended (see EtcdClient::Watch).
  bool done() const { return done_.load(); }

 private:
  friend class EtcdClient;
  EtcdWatch() = default;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// --- The pure parts, exposed for unit tests. ---

std::string Base64Encode(std::string_view bytes);
// kInvalid on a character outside the alphabet or bad padding.
Result<std::string> Base64Decode(std::string_view text);
// The range_end that covers every key starting with `prefix`: the prefix
// with its last byte below 0xff incremented and what follows dropped;
// "\0" (all keys) when every byte is 0xff or the prefix is empty.
std::string PrefixEnd(std::string_view prefix);

// An int64 field of a gateway message: a JSON string (how the gateway
// writes int64) or number; absent = 0. kInvalid when neither.
Result<int64_t> JsonInt64(const nlohmann::json& obj, const char* name);
Result<EtcdKeyValue> ParseKeyValue(const nlohmann::json& kv);
Result<EtcdRange> ParseRange(const nlohmann::json& resp);
Result<EtcdTxnResult> ParseTxn(const nlohmann::json& resp);
// One line of the watch stream ({"result": {...}} or {"error": {...}}).
Result<EtcdWatchResponse> ParseWatchMessage(const nlohmann::json& msg);
nlohmann::json CompareJson(const EtcdCompare& c);
nlohmann::json OpJson(const EtcdOp& op);
// The Status of a gateway error document ({"code", "message"}).
Status EtcdStatus(const std::string& what, const nlohmann::json& err);

}  // namespace modelfs::remote
