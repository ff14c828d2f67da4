// The event log (SPEC §8 "Events"): every committed change as an event
// with a sequence number. The events are the audit trail's records of
// changes that were made (not its refusals): each is written by the write
// transaction that makes its change (WriteTxn::Audit), so there is no
// change without its event and no event without its change, and the
// policy's audit retention ([retention] audit_keep / audit_ttl, applied by
// gc) bounds them. Sequence numbers grow strictly; a refusal between two
// changes leaves a gap.
//
// ChangeWatch lets a reader in another process (`modelfs events --follow`,
// a hook deliverer) sleep until the index changes instead of polling it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "index/records.h"
#include "index/registry.h"
#include "index/status.h"

namespace modelfs {

// The event type of an audit record: "version.ready" (push, seal, copy),
// "version.draft", "version.discarded", "version.archived",
// "version.unarchived", "version.removed" (gc), "model.created",
// "metadata.set", "metadata.unset", "approval", "alias.NAME" (NAME moved
// or created; deleted: `after` is null), "gc", "fsck". Empty for a
// refusal, which is not an event; an action this table does not know
// is its own type, so nothing committed is ever left out.
std::string EventType(const AuditRecord& r);

// RFC 3339 UTC with nanoseconds: 2026-11-27T02:28:16.123456789Z.
std::string FormatTimeNs(int64_t ns);

// An event as JSON: seq, type, action, model, version (null for none),
// alias (null for none), object, before, after (null when empty), actor
// {user, uid}, at (FormatTimeNs), and reason when the change has one.
nlohmann::json EventJson(const AuditRecord& r);

// The events after sequence number `after`, in order, with their types.
Status ForEachEvent(const Snapshot& snap, uint64_t after,
                    const std::function<bool(const AuditRecord&, const std::string& type)>& fn);

// Wakes a reader when the index of ROOT may have changed: an inotify
// watch on the index's data file, which every commit writes. A wake-up
// means "look again", never "something changed": readers re-read from
// their own position, so a spurious wake costs one read and a missed one
// is caught by the reader's own bounded timeout.
//
// LMDB publishes a commit to new readers just after its last write to the
// data file (it then updates the lock file's shared memory, which raises no
// event), so a reader woken by that write can find nothing new yet: it
// should look again after SettleMs(k) for k = 0, 1, ... while a look
// after a wake-up finds nothing, until SettleMs returns -1.
class ChangeWatch {
 public:
  static int SettleMs(int k) {
    static constexpr int kSettle[] = {1, 5, 20, 100};
    return k < 4 ? kSettle[k] : -1;
  }

  static Result<ChangeWatch> Open(const std::string& root);
  ChangeWatch(ChangeWatch&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  ChangeWatch& operator=(ChangeWatch&&) = delete;
  ~ChangeWatch();
  // For poll(2): readable when the index was written.
  int fd() const { return fd_; }
  // Reads the pending notifications, so that fd() is quiet again.
  void Drain();

 private:
  explicit ChangeWatch(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace modelfs
