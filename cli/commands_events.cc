// `modelfs events`: the event log (index/events.h) as JSON lines, or as
// lines of text on a terminal; --since resumes after a sequence number and
// --follow waits for new commits (ChangeWatch: woken by the commit itself,
// not by a polling loop) until SIGINT, SIGTERM or a closed pipe.
//
// An administrator sees every event; anyone else the events of the models
// they may read, and none of the registry-wide ones (gc, fsck).
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"
#include "index/events.h"

namespace modelfs::cli {
namespace {

struct EventsArgs {
  std::string root;
  uint64_t since = 0;
  bool follow = false, json = false;
};

// Longest --follow sleeps without looking: a wake-up ChangeWatch missed
// (none is expected) costs at most this.
constexpr int kFollowRecheckMs = 2000;

std::string EventText(const AuditRecord& r, const std::string& type) {
  std::string s = std::to_string(r.seq) + "  " + FormatTime(r.at_ns) + "  " + type + "  " + r.object;
  if (!r.before.empty() || !r.after.empty()) s += "  " + r.before + " -> " + r.after;
  s += "  by " + r.user;
  return s;
}

// Writes one line and flushes it, so a follower's reader sees each event
// as it commits. False when the reader has gone (EPIPE) or output failed.
bool Emit(const std::string& line) {
  if (fputs(line.c_str(), stdout) == EOF || fputc('\n', stdout) == EOF) return false;
  return fflush(stdout) == 0;
}

int RunEvents(const EventsArgs& a) {
  bool tty = isatty(STDOUT_FILENO) == 1;
  bool as_json = a.json || !tty;
  // A reader that goes away (`events --follow | head -1`) ends the command
  // quietly with status 0: the write fails with EPIPE instead of killing it.
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  int sig_fd = -1;
  if (a.follow) {
    // A background job of a script starts with SIGINT ignored, and an
    // ignored signal never reaches the signalfd: take them back first.
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigprocmask(SIG_BLOCK, &stop, nullptr);
    sig_fd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sig_fd < 0) return Fail(Status::FromErrno("signalfd", errno));
  }
  bool reader_gone = false;
  int rc = WithSession(a.root, [&](Session& s) -> Status {
    bool admin = s.MayAdminister();
    std::unique_ptr<ChangeWatch> watch;
    if (a.follow) {
      auto w = ChangeWatch::Open(s.reg().root());
      if (!w.ok()) return w.status();
      watch = std::make_unique<ChangeWatch>(std::move(*w));
    }
    uint64_t pos = a.since;
    // While looks after a wake-up find nothing: ChangeWatch::SettleMs's k,
    // from 0 again at each new write, growing while only the timer wakes us.
    int settle = -1;
    bool woken = false, timed_out = false;
    for (;;) {
      uint64_t before = pos;
      // Drained before reading, so a commit after the read wakes the poll.
      if (watch) watch->Drain();
      auto snap = s.reg().Read();
      if (!snap.ok()) return snap.status();
      MODELFS_RETURN_IF_ERROR(ForEachEvent(*snap, pos, [&](const AuditRecord& r, const std::string& type) {
        pos = r.seq;
        bool visible = admin || (!r.model.empty() && s.MayRead(r.model));
        if (!visible) return true;
        std::string line = as_json ? DumpJson(EventJson(r), -1) : EscapeText(EventText(r, type));
        if (!Emit(line)) {
          reader_gone = true;
          return false;
        }
        return true;
      }));
      if (reader_gone || !a.follow) return Status::Ok();
      // stdout is watched for its reader going away (a pipe's writing end
      // reports POLLERR then), so `events -f | head -1` ends without
      // waiting for the next event to fail to write.
      struct pollfd fds[3] = {{watch->fd(), POLLIN, 0}, {sig_fd, POLLIN, 0}, {STDOUT_FILENO, 0, 0}};
      if (pos != before) settle = -1;
      else if (woken) settle = 0;
      else if (timed_out && settle >= 0) ++settle;
      else settle = -1;
      int wait_ms = settle >= 0 ? ChangeWatch::SettleMs(settle) : -1;
      if (wait_ms < 0) {
        settle = -1;
        wait_ms = kFollowRecheckMs;
      }
      int n = poll(fds, 3, wait_ms);
      if (n < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
      if (n > 0 && (fds[1].revents & POLLIN)) return Status::Ok();  // SIGINT, SIGTERM
      if (n > 0 && (fds[2].revents & (POLLERR | POLLHUP))) {
        reader_gone = true;
        return Status::Ok();
      }
      woken = n > 0 && (fds[0].revents & POLLIN);
      timed_out = n == 0;
    }
  });
  if (sig_fd >= 0) close(sig_fd);
  // stdout closed under us is the reader's choice, not a failure.
  if (reader_gone) return kExitOk;
  return rc;
}

}  // namespace

Command AddEvents(CLI::App& app) {
  auto a = std::make_shared<EventsArgs>();
  CLI::App* c = app.add_subcommand(
      "events", "The event log: every committed change, as JSON lines; --follow streams new ones");
  AddRoot(c, a->root);
  c->add_option("--since", a->since, "Only events after this sequence number (resume where you left off)");
  c->add_flag("-f,--follow", a->follow, "Keep running and print each new event as it commits (until Ctrl-C)");
  AddJson(c, a->json);
  Example(c, {"events --since 120", "events --follow | jq 'select(.type == \"alias.production\")'"});
  return {c, [a] { return RunEvents(*a); }};
}

}  // namespace modelfs::cli
