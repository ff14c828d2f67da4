// `ln -sfn`'s temporary symlinks (SPEC §4): GNU ln makes a symlink under a
// temporary name and renames it over the alias. The mount keeps such names
// in memory only; they become an alias only through that rename. Free of
// FUSE types, like tree.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "fs/inodes.h"
#include "index/status.h"

namespace modelfs::fs {

// Temporary symlinks in a model directory whose names are not alias names:
// GNU `ln -sfn vN ALIAS` creates one (named like "CuXXXXXX") and renames it
// over ALIAS. They live in memory only, vanish after kTtl or at unmount, and
// become an alias only through that rename. Thread-safe (a leaf lock).
class PendingLinks {
 public:
  // Longer than any `ln` takes between symlink and rename; short enough
  // that a forgotten temporary does not linger.
  static constexpr auto kTtl = std::chrono::seconds(60);

  struct Link {
    uint64_t ino = 0;
    std::string target;  // "vN"
    int64_t created_ns = 0;
  };
  // Exists when the name is taken.
  Result<Link> Add(uint64_t model_id, const std::string& name, const std::string& target);
  std::optional<Link> Get(uint64_t model_id, const std::string& name);
  // Removes it; false when there was none (or it has expired).
  bool Remove(uint64_t model_id, const std::string& name);
  // Renames within the model (temporary to temporary), replacing `to`
  // unless `noreplace` (then Exists). NotFound when `from` has expired.
  Status Rename(uint64_t model_id, const std::string& from, const std::string& to,
                bool noreplace);

 private:
  using Clock = std::chrono::steady_clock;
  struct Slot {
    Link link;
    Clock::time_point expires;
  };
  void ExpireLocked(Clock::time_point now);
  std::mutex mu_;
  std::map<std::pair<uint64_t, std::string>, Slot> links_;
  uint64_t next_ = 1;
};

// Whether `name` is the temporary name GNU ln gives the new symlink before
// renaming it over the destination (coreutils' samedir_template: "Cu" and
// six letters or digits). Any other name that is not an alias name is
// refused.
bool IsLnTemporary(const std::string& name);

}  // namespace modelfs::fs
