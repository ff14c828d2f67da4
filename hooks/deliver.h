// Hooks (SPEC §8 "Hooks"): each committed event whose type a [[hooks]]
// entry matches is delivered to it at least once, in commit order, from
// the durable event log (index/events.h).
//
// Each hook has a delivery record in the index (Registry::PutState,
// "hook/NAME"): the sequence number up to which its events are done, the
// current event's attempts, when the next is due and the last error, and
// the deliveries given up after max_attempts (newest 100). A delivery is
// recorded done only after it succeeded, so a deliverer killed in the
// middle sends it again when it restarts; each attempt of one event
// carries the same delivery id ("NAME-SEQ") for the receiver to notice.
// Failed attempts are retried after 1 s, 2 s, 4 s ... (at most 5 min, with
// jitter); the hook's later events wait, so a receiver sees them in order.
// A new hook starts at the newest event: it is not sent the past.
//
// One deliverer runs per ROOT at a time (a lock on ROOT/hooks.lock): the
// mount's, or `modelfs hooks ROOT run` where no mount runs; a second one
// waits for the first to stop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "index/registry.h"
#include "index/status.h"
#include "policy/policy.h"

namespace modelfs::hooks {

// A delivery given up (or waiting): shown by `hooks status`, sent again by
// `hooks retry ID`.
struct Delivery {
  std::string id;  // "NAME-SEQ"
  uint64_t seq = 0;
  std::string type;
  int attempts = 0;
  int64_t last_attempt_ns = 0;
  std::string last_error;
};

// A hook's delivery record.
struct HookState {
  bool known = false;   // false: never seen; starts at the newest event
  uint64_t done = 0;    // events up to this sequence number are done
  int attempts = 0;     // of the event after `done`, failed so far
  int64_t next_at_ns = 0;
  int64_t last_attempt_ns = 0;
  std::string last_error;
  std::vector<Delivery> failed;  // newest last, at most kMaxFailed
  static constexpr size_t kMaxFailed = 100;
};

Result<HookState> LoadState(const Snapshot& snap, const std::string& hook);
Status SaveState(Registry& reg, const std::string& hook, const HookState& st);

// The outcome of one attempt: Ok, or why it failed (HTTP status and the
// start of the body, the command's exit and its last lines, a timeout).
// `output` holds what a command printed (its last 4 KiB).
struct Attempt {
  Status status;
  std::string output;
  double seconds = 0;
};

// Sends `event` (its JSON text is the body or the command's stdin) to
// `hook` once. `run` hooks run as `user` when this process is root (else
// as this process's own user), in a new session, killed with their
// process group at the hook's timeout.
Attempt Send(const policy::Hook& hook, const nlohmann::json& event, const std::string& delivery_id,
             const std::string& user);

// Whether the event `r` satisfies the hook's `when` (true without one):
// evaluated against its version as `snap` has it; false for an event
// without a version, or whose version is gone.
bool WhenHolds(const Snapshot& snap, const policy::Hook& hook, const AuditRecord& r);

// The retry delay after `attempts` failures: 1 s doubling, at most 5 min,
// +-20% jitter.
std::chrono::milliseconds Backoff(int attempts);

using LogFn = std::function<void(const std::string&)>;

class Deliverer {
 public:
  Deliverer(Registry* reg, std::function<std::shared_ptr<const policy::Policy>()> policy, LogFn log);

  // One pass over every hook: delivers what is due, in order, and records
  // each outcome. Returns how long until the next retry is due (1 h when
  // none is).
  std::chrono::milliseconds RunOnce();

  // Once the policy names a hook (it does nothing before, so a mount
  // without hooks touches nothing), holds ROOT/hooks.lock (waiting, while
  // another deliverer has it) and
  // runs passes whenever the index changes or a retry is due, until `stop`
  // is set or `stop_fd` (an eventfd or a signalfd; -1 for none) is
  // readable. Returns the error that stopped it, else Ok.
  Status Run(const std::atomic<bool>& stop, int stop_fd);

 private:
  // Delivers the hook's due events; returns when its next retry is due.
  std::chrono::milliseconds RunHook(const policy::Hook& hook, const policy::Policy& pol);
  Registry* reg_;
  std::function<std::shared_ptr<const policy::Policy>()> policy_;
  LogFn log_;
};

}  // namespace modelfs::hooks
