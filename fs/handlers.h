// What the FUSE request handlers share: replies, the policy hook, node
// helpers, the open-file handle, and every handler's declaration. Each
// handler maps one request to a Tree, Registry or Enforcer call (inside a
// draft, to the same system call on its staging file) and maps the result
// to a reply; registry rules live in index/ and policy/. Internal to fs/.
//
// Handlers run on libfuse's worker threads. They hold no lock across a
// reply, and never make notify calls (the freshness thread in mount.cc does).
#pragma once

#define FUSE_USE_VERSION 317  // 3.17: passthrough (fuse_passthrough_open); 3.12: loop config
#include <fuse_lowlevel.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fs/server.h"
#include "index/card.h"

namespace modelfs::fs {

// Contents of ready versions never change: the kernel may keep their names,
// attributes and pages for a day (effectively forever). Model-level names
// and listings (versions appearing, aliases moving, latest) change, but
// every change is in the audit trail, and the freshness thread invalidates
// what it touched within ~200 ms (SPEC §3: within 1 s). So they are cached
// long too: short timeouts would make every warm walk ask again. The
// timeout only bounds the damage should a notification be lost.
constexpr double kStableTimeout = 86400.0;
constexpr double kModelTimeout = 60.0;
// Draft names and attributes change with every write, but only through this
// mount (or a seal/discard, which the freshness thread announces): a short
// timeout bounds what a lost notification could leave stale.
constexpr double kDraftTimeout = 0.5;
// The largest read/write the kernel may send: 1 MiB (256 pages, the
// kernel's FUSE_MAX_MAX_PAGES); fewer, larger requests stream faster.
constexpr unsigned kMaxIo = 1u << 20;

// ---------------------------------------------------------------- replies (handlers.cc)

inline Server& S(fuse_req_t req) { return *static_cast<Server*>(fuse_req_userdata(req)); }
// fuse_reply_err as a void expression: `return Err(req, EINVAL);`.
inline void Err(fuse_req_t req, int err) { fuse_reply_err(req, err); }
// The errno of a failed Status: the OS's own when it came from a system call.
int ErrnoOf(const Status& s);
// Replies with the errno of a failed Status; unexpected failures (not a
// plain "no such name") go to the log with their message, and are kept as
// the caller's refusal on the request's model (Refusals, read back as
// user.registry.why): a refusal that has a reason goes through here.
void ReplyStatus(fuse_req_t req, const Status& s);
// Replies after a registry change: our own caches (counts, xattrs) are
// dropped at once, so the caller's next getfattr or stat sees the change;
// the kernel's view is the freshness thread's job.
void ReplyChanged(fuse_req_t req, const Status& st);

// The caller of a request as the policy sees it, and as audits name it; an
// error when it cannot be learnt now (Callers::IdentityOf), which the
// request must be refused with.
Result<policy::Identity> CallerOf(fuse_req_t req);
Actor ActorOf(fuse_req_t req);
// The policy hook: Enforcer::Check for `op` on `model` ("" for the
// registry root); on denial replies EACCES and returns false, and when
// the caller cannot be told, replies with that error and returns false.
bool Allowed(fuse_req_t req, policy::Operation op, const std::string& model,
             std::string_view object = {});

// Allowed() for reading node `n`: the registry root is kReadRoot, anything
// else kRead of its model.
bool AllowedToRead(fuse_req_t req, const Node& n);

// The node the kernel names by `ino`; replies ESTALE and returns false when
// there is none (a stale NFS handle).
bool GetNode(fuse_req_t req, fuse_ino_t ino, Node* out);
bool IsDir(const Node& n);
bool IsDraft(const Node& n);
// How long the kernel may cache a node's name and attributes.
double TimeoutOf(const Node& n, bool stable);
fuse_entry_param EntryParam(const Child& c);
// Hands the kernel a new reference to `c` and replies with it.
void ReplyEntry(fuse_req_t req, const Child& c);
// Looks a name just made in the index up again, to hand the kernel its node.
void ReplyIndexEntry(fuse_req_t req, const Node& dir, const char* name);
// The stat of any node; 0 or an errno.
int StatOf(Server& srv, const Node& n, struct stat* out, bool* stable);

// ---------------------------------------------------------------- drafts (draft_ops.cc)

// "/proc/self/fd/N": how an O_PATH descriptor is reopened for I/O.
std::string FdPath(int fd);
// A staging file's stat as the mount shows it.
struct stat DraftStat(struct stat st);
// The draft behind a node that may stand for one: a draft version's
// directory, or a directory or file in it. Returns 0 and fills `v` and `fd`
// (the staging directory or file, O_PATH, opened for this request from the
// node's path: nodes hold no descriptor), or an errno: EROFS for what
// belongs to a ready or archived version, ESTALE for a draft node whose
// draft has since been sealed or discarded or whose path no longer leads
// to it (the kernel then looks the name up again), EINVAL for nodes that
// are no version's contents.
int DraftOf(Server& srv, const Node& n, Version* v, std::shared_ptr<const PathFd>* fd);
// Whether `name` in directory `dir` is a model's card (README.md), which no
// request may make, replace, remove or rename (CardReadOnly: EROFS).
inline bool IsCard(const Node& dir, std::string_view name) {
  return dir.kind == NodeKind::kModel && name == kCardName;
}
// Why a file cannot be made in the root or a model directory.
inline constexpr const char* kHolds =
    "the root holds models only, and a model its versions v<N> and aliases only";
// Why node `n` (of a ready or archived version) cannot be written: EROFS
// with a reason for the caller (ReplyStatus).
Status NotADraft(const Node& n);
// The child `name` of draft directory `dir` (staging directory `dirfd`).
int DraftChild(const Node& dir, const Version& v, int dirfd, const char* name, Child* c);

// ---------------------------------------------------------------- open files (file_ops.cc)

// An open file. Reference-counted: once a read has replied the kernel may
// send release on another thread while the read still drops pages behind
// it, so release only drops its reference. A draft writer's handle owns its
// DraftWriter (the writer's lock and mark, released with the handle). A
// ready version's file holds no descriptor of its own: it names its blob
// (verified by the open), holds it in Server::blob_fds (BlobFds::Hold), and
// each read leases the blob's shared descriptor.
struct FileHandle {
  int fd = -1;        // a draft's staging file; -1 for a ready version's file
  Digest blob;        // a ready version's file: what it reads
  BlobFds::Hold hold;  // ... and its claim on the blob's cached descriptor
  uint64_t size = 0;
  bool passthrough = false;  // the kernel reads (writes) the file itself (the hold still pins its blob)
  std::atomic<int> refs{1};
  bool draft = false;                 // a staging file: no fixed size, nothing to drop
  std::optional<DraftWriter> writer;  // set when open for writing; owns fd
  Version version;                    // draft: the version it belongs to
  std::string name;                   // draft: the file's name, for the log
  // A model card: the text generated at open, which every read of this
  // handle serves (direct I/O: the kernel keeps no pages of it).
  std::shared_ptr<const std::string> card;
};
void Unref(FileHandle* fh);

// ---------------------------------------------------------------- the handlers

// name_ops.cc: names, attributes and directories.
void Init(void* userdata, fuse_conn_info* conn);
// file_ops.cc: asks for FUSE passthrough at init when the options and the
// kernel allow it (Init's part for open files).
void InitPassthrough(Server& srv, fuse_conn_info* conn);
void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void ForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets);
void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void ReadLink(fuse_req_t req, fuse_ino_t ino);
void StatFs(fuse_req_t req, fuse_ino_t ino);
void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
void ReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
void ReleaseDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
// file_ops.cc: open files of versions and drafts.
void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
void WriteBuf(fuse_req_t req, fuse_ino_t ino, fuse_bufvec* in, off_t off, fuse_file_info* fi);
void Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void Fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi);
// xattr_ops.cc: metadata as extended attributes.
void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size);
void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags);
void RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name);
// draft_ops.cc: models, drafts and the names in drafts.
void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi);
void MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name);
void RmDir(fuse_req_t req, fuse_ino_t parent, const char* name);
void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
            const char* newname, unsigned flags);
void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname);
// A symlink in a draft directory (SymLink's case for drafts).
void DraftSymLink(fuse_req_t req, const Node& dir, const char* link, const char* name);
// The target of a draft's symlink node; 0 or an errno.
int DraftReadLink(Server& srv, const Node& n, std::string* target);
// The staging directory of draft directory `dir`, for calls that create or
// remove names in it, with the name change begun. Replies and returns
// false when there is none (EROFS in ready versions) or the caller may not
// write.
bool DraftParent(fuse_req_t req, const Node& dir, Version* v, std::shared_ptr<const PathFd>* pf,
                 std::optional<DraftLock>* change);
// Before a name is made in draft `v` in its staging directory `dirfd`:
// replies ENAMETOOLONG and returns false when the draft could not be sealed
// with it (Registry::CheckDraftPath).
bool DraftPathFits(fuse_req_t req, const Version& v, int dirfd, const char* name);
// alias_ops.cc: aliases as symlinks, and ln -sfn's temporaries.
Child PendingChild(Server& srv, const Node& model_dir, const std::string& name,
                   const PendingLinks::Link& l);
void SymLink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name);
void UnlinkAlias(fuse_req_t req, const Node& model_dir, const std::string& name);
void RenameInModel(fuse_req_t req, const Node& dir, const std::string& from, const std::string& to,
                   unsigned flags);

}  // namespace modelfs::fs
