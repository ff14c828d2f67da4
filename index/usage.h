// Use counts (SPEC §8): how often, and when last, the files of a version
// were opened through a mount. The mount counts opens in memory (UseCounts,
// a mutex-guarded map: never an index write on the open path) and a
// background thread hands each batch to Registry::AddUsage, one write
// transaction every few seconds. What was counted but not yet flushed when
// a daemon dies is lost, by design.
//
// The usage table is kept apart from the version records: a flush is no
// change of the version (it is not audited, and the mount's freshness
// machinery, which follows the audit trail, does not invalidate the tree
// for it). Its own counter, meta "usage_seq", tells readers that cache
// what they show (the mount's xattrs) that usage moved on.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "index/records.h"
#include "index/status.h"

namespace modelfs {

// A version's use: 0/0 when never used.
struct Usage {
  int64_t last_used_at_ns = 0;
  uint64_t use_count = 0;
  bool operator==(const Usage&) const = default;
};

// The record of the usage table (16 bytes: last_used_at_ns, use_count, both
// big-endian). Decode: Corrupt saying what is wrong when not that shape.
std::string EncodeUsage(const Usage& u);
Status DecodeUsage(std::string_view bytes, Usage* u);

// Uses of one version counted since the last flush: `use_count` opens, the
// latest at `last_used_at_ns`.
struct UseBatchItem {
  ObjectId model_id = 0;
  uint32_t number = 0;
  Usage add;
};

// Opens counted in memory, by version. Thread-safe: Record takes a mutex
// held for one map update (a leaf lock).
class UseCounts {
 public:
  void Record(ObjectId model_id, uint32_t number, int64_t now_ns);
  // What was counted since the last Take, emptied.
  std::vector<UseBatchItem> Take();
  // Puts a batch that could not be written back, merged with what was
  // counted since, so that a failed flush loses nothing.
  void Restore(const std::vector<UseBatchItem>& batch);

 private:
  std::mutex mu_;  // leaf lock: guards pending_
  std::map<std::pair<ObjectId, uint32_t>, Usage> pending_;
};

}  // namespace modelfs
