#include "hooks/deliver.h"

#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "index/events.h"
#include "index/find.h"
#include "hooks/command.h"
#include "index/remote/http.h"

namespace modelfs::hooks {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr size_t kErrorKeep = 600;    // of an error message kept in the record
constexpr milliseconds kIdlePass{2000};  // a pass at least this often (policy edits)

std::string Tail(std::string s, size_t n) {
  if (s.size() > n) s = "..." + s.substr(s.size() - n);
  return s;
}

std::string Hex(const unsigned char* p, size_t n) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(k[p[i] >> 4]);
    out.push_back(k[p[i] & 15]);
  }
  return out;
}

json DeliveryJson(const Delivery& d) {
  return {{"id", d.id},           {"seq", d.seq},
          {"type", d.type},       {"attempts", d.attempts},
          {"last_attempt_ns", d.last_attempt_ns}, {"last_error", d.last_error}};
}

Attempt SendUrl(const policy::Hook& hook, const std::string& body, const std::string& type,
                const std::string& id) {
  Attempt a;
  remote::HttpRequest req;
  req.method = "POST";
  req.url = hook.url;
  req.body = body;
  req.headers = {"Content-Type: application/json", "User-Agent: modelfs-hooks",
                 "X-Modelfs-Event: " + type, "X-Modelfs-Delivery: " + id};
  if (!hook.secret_file.empty()) {
    std::ifstream f(hook.secret_file, std::ios::binary);
    std::string key((std::istreambuf_iterator<char>(f)), {});
    if (!f.good() && !f.eof()) {
      a.status = Status::IO("cannot read secret_file " + hook.secret_file + ": " + strerror(errno));
      return a;
    }
    if (!f.is_open()) {
      a.status = Status::IO("cannot open secret_file " + hook.secret_file + ": " + strerror(errno));
      return a;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(body.data()), body.size(), md, &len) == nullptr) {
      a.status = Status::IO("HMAC-SHA256 failed");
      return a;
    }
    req.headers.push_back("X-Modelfs-Signature: sha256=" + Hex(md, len));
  }
  remote::RetryPolicy once;
  once.attempts = 1;  // the deliverer's own backoff retries
  once.timeout = std::chrono::seconds(hook.timeout_seconds);
  once.connect_timeout = std::min<milliseconds>(once.timeout, milliseconds(5000));
  auto t0 = std::chrono::steady_clock::now();
  auto r = remote::Http(once).Send(req);
  a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok()) {
    a.status = r.status();
    return a;
  }
  if (r->status < 200 || r->status > 299) {
    a.status = Status::IO("HTTP " + std::to_string(r->status) +
                          (r->body.empty() ? "" : ": " + Tail(r->body, 200)));
  }
  return a;
}

// The environment of a run hook: the event's facts.
std::vector<std::string> HookEnv(const json& ev, const std::string& id, const std::string& hook) {
  auto str = [&](const char* k) {
    const json& v = ev.contains(k) ? ev[k] : json();
    if (v.is_null()) return std::string();
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  return {
      "MODELFS_HOOK=" + hook,
      "MODELFS_DELIVERY=" + id,
      "MODELFS_EVENT_TYPE=" + str("type"),
      "MODELFS_EVENT_SEQ=" + str("seq"),
      "MODELFS_MODEL=" + str("model"),
      "MODELFS_VERSION=" + str("version"),
      "MODELFS_ALIAS=" + str("alias"),
  };
}

Attempt SendRun(const policy::Hook& hook, const std::string& body, const json& ev,
                const std::string& id, const std::string& user) {
  CommandSpec spec;
  spec.argv = hook.run;
  spec.env = HookEnv(ev, id, hook.name);
  spec.user = user;
  spec.input = body;
  spec.timeout_seconds = hook.timeout_seconds;
  CommandResult r = RunCommand(spec);
  return Attempt{r.status, r.output, r.seconds};
}

}  // namespace

bool WhenHolds(const Snapshot& snap, const policy::Hook& hook, const AuditRecord& r) {
  if (!hook.when) return true;
  if (r.model.empty() || r.version == 0) return false;
  auto v = snap.GetVersion(r.model, r.version);
  if (!v.ok()) return false;  // gone (gc) or damaged: nothing to judge
  expr::EvalContext ctx;
  ctx.aliases = [&snap](const Version& x) { return snap.AliasesOf(x.model_id, x.number); };
  ctx.last_used_at = [&snap](const Version& x) { return LastUsedAt(snap, x); };
  return hook.when->Eval(*v, ctx);
}

milliseconds Backoff(int attempts) {
  int64_t ms = 1000;
  for (int i = 1; i < attempts && ms < 300000; ++i) ms *= 2;
  ms = std::min<int64_t>(ms, 300000);
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return milliseconds(static_cast<int64_t>(static_cast<double>(ms) * jitter(rng)));
}

Result<HookState> LoadState(const Snapshot& snap, const std::string& hook) {
  auto text = snap.GetState("hook/" + hook);
  if (!text.ok()) return text.status();
  HookState st;
  if (text->empty()) return st;
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::Corrupt("the delivery record of hook " + hook + " is damaged");
  st.known = true;
  st.done = j.value("done", uint64_t{0});
  st.attempts = j.value("attempts", 0);
  st.next_at_ns = j.value("next_at_ns", int64_t{0});
  st.last_attempt_ns = j.value("last_attempt_ns", int64_t{0});
  st.last_error = j.value("last_error", std::string());
  if (j.contains("failed") && j["failed"].is_array()) {
    for (const auto& f : j["failed"]) {
      Delivery d;
      d.id = f.value("id", std::string());
      d.seq = f.value("seq", uint64_t{0});
      d.type = f.value("type", std::string());
      d.attempts = f.value("attempts", 0);
      d.last_attempt_ns = f.value("last_attempt_ns", int64_t{0});
      d.last_error = f.value("last_error", std::string());
      st.failed.push_back(std::move(d));
    }
  }
  return st;
}

Status SaveState(Registry& reg, const std::string& hook, const HookState& st) {
  json failed = json::array();
  for (const auto& d : st.failed) failed.push_back(DeliveryJson(d));
  json j = {{"done", st.done},
            {"attempts", st.attempts},
            {"next_at_ns", st.next_at_ns},
            {"last_attempt_ns", st.last_attempt_ns},
            {"last_error", st.last_error},
            {"failed", failed}};
  return reg.PutState("hook/" + hook, j.dump());
}

Attempt Send(const policy::Hook& hook, const json& event, const std::string& delivery_id,
             const std::string& user) {
  std::string body = event.dump();
  std::string type = event.value("type", std::string());
  Attempt a = hook.url.empty() ? SendRun(hook, body, event, delivery_id, user)
                               : SendUrl(hook, body, type, delivery_id);
  if (!a.status.ok())
    a.status = Status::IO(Tail(a.status.message(), kErrorKeep));
  return a;
}

Deliverer::Deliverer(Registry* reg, std::function<std::shared_ptr<const policy::Policy>()> policy,
                     LogFn log)
    : reg_(reg), policy_(std::move(policy)), log_(std::move(log)) {}

milliseconds Deliverer::RunOnce() {
  auto pol = policy_();
  milliseconds next = std::chrono::hours(1);
  if (!pol) return next;
  for (const auto& h : pol->hooks()) next = std::min(next, RunHook(h, *pol));
  return next;
}

milliseconds Deliverer::RunHook(const policy::Hook& hook, const policy::Policy& pol) {
  constexpr milliseconds kNone = std::chrono::hours(1);
  constexpr size_t kBatch = 64;
  constexpr milliseconds kErrorRetry{5000};  // the index could not be read or written
  HookState st;
  struct Due {
    AuditRecord r;
    std::string type;
    bool match;  // on = [...] and when = EXPR
  };
  std::vector<Due> due;
  {
    auto snap = reg_->Read();
    if (!snap.ok()) {
      log_("hook " + hook.name + ": " + snap.status().message());
      return kErrorRetry;
    }
    auto loaded = LoadState(*snap, hook.name);
    if (!loaded.ok()) {
      log_("hook " + hook.name + ": " + loaded.status().message());
      return kErrorRetry;
    }
    st = std::move(*loaded);
    if (!st.known) {
      // A new hook starts at the newest event: it is not sent the past.
      st.known = true;
      st.done = snap->LastAuditSeq();
      Status s = SaveState(*reg_, hook.name, st);
      if (!s.ok()) log_("hook " + hook.name + ": " + s.message());
      return kNone;
    }
    int64_t now = NowNs();
    if (st.attempts > 0 && st.next_at_ns > now) return milliseconds((st.next_at_ns - now) / 1000000 + 1);
    Status s = ForEachEvent(*snap, st.done, [&](const AuditRecord& r, const std::string& type) {
      due.push_back({r, type, hook.Matches(type) && WhenHolds(*snap, hook, r)});
      return due.size() < kBatch;
    });
    if (!s.ok()) log_("hook " + hook.name + ": " + s.message());
  }
  // Delivered with no snapshot held: a command may run for minutes.
  uint64_t start = st.done;
  milliseconds next = kNone;
  for (const auto& [r, type, match] : due) {
    if (!match) {
      st.done = r.seq;
      continue;
    }
    std::string id = hook.name + "-" + std::to_string(r.seq);
    Attempt a = Send(hook, EventJson(r), id, pol.hook_user());
    st.last_attempt_ns = NowNs();
    if (a.status.ok()) {
      st.done = r.seq;
      st.attempts = 0;
      st.next_at_ns = 0;
      st.last_error.clear();
      log_("hook " + hook.name + ": delivered " + id + " (" + type + ") in " +
           std::to_string(static_cast<int>(a.seconds * 1000)) + " ms");
    } else {
      ++st.attempts;
      st.last_error = a.status.message();
      if (st.attempts >= hook.max_attempts) {
        st.failed.push_back({id, r.seq, type, st.attempts, st.last_attempt_ns, st.last_error});
        if (st.failed.size() > HookState::kMaxFailed)
          st.failed.erase(st.failed.begin(), st.failed.end() - HookState::kMaxFailed);
        log_("hook " + hook.name + ": gave up " + id + " (" + type + ") after " +
             std::to_string(st.attempts) + " attempts: " + st.last_error +
             " (modelfs hooks retry " + id + ")");
        st.done = r.seq;
        st.attempts = 0;
        st.next_at_ns = 0;
      } else {
        milliseconds wait = Backoff(st.attempts);
        st.next_at_ns = st.last_attempt_ns + static_cast<int64_t>(wait.count()) * 1000000;
        log_("hook " + hook.name + ": attempt " + std::to_string(st.attempts) + " of " + id + " (" +
             type + ") failed: " + st.last_error + "; next in " +
             std::to_string(wait.count() / 1000.0).substr(0, 4) + " s");
        Status s = SaveState(*reg_, hook.name, st);
        if (!s.ok()) log_("hook " + hook.name + ": " + s.message());
        return wait;
      }
    }
    Status s = SaveState(*reg_, hook.name, st);
    if (!s.ok()) {
      log_("hook " + hook.name + ": cannot record delivery " + id + ": " + s.message());
      return kErrorRetry;
    }
  }
  if (st.done != start) {
    Status s = SaveState(*reg_, hook.name, st);
    if (!s.ok()) log_("hook " + hook.name + ": " + s.message());
  }
  if (due.size() == kBatch) next = milliseconds(0);  // more are waiting
  return next;
}

Status Deliverer::Run(const std::atomic<bool>& stop, int stop_fd) {
  auto stopped = [&](int wait_ms) {
    if (stop.load()) return true;
    struct pollfd p = {stop_fd, POLLIN, 0};
    if (stop_fd < 0) {
      std::this_thread::sleep_for(milliseconds(std::min(wait_ms, 200)));
      return stop.load();
    }
    return poll(&p, 1, wait_ms) > 0 || stop.load();
  };
  // Nothing (no lock file, no watch) until the policy names a hook.
  for (;;) {
    auto pol = policy_();
    if (pol && !pol->hooks().empty()) break;
    if (stopped(static_cast<int>(kIdlePass.count()))) return Status::Ok();
  }
  std::string lock_path = reg_->root() + "/hooks.lock";
  int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0660);
  if (lock < 0) return Status::FromErrno("opening " + lock_path, errno);
  bool said = false;
  while (flock(lock, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      Status s = Status::FromErrno("locking " + lock_path, errno);
      close(lock);
      return s;
    }
    if (!said) log_("hooks: another deliverer runs for this registry; waiting for it to stop");
    said = true;
    if (stopped(stop_fd < 0 ? 200 : 2000)) {
      close(lock);
      return Status::Ok();
    }
  }
  auto watch = ChangeWatch::Open(reg_->root());
  if (!watch.ok()) {
    close(lock);
    return watch.status();
  }
  int settle = -1;  // see ChangeWatch::SettleMs
  for (;;) {
    watch->Drain();
    milliseconds next = std::min(RunOnce(), kIdlePass);
    if (settle >= 0) {
      int ms = ChangeWatch::SettleMs(settle++);
      if (ms < 0) settle = -1;
      else next = std::min(next, milliseconds(ms));
    }
    struct pollfd fds[2] = {{watch->fd(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int n = poll(fds, stop_fd >= 0 ? 2 : 1, static_cast<int>(std::max<int64_t>(next.count(), 0)));
    if (stop.load() || (n > 0 && (fds[1].revents & POLLIN))) break;
    if (n > 0 && (fds[0].revents & POLLIN)) settle = 0;
  }
  close(lock);
  return Status::Ok();
}

}  // namespace modelfs::hooks
