// GetVersionFiles: a version's files written into an ordinary directory
// (see get.h). Writes only under the caller's DEST, so it uses plain system
// calls rather than sys.h's seam, which is for the registry's own data.
#include "index/get.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <set>

#include "index/names.h"

namespace modelfs {
namespace {

constexpr size_t kChunk = 1 << 20;  // copy unit; an all-zero chunk is left a hole

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

// The temporary directory until it is renamed into place: removed with
// everything in it unless Keep() was called.
class TempDir {
 public:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  void Keep() { path_.clear(); }

 private:
  std::string path_;
};

mode_t Umask() {
  mode_t m = umask(0);
  umask(m);
  return m;
}

// Copies `size` bytes from `in` to `out`, leaving all-zero chunks as holes.
Status CopyBytes(int in, int out, uint64_t size, const std::string& what) {
  std::unique_ptr<char[]> buf(new char[kChunk]);
  uint64_t off = 0;
  while (off < size) {
    ssize_t n = pread(in, buf.get(), std::min<uint64_t>(kChunk, size - off), static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("cannot read the blob of " + what, errno);
    if (n == 0) return Status::Corrupt("the blob of " + what + " is shorter than its recorded size");
    bool zero = std::all_of(buf.get(), buf.get() + n, [](char c) { return c == 0; });
    for (ssize_t done = 0; !zero && done < n;) {
      ssize_t w = pwrite(out, buf.get() + done, static_cast<size_t>(n - done),
                         static_cast<off_t>(off) + done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Status::FromErrno("cannot write " + what, errno);
      done += w;
    }
    off += static_cast<uint64_t>(n);
  }
  if (ftruncate(out, static_cast<off_t>(size)) != 0)
    return Status::FromErrno("cannot write " + what, errno);
  return Status::Ok();
}

// Checks that the file open as `fd` holds exactly the bytes of `f`.
Status VerifyWritten(int fd, const GotFile& f) {
  uint64_t size = 0;
  auto got = BlobStore::HashFd(fd, &size);
  if (!got.ok()) return Status::IO("cannot read back " + f.path + ": " + got.status().message());
  if (!(*got == f.digest) || size != f.size)
    return Status::Corrupt(f.path + ": its blob " + f.digest.hex() + " is corrupt (its bytes hash to " +
                           got->hex() + ", " + std::to_string(size) +
                           " bytes); run modelfs fsck");
  return Status::Ok();
}

// Writes regular file `f` at `to` from its blob, by the first method that
// works, and verifies what `to` holds.
Status WriteFile(const BlobStore& blobs, GotFile* f, const std::string& to, bool link,
                 mode_t umask_bits) {
  std::string blob = blobs.PathOf(f->digest);
  // Multi-host: fetched, verified, and pinned against eviction while copied.
  auto pinned = blobs.Pin(f->digest);
  if (!pinned.ok()) return pinned.status();
  FdCloser in{*pinned >= 0 ? *pinned : open(blob.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) {
    if (errno == ENOENT) return Status::Corrupt(f->path + ": its blob " + blob + " is missing; run modelfs fsck");
    return Status::FromErrno("cannot open the blob of " + f->path + " (" + blob + ")", errno);
  }
  if (link) {
    if (::link(blob.c_str(), to.c_str()) == 0) {
      f->method = GetMethod::kLink;
      return VerifyWritten(in.fd, *f);
    }
    // Another filesystem, a link limit, protected_hardlinks: copy instead.
    if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != EACCES)
      return Status::FromErrno("cannot link " + f->path, errno);
  }
  mode_t mode = ((f->mode & 0111) ? 0777 : 0666) & ~umask_bits;
  FdCloser out{open(to.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode)};
  if (out.fd < 0) return Status::FromErrno("cannot create " + to, errno);
  if (f->size > 0 && ioctl(out.fd, FICLONE, in.fd) == 0) {
    f->method = GetMethod::kReflink;
  } else {
    f->method = GetMethod::kCopy;
    MODELFS_RETURN_IF_ERROR(CopyBytes(in.fd, out.fd, f->size, f->path));
  }
  return VerifyWritten(out.fd, *f);
}

Status MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return Status::Ok();
  return Status::FromErrno("cannot create directory " + path, errno);
}

// Creates the directories leading to `rel` under `top`.
Status MakeParents(const std::string& top, const std::string& rel, std::set<std::string>* made) {
  for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
    std::string dir = rel.substr(0, slash);
    if (!made->insert(dir).second) continue;
    MODELFS_RETURN_IF_ERROR(MakeDir(top + "/" + dir, 0777));
  }
  return Status::Ok();
}

}  // namespace

std::string_view GetMethodName(GetMethod m) {
  switch (m) {
    case GetMethod::kLink: return "link";
    case GetMethod::kReflink: return "reflink";
    case GetMethod::kCopy: return "copy";
    case GetMethod::kSymlink: return "symlink";
  }
  return "?";
}

bool PathSelected(std::string_view path, const std::vector<std::string>& include,
                  const std::vector<std::string>& exclude) {
  std::string p(path);
  auto matches = [&](const std::string& glob) { return fnmatch(glob.c_str(), p.c_str(), 0) == 0; };
  if (!include.empty() && std::none_of(include.begin(), include.end(), matches)) return false;
  return std::none_of(exclude.begin(), exclude.end(), matches);
}

Result<GetReport> GetVersionFiles(const Snapshot& s, const BlobStore& blobs, const Version& v,
                                  const GetOptions& opt) {
  if (v.state == State::kDraft)
    return Status::Invalid(v.ref() + " is a draft: seal it first (modelfs seal)");
  std::string dest = opt.dest;
  while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
  if (dest.empty()) return Status::Invalid("no destination given");

  GetReport rep;
  rep.dest = dest;
  std::vector<std::string> dirs;
  bool filtered = !opt.include.empty() || !opt.exclude.empty();
  MODELFS_RETURN_IF_ERROR(s.ForEachPath(v, [&](const std::string& path, const Entry& e) {
    if (e.is_dir()) {
      if (!filtered) dirs.push_back(path);
      return true;
    }
    if (!PathSelected(path, opt.include, opt.exclude)) return true;
    GotFile f{path, e.size, e.mode, e.digest, e.target,
              e.is_link() ? GetMethod::kSymlink : GetMethod::kCopy};
    if (!e.is_link()) rep.bytes += e.size;
    rep.files.push_back(std::move(f));
    return true;
  }));
  if (rep.files.empty())
    return Status::Invalid("no file of " + v.ref() + " matches the --include/--exclude patterns");
  std::sort(rep.files.begin(), rep.files.end(),
            [](const GotFile& a, const GotFile& b) { return a.path < b.path; });

  // DEST is replaced only when it is an empty directory (rename(2) does
  // that atomically); anything else there is the user's and stays.
  struct stat st;
  if (lstat(dest.c_str(), &st) == 0) {
    std::error_code ec;
    if (!S_ISDIR(st.st_mode) || !std::filesystem::is_empty(dest, ec))
      return Status::Exists(dest + " exists: give a new path or an empty directory");
  } else if (errno != ENOENT) {
    return Status::FromErrno("cannot use " + dest, errno);
  }
  auto slash = dest.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : dest.substr(0, slash);
  std::string base = slash == std::string::npos ? dest : dest.substr(slash + 1);
  std::string tmpl = parent + "/." + base + ".get-XXXXXX";
  if (!mkdtemp(tmpl.data())) return Status::FromErrno("cannot create a directory beside " + dest, errno);
  const std::string tmp = tmpl;
  TempDir guard(tmp);
  const mode_t mask = Umask();
  if (chmod(tmp.c_str(), 0777 & ~mask) != 0) return Status::FromErrno("cannot chmod " + tmp, errno);

  std::set<std::string> made;
  for (const auto& d : dirs) {
    MODELFS_RETURN_IF_ERROR(MakeParents(tmp, d, &made));
    if (made.insert(d).second) MODELFS_RETURN_IF_ERROR(MakeDir(tmp + "/" + d, 0777));
  }
  for (auto& f : rep.files) {
    MODELFS_RETURN_IF_ERROR(MakeParents(tmp, f.path, &made));
    std::string to = tmp + "/" + f.path;
    if (f.method == GetMethod::kSymlink) {
      if (symlink(f.target.c_str(), to.c_str()) != 0)
        return Status::FromErrno("cannot create symlink " + f.path, errno);
      continue;
    }
    MODELFS_RETURN_IF_ERROR(WriteFile(blobs, &f, to, opt.link, mask));
  }
  // Durable before it has its name: one syncfs for all the files.
  FdCloser dir{open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd < 0 || syncfs(dir.fd) != 0) return Status::FromErrno("cannot sync " + tmp, errno);
  if (rename(tmp.c_str(), dest.c_str()) != 0) {
    if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR)
      return Status::Exists(dest + " appeared meanwhile: give a new path or an empty directory");
    return Status::FromErrno("cannot rename " + tmp + " to " + dest, errno);
  }
  guard.Keep();
  FdCloser pdir{open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (pdir.fd >= 0) fsync(pdir.fd);
  return rep;
}

}  // namespace modelfs
