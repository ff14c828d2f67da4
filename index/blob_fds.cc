// BlobFds: a map digest -> shared descriptor, with the idle ones in an LRU
// list so that the bound closes the least recently used first.
#include "index/blob_fds.h"
#include "index/blob_cache.h"
#include "index/sys.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace modelfs {
namespace {

// Idle times are measured on the steady clock (NowNs in records.h is
// wall time, which may jump).
int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void CloseAll(const std::vector<int>& fds) {
  for (int fd : fds) close(fd);
}

}  // namespace

struct BlobFds::Entry {
  Digest digest;
  int fd = -1;
  int users = 0;              // leases alive
  int64_t idle_since_ns = 0;  // when users last became 0
  std::list<Entry*>::iterator lru;  // its place in idle_ while users == 0
};

bool BlobFds::HeldLocked(const Entry* e) const { return holds_.count(e->digest) != 0; }

size_t BlobFds::DigestHash::operator()(const Digest& d) const {
  // The digest is a uniform hash already: any 8 of its bytes will do.
  uint64_t h;
  std::memcpy(&h, d.bytes.data(), sizeof h);
  return static_cast<size_t>(h);
}

BlobFds::BlobFds(const BlobStore* store, size_t max_fds)
    : store_(store), max_fds_(std::max<size_t>(max_fds, 1)) {}

BlobFds::~BlobFds() {
  // Every Lease must be gone by now (the mount's session has ended).
  for (auto& [d, e] : entries_) close(e->fd);
  for (auto& [d, fd] : pins_) close(fd);
}

BlobFds::Lease& BlobFds::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    Reset();
    owner_ = o.owner_;
    entry_ = o.entry_;
    o.owner_ = nullptr;
  }
  return *this;
}

int BlobFds::Lease::fd() const { return owner_ ? entry_->fd : -1; }

void BlobFds::Lease::Reset() {
  if (owner_) owner_->Release(entry_);
  owner_ = nullptr;
}

size_t BlobFds::DefaultMax() {
  // An eighth of the limit (the daemon raises its soft limit to the hard
  // one first): 2,500 of a 20,000 limit, 128 of 1,024. At least 16 so that
  // a low limit still shares, at most 4,096: beyond that an LRU miss costs
  // one open(2), less than the memory of more idle descriptors is worth.
  struct rlimit rl {};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 4096;
  return std::clamp<size_t>(static_cast<size_t>(rl.rlim_cur / 8), 16, 4096);
}

size_t BlobFds::open_fds() const {
  std::lock_guard<std::mutex> g(mu_);
  return entries_.size();
}

std::vector<int> BlobFds::TakeExcessLocked(bool all) {
  std::vector<int> out;
  auto over = [&] { return all || entries_.size() > max_fds_; };
  // Least recently used first; blobs an open file holds only when closing
  // every other idle one was not enough.
  for (bool held : {false, true}) {
    for (auto it = idle_.end(); it != idle_.begin() && over();) {
      --it;
      Entry* e = *it;
      if (!held && HeldLocked(e)) continue;
      it = idle_.erase(it);
      out.push_back(e->fd);
      entries_.erase(e->digest);  // destroys e
    }
  }
  return out;
}

Result<BlobFds::Lease> BlobFds::Acquire(const Digest& d) {
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = entries_.find(d);
    if (it != entries_.end()) {
      Entry* e = it->second.get();
      if (e->users++ == 0) idle_.erase(e->lru);
      return Lease(this, e);
    }
  }
  // Opened without the lock: two first reads of a blob may both open it;
  // the second descriptor is closed below.
  std::string path = store_->PathOf(d);
  int fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
  int err = fd < 0 ? errno : 0;
  if (err == ENOENT) {
    // Multi-host: a blob not cached yet is fetched (and verified) first.
    Status fetched = store_->Ensure(d);
    if (!fetched.ok()) return fetched;
    fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
    err = fd < 0 ? errno : 0;
  }
  if (err == EMFILE || err == ENFILE) {
    // The daemon is out of descriptors: our idle ones are the first to go.
    std::vector<int> spare;
    {
      std::lock_guard<std::mutex> g(mu_);
      spare = TakeExcessLocked(/*all=*/true);
    }
    CloseAll(spare);
    if (!spare.empty()) {
      fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
      err = fd < 0 ? errno : 0;
    }
  }
  if (fd < 0) {
    // The index names this blob, so its absence is damage (EIO), never a
    // plain "no such file".
    if (err == ENOENT) return Status::IO("blob " + d.hex() + " missing (" + path + ")");
    return Status::FromErrno("cannot open blob " + path, err);
  }
  std::vector<int> to_close;
  Entry* e;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto [it, inserted] = entries_.try_emplace(d);
    if (inserted) {
      it->second = std::make_unique<Entry>();
      e = it->second.get();
      e->digest = d;
      e->fd = fd;
      e->users = 1;
      to_close = TakeExcessLocked(/*all=*/false);
    } else {
      e = it->second.get();
      if (e->users++ == 0) idle_.erase(e->lru);
      to_close.push_back(fd);
    }
  }
  CloseAll(to_close);
  return Lease(this, e);
}

void BlobFds::Release(Entry* e) {
  std::vector<int> to_close;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (--e->users > 0) return;
    e->idle_since_ns = SteadyNs();
    idle_.push_front(e);
    e->lru = idle_.begin();
    to_close = TakeExcessLocked(/*all=*/false);
  }
  CloseAll(to_close);
}

BlobFds::Hold& BlobFds::Hold::operator=(Hold&& o) noexcept {
  if (this != &o) {
    Reset();
    owner_ = o.owner_;
    digest_ = o.digest_;
    o.owner_ = nullptr;
  }
  return *this;
}

void BlobFds::Hold::Reset() {
  if (owner_) owner_->Unhold(digest_);
  owner_ = nullptr;
}

void BlobFds::Unhold(const Digest& d) {
  int unpin = -1;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = holds_.find(d);
    if (it != holds_.end() && --it->second <= 0) {
      holds_.erase(it);
      if (auto p = pins_.find(d); p != pins_.end()) {
        unpin = p->second;
        pins_.erase(p);
      }
    }
  }
  if (unpin >= 0) close(unpin);  // the blob may be evicted from now on
}

Result<BlobFds::Lease> BlobFds::OpenToServe(const Digest& d, bool verify, Hold* hold) {
  // Multi-host: an open file pins its blob in the cache (BlobStore::Pin)
  // until the last open file of it is released; a blob pinned already
  // only counts as a hit and is marked used.
  int pin = -1;
  if (hold && store_->cache() != nullptr) {
    int pinned = -1;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (auto p = pins_.find(d); p != pins_.end()) pinned = p->second;
      if (pinned >= 0) {
        store_->cache()->CountHit();
        BlobCache::Touch(pinned);
      }
    }
    if (pinned < 0) {
      auto p = store_->Pin(d);
      if (!p.ok()) return p.status();
      pin = *p;
    }
  }
  struct Unpin {
    int& fd;
    ~Unpin() {
      if (fd >= 0) close(fd);
    }
  } unpin{pin};
  auto lease = Acquire(d);
  if (!lease.ok()) return lease;
  bool known;
  {
    std::lock_guard<std::mutex> g(mu_);
    known = !verify || verified_.count(d) != 0;
  }
  if (!known) {
    // Two first opens may both hash: harmless, and cheaper than making
    // every open wait on a lock held for the length of a hash.
    MODELFS_RETURN_IF_ERROR(BlobStore::VerifyFd(d, lease->fd()));
  }
  std::lock_guard<std::mutex> g(mu_);
  if (!known) verified_.insert(d);
  if (hold) {
    ++holds_[d];
    if (pin >= 0 && pins_.emplace(d, pin).second) pin = -1;  // kept: not closed by unpin
    *hold = Hold(this, d);
  }
  return lease;
}

void BlobFds::CloseIdle(int64_t idle_ns) {
  std::vector<int> to_close;
  {
    std::lock_guard<std::mutex> g(mu_);
    int64_t cutoff = SteadyNs() - idle_ns;
    // Idle long enough and held by no open file (most recently used first:
    // walk from the back until one is too recent).
    for (auto it = idle_.end(); it != idle_.begin();) {
      --it;
      Entry* e = *it;
      if (e->idle_since_ns > cutoff) break;
      if (HeldLocked(e)) continue;
      it = idle_.erase(it);
      to_close.push_back(e->fd);
      entries_.erase(e->digest);
    }
  }
  CloseAll(to_close);
}

}  // namespace modelfs
