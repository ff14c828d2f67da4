// How writers of a draft's files and a seal exclude each other (SPEC §4:
// EBUSY sealing with open writers; a file torn by a crash is never kept).
// The mount writes drafts through these; Registry::Seal and
// Registry::TornDraftFiles rely on them, from this process or another.
//
// The protocol, all of it here:
//   - A writer of a staging file holds flock(LOCK_SH) on its descriptor for
//     as long as it is open (Seal tries LOCK_EX on each file in turn and
//     fails with Busy while any writer holds one), and the file carries
//     Registry::kWritingXattr from its first writer's open to its last
//     writer's close, so a file still marked after a crash may be torn.
//   - A change of the draft's names (create, mkdir, rename, unlink, rmdir),
//     and a writer while it opens and locks its file, hold flock(LOCK_SH)
//     on the draft's staging directory; Seal and DiscardDraft take it
//     LOCK_EX, so they see the tree as it is, and a file Seal found without
//     a writer gets none until its commit: Seal checks each file and lets
//     go of it (a draft of any size seals with a few descriptors).
//   - A seal started in this process first stops admitting new writers, so
//     that no file is created between its walk and its commit.
//   - A seal makes the draft's new files blobs by hard links (drafts.cc):
//     a writer never opens an inode the seal adopted (it carries
//     Registry::kSealModeXattr); Registry::OpenDraftWriter first restores
//     a draft an unfinished seal left marked.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "index/status.h"

namespace modelfs {

class DraftWriters;

// One open writer of a staging file: owns its descriptor; closing it (the
// destructor) removes the mark if it was the file's last writer, then
// releases the lock, in that order (a seal that gets the lock must not see
// the mark). Move-only.
class DraftWriter {
 public:
  DraftWriter() = default;
  DraftWriter(DraftWriter&& o) noexcept;
  DraftWriter& operator=(DraftWriter&& o) noexcept;
  DraftWriter(const DraftWriter&) = delete;
  DraftWriter& operator=(const DraftWriter&) = delete;
  ~DraftWriter();
  int fd() const { return fd_; }

 private:
  friend class DraftWriters;
  void Close();
  DraftWriters* owner_ = nullptr;
  uint64_t ino_ = 0;
  int fd_ = -1;
};

// A hold of a draft's staging directory: shared while a request changes
// the draft's names, exclusive while a seal or a discard looks at its tree
// and commits. Released when destroyed. Move-only.
class DraftLock {
 public:
  DraftLock() = default;
  DraftLock(DraftLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DraftLock& operator=(DraftLock&&) = delete;
  DraftLock(const DraftLock&) = delete;
  ~DraftLock();
  // Busy (saying `busy`) while the other kind of hold is taken.
  static Result<DraftLock> Take(const std::string& draft_dir, bool exclusive,
                                const std::string& busy);
  int fd() const { return fd_; }  // the draft directory, open O_RDONLY

 private:
  explicit DraftLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The writers of this process. Thread-safe. Lock order: admission_ (shared
// by openers, exclusive to start a seal) before mu_; both are held only
// around system calls on one file.
class DraftWriters {
 public:
  // Opens a staging file for writing with `open_fd` (which returns a
  // descriptor or -1 with errno set) unless draft `version_id` is being
  // sealed here (Busy) or a seal holds the file (Busy); takes the lock,
  // sets the mark, then asks `still_draft` whether the draft is still a
  // draft (a seal from another process may have committed in between) and
  // only then truncates when asked to.
  Result<DraftWriter> Open(uint64_t version_id, const std::function<int()>& open_fd,
                           const std::function<Status()>& still_draft, bool truncate);

  // Marks a draft as being sealed by this process (Busy if it already is):
  // no new writer is admitted until EndSeal.
  Status StartSeal(uint64_t version_id);
  void EndSeal(uint64_t version_id);

 private:
  friend class DraftWriter;
  void EndWrite(uint64_t ino, int fd);
  std::shared_mutex admission_;
  std::mutex mu_;  // guards writers_ and sealing_; a leaf lock
  std::unordered_map<uint64_t, int> writers_;  // staging inode -> open writers
  std::set<uint64_t> sealing_;
};

}  // namespace modelfs
