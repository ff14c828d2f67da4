// What the FUSE request handlers (*_ops.cc) share with the mount's lifecycle
// (mount.cc): the open registry, the policy, the tree, the node table and
// the serving options. Internal to fs/.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "fs/callers.h"
#include "fs/inodes.h"
#include "fs/pending_links.h"
#include "fs/request_counts.h"
#include "fs/tree.h"
#include "index/blob_fds.h"
#include "index/registry.h"
#include "fs/slow_ops.h"
#include "index/usage.h"
#include "policy/enforce.h"
#include "policy/policy.h"

struct fuse_session;
struct fuse_lowlevel_ops;

namespace modelfs::fs {

// How read() hands file bytes to the kernel (`-o read=...`; scripts/bench-mount
// measures them against each other).
enum class ReadPath {
  kCopy,        // pread into a buffer, fuse_reply_buf: one extra copy, no pipes
  kSplice,      // splice from the blob fd through a pipe into /dev/fuse
  kSpliceMove,  // the same, asking the kernel to move pages instead of copying
};

struct ServeOptions {
  bool verify = true;  // hash each blob on its first open since mount
  // splice measured fastest (scripts/bench-mount: ~3.0 GB/s vs ~2.5 GB/s
  // for copy with the blob cached, 2 cores, kernel 6.18).
  ReadPath read_path = ReadPath::kSplice;
  // After serving a range, drop it from the blob file's page cache: the
  // kernel keeps the bytes in the mounted file's cache, so keeping both
  // would cache every model twice.
  bool dontneed = true;
  // Files read (and drafts written) by FUSE passthrough (`-o passthrough=0|1`):
  // the kernel reads, writes and maps the backing file itself, as a native
  // file. Needs a kernel with FUSE_PASSTHROUGH and CAP_SYS_ADMIN; where
  // refused, the read path above and write requests.
  bool passthrough = true;
  // Count opens of ready files per version (`-o use_counts=0|1`, on by
  // default), flushed to the index every use_flush_ms (index/usage.h).
  bool use_counts = true;
};

// How each open file's inode (a ready file's or a draft's) is served
// (fs/file_ops.cc). The kernel
// takes one backing file per inode and refuses to mix modes on one inode
// (a cached-mode open of an inode with a backing file cannot be mapped,
// ENODEV), so the first open decides for all opens until the last release:
// passthrough (one backing id, shared, closed on the last release) or the
// read path of ServeOptions.
struct ServedInodes {
  struct Inode {
    int backing_id = 0;  // 0: served by read requests
    uint32_t opens = 0;
  };
  std::mutex mu;
  std::unordered_map<uint64_t, Inode> open;  // by inode number, under mu
  std::unordered_set<uint64_t> refused;      // inodes whose backing file was refused, under mu
  std::atomic<bool> enabled{false};          // negotiated at init and not refused for good
  std::atomic<bool> refusal_logged{false};
};

struct Server {
  std::unique_ptr<Registry> reg;
  std::unique_ptr<policy::PolicyFile> policy;  // ROOT/policy.toml, hot-reloaded
  std::unique_ptr<policy::Enforcer> enforcer;  // decides every request
  Callers callers;                             // who is asking
  std::unique_ptr<Tree> tree;
  std::unique_ptr<BlobFds> blob_fds;  // what ready files read: one descriptor per blob
  NodeTable nodes;
  OpenDraftFiles open_drafts;  // draft files open through the mount
  PendingLinks pending;   // ln -sfn's temporary symlinks
  ServeOptions opt;
  ServedInodes served;  // files open through the mount: passthrough or not
  fuse_session* se = nullptr;
  RequestCounts requests;  // served so far, by kind (every handler counts itself)
  SlowOps slow;            // alias moves that run a check gate, off the worker threads
  std::unique_ptr<UseCounts> uses;  // opens counted since the last flush; null when off
};

// The request handlers; userdata is the Server.
const fuse_lowlevel_ops& Operations();

// The mount's log: stderr in the foreground; when daemonized stderr is
// ROOT/mount.log (see mount.cc). One line per call, timestamped.
void Log(const std::string& line);

}  // namespace modelfs::fs
