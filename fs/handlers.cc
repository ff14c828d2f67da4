// The helpers every handler shares (see handlers.h) and the table that
// hands the handlers to libfuse.
#include "fs/handlers.h"

#include <cerrno>
#include <cstring>
#include <vector>

namespace modelfs::fs {

int ErrnoOf(const Status& s) {
  if (s.sys_errno() != 0) return s.sys_errno();
  switch (s.code()) {
    case Code::kOk: return 0;
    case Code::kInvalid: return EINVAL;
    case Code::kNotFound: return ENOENT;
    case Code::kExists: return EEXIST;
    case Code::kBusy: return EBUSY;
    case Code::kReadOnly: return EROFS;
    case Code::kDenied: return EACCES;
    case Code::kNoAccess: return EACCES;
    case Code::kIO: return EIO;
    case Code::kCorrupt: return EIO;
    case Code::kNoSpace: return ENOSPC;
    case Code::kTooBig: return E2BIG;
    case Code::kRange: return ERANGE;
    case Code::kNoData: return ENODATA;
    case Code::kNotEmpty: return ENOTEMPTY;
  }
  return EIO;
}

namespace {

// The model the request in hand is about, for its refusal's record: the
// model of the first node it names (GetNode), "" for the registry root.
// libfuse runs one request at a time on a thread, and Counted (below)
// starts each afresh.
struct RequestScope {
  bool named = false;
  std::string model;
};
thread_local RequestScope t_request;

}  // namespace

void ReplyStatus(fuse_req_t req, const Status& s) {
  // Expected answers (no such name, a refusal already logged by the
  // Enforcer) are not errors of the daemon.
  if (!s.ok() && s.code() != Code::kNotFound && s.code() != Code::kNoData &&
      s.code() != Code::kDenied && s.code() != Code::kNotEmpty) {
    Log("error: " + s.message());
    // What the log says of the caller's failed request, the caller may
    // read (user.registry.why); a denial the Enforcer has recorded already.
    int err = ErrnoOf(s);
    const char* name = strerrorname_np(err);
    S(req).enforcer->refusals().Record(fuse_req_ctx(req)->uid, t_request.model,
                                      std::string(name ? name : "error") + " " + s.message());
  }
  fuse_reply_err(req, ErrnoOf(s));
}

void ReplyChanged(fuse_req_t req, const Status& st) {
  if (!st.ok()) return ReplyStatus(req, st);
  S(req).tree->Changed();
  fuse_reply_err(req, 0);
}

Result<policy::Identity> CallerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  // Supplementary groups cost a read of /proc: fetched only when the
  // per-process cache misses. (Not fuse_req_getgroups: it says EIO for
  // every failure, and EMFILE must not read as "the process has gone".)
  pid_t pid = ctx->pid;
  return S(req).callers.IdentityOf(
      Callers::Caller{ctx->uid, ctx->gid, pid, [pid] { return Callers::GroupsOf(pid); }});
}

Actor ActorOf(fuse_req_t req) {
  auto who = CallerOf(req);
  if (who.ok()) return policy::Enforcer::ActorOf(*who);
  // Only ever asked once Allowed() has resolved this caller (and cached it
  // for a second): should it fail now, the record keeps the uid, which is
  // exact, and its decimal for a name.
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return Actor{ctx->uid, std::to_string(ctx->uid)};
}

bool Allowed(fuse_req_t req, policy::Operation op, const std::string& model,
             std::string_view object) {
  if (object.empty()) object = model.empty() ? std::string_view("/") : std::string_view(model);
  auto who = CallerOf(req);
  if (!who.ok()) {
    ReplyStatus(req, who.status());
    return false;
  }
  Status st = S(req).enforcer->Check(*who, op, model, object);
  if (st.ok()) return true;
  ReplyStatus(req, st);
  return false;
}

bool AllowedToRead(fuse_req_t req, const Node& n) {
  return Allowed(req, n.kind == NodeKind::kRoot ? policy::Operation::kReadRoot
                                                : policy::Operation::kRead,
                 n.model);
}

bool GetNode(fuse_req_t req, fuse_ino_t ino, Node* out) {
  // The kernel only uses inodes we gave it (and have not been told to
  // forget), so a miss means a stale NFS handle.
  auto n = S(req).nodes.Get(ino);
  if (!n) {
    fuse_reply_err(req, ESTALE);
    return false;
  }
  *out = std::move(*n);
  if (!t_request.named) {
    t_request.named = true;
    t_request.model = out->model;
  }
  return true;
}

bool IsDir(const Node& n) {
  return n.kind == NodeKind::kRoot || n.kind == NodeKind::kModel ||
         n.kind == NodeKind::kVersion || n.kind == NodeKind::kDir ||
         n.kind == NodeKind::kDraftDir;
}

bool IsDraft(const Node& n) {
  return n.kind == NodeKind::kDraftDir || n.kind == NodeKind::kDraftFile;
}

double TimeoutOf(const Node& n, bool stable) {
  if (IsDraft(n) || n.kind == NodeKind::kPending) return kDraftTimeout;
  return stable ? kStableTimeout : kModelTimeout;
}

fuse_entry_param EntryParam(const Child& c) {
  fuse_entry_param e{};
  e.ino = c.node.ino;
  e.generation = 0;  // ObjectIds are never reused: the id alone is unique
  e.attr = c.st;
  e.attr_timeout = e.entry_timeout = TimeoutOf(c.node, c.stable);
  return e;
}

void ReplyEntry(fuse_req_t req, const Child& c) {
  fuse_entry_param e = EntryParam(c);
  // Count the reference before replying: once the reply is out the kernel
  // may forget it on another thread.
  S(req).nodes.Ref(c.node);
  if (fuse_reply_entry(req, &e) != 0) S(req).nodes.Forget(c.node.ino, 1);
}

void ReplyIndexEntry(fuse_req_t req, const Node& dir, const char* name) {
  S(req).tree->Changed();
  bool ignored = false;
  auto c = S(req).tree->Lookup(dir, name, &ignored);
  if (!c.ok()) return ReplyStatus(req, c.status());
  ReplyEntry(req, *c);
}

int StatOf(Server& srv, const Node& n, struct stat* out, bool* stable) {
  *stable = false;
  if (IsDraft(n)) {
    Version v;
    std::shared_ptr<const PathFd> fd;
    if (int err = DraftOf(srv, n, &v, &fd)) return err;
    struct stat st;
    if (fstat(fd->fd(), &st) != 0) return errno;
    *out = DraftStat(st);
    return 0;
  }
  if (n.kind == NodeKind::kPending) {
    auto l = srv.pending.Get(n.model_id, n.name);
    if (!l || l->ino != n.ino) return ENOENT;
    *out = PendingChild(srv, n, n.name, *l).st;
    return 0;
  }
  auto st = srv.tree->Stat(n, stable);
  if (!st.ok()) {
    if (st.status().code() != Code::kNotFound) Log("error: " + st.status().message());
    return ErrnoOf(st.status());
  }
  *out = *st;
  return 0;
}

namespace {

// Handler F, counted as request K before it runs: one wrapper for every
// handler, whatever its arguments.
template <Request K, auto F>
struct Counted;
template <Request K, typename... A, void (*F)(fuse_req_t, A...)>
struct Counted<K, F> {
  static void Call(fuse_req_t req, A... a) {
    S(req).requests.Add(K);
    t_request.named = false;
    t_request.model.clear();
    F(req, a...);
  }
};

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = Init;
  ops.lookup = Counted<Request::kLookup, Lookup>::Call;
  ops.forget = Counted<Request::kForget, Forget>::Call;
  ops.forget_multi = Counted<Request::kForget, ForgetMulti>::Call;  // a batch counts once
  ops.getattr = Counted<Request::kGetAttr, GetAttr>::Call;
  ops.readlink = Counted<Request::kReadLink, ReadLink>::Call;
  ops.statfs = Counted<Request::kStatFs, StatFs>::Call;
  ops.opendir = Counted<Request::kOpenDir, OpenDir>::Call;
  ops.readdir = Counted<Request::kReadDir, ReadDir>::Call;
  ops.readdirplus = Counted<Request::kReadDirPlus, ReadDirPlus>::Call;
  ops.releasedir = Counted<Request::kReleaseDir, ReleaseDir>::Call;
  ops.open = Counted<Request::kOpen, Open>::Call;
  ops.read = Counted<Request::kRead, Read>::Call;
  ops.write_buf = Counted<Request::kWrite, WriteBuf>::Call;
  ops.fsync = Counted<Request::kFsync, Fsync>::Call;
  ops.flush = Counted<Request::kFlush, Flush>::Call;
  ops.release = Counted<Request::kRelease, Release>::Call;
  ops.getxattr = Counted<Request::kGetXattr, GetXattr>::Call;
  ops.listxattr = Counted<Request::kListXattr, ListXattr>::Call;
  ops.setxattr = Counted<Request::kSetXattr, SetXattr>::Call;
  ops.removexattr = Counted<Request::kRemoveXattr, RemoveXattr>::Call;
  ops.setattr = Counted<Request::kSetAttr, SetAttr>::Call;
  ops.mkdir = Counted<Request::kMkDir, MkDir>::Call;
  ops.mknod = Counted<Request::kMkNod, MkNod>::Call;
  ops.symlink = Counted<Request::kSymLink, SymLink>::Call;
  ops.unlink = Counted<Request::kUnlink, Unlink>::Call;
  ops.rmdir = Counted<Request::kRmDir, RmDir>::Call;
  ops.rename = Counted<Request::kRename, Rename>::Call;
  ops.link = Counted<Request::kLink, Link>::Call;
  ops.create = Counted<Request::kCreate, Create>::Call;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& Operations() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace modelfs::fs
