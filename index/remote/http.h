// HTTP through libcurl for the remote engines (s3.h, etcd.h): one request in,
// one response out, with bounded timeouts and retries. A request that fails
// to connect, times out, or gets a 5xx is retried with a growing, randomised
// backoff (the servers are shared; a herd retrying in step makes it worse).
// Streaming responses (etcd's watch) go through a body callback that may
// stop the transfer. Thread-safe: each call uses its own curl handle.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "index/status.h"

namespace modelfs::remote {

struct HttpRequest {
  std::string method = "GET";     // GET, PUT, POST, HEAD, DELETE
  std::string url;                // already encoded
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  // A PUT's body read from this descriptor instead (pread from offset 0,
  // `body_fd_size` bytes; each retry reads it again): large uploads never
  // sit in memory. -1: `body` is the body.
  int body_fd = -1;
  uint64_t body_fd_size = 0;
  // SigV4 signing by libcurl (CURLOPT_AWS_SIGV4), when aws_sigv4 is set:
  // "aws:amz:REGION:SERVICE", with the access key and secret.
  std::string aws_sigv4;
  std::string aws_key_id;
  std::string aws_secret;
};

struct HttpResponse {
  long status = 0;
  // Header names in lower case; a repeated header keeps its last value.
  std::map<std::string, std::string> headers;
  std::string body;
};

struct RetryPolicy {
  int attempts = 4;                                     // tries in all, >= 1
  std::chrono::milliseconds first_backoff{100};         // doubled each retry, +-50% jitter
  std::chrono::milliseconds connect_timeout{3000};
  // The whole request, retries excluded. 0 = none (streams: see Stream).
  std::chrono::milliseconds timeout{30000};
};

// Called with each piece of a streamed body as it arrives; returning false
// ends the transfer (Stream then returns Ok).
using BodySink = std::function<bool(const char* data, size_t size)>;

class Http {
 public:
  explicit Http(RetryPolicy policy = {}) : policy_(policy) {}

  // Sends the request; retries connection failures, timeouts and 5xx
  // responses as the policy says. A response of any status is a success
  // here (the caller maps 4xx); a Status::IO names the URL and curl's error
  // when no response came after the last attempt.
  Result<HttpResponse> Send(const HttpRequest& req) const;

  // Sends the request once and hands the body to `sink` as it arrives, for
  // as long as the server streams it. `cancelled` is polled as data arrives
  // and at least once a second (libcurl's progress callback): when it
  // returns true the transfer ends and Stream returns Ok.
  // No total timeout; the connect timeout applies. The status and headers
  // are in `*head` once known (before the first sink call).
  Status Stream(const HttpRequest& req, HttpResponse* head, const BodySink& sink,
                const std::function<bool()>& cancelled) const;

  const RetryPolicy& policy() const { return policy_; }

 private:
  RetryPolicy policy_;
};

// Whether a status is worth retrying: 5xx (the server or a peer it needs is
// busy or restarting). 4xx are the caller's mistake and fail at once.
inline bool RetryableStatus(long status) { return status >= 500 && status <= 599; }

}  // namespace modelfs::remote
