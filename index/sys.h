// The one seam through which index/ makes the system calls that change or
// read what it stores (as LevelDB's Env and SQLite's syscall table): each
// function is the call of the same name, unless a test has armed the fault
// injector below, which can fail any one of them with a chosen errno. What
// goes through here: open, read/pread, pwrite, fsync, syncfs, ftruncate, rename,
// link, unlink, mkdir, rmdir, fchmod, fsetxattr, fremovexattr, remove_all and
// LMDB's commit (index/ uses no write or fallocate). What does not: stat/lstat/access/
// lseek/flock/close and directory listings (they change nothing stored; a
// close after fsync cannot lose data), and Registry::Init's setup.
//
// Disarmed, a call costs one relaxed atomic load more than the syscall.
#pragma once

#include <lmdb.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace modelfs::sys {

// Each returns what the call it names returns (-1 with errno set on failure).
int Open(const char* path, int flags, mode_t mode = 0);
ssize_t Read(int fd, void* buf, size_t n);
ssize_t Pread(int fd, void* buf, size_t n, off_t off);
ssize_t Pwrite(int fd, const void* buf, size_t n, off_t off);
int Fsync(int fd);
int Syncfs(int fd);
int Ftruncate(int fd, off_t len);
int Rename(const char* from, const char* to);
int Link(const char* from, const char* to);
int Unlink(const char* path);
int Mkdir(const char* path, mode_t mode);
int Rmdir(const char* path);
int Fchmod(int fd, mode_t mode);
int Fsetxattr(int fd, const char* name, const void* value, size_t size, int flags);
int Fremovexattr(int fd, const char* name);
// std::filesystem::remove_all: the count removed, or -1 with `ec` set.
std::uintmax_t RemoveAll(const std::string& path, std::error_code& ec);
// mdb_txn_commit: an LMDB return code. A failed commit (injected or not)
// has freed the transaction, as LMDB's own does.
int TxnCommit(MDB_txn* txn);

// ---------------------------------------------------------------- faults
// For tests only. The injector is process-wide; arm it from one thread
// while no other thread of the process goes through the seam.

enum class Call {
  kOpen, kRead, kPread, kPwrite, kFsync, kSyncfs, kFtruncate, kRename, kLink, kUnlink, kMkdir,
  kRmdir, kFchmod, kFsetxattr, kFremovexattr, kRemoveAll, kTxnCommit,
};
const char* CallName(Call c);

// One call through the seam while the injector was armed.
struct CallRecord {
  Call call;
  std::string what;  // the path, or "" for a call on a descriptor
  std::string str() const;  // "fsync" or "rename /r/staging/x"
};

// From now on, counts every call through the seam; when `fail_at` > 0, the
// fail_at-th (from 1) is not made and fails with `err` instead, and with
// `sticky` so does every later one (a disk that stays full or broken).
void ArmFaults(uint64_t fail_at, int err, bool sticky = false);
// Stops counting and returns every call made since ArmFaults, in order.
std::vector<CallRecord> DisarmFaults();
// Whether the armed fault has fired yet.
bool FaultFired();

}  // namespace modelfs::sys
