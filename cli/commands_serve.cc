// `modelfs serve`: the web page and JSON API of SPEC §9 (web/ holds them).
// This file parses the command line and turns SIGINT/SIGTERM into a
// graceful stop: requests in flight finish, event streams end, exit 0.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <ctime>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/session.h"
#include "index/names.h"
#include "web/server.h"

namespace modelfs::cli {

namespace {

struct ServeArgs {
  std::string root;
  std::string listen = "127.0.0.1:8080";
  std::string auth_header;
};

int RunServe(const ServeArgs& a) {
  web::ServeOptions opt;
  opt.root = a.root;
  opt.auth_header = a.auth_header;
  if (Status st = web::ParseListen(a.listen, &opt); !st.ok()) return UsageError(st);
  // Blocked before any thread starts, so that every thread inherits the
  // mask and only the waiter below takes these signals.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that goes away is a failed write, not our death
  auto server = web::Server::Open(opt);
  if (!server.ok()) return Fail(server.status());
  std::string host = opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host;
  std::cerr << "modelfs: serving " << EscapeText((*server)->site_root()) << " on http://" << host
            << ":" << (*server)->port() << "/ (Ctrl-C stops)" << std::endl;
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    timespec tick{0, 200'000'000};  // looks at `done` 5 times a second
    while (!done) {
      int sig = sigtimedwait(&stop, nullptr, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        std::cerr << "modelfs: serve: stopping (" << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ")"
                  << std::endl;
        (*server)->Stop();
        return;
      }
    }
  });
  Status st = (*server)->Run();
  done = true;
  waiter.join();
  return st.ok() ? kExitOk : Fail(st);
}

}  // namespace

Command AddServe(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* c = app.add_subcommand("serve", "Serve the registry as a web page and a JSON API (read-only)");
  AddRoot(c, a->root);
  c->add_option("--listen", a->listen, "HOST:PORT to listen on (default 127.0.0.1:8080; port 0: any free one)");
  c->add_option("--auth-header", a->auth_header,
                "Take the user from this header set by a proxy on this host (loopback peers only)");
  Example(c, {"serve /srv/registry", "serve --listen 127.0.0.1:9000 --auth-header X-Forwarded-User"});
  return {c, [a] { return RunServe(*a); }};
}

}  // namespace modelfs::cli
