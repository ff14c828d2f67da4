// The mount's lifecycle: checks made while errors can still reach the
// terminal, the FUSE session, daemonizing, the freshness thread that tells
// the kernel about changes made by other processes, and a clean exit on
// unmount or SIGTERM. Request handling is in the *_ops.cc files (see
// handlers.h), the tree in tree.cc.
//
// Logging: in the foreground (-f) the log is stderr. A daemon has no
// terminal, and a container often has no syslog daemon, so a daemonized
// mount appends to ROOT/mount.log (private to ROOT's owner like the rest of
// ROOT), with libfuse's own messages, by making that file its stderr.
#define FUSE_USE_VERSION 317  // 3.17: passthrough (fuse_passthrough_open); 3.12: loop config
#include "fs/mount.h"

#include <sys/eventfd.h>

#include <dirent.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "fs/server.h"
#include "fs/service_notify.h"
#include "hooks/checks.h"
#include "hooks/deliver.h"
#include "index/names.h"

namespace modelfs::fs {

// ---------------------------------------------------------------- log

namespace {
std::mutex g_log_mu;  // one line at a time
}  // namespace

void Log(const std::string& line) {
  time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  // Escaped: a name with a newline or stray bytes stays on its own line.
  std::string out = std::string(stamp) + " modelfs[" + std::to_string(getpid()) + "]: " +
                    EscapeText(line) + "\n";
  std::lock_guard<std::mutex> g(g_log_mu);
  // One write(2): lines from several threads never interleave.
  ssize_t r = write(STDERR_FILENO, out.data(), out.size());
  (void)r;
}

namespace {

// How often the freshness thread polls the audit sequence. SPEC §3 wants
// changes visible within 1 s; 200 ms leaves room for the kernel round trips.
constexpr auto kPollInterval = std::chrono::milliseconds(200);
// Workers kept waiting for requests when --threads is not given (see Mount).
constexpr unsigned kIdleThreads = 2;
// How long a blob descriptor no read uses stays open (see Freshness::Run).
constexpr int64_t kBlobIdleNs = 30'000'000'000;
// How often counted opens are written to the index (UseFlusher): at most
// one write transaction per interval, whatever the read load. 5 s bounds
// what a crash loses and keeps the index's writer free for real changes.
// MODELFS_USE_FLUSH_MS sets it (tests use a short one).
constexpr int64_t kUseFlushMs = 5000;

// Set by SIGUSR1: the freshness thread writes the request counts to the log
// at its next poll (a signal handler may not take the log's lock).
volatile sig_atomic_t g_report_requests = 0;
void OnReportSignal(int) { g_report_requests = 1; }

int Fail(const std::string& msg) {
  std::cerr << "modelfs: " << msg << "\n";
  return 1;
}

// ---------------------------------------------------------------- options

// Splits -o options into ours (read=, dontneed=, passthrough=, use_counts=, nonempty)
// and libfuse's (allow_other, ro, default_permissions, max_read=, ...).
Status ParseOptions(const std::vector<std::string>& in, ServeOptions* serve, bool* nonempty,
                    std::vector<std::string>* fuse_opts) {
  for (const std::string& o : in) {
    if (o.empty()) continue;
    if (o == "nonempty") {
      *nonempty = true;  // libfuse 3 no longer knows it: the check is ours
    } else if (o.rfind("read=", 0) == 0) {
      std::string v = o.substr(5);
      if (v == "copy") serve->read_path = ReadPath::kCopy;
      else if (v == "splice") serve->read_path = ReadPath::kSplice;
      else if (v == "splice_move") serve->read_path = ReadPath::kSpliceMove;
      else return Status::Invalid("-o read= takes copy, splice or splice_move, not " + v);
    } else if (o.rfind("passthrough=", 0) == 0) {
      std::string v = o.substr(12);
      if (v != "0" && v != "1") return Status::Invalid("-o passthrough= takes 0 or 1");
      serve->passthrough = v == "1";
    } else if (o.rfind("use_counts=", 0) == 0) {
      std::string v = o.substr(11);
      if (v != "0" && v != "1") return Status::Invalid("-o use_counts= takes 0 or 1");
      serve->use_counts = v == "1";
    } else if (o.rfind("dontneed=", 0) == 0) {
      std::string v = o.substr(9);
      if (v != "0" && v != "1") return Status::Invalid("-o dontneed= takes 0 or 1");
      serve->dontneed = v == "1";
    } else {
      fuse_opts->push_back(o);  // libfuse's to judge: it names what it does not know
    }
  }
  return Status::Ok();
}

// libfuse splits -o on commas; a comma in a value is escaped.
std::string EscapeOpt(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Unescapes the octal escapes of /proc/self/mountinfo (\040 for space...).
std::string Unoctal(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out.push_back(static_cast<char>(v));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The filesystem type mounted exactly at `path`, "" when none.
std::string MountedAt(const std::string& path) {
  std::ifstream f("/proc/self/mountinfo");
  std::string line, found;
  while (std::getline(f, line)) {
    // id parent major:minor root mountpoint options ... - fstype source ...
    std::istringstream in(line);
    std::string id, parent, dev, root, mp;
    in >> id >> parent >> dev >> root >> mp;
    if (Unoctal(mp) != path) continue;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    rest >> found;  // the last mount there is the one that shows
  }
  return found;
}

// A mount hides what its directory holds, so mounting over files is
// refused unless asked for (-o nonempty), as fusermount did before libfuse 3.
Status CheckEmpty(const std::string& mp) {
  DIR* d = opendir(mp.c_str());
  if (!d) return Status::FromErrno("cannot list mountpoint " + mp + " to check that it is empty", errno);
  std::string first;
  errno = 0;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") {
      first = n;
      break;
    }
  }
  int err = errno;
  closedir(d);
  if (first.empty() && err != 0)
    return Status::FromErrno("cannot list mountpoint " + mp + " to check that it is empty", err);
  if (!first.empty())
    return Status::NotEmpty("mountpoint " + mp + " is not empty (it holds " + EscapeText(first) +
                            "): the mount would hide its files; empty it, choose another "
                            "directory, or mount over them with -o nonempty");
  return Status::Ok();
}

// Errors a user can act on, before anything is mounted.
Status CheckMountpoint(const std::string& mp, bool nonempty, std::string* real) {
  struct stat st;
  if (stat(mp.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound("mountpoint " + mp + " does not exist");
    if (err == ENOTCONN)
      return Status::Busy("mountpoint " + mp +
                          " is a dead FUSE mount (its daemon exited); unmount it with "
                          "`fusermount3 -u " + mp + "`");
    return Status::FromErrno("mountpoint " + mp, err);
  }
  if (!S_ISDIR(st.st_mode)) return Status::Invalid("mountpoint " + mp + " is not a directory");
  char buf[PATH_MAX];
  if (!realpath(mp.c_str(), buf)) return Status::FromErrno("mountpoint " + mp, errno);
  *real = buf;
  std::string fstype = MountedAt(*real);
  if (fstype.rfind("fuse", 0) == 0)
    return Status::Busy("mountpoint " + mp + " is already mounted (" + fstype +
                        "); unmount it first with `fusermount3 -u " + mp + "`");
  if (!nonempty) return CheckEmpty(mp);
  return Status::Ok();
}

// ---------------------------------------------------------------- hooks

// The mount's hook deliverer (hooks/deliver.h): delivers the events the
// [[hooks]] of the policy in force match, for as long as the mount runs
// (or waits, while `modelfs hooks run` holds ROOT/hooks.lock).
class HookThread {
 public:
  explicit HookThread(Server* srv)
      : stop_fd_(eventfd(0, EFD_CLOEXEC)),
        deliverer_(srv->reg.get(), [srv] { return srv->policy->current(); },
                   [](const std::string& line) { Log(line); }) {
    thread_ = std::thread([this] {
      Status st = deliverer_.Run(stop_, stop_fd_);
      if (!st.ok()) Log("error: hooks: " + st.message() + "; no hooks are delivered by this mount");
    });
  }
  ~HookThread() {
    stop_ = true;
    uint64_t one = 1;
    if (stop_fd_ >= 0) (void)!write(stop_fd_, &one, sizeof one);
    thread_.join();
    if (stop_fd_ >= 0) close(stop_fd_);
  }
  HookThread(const HookThread&) = delete;
  HookThread& operator=(const HookThread&) = delete;

 private:
  std::atomic<bool> stop_{false};
  int stop_fd_;
  hooks::Deliverer deliverer_;
  std::thread thread_;
};

// ---------------------------------------------------------------- freshness

// Tells the kernel about changes other processes (the CLI, another mount)
// commit to the index (and writes the Enforcer's due denial summaries): every ~200 ms it reads the audit records added since
// the last look and, for each model they name, drops the kernel's cached
// names and attributes at the model level. It runs on its own thread because
// an invalidation waits for the kernel's directory locks, which a request
// handler may be holding the other end of.
class Freshness {
 public:
  explicit Freshness(Server* srv) : srv_(srv) {
    auto snap = srv_->reg->Read();
    if (snap.ok()) {
      seq_ = snap->LastAuditSeq();
      usage_seq_ = snap->UsageSeq();
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~Freshness() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!cv_.wait_for(lk, kPollInterval, [this] { return stop_; })) {
      lk.unlock();
      // Denial summaries that are due, so a caller that stops still has
      // its count in the trail; Poll then announces them like any record.
      srv_->enforcer->Flush();
      if (g_report_requests) {
        g_report_requests = 0;
        Log(srv_->requests.Format());
      }
      Poll();
      // A blob gc removed lives on disk while we hold it open: idle
      // descriptors go after a while (a read reopens in one open(2)).
      srv_->blob_fds->CloseIdle(kBlobIdleNs);
      lk.lock();
    }
  }

  void Poll() {
    std::set<std::string> models;
    std::set<std::pair<std::string, uint32_t>> versions;  // named by the audit: maybe gone
    {
      auto snap = srv_->reg->Read();
      if (!snap.ok()) return;
      // Use counts flushed (by this mount or another): no change of the
      // tree, so only the cached xattrs that show them are dropped.
      if (uint64_t used = snap->UsageSeq(); used != usage_seq_) {
        usage_seq_ = used;
        srv_->tree->UsageChanged();
      }
      uint64_t last = snap->LastAuditSeq();
      if (last <= seq_) return;
      Status st = snap->ForEachAudit(seq_, [&](const AuditRecord& r) {
        if (!r.model.empty()) models.insert(r.model);
        if (!r.model.empty() && r.version != 0) versions.emplace(r.model, r.version);
        return true;
      });
      if (!st.ok() && st.code() != Code::kCorrupt) {
        Log("error: reading the audit trail: " + st.message());
        return;  // tried again at the next poll
      }
      // A damaged audit record is skipped, once: what it was about stays
      // stale in the kernel until its attribute and entry timeouts end.
      if (!st.ok()) Log("error: " + st.message());
      seq_ = last;
    }
    // Cached nlink counts first, so that what the kernel asks next is fresh.
    srv_->tree->Changed();
    fuse_session* se = srv_->se;
    fuse_lowlevel_notify_inval_inode(se, kRootId, 0, 0);  // nlink: a model may be new
    for (const std::string& m : models) {
      // Collected under the table's lock, notified without it.
      std::vector<Node> nodes = srv_->nodes.NodesOfModel(m);
      auto snap = srv_->reg->Read();
      for (const Node& n : nodes) {
        switch (n.kind) {
          case NodeKind::kModel:
          case NodeKind::kCard:  // its size and text follow the model's records
            fuse_lowlevel_notify_inval_inode(se, n.ino, 0, 0);
            break;
          case NodeKind::kAlias:
          case NodeKind::kLatest:
            // Moved, deleted or re-created: the name must be looked up again,
            // and the symlink's size ("v9" → "v10") refreshed.
            fuse_lowlevel_notify_inval_entry(se, n.parent, n.name.c_str(), n.name.size());
            fuse_lowlevel_notify_inval_inode(se, n.ino, 0, 0);
            break;
          case NodeKind::kVersion:
            // A version's name only goes stale when the version is gone (gc,
            // a discarded draft). Dropping it otherwise would throw away the
            // cached pages of its files, so check first.
            if (versions.count({m, n.version}) && snap.ok() &&
                snap->GetVersion(n.model_id, n.version).status().code() == Code::kNotFound)
              fuse_lowlevel_notify_inval_entry(se, n.parent, n.name.c_str(), n.name.size());
            else
              fuse_lowlevel_notify_inval_inode(se, n.ino, 0, 0);  // draft → ready: nlink
            break;
          case NodeKind::kDraftDir:
          case NodeKind::kDraftFile:
            // A sealed or discarded draft: its names now lead to the ready
            // version's entries (or nowhere). Dropping the top-level names
            // drops the subtrees below them in the kernel.
            if (versions.count({m, n.version}) && snap.ok()) {
              auto v = snap->GetVersion(n.model_id, n.version);
              if (!v.ok() || v->id != n.version_id || v->state != State::kDraft)
                fuse_lowlevel_notify_inval_entry(se, n.parent, n.name.c_str(), n.name.size());
            }
            break;
          default:
            break;
        }
      }
    }
  }

  Server* srv_;
  uint64_t seq_ = 0;  // the last audit record acted on; touched by the thread only
  uint64_t usage_seq_ = 0;  // the usage flush last seen; the thread's only
  std::mutex mu_;     // guards stop_
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------- use counts

// Writes the opens counted in Server::uses to the index (Registry::AddUsage):
// one write transaction per interval at most, none when nothing was opened,
// and a last one when the mount stops. On its own thread, so that the
// index's writer lock (a push may hold it for a while) never delays a
// request or the freshness thread. A failed flush keeps its batch for the
// next one.
class UseFlusher {
 public:
  UseFlusher(Server* srv, std::chrono::milliseconds interval) : srv_(srv), interval_(interval) {
    thread_ = std::thread([this] { Run(); });
  }
  ~UseFlusher() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    Flush();  // what was counted since the last flush
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!cv_.wait_for(lk, interval_, [this] { return stop_; })) {
      lk.unlock();
      Flush();
      lk.lock();
    }
  }

  void Flush() {
    std::vector<UseBatchItem> batch = srv_->uses->Take();
    if (batch.empty()) return;
    Status st = srv_->reg->AddUsage(batch);
    if (st.ok()) return;
    Log("error: writing use counts: " + st.message() + " (kept for the next flush)");
    srv_->uses->Restore(batch);
  }

  Server* srv_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;  // guards stop_
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// MODELFS_USE_FLUSH_MS, a positive whole number of milliseconds, or the default.
Result<std::chrono::milliseconds> UseFlushInterval() {
  const char* s = getenv("MODELFS_USE_FLUSH_MS");
  if (!s || !*s) return std::chrono::milliseconds(kUseFlushMs);
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || v <= 0 || v > 86'400'000)
    return Status::Invalid(std::string("MODELFS_USE_FLUSH_MS \"") + EscapeText(s) +
                           "\" is not a number of milliseconds (1 to 86400000)");
  return std::chrono::milliseconds(v);
}

}  // namespace

// ---------------------------------------------------------------- Mount

int Mount(const MountOptions& opt) {
  auto srv = std::make_unique<Server>();
  srv->opt.verify = opt.verify;
  std::vector<std::string> fuse_opts;
  bool nonempty = false;
  Status st = ParseOptions(opt.options, &srv->opt, &nonempty, &fuse_opts);
  if (!st.ok()) return Fail(st.message());
  auto flush_every = UseFlushInterval();
  if (!flush_every.ok()) return Fail(flush_every.status().message());

  // Open once now, for errors the user sees on the terminal; closed again
  // before daemonizing because an LMDB environment must not cross fork().
  std::string root;
  {
    auto reg = Registry::Open(opt.root);
    if (!reg.ok()) return Fail(reg.status().message());
    char buf[PATH_MAX];
    if (!realpath(opt.root.c_str(), buf)) return Fail("cannot resolve " + opt.root);
    root = buf;
    auto pol = policy::Policy::Load((*reg)->policy_path());
    if (!pol.ok()) return Fail("policy does not parse, refusing to mount: " + pol.status().message());
  }
  struct stat rst;
  if (stat(root.c_str(), &rst) != 0) return Fail("cannot stat " + root);

  std::string mountpoint;
  st = CheckMountpoint(opt.mountpoint, nonempty, &mountpoint);
  if (!st.ok()) return Fail(st.message());

  // Daemon log file, opened now so that a failure is still reported here.
  int log_fd = -1;
  if (!opt.foreground) {
    std::string log_path = root + "/mount.log";
    log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) return Fail("cannot open " + log_path + ": " + strerror(errno));
  }

  std::string o = "fsname=" + EscapeOpt(root) + ",subtype=modelfs";
  for (const std::string& f : fuse_opts) o += "," + f;
  std::vector<std::string> argv_s = {"modelfs", "-o", o};
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  Server* s = srv.get();
  fuse_session* se = fuse_session_new(&args, &Operations(), sizeof(fuse_lowlevel_ops), s);
  if (!se) {
    if (log_fd >= 0) close(log_fd);
    return Fail("cannot start the FUSE session (see the message above)");
  }
  s->se = se;
  if (fuse_set_signal_handlers(se) != 0) {
    fuse_session_destroy(se);
    return Fail("cannot install signal handlers");
  }
  // `kill -USR1 PID`: the requests served so far, by kind, in the log.
  struct sigaction sa {};
  sa.sa_handler = OnReportSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, nullptr);
  if (fuse_session_mount(se, mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    if (log_fd >= 0) close(log_fd);
    return Fail("cannot mount at " + mountpoint + " (see the message above)");
  }

  // Daemonize after mounting, so that mount errors reached the terminal;
  // the parent exits 0 once the child is set up.
  if (!opt.foreground) {
    fuse_daemonize(0);
    dup2(log_fd, STDERR_FILENO);
    close(log_fd);
  }

  int rc = 0;
  auto reg = Registry::Open(root);
  if (!reg.ok()) {
    Log("error: " + reg.status().message());
    rc = 1;
  } else {
    s->reg = std::move(*reg);
    // Multi-host: apply other hosts' commits as they come; Freshness then
    // announces them like any commit (the audit records they bring).
    if (Status f = s->reg->Follow(); !f.ok()) Log("error: " + f.message());
    auto pol = policy::PolicyFile::Open(s->reg->policy_path());
    if (!pol.ok()) {
      // It parsed a moment ago; if it broke since, refuse rather than guess.
      Log("error: policy does not parse, unmounting: " + pol.status().message());
      fuse_session_unmount(se);
      fuse_remove_signal_handlers(se);
      fuse_session_destroy(se);
      fuse_opt_free_args(&args);
      return 1;
    }
    s->policy = std::move(*pol);
    s->policy->set_log([](const std::string& line) { Log(line); });
    policy::PolicyFile* file = s->policy.get();
    s->enforcer = std::make_unique<policy::Enforcer>(
        s->reg.get(), [file] { return file->current(); },
        [](const std::string& line) { Log(line); });
    // Check gates run in the daemon, off the request threads (alias_ops.cc).
    s->enforcer->set_checker(hooks::MakeChecker(s->reg.get(), s->slow.cancel()));
    // Files a writer had open when a previous daemon died may be torn: a
    // draft keeps only complete files (SPEC §2: nothing half-done; §4).
    auto torn = s->reg->TornDraftFiles(true);
    if (!torn.ok()) {
      // Serve anyway: seal refuses a file still marked as being written.
      Log("error: checking drafts for files torn by a crash: " + torn.status().message());
    } else {
      for (const std::string& t : *torn)
        Log("recovery: dropped " + t + ": it was open for writing when the mount stopped and "
            "may be torn; write it again");
    }
    // Each file open through the mount holds a descriptor of its blob or
    // staging file (nodes hold none): allow as many as the hard limit does.
    struct rlimit rl {};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    // Reads of ready files share one descriptor per blob, and keep a
    // fraction of the limit at most (index/blob_fds.h).
    s->blob_fds = std::make_unique<BlobFds>(&s->reg->blobs(), BlobFds::DefaultMax());
    s->tree = std::make_unique<Tree>(
        s->reg.get(), rst.st_uid, rst.st_gid,
        int64_t{rst.st_mtim.tv_sec} * 1000000000 + rst.st_mtim.tv_nsec);
    Log("serving " + root + " at " + mountpoint);
    // A unit of Type=notify (packaging/modelfs@.service) is started now: the
    // mount is up and every request from here on is served.
    Status ns = NotifyServiceManager("READY=1\nSTATUS=serving " + root + " at " + mountpoint);
    if (!ns.ok()) Log("error: " + ns.message());

    fuse_loop_config* cfg = fuse_loop_cfg_create();
    // One /dev/fuse fd per worker: no contention on a single queue.
    fuse_loop_cfg_set_clone_fd(cfg, 1);
    if (opt.threads > 0) fuse_loop_cfg_set_max_threads(cfg, opt.threads);
    // Idle workers kept waiting: each request wakes the next in turn, so
    // ten of them (libfuse's default) hand a serial walk from thread to
    // thread and cache to cache, twice as slow on 2 cores as two
    // (scripts/bench-walk --threads). Up to max_threads (libfuse's 10
    // unless --threads) still start when requests block, e.g. a seal.
    fuse_loop_cfg_set_idle_threads(cfg, opt.threads > 0 ? opt.threads : kIdleThreads);
    if (s->opt.use_counts) s->uses = std::make_unique<UseCounts>();
    {
      // Stops after the loop (and flushes what is left), before the tree goes.
      std::optional<UseFlusher> flusher;
      if (s->uses) flusher.emplace(s, *flush_every);
      Freshness fresh(s);
      HookThread hooks(s);
      int r = fuse_session_loop_mt(se, cfg);
      if (r < 0) {
        Log(std::string("error: session loop: ") + strerror(-r));
        rc = 1;
      }
      s->slow.StopAll();  // running checks are killed; their requests get their error
    }  // the freshness and hook threads stop before the session goes away
    fuse_loop_cfg_destroy(cfg);
    NotifyServiceManager("STOPPING=1");  // best effort: the manager may be gone
    Log(s->requests.Format());
    Log("unmounting " + mountpoint);
  }
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  return rc;
}

}  // namespace modelfs::fs
