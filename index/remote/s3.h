// A client of the S3 API for the object store of a multi-host registry
// (SPEC §7): PUT, GET, HEAD and DELETE of one object and ListObjectsV2 of a
// prefix, path-style (`ENDPOINT/BUCKET/KEY`: works with Swift's s3api, Ceph,
// MinIO and AWS alike). Requests are signed by libcurl's own SigV4
// (CURLOPT_AWS_SIGV4); every request carries `x-amz-content-sha256`, the real
// SHA-256 of its body, so a body damaged in transit is refused by the store
// (BadDigest) rather than stored. Nothing relies on `If-None-Match: *`
// (Swift's s3api ignores it): a caller that must not overwrite checks with
// Head, and content-addressed keys make an overwrite harmless anyway.
//
// Errors are Status values carrying the S3 error code and message:
// NoSuchKey/NoSuchBucket -> kNotFound; BadDigest, InvalidDigest,
// XAmzContentSHA256Mismatch -> kCorrupt; AccessDenied, InvalidAccessKeyId,
// SignatureDoesNotMatch -> kNoAccess; BucketAlreadyExists,
// BucketAlreadyOwnedByYou -> kExists; EntityTooLarge -> kTooBig; other 4xx
// -> kInvalid; 5xx and no answer (after the retries of http.h) -> kIO.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "index/remote/http.h"
#include "index/status.h"

namespace modelfs::remote {

struct S3Config {
  std::string endpoint;  // http(s)://host:port, no trailing slash
  std::string region = "us-east-1";
  std::string bucket;
  std::string access_key_id;
  std::string secret_access_key;
  RetryPolicy retry;
};

struct S3Object {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // as the store gives it, quotes removed
};

class S3Client {
 public:
  explicit S3Client(S3Config config);

  // Creates the bucket (tests and `init`; a registry's bucket exists
  // already). kExists if it does.
  Status CreateBucket() const;
  // Stores `body` as `key`, replacing any object of that name.
  Status Put(const std::string& key, const std::string& body) const;
  // The whole object; kNotFound if absent.
  Result<std::string> Get(const std::string& key) const;
  // Size and ETag, without the body; kNotFound if absent.
  Result<S3Object> Head(const std::string& key) const;
  // Removes `key`; an absent key is not an error (S3's own rule).
  Status Delete(const std::string& key) const;
  // Every object whose key starts with `prefix`, in key order, following
  // continuation tokens (`page_size` keys per request, at most 1000).
  Result<std::vector<S3Object>> List(const std::string& prefix, int page_size = 1000) const;

  // Stores the file open as `fd` (`size` bytes from offset 0) as `key`,
  // streamed from the file (pread), never copied into memory. Its SHA-256
  // (which S3 checks) is computed first in one streaming pass over the file.
  Status PutFile(const std::string& key, int fd, uint64_t size) const;
  // Writes object `key` into `fd` at its offsets (pwrite) and sets *size:
  // one GET of the first part, then the rest in ranged GETs of
  // `opt.part_size`, up to `opt.parallel` at once (s3_transfer.cc). A part
  // that fails is retried (opt.part_attempts tries in all); then the whole
  // transfer fails (the file holds an unknown part of the object).
  struct Transfer {
    uint64_t part_size = uint64_t{8} << 20;
    int parallel = 4;
    int part_attempts = 3;
    // A part that receives nothing for this long is given up (and retried).
    std::chrono::milliseconds stall{30000};
  };
  Status GetToFd(const std::string& key, int fd, uint64_t* size, const Transfer& opt) const;
  Status GetToFd(const std::string& key, int fd, uint64_t* size) const {
    return GetToFd(key, fd, size, Transfer{});
  }

  // Put with `content_sha256` declared instead of the body's own: what a
  // body changed on its way looks like to the store. For tests only.
  Status PutDeclaringSha256(const std::string& key, const std::string& body,
                            const std::string& content_sha256) const;

 private:
  HttpRequest Request(const std::string& method, const std::string& key,
                      const std::map<std::string, std::string>& query,
                      const std::string& sha256) const;
  // One GET of bytes [begin, begin + len) into `fd` (see GetToFd).
  Status GetPart(const std::string& key, uint64_t begin, uint64_t len, int fd, uint64_t* total,
                 const Transfer& opt) const;
  Result<HttpResponse> Call(const std::string& method, const std::string& key,
                            const std::map<std::string, std::string>& query,
                            const std::string& body, const std::string& sha256) const;
  S3Config config_;
  Http http_;
};

// --- The pure parts, exposed for unit tests. ---

// Lower-case hex SHA-256 of `data` (OpenSSL's libcrypto).
std::string Sha256Hex(std::string_view data);
// S3's URI encoding (SigV4): unreserved characters (A-Z a-z 0-9 - . _ ~)
// kept, every other byte %XX in upper case; '/' kept when `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash);
// The canonical query string: parameters sorted by name (std::map), each
// name and value UriEncoded, "name=value" joined by '&' ("" when empty).
// libcurl 7.88 signs the query as given, so the URL must carry it already
// sorted and encoded for the signature to match the server's.
std::string CanonicalQuery(const std::map<std::string, std::string>& query);
// The request path for `key` in `bucket`: "/BUCKET/KEY", each encoded,
// '/' in the key kept.
std::string ObjectPath(const std::string& bucket, const std::string& key);

// The byte ranges [begin, end) that cover [from, total) in parts of at
// most `part` bytes (> 0), in order.
std::vector<std::pair<uint64_t, uint64_t>> SplitRanges(uint64_t from, uint64_t total,
                                                       uint64_t part);
// The complete length in a Content-Range header ("bytes 0-99/1234" →
// 1234, also the first and last byte); nullopt when it is not one.
struct ContentRange {
  uint64_t first = 0, last = 0, total = 0;
};
std::optional<ContentRange> ParseContentRange(std::string_view header);

// An S3 error document (<Error><Code>..</Code><Message>..</Message>).
struct S3Error {
  std::string code;
  std::string message;
};
std::optional<S3Error> ParseS3Error(std::string_view xml);
// The Status for a failed response (see the header comment); `what` names
// the request ("PUT bucket/key").
Status S3Status(const std::string& what, long http_status, std::string_view body);

// One page of a ListObjectsV2 response.
struct S3ListPage {
  std::vector<S3Object> objects;
  bool truncated = false;
  std::string next_token;
};
Result<S3ListPage> ParseListObjectsV2(std::string_view xml);
// XML text with its five predefined entities and numeric references decoded.
std::string XmlUnescape(std::string_view s);

}  // namespace modelfs::remote
