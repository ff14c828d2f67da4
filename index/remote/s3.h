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

#include <cstdint>
#include <map>
#include <optional>
#include <string>
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
  // LastModified, seconds since the epoch, as List gives it; -1 when the
  // store did not say (or Head, which does not fill it).
  int64_t modified_s = -1;
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

  // Put with `content_sha256` declared instead of the body's own: what a
  // body changed on its way looks like to the store. For tests only.
  Status PutDeclaringSha256(const std::string& key, const std::string& body,
                            const std::string& content_sha256) const;

 private:
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
// An ISO 8601 UTC time as ListObjectsV2 gives LastModified, in seconds
// since the epoch (the fraction dropped); -1 when it is not one.
int64_t ParseIsoTime(std::string_view s);
// XML text with its five predefined entities and numeric references decoded.
std::string XmlUnescape(std::string_view s);

}  // namespace modelfs::remote
