// Running a command for a hook or a check gate: as another (unprivileged)
// user when this process is root, in a session of its own, with a given
// input on stdin and its output captured, killed with its whole process
// group at a timeout or when cancelled. Safe in a threaded daemon: what
// the child does between fork and exec is async-signal-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "index/status.h"

namespace modelfs::hooks {

struct CommandSpec {
  std::vector<std::string> argv;  // argv[0] without '/' is searched in PATH
  // Added to PATH=/usr/local/bin:/usr/bin:/bin, LANG=C.UTF-8, HOME, USER.
  std::vector<std::string> env;
  std::string user;  // run as this account when root; else as ourselves
  std::string cwd = "/";
  std::string input;  // on stdin, then end of file
  int64_t timeout_seconds = 30;
  const std::atomic<bool>* cancel = nullptr;  // polled; kills the command
};

struct CommandResult {
  // Ok (exit 0), or IO: "exit N: LAST LINES", "timed out after N s
  // (killed): ...", "killed by signal ...", "cancelled", or why it could
  // not start.
  Status status;
  std::string output;  // stdout and stderr together, the last 4 KiB
  double seconds = 0;
};

CommandResult RunCommand(const CommandSpec& spec);

// The last `lines` lines of `text` (at most `bytes` bytes), without the
// trailing newline: what a refusal quotes of a command's output.
std::string LastLines(const std::string& text, size_t lines, size_t bytes);

}  // namespace modelfs::hooks
