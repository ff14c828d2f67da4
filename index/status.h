// The one error type that crosses module boundaries (index/, policy/, cli/,
// fs/). A Status is a code plus a message that says what and where; only
// fs/ maps codes to errno values and only cli/ maps them to exit codes.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace modelfs {

enum class Code {
  kOk = 0,
  kInvalid,    // bad name, bad value, bad request (EINVAL, exit 1)
  kNotFound,   // no such model, version, alias, file (ENOENT)
  kExists,     // already exists (EEXIST)
  kBusy,       // in use: open writers, target of an alias (EBUSY)
  kReadOnly,   // immutable object (EROFS)
  kDenied,     // refused by policy (EACCES, exit 3)
  kNoAccess,   // the OS refused us: permissions on ROOT (EACCES, exit 1)
  kIO,         // an I/O error from the OS (EIO)
  kCorrupt,    // stored data does not match its digest or record (EIO)
  kNoSpace,    // ENOSPC / LMDB map full
  kTooBig,     // value too large (E2BIG)
  kRange,      // buffer too small (ERANGE)
  kNoData,     // absent attribute (ENODATA)
  kNotEmpty,   // directory not empty (ENOTEMPTY)
};

class Status {
 public:
  Status() = default;
  static Status Ok() { return {}; }
  static Status Invalid(std::string m) { return {Code::kInvalid, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Exists(std::string m) { return {Code::kExists, std::move(m)}; }
  static Status Busy(std::string m) { return {Code::kBusy, std::move(m)}; }
  static Status ReadOnly(std::string m) { return {Code::kReadOnly, std::move(m)}; }
  static Status Denied(std::string m) { return {Code::kDenied, std::move(m)}; }
  static Status NoAccess(std::string m) { return {Code::kNoAccess, std::move(m)}; }
  static Status IO(std::string m) { return {Code::kIO, std::move(m)}; }
  static Status Corrupt(std::string m) { return {Code::kCorrupt, std::move(m)}; }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status TooBig(std::string m) { return {Code::kTooBig, std::move(m)}; }
  static Status Range(std::string m) { return {Code::kRange, std::move(m)}; }
  static Status NoData(std::string m) { return {Code::kNoData, std::move(m)}; }
  static Status NotEmpty(std::string m) { return {Code::kNotEmpty, std::move(m)}; }
  // An I/O failure of a system call: message "what: strerror(err)".
  static Status FromErrno(const std::string& what, int err);

  // The same failure (code and errno) with "context: " before its message.
  Status WithContext(const std::string& context) const {
    return Status(code_, context + ": " + message_, errno_);
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The errno of a failed system call (FromErrno), else 0: lets fs/ reply
  // with exactly what the OS said (EISDIR, ENAMETOOLONG, ...).
  int sys_errno() const { return errno_; }

 private:
  Status(Code c, std::string m, int err = 0) : code_(c), message_(std::move(m)), errno_(err) {}
  Code code_ = Code::kOk;
  std::string message_;
  int errno_ = 0;
};

// A value or the Status that explains why there is none.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status s) : v_(std::move(s)) {}     // NOLINT: must not be ok
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace modelfs

// Return early from a function returning Status or Result<T>.
#define MODELFS_RETURN_IF_ERROR(expr)            \
  do {                                           \
    ::modelfs::Status _st = (expr);              \
    if (!_st.ok()) return _st;                   \
  } while (0)
