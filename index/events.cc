#include "index/events.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>

#include <nlohmann/json.hpp>

namespace modelfs {

std::string EventType(const AuditRecord& r) {
  if (!r.allowed) return "";
  static const std::map<std::string_view, std::string_view> kTypes = {
      {"push", "version.ready"},       {"seal", "version.ready"},
      {"copy", "version.ready"},       {"draft", "version.draft"},
      {"discard", "version.discarded"}, {"archive", "version.archived"},
      {"unarchive", "version.unarchived"}, {"create", "model.created"},
      {"set", "metadata.set"},         {"unset", "metadata.unset"},
      {"approve", "approval"},         {"reject", "approval"},
  };
  if (r.action == "alias" || r.action == "unalias") return "alias." + r.alias;
  // gc removes versions (its record names one) and blobs or audit records.
  if (r.action == "gc" && r.version != 0) return "version.removed";
  auto it = kTypes.find(r.action);
  return it != kTypes.end() ? std::string(it->second) : r.action;
}

std::string FormatTimeNs(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  long frac = static_cast<long>(ns % 1000000000);
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%09ldZ", frac);
  return buf;
}

nlohmann::json EventJson(const AuditRecord& r) {
  using nlohmann::json;
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  json j = {{"seq", r.seq},
            {"type", EventType(r)},
            {"action", r.action},
            {"model", or_null(r.model)},
            {"version", r.version ? json(r.version) : json(nullptr)},
            {"alias", or_null(r.alias)},
            {"object", r.object},
            {"before", or_null(r.before)},
            {"after", or_null(r.after)},
            {"actor", {{"user", r.user}, {"uid", r.uid}}},
            {"at", FormatTimeNs(r.at_ns)}};
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (!r.host.empty()) j["host"] = r.host;
  return j;
}

Status ForEachEvent(const Snapshot& snap, uint64_t after,
                    const std::function<bool(const AuditRecord&, const std::string& type)>& fn) {
  return snap.ForEachAudit(after, [&](const AuditRecord& r) {
    std::string type = EventType(r);
    return type.empty() || fn(r, type);
  });
}

Result<ChangeWatch> ChangeWatch::Open(const std::string& root) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Status::FromErrno("inotify_init1", errno);
  // LMDB writes its pages and, last, the meta page that commits with
  // pwrite(2) on data.mdb: each is an IN_MODIFY.
  std::string data = root + "/index/data.mdb";
  if (inotify_add_watch(fd, data.c_str(), IN_MODIFY) < 0) {
    int e = errno;
    close(fd);
    return Status::FromErrno("watching " + data, e);
  }
  return ChangeWatch(fd);
}

ChangeWatch::~ChangeWatch() {
  if (fd_ >= 0) close(fd_);
}

void ChangeWatch::Drain() {
  alignas(struct inotify_event) char buf[4096];
  while (read(fd_, buf, sizeof buf) > 0) {
  }
}

}  // namespace modelfs
