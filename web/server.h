// The HTTP side of `modelfs serve`: routes, the identity of each request,
// limits, the request log and the event stream, on cpp-httplib. Pages
// (pages.h) and the API (api.h) do not know HTTP beyond their Reply.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "index/status.h"
#include "web/site.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace modelfs::web {

struct ServeOptions {
  std::string root;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (said on stderr)
  // With a name: the user a fronting proxy names in this header is the
  // request's identity, from a loopback peer only (elsewhere it is ignored).
  std::string auth_header;
};

// "HOST:PORT", "[V6]:PORT" or ":PORT" (loopback) into `opt`; Invalid when
// it does not parse.
Status ParseListen(const std::string& text, ServeOptions* opt);

class Server {
 public:
  ~Server();
  // Opens the registry and binds the address: IO "HOST:PORT is in use"
  // when another process has it.
  static Result<std::unique_ptr<Server>> Open(const ServeOptions& opt);
  int port() const { return port_; }
  const std::string& site_root() const { return site_->reg().root(); }
  // Serves until Stop(); returns once the requests in flight have ended.
  Status Run();
  // Thread-safe, async-signal-unsafe: from the thread that waits on signals.
  void Stop();

 private:
  Server() = default;
  void Route();
  void Events(const httplib::Request& req, httplib::Response& res);

  ServeOptions opt_;
  int port_ = 0;
  std::unique_ptr<Site> site_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> stopping_{false};
  int stop_fd_ = -1;  // eventfd: wakes the event streams at Stop()
  std::atomic<int> streams_{0};
};

}  // namespace modelfs::web
