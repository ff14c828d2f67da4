// What each caller was refused most recently, per model, kept in memory for
// a while: a caller refused through the mount reads their own reason from
// user.registry.why (SPEC §4), since the mount's log is ROOT's owner's.
// Keyed by uid, so no caller ever reads another's; bounded, so no caller
// can grow it without end. The Enforcer records its denials here, and the
// mount its other refusals (a bad name, a sealed version, a failed seal).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace modelfs::policy {

// The xattr through which the mount gives a caller their refusals: on a
// model directory (or anything in it) Latest() for that model, on the
// mount root All(). Not listed by listxattr: its value is the caller's
// own and comes and goes, so `getfattr -d` output stays the same for all.
inline constexpr std::string_view kWhyXattr = "user.registry.why";

class Refusals {
 public:
  struct Limits {
    // Long enough to go and ask after a failed `ln -sfn` or `cp`; short
    // enough that an old reason is not taken for the cause of a new error.
    std::chrono::seconds keep{600};
    // Models remembered per caller (the oldest refusal dropped first): the
    // mount root's value lists them all, and stays far below 64 KiB.
    size_t per_caller = 16;
    // Callers remembered (the one refused least recently dropped first).
    size_t max_callers = 256;
    // A reason longer than this is cut (and says so): 16 of them fit the
    // root's value, and a path in a reason is at most PATH_MAX.
    size_t max_text = 3000;
  };
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  Refusals() : Refusals(Limits{}) {}
  // `clock` is for tests (default: steady_clock::now).
  explicit Refusals(Limits limits, Clock clock = {});

  // Remembers that `uid` was just refused on `model` ("" for the registry
  // root) with `text` (one line is kept: control characters are escaped),
  // replacing what it was refused there before. Thread-safe.
  void Record(uint32_t uid, std::string_view model, std::string_view text);

  // `uid`'s most recent refusal on `model` within the last `keep`, as the
  // line "TIME TEXT" (TIME in RFC 3339 UTC), or nothing. Thread-safe.
  std::optional<std::string> Latest(uint32_t uid, std::string_view model) const;
  // Every refusal of `uid` kept, on any model or the root, one line each
  // (joined by newlines), newest first; empty when none. Thread-safe.
  std::string All(uint32_t uid) const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Entry {
    TimePoint at;     // for expiry and order
    std::string line;  // "TIME TEXT"
  };
  struct Caller {
    std::map<std::string, Entry, std::less<>> by_model;
    TimePoint newest;
  };
  // Drops what is older than keep (all callers). Requires mu_.
  void Expire(TimePoint now) const;

  const Limits limits_;
  const Clock clock_;
  mutable std::mutex mu_;  // a leaf lock
  mutable std::map<uint32_t, Caller> callers_;  // by uid, under mu_
};

}  // namespace modelfs::policy
