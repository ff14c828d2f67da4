// `modelfs serve` over cpp-httplib (see server.h). Sections: limits, the
// request's identity, routes, the event stream, opening and stopping.
#include "web/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "cli/render.h"
#include "index/events.h"
#include "index/names.h"
#include "web/api.h"
#include "web/pages.h"

namespace modelfs::web {

namespace {

// Gives the listening socket, which httplib keeps to itself.
class Http : public httplib::Server {
 public:
  int socket() const { return svr_sock_; }
};

// ---- Limits. A keep-alive connection holds a worker thread for as long as
// it stays open, so the pool is sized for the clients served at once: 256
// workers serve 200 keep-alive clients (the figure we hold ourselves to)
// with room to spare, at ~64 KiB of resident stack each when busy.
constexpr size_t kWorkers = 256;
// Event streams hold their thread for their whole life: at most this many
// at once (a 503 past it), and the pool has as many threads more for them,
// so streams never starve the pages.
constexpr int kMaxStreams = 64;
// An idle keep-alive connection is closed after 5 s, and after 1,000
// requests: a client cannot hold a thread forever by itself.
constexpr time_t kKeepAliveSeconds = 5;
constexpr size_t kKeepAliveRequests = 1000;
// A client has 10 s to send its request and to take each write.
constexpr time_t kReadTimeoutSeconds = 10, kWriteTimeoutSeconds = 10;
// Everything served is read with GET: a body is never needed, so any
// beyond 64 KiB is refused (413). Request lines and header lines are
// bounded at 8 KiB each by the library (CPPHTTPLIB_*_MAX_LENGTH).
constexpr size_t kMaxPayload = 64 * 1024;
// Connections not yet accepted: the kernel caps it at net.core.somaxconn.
constexpr int kListenBacklog = 1024;
// An event stream sends a comment after 15 s without an event, so
// proxies and clients that time out idle connections keep it.
constexpr int kHeartbeatMs = 15'000;
// ...and looks at the index at least once a second even without a wake-up
// from ChangeWatch (whose wake-ups may be missed: see events.h).
constexpr int kRecheckMs = 1'000;

// What the request log and the handlers need of the request in progress,
// kept per worker thread (httplib runs a request on one thread).
struct RequestState {
  std::chrono::steady_clock::time_point start;
  policy::Identity who;
  std::string label;       // the user, for the log
  uint64_t stream_bytes = 0;  // written by an event stream
};
thread_local RequestState tl;

bool IsLoopback(const std::string& addr) {
  return addr.starts_with("127.") || addr == "::1" || addr.starts_with("::ffff:127.");
}

bool WantsJson(const httplib::Request& req) { return req.path.starts_with("/api/"); }

void Send(httplib::Response& res, const Reply& r) {
  res.status = r.status;
  res.set_content(r.body, r.type.c_str());
}

void SendError(const httplib::Request& req, httplib::Response& res, const Status& st) {
  Send(res, WantsJson(req) ? ApiError(st) : ErrorPage(st));
}

Status ParseCount(const std::string& name, const std::string& text, uint64_t* out) {
  try {
    size_t used = 0;
    *out = std::stoull(text, &used);
    if (used == text.size() && text[0] != '-') return Status::Ok();
  } catch (const std::exception&) {
  }
  return Status::Invalid(name + ": not a sequence number: " + text);
}

}  // namespace

Status ParseListen(const std::string& text, ServeOptions* opt) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return Status::Invalid("--listen " + text + ": not HOST:PORT");
  std::string host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  int p = -1;
  try {
    size_t used = 0;
    p = std::stoi(port, &used);
    if (used != port.size()) p = -1;
  } catch (const std::exception&) {
  }
  if (p < 0 || p > 65535) return Status::Invalid("--listen " + text + ": bad port " + port);
  opt->host = host;
  opt->port = p;
  return Status::Ok();
}

Server::~Server() {
  if (stop_fd_ >= 0) close(stop_fd_);
}

Result<std::unique_ptr<Server>> Server::Open(const ServeOptions& opt) {
  std::unique_ptr<Server> s(new Server);
  s->opt_ = opt;
  auto site = Site::Open(opt.root);
  if (!site.ok()) return site.status();
  s->site_ = std::move(*site);
  s->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->stop_fd_ < 0) return Status::FromErrno("eventfd", errno);
  s->http_ = std::make_unique<Http>();
  auto& h = *s->http_;
  h.new_task_queue = [] { return new httplib::ThreadPool(kWorkers + kMaxStreams); };
  h.set_keep_alive_timeout(kKeepAliveSeconds);
  h.set_keep_alive_max_count(kKeepAliveRequests);
  h.set_read_timeout(kReadTimeoutSeconds);
  h.set_write_timeout(kWriteTimeoutSeconds);
  h.set_payload_max_length(kMaxPayload);
  // SO_REUSEADDR only: the library's default adds SO_REUSEPORT, with which
  // a second `serve` on the same port would share it silently instead of
  // being told that it is in use.
  h.set_socket_options([](int sock) {
    int one = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  });
  s->Route();
  std::string where = (opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host) +
                      ":" + std::to_string(opt.port);
  if (opt.port == 0) {
    s->port_ = h.bind_to_any_port(opt.host);
    if (s->port_ < 0) return Status::IO("cannot listen on " + where);
  } else {
    // httplib says only that binding failed: learn why from a bind of our
    // own (with the same SO_REUSEADDR), for a message that says it.
    if (!h.bind_to_port(opt.host, opt.port)) {
      int err = EADDRNOTAVAIL;
      in6_addr a6{};
      sockaddr_storage ss{};
      socklen_t len = 0;
      if (inet_pton(AF_INET, opt.host.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(uint16_t(opt.port));
        len = sizeof *a;
      } else if (inet_pton(AF_INET6, opt.host.c_str(), &a6) == 1) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_addr = a6;
        a->sin6_port = htons(uint16_t(opt.port));
        len = sizeof *a;
      }
      if (len) {
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        err = bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 ? 0 : errno;
        close(fd);
      }
      if (err == EADDRINUSE) return Status::IO(where + " is in use");
      return Status::IO("cannot listen on " + where + (err ? ": " + std::string(strerror(err)) : ""));
    }
    s->port_ = opt.port;
  }
  // The library listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG,
  // compiled in): 200 clients connecting at once would wait out SYN
  // retransmits (1 s, 3 s, 7 s). listen(2) again sets the backlog.
  ::listen(static_cast<Http&>(h).socket(), kListenBacklog);
  return s;
}

Status Server::Run() {
  if (!http_->listen_after_bind() && !stopping_)
    return Status::IO("serving stopped: the listening socket failed");
  return Status::Ok();
}

void Server::Stop() {
  stopping_ = true;
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);  // every stream's poll sees it
  http_->stop();
}

void Server::Route() {
  auto& h = *http_;
  Site& site = *site_;
  // Who asks: the user running serve; with --auth-header, the user named
  // in that header by a loopback peer (a fronting proxy on this host). From
  // any other peer the header is ignored, said in the log: a client cannot
  // choose who it is by sending a header, so the identity stays the one
  // every other request gets.
  h.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    tl.start = std::chrono::steady_clock::now();
    // No compression: Debian's cpp-httplib compresses at its slowest
    // settings and has no switch for it on the server side. A browser asks
    // for brotli, and a model page of 2,000 versions took 3.4 s to compress
    // against 12-25 ms sent as is (gzip: 150 ms); on loopback, or behind a
    // proxy that compresses, sending it as is costs nothing. The library's
    // Request is its own non-const object, handed here as const: erasing a
    // header from it is defined.
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    tl.stream_bytes = 0;
    tl.who = site_->serve_user();
    tl.label = tl.who.user;
    if (!opt_.auth_header.empty() && req.has_header(opt_.auth_header.c_str())) {
      std::string name = req.get_header_value(opt_.auth_header.c_str());
      if (!IsLoopback(req.remote_addr)) {
        tl.label += " (" + opt_.auth_header + " ignored from " + req.remote_addr + ")";
        return httplib::Server::HandlerResponse::Unhandled;
      }
      auto id = site_->IdentityFor(name);
      if (!id.ok()) {
        tl.label = "?" + name;
        SendError(req, res, Status::Denied("denied: " + opt_.auth_header + " names no user of this host: " + name));
        return httplib::Server::HandlerResponse::Handled;
      }
      tl.who = std::move(*id);
      tl.label = tl.who.user;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // One line per request on stderr: method path status bytes ms user.
  h.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - tl.start).count();
    char line[96];
    std::snprintf(line, sizeof line, " %d %zu %.1fms ", res.status,
                  size_t(res.body.size() + tl.stream_bytes), ms);
    std::string out = req.method + " " + EscapeText(req.path) + line + EscapeText(tl.label) + "\n";
    std::fputs(out.c_str(), stderr);
  });
  // Unmatched routes and library-made errors (400, 413, ...) get a body in
  // the form of the rest of their path: JSON under /api/, else a page.
  h.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = res.status == 404 ? "no such page: " + req.path
                                        : "HTTP status " + std::to_string(res.status);
    Reply r = WantsJson(req) ? ApiError(res.status, msg) : ErrorPage(Status::Invalid(msg));
    r.status = res.status;
    res.set_content(r.body, r.type.c_str());
    return httplib::Server::HandlerResponse::Handled;
  }));
  h.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what += std::string(": ") + e.what();
    } catch (...) {
    }
    SendError(req, res, Status::IO(what));
  });

  h.Get("/", [&site](const httplib::Request&, httplib::Response& res) { Send(res, IndexPage(site, tl.who)); });
  h.Get(R"(/m/([^/]+))", [&site](const httplib::Request& req, httplib::Response& res) {
    Send(res, ModelPage(site, tl.who, req.matches[1], req.params));
  });
  h.Get(R"(/m/([^/]+)/([^/]+))", [&site](const httplib::Request& req, httplib::Response& res) {
    Send(res, VersionPage(site, tl.who, req.matches[1], req.matches[2]));
  });
  h.Get("/find", [&site](const httplib::Request& req, httplib::Response& res) {
    Send(res, FindPage(site, tl.who, req.params));
  });
  h.Get("/compare", [&site](const httplib::Request& req, httplib::Response& res) {
    Send(res, ComparePage(site, tl.who, req.params));
  });
  h.Get(R"(/static/([a-z.]+))", [](const httplib::Request& req, httplib::Response& res) {
    const Reply* f = StaticFile(std::string(req.matches[1]));
    if (!f) return SendError(req, res, Status::NotFound("no such file: " + req.path));
    Send(res, *f);
    res.set_header("Cache-Control", "max-age=3600");
  });
  h.Get("/api/v1/models", [&site](const httplib::Request&, httplib::Response& res) {
    Send(res, ApiModels(site, tl.who));
  });
  h.Get(R"(/api/v1/models/([^/]+))", [&site](const httplib::Request& req, httplib::Response& res) {
    Send(res, ApiModel(site, tl.who, req.matches[1]));
  });
  h.Get(R"(/api/v1/models/([^/]+)/versions/([^/]+))",
        [&site](const httplib::Request& req, httplib::Response& res) {
          Send(res, ApiVersion(site, tl.who, req.matches[1], req.matches[2]));
        });
  h.Get("/api/v1/find", [&site](const httplib::Request& req, httplib::Response& res) {
    Send(res, ApiFind(site, tl.who, req.params));
  });
  h.Get("/api/v1/events", [this](const httplib::Request& req, httplib::Response& res) { Events(req, res); });
}

// GET /api/v1/events?since=SEQ. With Accept: text/event-stream, server-sent
// events: "id: SEQ" and "data: EVENT-JSON" per event the identity may see
// (as `modelfs events` filters them), following new ones until the client
// goes or the server stops; a resuming client's Last-Event-ID wins over
// ?since. Otherwise the events so far as a JSON array.
void Server::Events(const httplib::Request& req, httplib::Response& res) {
  uint64_t since = 0, limit = 1000;
  std::string from = req.has_header("Last-Event-ID") ? req.get_header_value("Last-Event-ID")
                                                      : req.get_param_value("since");
  if (!from.empty())
    if (Status st = ParseCount("since", from, &since); !st.ok()) return SendError(req, res, st);
  if (req.has_param("limit"))
    if (Status st = ParseCount("limit", req.get_param_value("limit"), &limit); !st.ok())
      return SendError(req, res, st);
  if (req.get_header_value("Accept").find("text/event-stream") == std::string::npos)
    return Send(res, ApiEvents(*site_, tl.who, since, limit));
  if (++streams_ > kMaxStreams) {
    --streams_;
    return Send(res, ApiError(503, "too many event streams (" + std::to_string(kMaxStreams) + ")"));
  }
  auto watch = ChangeWatch::Open(site_->reg().root());
  if (!watch.ok()) {
    --streams_;
    return SendError(req, res, watch.status());
  }
  struct Stream {
    ChangeWatch watch;
    policy::Identity who;
    bool admin;
    uint64_t pos;
    bool greeted = false;
    int settle = -1;  // ChangeWatch::SettleMs's k while woken reads find nothing
    std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
  };
  auto st = std::make_shared<Stream>(Stream{std::move(*watch), tl.who, site_->MayAdminister(tl.who), since});
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, st](size_t, httplib::DataSink& sink) {
        auto put = [&](const std::string& text) {
          tl.stream_bytes += text.size();
          st->last_write = std::chrono::steady_clock::now();
          return sink.write(text.data(), text.size());
        };
        if (stopping_) {
          sink.done();
          return true;
        }
        // A comment first, so that the client knows it is subscribed: an
        // event committed from now on is in the stream.
        if (!st->greeted) {
          st->greeted = true;
          if (!put(": events after " + std::to_string(st->pos) + "\n\n")) return false;
        }
        st->watch.Drain();  // before reading: a commit after the read wakes the poll
        uint64_t before = st->pos;
        auto snap = site_->reg().Read();
        if (!snap.ok()) return false;
        bool ok = true;
        Status read = ForEachEvent(*snap, st->pos, [&](const AuditRecord& r, const std::string&) {
          st->pos = r.seq;
          if (!EventVisible(*site_, st->who, st->admin, r)) return true;
          ok = put("id: " + std::to_string(r.seq) + "\ndata: " + cli::DumpJson(EventJson(r), -1) + "\n\n");
          return ok;
        });
        if (!ok || !read.ok()) return false;  // the client went, or the log cannot be read
        if (st->pos != before) {
          st->settle = -1;
          return true;
        }
        auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - st->last_write).count();
        if (idle >= kHeartbeatMs) return put(": heartbeat\n\n");
        int wait = int(std::min<int64_t>(kHeartbeatMs - idle, kRecheckMs));
        if (st->settle >= 0) {
          int s = ChangeWatch::SettleMs(st->settle++);
          if (s >= 0) wait = std::min(wait, s);
          else st->settle = -1;
        }
        pollfd fds[2] = {{st->watch.fd(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
        int n = poll(fds, 2, wait);
        if (n > 0 && (fds[0].revents & POLLIN) && st->settle < 0) st->settle = 0;
        return true;
      },
      [this](bool) { --streams_; });
}

}  // namespace modelfs::web
