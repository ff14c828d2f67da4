#include "hooks/command.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace modelfs::hooks {

namespace {
constexpr size_t kOutputKeep = 4096;
using std::chrono::milliseconds;
}  // namespace

std::string LastLines(const std::string& text, size_t lines, size_t bytes) {
  std::vector<std::string> all;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    all.push_back(std::move(line));
    pos = nl + 1;
  }
  while (!all.empty() && all.back().empty()) all.pop_back();
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += (out.empty() ? "" : "\n") + all[i];
  if (out.size() > bytes) out = "..." + out.substr(out.size() - bytes);
  return out;
}

CommandResult RunCommand(const CommandSpec& spec) {
  CommandResult res;
  if (spec.argv.empty()) {
    res.status = Status::Invalid("no command to run");
    return res;
  }
  // Who it runs as, resolved before fork (the child may call only
  // async-signal-safe functions in a threaded daemon).
  bool root = geteuid() == 0;
  struct passwd pwbuf {};
  struct passwd* pw = nullptr;
  std::vector<char> buf(16384);
  std::vector<gid_t> groups(256);
  int ngroups = static_cast<int>(groups.size());
  if (root) {
    getpwnam_r(spec.user.c_str(), &pwbuf, buf.data(), buf.size(), &pw);
    if (pw == nullptr) {
      res.status = Status::Invalid("user " + spec.user + " does not exist");
      return res;
    }
    if (getgrouplist(spec.user.c_str(), pw->pw_gid, groups.data(), &ngroups) < 0) ngroups = 0;
  } else {
    getpwuid_r(geteuid(), &pwbuf, buf.data(), buf.size(), &pw);
  }
  std::vector<std::string> env = {
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "LANG=C.UTF-8",
      std::string("HOME=") + (pw && pw->pw_dir ? pw->pw_dir : "/"),
      std::string("USER=") + (pw && pw->pw_name ? pw->pw_name : ""),
  };
  env.insert(env.end(), spec.env.begin(), spec.env.end());
  std::vector<char*> envp, argv;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::string cwd = spec.cwd.empty() ? "/" : spec.cwd;

  // stdin: a socket, so that writing to a command that does not read it
  // cannot raise SIGPIPE here (send with MSG_NOSIGNAL).
  int in[2], out[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
    res.status = Status::FromErrno("socketpair", errno);
    return res;
  }
  if (pipe2(out, O_CLOEXEC) != 0) {
    res.status = Status::FromErrno("pipe", errno);
    close(in[0]);
    close(in[1]);
    return res;
  }
  uid_t uid = pw ? pw->pw_uid : geteuid();
  gid_t gid = pw ? pw->pw_gid : getegid();
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    res.status = Status::FromErrno("fork", errno);
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    return res;
  }
  if (pid == 0) {
    setsid();
    dup2(in[1], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    if (root && (setgroups(static_cast<size_t>(ngroups), groups.data()) != 0 || setgid(gid) != 0 ||
                 setuid(uid) != 0)) {
      static const char msg[] = "modelfs: cannot switch to the command's user\n";
      (void)!write(2, msg, sizeof msg - 1);
      _exit(126);
    }
    if (chdir(cwd.c_str()) != 0) {
      static const char msg[] = "modelfs: cannot enter the command's directory\n";
      (void)!write(2, msg, sizeof msg - 1);
      _exit(126);
    }
    execvpe(argv[0], argv.data(), envp.data());
    static const char msg[] = "modelfs: cannot run the command (not found or not executable)\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  close(in[1]);
  close(out[1]);
  size_t sent = 0;
  while (sent < spec.input.size()) {
    ssize_t n = send(in[0], spec.input.data() + sent, spec.input.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // full (a command that does not read) or gone: not our error
  }
  shutdown(in[0], SHUT_WR);
  auto deadline = t0 + std::chrono::seconds(spec.timeout_seconds);
  std::string output;
  bool timed_out = false, cancelled = false;
  auto stop_now = [&] {
    if (spec.cancel && spec.cancel->load()) cancelled = true;
    else if (std::chrono::steady_clock::now() >= deadline) timed_out = true;
    return cancelled || timed_out;
  };
  char chunk[4096];
  for (;;) {
    if (stop_now()) break;
    struct pollfd p = {out[0], POLLIN, 0};
    int n = poll(&p, 1, 100);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    ssize_t r = read(out[0], chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;  // EOF: every writer closed
    output.append(chunk, static_cast<size_t>(r));
    if (output.size() > 2 * kOutputKeep) output.erase(0, output.size() - kOutputKeep);
  }
  if (timed_out || cancelled) kill(-pid, SIGKILL);
  close(in[0]);
  close(out[0]);
  int wst = 0;
  // After EOF the command may still be running (it closed its output):
  // wait within the deadline.
  for (;;) {
    pid_t w = waitpid(pid, &wst, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) break;
    if (!timed_out && !cancelled && stop_now()) {
      kill(-pid, SIGKILL);
      waitpid(pid, &wst, 0);
      break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  res.output = output.size() > kOutputKeep ? output.substr(output.size() - kOutputKeep) : output;
  // The last lines, on one line: a refusal's reason is one line.
  std::string last = LastLines(output, 5, 600);
  for (size_t i = 0; (i = last.find('\n', i)) != std::string::npos;) last.replace(i, 1, " | ");
  std::string tail = last.empty() ? "" : ": " + last;
  if (cancelled) {
    res.status = Status::IO("cancelled (the registry is shutting down)");
  } else if (timed_out) {
    res.status = Status::IO("timed out after " + std::to_string(spec.timeout_seconds) + " s (killed)" + tail);
  } else if (WIFEXITED(wst) && WEXITSTATUS(wst) != 0) {
    res.status = Status::IO("exit " + std::to_string(WEXITSTATUS(wst)) + tail);
  } else if (WIFSIGNALED(wst)) {
    res.status = Status::IO(std::string("killed by signal ") + strsignal(WTERMSIG(wst)) + tail);
  }
  return res;
}

}  // namespace modelfs::hooks
