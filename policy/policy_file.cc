// The policy file on disk (SPEC §6): reading it whole and bounded, and
// PolicyFile, which keeps the policy in force current as the file changes
// and keeps the old one when a new one does not parse.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>

#include "policy/policy.h"

namespace modelfs::policy {

namespace {

// Files larger than this are refused rather than read: a policy is a few
// kilobytes, and the mount re-reads it on every change.
constexpr off_t kMaxPolicyBytes = 1 << 20;

int64_t ToNs(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Reads a whole policy file; *st describes what was read (fstat of the
// same descriptor, so the two belong to the same inode).
Status ReadPolicyFile(const std::string& path, std::string* text, struct stat* st) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("policy file " + path, errno);
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  if (fstat(fd, st) != 0) return Status::FromErrno("policy file " + path, errno);
  if (!S_ISREG(st->st_mode)) {
    return Status::Invalid("policy file " + path + " is not a regular file");
  }
  if (st->st_size > kMaxPolicyBytes) {
    return Status::TooBig("policy file " + path + " is larger than 1 MiB");
  }
  text->clear();
  char buf[16384];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("policy file " + path, errno);
    if (n == 0) break;
    text->append(buf, static_cast<size_t>(n));
    if (text->size() > static_cast<size_t>(kMaxPolicyBytes)) {
      return Status::TooBig("policy file " + path + " is larger than 1 MiB");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const Policy>> Policy::Load(const std::string& path) {
  std::string text;
  struct stat st;
  MODELFS_RETURN_IF_ERROR(ReadPolicyFile(path, &text, &st));
  return Parse(text, path);
}

namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// File timestamps come from a coarse clock (a jiffy on Linux, seconds on
// some filesystems): a same-size rewrite within that tick leaves the
// signature unchanged. While the mtime is this recent, compare contents.
constexpr int64_t kRacyWindowNs = 2'000'000'000;

bool IsRacy(int64_t mtime_ns) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return mtime_ns >= ToNs(now) - kRacyWindowNs;
}

}  // namespace

Result<std::unique_ptr<PolicyFile>> PolicyFile::Open(std::string path) {
  std::unique_ptr<PolicyFile> file(new PolicyFile(std::move(path)));
  {
    std::lock_guard<std::mutex> lock(file->reload_mu_);
    file->Check();
    if (!file->last_error_.ok()) return file->last_error_;
  }
  file->next_check_ns_.store(SteadyNs() + kCheckIntervalNs);
  return file;
}

std::shared_ptr<const Policy> PolicyFile::current() {
  const int64_t now = SteadyNs();
  int64_t next = next_check_ns_.load(std::memory_order_relaxed);
  // One caller per interval wins the exchange and checks; the rest go on
  // with the policy in force.
  if (now >= next && next_check_ns_.compare_exchange_strong(
                         next, now + kCheckIntervalNs, std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> lock(reload_mu_);
    Check();
  }
  return policy_.load(std::memory_order_acquire);
}

Status PolicyFile::last_error() const {
  std::lock_guard<std::mutex> lock(reload_mu_);
  return last_error_;
}

void PolicyFile::set_log(std::function<void(const std::string&)> log) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  log_ = std::move(log);
}

void PolicyFile::Log(const std::string& line) {
  if (log_) log_(line);
}

void PolicyFile::Check() {
  auto fail = [&](const Status& st) {
    // Logged once per distinct error, not on every check.
    if (last_error_.ok() || last_error_.message() != st.message()) {
      Log("policy " + path_ + " not reloaded, the previous policy stays in force: " +
          st.message());
    }
    last_error_ = st;
  };
  auto signature = [](const struct stat& st) {
    return Signature{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                     static_cast<int64_t>(st.st_size), ToNs(st.st_mtim), ToNs(st.st_ctim)};
  };
  const bool loaded = policy_.load(std::memory_order_relaxed) != nullptr;
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) {
    sig_ = Signature{};  // so the file's return is seen as a change
    fail(Status::FromErrno("policy file " + path_, errno));
    return;
  }
  if (loaded && signature(st) == sig_ && !racy_) return;

  std::string text;
  if (Status rs = ReadPolicyFile(path_, &text, &st); !rs.ok()) {
    sig_ = Signature{};
    fail(rs);
    return;
  }
  sig_ = signature(st);
  racy_ = IsRacy(sig_.mtime_ns);
  if (loaded && text == text_) {
    if (!last_error_.ok()) {
      last_error_ = Status::Ok();
      Log("policy " + path_ + " is valid again; the policy in force is unchanged");
    }
    return;
  }
  auto parsed = Policy::Parse(text, path_);
  if (!parsed.ok()) {
    fail(parsed.status());
    return;
  }
  policy_.store(std::move(parsed).value(), std::memory_order_release);
  text_ = std::move(text);
  last_error_ = Status::Ok();
  if (loaded) Log("policy reloaded from " + path_);
}

}  // namespace modelfs::policy
