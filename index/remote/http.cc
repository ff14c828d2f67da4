// libcurl behind Http (http.h). One easy handle per request: the remote
// engines' requests are few and large (blobs) or long-lived (watch), so a
// connection pool would save little and share state between threads.
#include "index/remote/http.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <random>
#include <thread>

namespace modelfs::remote {
namespace {

// libcurl is loaded when the first request is made, not linked: it brings
// some thirty libraries (TLS, Kerberos, LDAP, HTTP/2 ...) whose loading
// would cost every `modelfs` command a few milliseconds, while only the
// multi-host engine and webhooks need it.
struct CurlApi {
  CURLcode (*global_init)(long) = nullptr;
  CURL* (*easy_init)() = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
  void (*slist_free_all)(curl_slist*) = nullptr;
};

CurlApi g_curl;
std::string g_curl_error;  // why it could not be loaded; empty when loaded

template <class F>
bool Sym(void* lib, const char* name, F* out) {
  *out = reinterpret_cast<F>(dlsym(lib, name));
  if (*out == nullptr) g_curl_error = std::string("libcurl lacks ") + name;
  return *out != nullptr;
}

// Loads libcurl (libcurl.so.4, Debian's libcurl4) and initialises it, once
// per process; never unloaded (other threads may still use it at exit).
// Ok, or IO saying what is missing.
Status GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* e = dlerror();
      g_curl_error = std::string("cannot load libcurl (install Debian's libcurl4): ") + (e ? e : "");
      return;
    }
    bool ok = Sym(lib, "curl_global_init", &g_curl.global_init) &&
              Sym(lib, "curl_easy_init", &g_curl.easy_init) &&
              Sym(lib, "curl_easy_setopt", &g_curl.easy_setopt) &&
              Sym(lib, "curl_easy_perform", &g_curl.easy_perform) &&
              Sym(lib, "curl_easy_getinfo", &g_curl.easy_getinfo) &&
              Sym(lib, "curl_easy_cleanup", &g_curl.easy_cleanup) &&
              Sym(lib, "curl_easy_strerror", &g_curl.easy_strerror) &&
              Sym(lib, "curl_slist_append", &g_curl.slist_append) &&
              Sym(lib, "curl_slist_free_all", &g_curl.slist_free_all);
    if (ok && g_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      g_curl_error = "curl_global_init failed";
      ok = false;
    }
    if (!ok) g_curl = CurlApi{};
  });
  if (g_curl.easy_init == nullptr) return Status::IO(g_curl_error);
  return Status::Ok();
}

struct Transfer {
  HttpResponse* resp = nullptr;
  const BodySink* sink = nullptr;
  const std::function<bool()>* cancelled = nullptr;
  bool stopped = false;  // the sink or the canceller ended it
  std::string_view upload;
  size_t upload_pos = 0;
  int upload_fd = -1;  // HttpRequest::body_fd
  uint64_t upload_fd_size = 0;
};

size_t OnBody(char* data, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  size_t len = size * n;
  if (t->sink != nullptr) {
    if (!(*t->sink)(data, len)) {
      t->stopped = true;
      return 0;  // CURLE_WRITE_ERROR, which Stream turns into Ok
    }
    return len;
  }
  t->resp->body.append(data, len);
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  size_t len = size * n;
  std::string line(data, len);
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->headers.clear();  // a new response (after 100 Continue, a redirect)
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos) return len;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  size_t b = colon + 1;
  while (b < line.size() && (line[b] == ' ' || line[b] == '\t')) ++b;
  size_t e = line.size();
  while (e > b && (line[e - 1] == '\r' || line[e - 1] == '\n' || line[e - 1] == ' ')) --e;
  t->resp->headers[name] = line.substr(b, e - b);
  return len;
}

size_t OnUpload(char* buf, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  if (t->upload_fd >= 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(size * n, t->upload_fd_size - t->upload_pos));
    if (want == 0) return 0;
    ssize_t got;
    do {
      got = pread(t->upload_fd, buf, want, static_cast<off_t>(t->upload_pos));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) return CURL_READFUNC_ABORT;  // shrunk or unreadable: fail the request
    t->upload_pos += static_cast<size_t>(got);
    return static_cast<size_t>(got);
  }
  size_t len = std::min(size * n, t->upload.size() - t->upload_pos);
  std::copy_n(t->upload.data() + t->upload_pos, len, buf);
  t->upload_pos += len;
  return len;
}

int OnProgress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(p);
  if (t->cancelled != nullptr && (*t->cancelled)()) {
    t->stopped = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

struct Handle {
  CURL* h = g_curl.easy_init();
  curl_slist* headers = nullptr;
  ~Handle() {
    g_curl.slist_free_all(headers);
    if (h != nullptr) g_curl.easy_cleanup(h);
  }
};

// Sets up `h` for `req`; the transfer's state lives in `t`.
void Prepare(Handle& hd, const HttpRequest& req, const RetryPolicy& pol, Transfer& t,
             std::chrono::milliseconds timeout, char* errbuf) {
  CURL* h = hd.h;
  g_curl.easy_setopt(h, CURLOPT_URL, req.url.c_str());
  g_curl.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  g_curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  g_curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(pol.connect_timeout.count()));
  g_curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  g_curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  g_curl.easy_setopt(h, CURLOPT_WRITEDATA, &t);
  g_curl.easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  g_curl.easy_setopt(h, CURLOPT_HEADERDATA, &t);
  for (const auto& line : req.headers) hd.headers = g_curl.slist_append(hd.headers, line.c_str());
  // No "Expect: 100-continue" (one round trip fewer), except on signed
  // requests: libcurl 7.88 signs the "Expect:" that removes the header as a
  // header `expect` with an empty value, which it then does not send, so
  // the store's signature never matches (s3api: SignatureDoesNotMatch).
  // There, uploads over 1 MiB wait for the store's 100 Continue.
  if (req.aws_sigv4.empty()) hd.headers = g_curl.slist_append(hd.headers, "Expect:");
  g_curl.easy_setopt(h, CURLOPT_HTTPHEADER, hd.headers);
  if (req.method == "HEAD") {
    g_curl.easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT") {
    // An upload, so that libcurl sends Content-Length and signs the same
    // request it sends; the body is read from memory.
    t.upload = req.body;
    t.upload_fd = req.body_fd;
    t.upload_fd_size = req.body_fd_size;
    uint64_t len = req.body_fd >= 0 ? req.body_fd_size : req.body.size();
    g_curl.easy_setopt(h, CURLOPT_UPLOAD, 1L);
    g_curl.easy_setopt(h, CURLOPT_READFUNCTION, OnUpload);
    g_curl.easy_setopt(h, CURLOPT_READDATA, &t);
    g_curl.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(len));
  } else if (req.method == "POST") {
    g_curl.easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    g_curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method != "GET") {
    g_curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  if (!req.aws_sigv4.empty()) {
    g_curl.easy_setopt(h, CURLOPT_AWS_SIGV4, req.aws_sigv4.c_str());
    // Separately, not as "user:password": a tempauth key id holds a colon.
    g_curl.easy_setopt(h, CURLOPT_USERNAME, req.aws_key_id.c_str());
    g_curl.easy_setopt(h, CURLOPT_PASSWORD, req.aws_secret.c_str());
  }
}

bool RetryableCurl(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

std::string Describe(const HttpRequest& req, CURLcode rc, const char* errbuf) {
  return req.method + " " + req.url + ": " + (errbuf[0] != '\0' ? errbuf : g_curl.easy_strerror(rc));
}

}  // namespace

Result<HttpResponse> Http::Send(const HttpRequest& req) const {
  if (Status loaded = GlobalInit(); !loaded.ok()) return loaded.WithContext(req.method + " " + req.url);
  thread_local std::mt19937 rng{std::random_device{}()};
  std::chrono::milliseconds backoff = policy_.first_backoff;
  std::string last_error;
  for (int attempt = 1;; ++attempt) {
    Handle hd;
    if (hd.h == nullptr) return Status::IO(req.method + " " + req.url + ": curl_easy_init failed");
    HttpResponse resp;
    Transfer t;
    t.resp = &resp;
    char errbuf[CURL_ERROR_SIZE] = {};
    Prepare(hd, req, policy_, t, policy_.timeout, errbuf);
    CURLcode rc = g_curl.easy_perform(hd.h);
    bool retry;
    if (rc == CURLE_OK) {
      g_curl.easy_getinfo(hd.h, CURLINFO_RESPONSE_CODE, &resp.status);
      if (!RetryableStatus(resp.status) || attempt >= policy_.attempts) return resp;
      last_error = req.method + " " + req.url + ": HTTP " + std::to_string(resp.status);
      retry = true;
    } else {
      last_error = Describe(req, rc, errbuf);
      retry = RetryableCurl(rc);
    }
    if (!retry || attempt >= policy_.attempts) {
      return Status::IO(last_error + (attempt > 1 ? " (after " + std::to_string(attempt) + " attempts)" : ""));
    }
    std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count() * 3 / 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
    backoff *= 2;
  }
}

Status Http::Stream(const HttpRequest& req, HttpResponse* head, const BodySink& sink,
                    const std::function<bool()>& cancelled) const {
  if (Status loaded = GlobalInit(); !loaded.ok()) return loaded.WithContext(req.method + " " + req.url);
  Handle hd;
  if (hd.h == nullptr) return Status::IO(req.method + " " + req.url + ": curl_easy_init failed");
  Transfer t;
  t.resp = head;
  bool got_status = false;
  // The status is known once the headers are in: fetch it before the first
  // piece of body reaches the sink.
  BodySink wrapped = [&](const char* data, size_t size) {
    if (!got_status) {
      g_curl.easy_getinfo(hd.h, CURLINFO_RESPONSE_CODE, &head->status);
      got_status = true;
    }
    return sink(data, size);
  };
  t.sink = &wrapped;
  t.cancelled = &cancelled;
  char errbuf[CURL_ERROR_SIZE] = {};
  Prepare(hd, req, policy_, t, std::chrono::milliseconds(0), errbuf);
  g_curl.easy_setopt(hd.h, CURLOPT_NOPROGRESS, 0L);
  g_curl.easy_setopt(hd.h, CURLOPT_XFERINFOFUNCTION, OnProgress);
  g_curl.easy_setopt(hd.h, CURLOPT_XFERINFODATA, &t);
  // A stream that goes silent is still alive (a watch with no events); TCP
  // keepalive finds a peer that is gone.
  g_curl.easy_setopt(hd.h, CURLOPT_TCP_KEEPALIVE, 1L);
  g_curl.easy_setopt(hd.h, CURLOPT_TCP_KEEPIDLE, 10L);
  g_curl.easy_setopt(hd.h, CURLOPT_TCP_KEEPINTVL, 5L);
  CURLcode rc = g_curl.easy_perform(hd.h);
  g_curl.easy_getinfo(hd.h, CURLINFO_RESPONSE_CODE, &head->status);
  if (t.stopped || rc == CURLE_OK) return Status::Ok();
  return Status::IO(Describe(req, rc, errbuf));
}

}  // namespace modelfs::remote
