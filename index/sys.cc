// The system-call seam (sys.h): each call checks one atomic flag, and only
// when a test has armed the injector takes its lock to count and perhaps fail.
#include "index/sys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <mutex>

namespace modelfs::sys {
namespace {

std::atomic<bool> g_armed{false};

struct Injector {
  std::mutex mu;
  uint64_t fail_at = 0;
  int err = 0;
  bool sticky = false;
  bool fired = false;
  std::vector<CallRecord> calls;
};

Injector& TheInjector() {
  static Injector* in = new Injector;  // never destroyed: usable until exit
  return *in;
}

// 0 to make the call, else the errno it must fail with instead.
int Inject(Call c, const char* what) {
  if (!g_armed.load(std::memory_order_relaxed)) [[likely]]
    return 0;
  Injector& in = TheInjector();
  std::lock_guard<std::mutex> g(in.mu);
  in.calls.push_back({c, what ? what : ""});
  if (in.fail_at == 0 || in.calls.size() < in.fail_at) return 0;
  if (in.calls.size() > in.fail_at && !in.sticky) return 0;
  in.fired = true;
  return in.err;
}

}  // namespace

int Open(const char* path, int flags, mode_t mode) {
  if (int e = Inject(Call::kOpen, path)) return errno = e, -1;
  return ::open(path, flags, mode);
}

ssize_t Read(int fd, void* buf, size_t n) {
  if (int e = Inject(Call::kRead, nullptr)) return errno = e, -1;
  return ::read(fd, buf, n);
}

ssize_t Pread(int fd, void* buf, size_t n, off_t off) {
  if (int e = Inject(Call::kPread, nullptr)) return errno = e, -1;
  return ::pread(fd, buf, n, off);
}

ssize_t Pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (int e = Inject(Call::kPwrite, nullptr)) return errno = e, -1;
  return ::pwrite(fd, buf, n, off);
}

int Fsync(int fd) {
  if (int e = Inject(Call::kFsync, nullptr)) return errno = e, -1;
  return ::fsync(fd);
}

int Syncfs(int fd) {
  if (int e = Inject(Call::kSyncfs, nullptr)) return errno = e, -1;
  return ::syncfs(fd);
}

int Ftruncate(int fd, off_t len) {
  if (int e = Inject(Call::kFtruncate, nullptr)) return errno = e, -1;
  return ::ftruncate(fd, len);
}

int Rename(const char* from, const char* to) {
  if (int e = Inject(Call::kRename, from)) return errno = e, -1;
  return ::rename(from, to);
}

int Link(const char* from, const char* to) {
  if (int e = Inject(Call::kLink, from)) return errno = e, -1;
  return ::link(from, to);
}

int Unlink(const char* path) {
  if (int e = Inject(Call::kUnlink, path)) return errno = e, -1;
  return ::unlink(path);
}

int Mkdir(const char* path, mode_t mode) {
  if (int e = Inject(Call::kMkdir, path)) return errno = e, -1;
  return ::mkdir(path, mode);
}

int Rmdir(const char* path) {
  if (int e = Inject(Call::kRmdir, path)) return errno = e, -1;
  return ::rmdir(path);
}

int Fchmod(int fd, mode_t mode) {
  if (int e = Inject(Call::kFchmod, nullptr)) return errno = e, -1;
  return ::fchmod(fd, mode);
}

int Fremovexattr(int fd, const char* name) {
  if (int e = Inject(Call::kFremovexattr, nullptr)) return errno = e, -1;
  return ::fremovexattr(fd, name);
}

int Fsetxattr(int fd, const char* name, const void* value, size_t size, int flags) {
  if (int e = Inject(Call::kFsetxattr, nullptr)) return errno = e, -1;
  return ::fsetxattr(fd, name, value, size, flags);
}

std::uintmax_t RemoveAll(const std::string& path, std::error_code& ec) {
  if (int e = Inject(Call::kRemoveAll, path.c_str())) {
    ec = std::error_code(e, std::generic_category());
    return static_cast<std::uintmax_t>(-1);
  }
  return std::filesystem::remove_all(path, ec);
}

int TxnCommit(MDB_txn* txn) {
  if (int e = Inject(Call::kTxnCommit, nullptr)) {
    mdb_txn_abort(txn);  // what a commit that fails does with it
    return e;
  }
  return mdb_txn_commit(txn);
}

const char* CallName(Call c) {
  switch (c) {
    case Call::kOpen: return "open";
    case Call::kRead: return "read";
    case Call::kPread: return "pread";
    case Call::kPwrite: return "pwrite";
    case Call::kFsync: return "fsync";
    case Call::kSyncfs: return "syncfs";
    case Call::kFtruncate: return "ftruncate";
    case Call::kRename: return "rename";
    case Call::kLink: return "link";
    case Call::kUnlink: return "unlink";
    case Call::kMkdir: return "mkdir";
    case Call::kRmdir: return "rmdir";
    case Call::kFchmod: return "fchmod";
    case Call::kFsetxattr: return "fsetxattr";
    case Call::kFremovexattr: return "fremovexattr";
    case Call::kRemoveAll: return "remove_all";
    case Call::kTxnCommit: return "mdb_txn_commit";
  }
  return "?";
}

std::string CallRecord::str() const {
  return what.empty() ? CallName(call) : std::string(CallName(call)) + " " + what;
}

void ArmFaults(uint64_t fail_at, int err, bool sticky) {
  Injector& in = TheInjector();
  std::lock_guard<std::mutex> g(in.mu);
  in.fail_at = fail_at;
  in.err = err;
  in.sticky = sticky;
  in.fired = false;
  in.calls.clear();
  g_armed.store(true, std::memory_order_relaxed);
}

std::vector<CallRecord> DisarmFaults() {
  Injector& in = TheInjector();
  std::lock_guard<std::mutex> g(in.mu);
  g_armed.store(false, std::memory_order_relaxed);
  in.fail_at = 0;
  return std::move(in.calls);
}

bool FaultFired() {
  Injector& in = TheInjector();
  std::lock_guard<std::mutex> g(in.mu);
  return in.fired;
}

}  // namespace modelfs::sys
