// The mount's side of drafts (SPEC §4): what fs/ must remember about
// versions being written that the index does not hold. A draft's files are
// plain files in its staging directory (Registry::DraftDir) and reads and
// writes pass through to them; this file keeps the writers' bookkeeping
// that Registry::Seal relies on, the pending temporary symlinks of
// `ln -sfn`, and the recovery of files a crash left half-written.
// Free of FUSE types, like tree.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "fs/inodes.h"
#include "index/registry.h"

namespace modelfs::fs {

// Open-for-writing bookkeeping. A writer of a draft file holds
// flock(LOCK_SH) on its own descriptor (Seal takes LOCK_EX and fails with
// Busy while any is held) and the staging file carries
// Registry::kWritingXattr from the first writer's open to the last
// writer's release, so a file that still carries it after a crash is known
// to be possibly torn.
//
// Seals started by this mount first mark the draft as sealing: from then on
// no new writer is admitted (EBUSY), which closes the window in which a
// file created during the seal's walk would be missed.
//
// Lock order: admission_ (shared by openers, exclusive to mark a seal)
// before mu_; both are held only around system calls on one file, never
// across a FUSE reply.
class DraftWriters {
 public:
  // Held while a staging file is created or opened and BeginWrite runs.
  std::shared_lock<std::shared_mutex> Admit() { return std::shared_lock(admission_); }
  // With Admit() held: Busy when the draft is being sealed by this mount.
  Status CheckNotSealing(ObjectId version_id) const;
  // With Admit() held: takes the writer's shared lock on `fd` (Busy when a
  // seal holds the file) and marks the file as being written. `ino` keys
  // the count of writers of one staging file.
  Status BeginWrite(ObjectId ino, int fd);
  // The writer of `fd` is done: the last one removes the mark. The caller
  // closes `fd` afterwards, which releases its lock (in that order: a seal
  // that gets the lock must not see the mark).
  void EndWrite(ObjectId ino, int fd);

  // Marks a draft as being sealed by this mount (Busy if it already is).
  Status StartSeal(ObjectId version_id);
  void EndSeal(ObjectId version_id);

 private:
  std::shared_mutex admission_;
  mutable std::mutex mu_;  // guards writers_ and sealing_; a leaf lock
  std::unordered_map<ObjectId, int> writers_;
  std::set<ObjectId> sealing_;
};

// Held while a request changes the names in a draft (create, mkdir, mknod,
// rename, unlink, rmdir): a shared flock on the draft's staging directory.
// Registry::Seal takes it exclusively, so a seal (from this mount or
// another process) and a change of names never overlap: the seal sees the
// tree as it is, and a change during a seal gets EBUSY.
class DraftChangeLock {
 public:
  DraftChangeLock() = default;
  ~DraftChangeLock();
  DraftChangeLock(const DraftChangeLock&) = delete;
  DraftChangeLock& operator=(const DraftChangeLock&) = delete;
  // Busy while the draft is being sealed.
  Status Take(const std::string& draft_dir);

 private:
  int fd_ = -1;
};

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
  // Removes it; false when there was none.
  bool Remove(uint64_t model_id, const std::string& name);
  // Renames within the model (temporary to temporary).
  Status Rename(uint64_t model_id, const std::string& from, const std::string& to);

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


}  // namespace modelfs::fs
