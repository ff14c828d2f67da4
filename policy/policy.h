// The registry's governance: who may do what to which model (SPEC §6), the
// gates an alias move must pass, and retention. A Policy is parsed once from
// ROOT/policy.toml, never changes afterwards, and answers questions with pure
// functions; PolicyFile swaps in a new Policy when the file changes.
// fs/ and cli/ ask the same Policy, so both enforce the same rules.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "index/expr.h"
#include "index/status.h"
#include "policy/gates.h"
#include "policy/identity.h"

namespace modelfs::policy {

// What a caller wants to do. Admin implies every other action.
enum class Action { kRead, kCreate, kWrite, kPromote, kApprove, kAdmin };
inline constexpr size_t kActionCount = 6;

// "read", "create", "write", "promote", "approve", "admin": the policy
// file's key for the action.
std::string_view ActionName(Action action);
std::optional<Action> ActionFromName(std::string_view name);

// [retention]; an absent value means "no limit".
struct Retention {
  std::optional<uint64_t> keep_last;         // ready versions without an alias
  std::optional<int64_t> draft_ttl_seconds;  // > 0
  // The audit trail: gc keeps the newest audit_keep records (>= 1) and
  // none older than audit_ttl_seconds (> 0), besides the ones it writes.
  std::optional<uint64_t> audit_keep;
  std::optional<int64_t> audit_ttl_seconds;
};

// "30s", "15m", "12h", "7d", "2w" → seconds (> 0). Invalid otherwise.
Result<int64_t> ParseDuration(std::string_view text);

// [limits]. max_file_size bounds every file of a version: a draft file may
// not be truncated or written past it (EFBIG) and push refuses a larger
// file. The default is generous (256 GiB) but keeps `truncate -s 1T` out.
struct Limits {
  static constexpr uint64_t kDefaultMaxFileSize = uint64_t{256} << 30;
  uint64_t max_file_size = kDefaultMaxFileSize;
};

// "4096", "512K", "512M", "64G", "1T" (binary units: K = 1024) → bytes
// (> 0). Invalid otherwise, or when it does not fit in 63 bits.
Result<uint64_t> ParseSize(std::string_view text);
// "64G" when n is a whole number of a unit, else the number of bytes.
std::string FormatSize(uint64_t n);

// One [[hooks]] entry (SPEC §8 "Hooks"): what to do when an event whose
// type matches `on` commits. Exactly one of `run` (a command: argv, the
// event as JSON on its stdin) and `url` (an HTTP POST of the event, signed
// with HMAC-SHA256 when `secret_file` is set).
struct Hook {
  std::string name;             // unique; [A-Za-z0-9._-]
  std::vector<std::string> on;  // event types or globs: "alias.production", "version.*"
  std::vector<std::string> run;
  std::string url;              // http:// or https://
  std::string secret_file;      // url hooks: the HMAC key, the file's bytes
  int64_t timeout_seconds = 30;  // one attempt
  int max_attempts = 8;          // then the delivery is given up (hooks status lists it)
  // when = EXPR (index/expr.h), evaluated against the event's version as
  // it is at delivery; null when the hook has none. An event without a
  // version (model.created, gc) never satisfies a `when`.
  std::shared_ptr<const expr::Expr> when;
  // Whether an event of `type` is for this hook (its `when` aside).
  bool Matches(std::string_view type) const;
};

class Policy {
 public:
  // Parses policy.toml text. Any mistake (TOML syntax, unknown key or table,
  // wrong type, bad principal, gate expression, duration or glob, negative
  // keep_last, audit_keep below 1) yields Status::Invalid with the message
  // "FILENAME:LINE:COL: message", pointing at the offending key or element;
  // when there are several, the first in the file is reported.
  // Omitted parts take the permissive defaults: read, create, write, promote
  // and approve allowed to "*", admin to "user:root", no gates, no retention.
  static Result<std::shared_ptr<const Policy>> Parse(std::string_view toml_text,
                                                     std::string_view filename);
  // Reads and parses the file at path. NotFound (naming the path) if it does
  // not exist, another Status from the OS if it cannot be read.
  static Result<std::shared_ptr<const Policy>> Load(const std::string& path);

  // Whether `who` may perform `action` on `model`. `model` is the model the
  // action touches (the new model's name for kCreate); empty for
  // registry-wide actions, which only [defaults] governs. The last [[models]]
  // entry whose glob matches and that names the action decides, else
  // [defaults]; an identity allowed admin by the same resolution is allowed
  // everything. An entry's admin list replaces [defaults].admin for the
  // models it matches, as every other action's list does. The reason names the rule and the principal, e.g.
  //   allowed by [defaults].read "*"
  //   denied: [[models]] #2 (match "fraud-*").read does not include user
  //     alice (uid 1001, groups ml)
  // Pure and thread-safe; it runs on the FUSE request path, so principals
  // are compiled at parse time and no lock is taken.
  Decision Decide(const Identity& who, Action action, std::string_view model) const;

  // Whether the version may become the target of `alias`: allowed when the
  // alias has no [aliases.NAME] table, else denied naming every failing gate
  // (see AliasGates::Check). Gates apply to everyone, admins included.
  Decision CheckGates(std::string_view alias, const VersionFacts& facts) const;

  // The gates of an alias, or nullptr when it has none.
  const AliasGates* gates(std::string_view alias) const;
  const Retention& retention() const { return retention_; }
  // [[hooks]] in file order, and the account `run` hooks run as
  // (top-level hook_user, default "nobody").
  const std::vector<Hook>& hooks() const { return hooks_; }
  const Hook* hook(std::string_view name) const;
  const std::string& hook_user() const { return hook_user_; }
  // Check gates ([aliases.A] require_check): the account they run as
  // (check_user, default "nobody") and their bound (check_timeout, 10m).
  const std::string& check_user() const { return check_user_; }
  int64_t check_timeout_seconds() const { return check_timeout_seconds_; }
  const Limits& limits() const { return limits_; }
  // Ok when a file of `size` bytes is within [limits].max_file_size; else
  // an error with errno EFBIG naming `what`, its size and the limit.
  Status CheckFileSize(std::string_view what, uint64_t size) const;
  // The filename given to Parse/Load, as used in error messages.
  const std::string& filename() const { return filename_; }

 private:
  friend class Parser;  // parse.cc: builds a Policy from TOML
  Policy() = default;

  // A parsed principal: "*", "user:NAME", "group:NAME" or "uid:N".
  struct Principal {
    enum class Kind { kAny, kUser, kGroup, kUid };
    Kind kind = Kind::kAny;
    uint32_t uid = 0;
    std::string name;                   // user or group name
    std::vector<std::string> members;   // kGroup: the [groups] entry, sorted
    std::string text;                   // as written
  };
  using PrincipalList = std::vector<Principal>;
  // One place the principals of an action can come from: [defaults] or one
  // [[models]] entry.
  struct Rule {
    std::string label;  // `[defaults]` or `[[models]] #2 (match "fraud-*")`
    std::string match;  // glob; empty for [defaults]
    std::array<std::optional<PrincipalList>, kActionCount> actions;
  };

  // The first principal of `list` that matches `who`, or nullptr.
  static const Principal* FindMatch(const PrincipalList& list, const Identity& who);

  std::string filename_;
  Rule defaults_;            // every action set
  std::vector<Rule> models_;  // file order
  std::map<std::string, AliasGates, std::less<>> gates_;
  Retention retention_;
  Limits limits_;
  std::vector<Hook> hooks_;
  std::string hook_user_ = "nobody";
  std::string check_user_ = "nobody";
  int64_t check_timeout_seconds_ = 600;
};

// The policy.toml that `modelfs init` writes: everything allowed to "*",
// admin to user:root, and the SPEC §6 example commented out for copying.
std::string_view DefaultPolicyText();

// ROOT/policy.toml, reloaded when it changes (SPEC §6). current() is cheap:
// at most every kCheckIntervalNs one caller stat()s the file; if it changed,
// that caller re-reads and re-parses it. A file that does not parse (or
// vanishes) keeps the previous policy in force; the error is kept for
// last_error() and passed to the log callback once per change.
// Thread-safe.
class PolicyFile {
 public:
  // How stale current() may be: well under SPEC's 1 s for visible changes,
  // while costing at most five stat() calls per second.
  static constexpr int64_t kCheckIntervalNs = 200'000'000;

  // Loads path. NotFound naming the path if it is missing; the parse error
  // ("PATH:LINE:COL: message") if it does not parse.
  static Result<std::unique_ptr<PolicyFile>> Open(std::string path);

  // The policy in force. Never null.
  std::shared_ptr<const Policy> current();

  // Ok if the last reload attempt succeeded, else why it failed.
  Status last_error() const;

  // Receives a line when a changed file is adopted, when a reload fails
  // (once per distinct error) and when a broken file is put back as it was.
  // Called with an internal lock held: it must not call back into this
  // PolicyFile.
  void set_log(std::function<void(const std::string&)> log);

  const std::string& path() const { return path_; }

 private:
  // What identifies one version of the file without reading it.
  struct Signature {
    uint64_t dev = 0, ino = 0;
    int64_t size = -1;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const Signature&) const = default;
  };

  explicit PolicyFile(std::string path) : path_(std::move(path)) {}
  // Stats the file and re-reads it if it changed (or nothing is loaded
  // yet: Open uses it for the first load). Requires reload_mu_.
  void Check();
  void Log(const std::string& line);  // requires reload_mu_

  const std::string path_;
  std::atomic<std::shared_ptr<const Policy>> policy_;
  std::atomic<int64_t> next_check_ns_{0};  // steady clock

  mutable std::mutex reload_mu_;  // guards the members below
  Signature sig_;
  bool racy_ = false;  // mtime too recent to trust a same-signature check
  std::string text_;   // the bytes policy_ was parsed from
  Status last_error_;
  std::function<void(const std::string&)> log_;
};

}  // namespace modelfs::policy
