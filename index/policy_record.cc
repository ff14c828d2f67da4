// The registry's policy as a record (SPEC §6, §7): `modelfs policy set`.
// On a multi-host ROOT the policy text is part of the index of record (meta
// record "policy", replicated like every other), and ROOT/policy.toml is
// this host's copy of it, rewritten atomically whenever a commit changes
// the record (made here or applied from another host) and whenever a
// catch-up finds the file differs. The mount and the CLI keep loading
// ROOT/policy.toml as on one host, so the mount's reload (policy::PolicyFile
// polls the file) needs nothing new, and there is one source of truth: the
// record; the file only follows it. On a single-host ROOT the file is the
// policy, replaced atomically.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <xxhash.h>

#include "index/lmdb_keys.h"
#include "index/registry.h"
#include "index/sys.h"
#include "index/write_txn.h"

namespace modelfs {

using namespace lmdb;

namespace {

constexpr std::string_view kPolicyKey = "policy";

// "xxh3:<32 hex>" of the policy text, as audit records name it.
std::string TextDigest(std::string_view text) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits(text.data(), text.size()));
  Digest d;
  std::copy(std::begin(c.digest), std::end(c.digest), d.bytes.begin());
  return "xxh3:" + d.hex();
}

Result<std::string> ReadWhole(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(path, errno);
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return Status::FromErrno(path, e);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// A temporary file beside `path` holding `text`, synced; its name, for
// PublishFile or unlink.
Result<std::string> StageFile(const std::string& path, std::string_view text) {
  std::string tmp = path + ".XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) return Status::FromErrno("cannot create a file beside " + path, errno);
  size_t done = 0;
  int err = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (err == 0 && fchmod(fd, 0644) != 0) err = errno;
  if (err == 0 && fsync(fd) != 0) err = errno;
  close(fd);
  if (err != 0) {
    unlink(tmp.c_str());
    return Status::FromErrno("cannot write " + tmp, err);
  }
  return tmp;
}

// Renames the staged file over `path`: readers see the old text or the new,
// never a part.
Status PublishFile(const std::string& tmp, const std::string& path) {
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return Status::FromErrno("cannot replace " + path, e);
  }
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view text) {
  auto tmp = StageFile(path, text);
  if (!tmp.ok()) return tmp.status();
  return PublishFile(*tmp, path);
}

}  // namespace

Status Registry::SetPolicy(const std::string& text, const Actor& who) {
  auto old = ReadWhole(policy_path());
  std::string before = old.ok() ? TextDigest(*old) : "";
  std::string after = TextDigest(text);
  auto audit = [&](WriteTxn& t) {
    return t.Audit(MakeAudit(who, "policy.set", "", 0, "", "policy", before, after));
  };
  if (remote_) {
    // The record is the policy; the file follows it (AfterCommit).
    return Write([&](WriteTxn& t) -> Status {
      MODELFS_RETURN_IF_ERROR(t.Put(dbi_meta_, kPolicyKey, text));
      MODELFS_RETURN_IF_ERROR(audit(t));
      return t.Commit();
    });
  }
  // One host: the file is the policy. Staged first, so that a failure to
  // write it changes nothing, and published once its record is committed.
  auto tmp = StageFile(policy_path(), text);
  if (!tmp.ok()) return tmp.status();
  Status st = Write([&](WriteTxn& t) -> Status {
    MODELFS_RETURN_IF_ERROR(audit(t));
    return t.Commit();
  });
  if (!st.ok()) {
    unlink(tmp->c_str());
    return st;
  }
  return PublishFile(*tmp, policy_path());
}

void Registry::AfterCommit(const std::vector<Change>& changes) {
  for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
    if (it->table != "meta" || it->key != kPolicyKey || !it->value) continue;
    // The commit stands whatever happens here; the next catch-up retries.
    if (Status st = WriteFileAtomically(policy_path(), *it->value); !st.ok())
      std::cerr << "modelfs: the registry's policy changed, but " << st.message() << "\n";
    return;
  }
}

Status Registry::SyncPolicyFile() {
  std::string text;
  {
    auto snap = Read();
    if (!snap.ok()) return snap.status();
    MDB_val k = Val(kPolicyKey), v;
    int rc = mdb_get(snap->txn_, dbi_meta_, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::Ok();  // never set: init's file stands
    if (rc != 0) return Error("reading the registry's policy", rc);
    text.assign(static_cast<const char*>(v.mv_data), v.mv_size);
  }
  auto file = ReadWhole(policy_path());
  if (file.ok() && *file == text) return Status::Ok();
  return WriteFileAtomically(policy_path(), text);
}

}  // namespace modelfs
