// Getting a version's files without a mount (`modelfs get`, for CI
// containers and pods without FUSE): the files of a ready version written
// into an ordinary directory, each verified against its digest, the
// directory appearing whole or not at all.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "index/registry.h"

namespace modelfs {

struct GetOptions {
  std::string dest;  // must not exist, or be an empty directory; its parent must exist
  // fnmatch(3) globs over a file's path in the version ("sub/w.bin"),
  // without FNM_PATHNAME: "*.json" matches "conf/a.json" too (as
  // huggingface-cli's --include). A file is written when it matches an
  // include (or none is given) and no exclude.
  std::vector<std::string> include, exclude;
  // Hard-link files from ROOT/blobs/ where the filesystem allows. Off by
  // default: the link IS the blob (mode 0444, owned by ROOT's owner), so a
  // writer that chmods it, or root, which ignores the mode, would change
  // the registry's bytes (fsck and the mount's digest check would then
  // report the blob corrupt). Without it each file is a reflink (FICLONE:
  // shared extents, copy on write, so the blob can never change) where the
  // filesystem can make one, else a copy.
  bool link = false;
};

// How a file got into DEST.
enum class GetMethod : uint8_t { kLink, kReflink, kCopy, kSymlink };
std::string_view GetMethodName(GetMethod m);  // "link", "reflink", "copy", "symlink"

struct GotFile {
  std::string path;  // in the version, and under DEST
  uint64_t size = 0;
  uint32_t mode = 0;  // as the version has it (S_IFREG|0444 ...)
  Digest digest;
  std::string target;  // symlinks
  GetMethod method = GetMethod::kCopy;
};

struct GetReport {
  std::string dest;
  std::vector<GotFile> files;  // in path order
  uint64_t bytes = 0;          // of regular files
};

// Whether a path in a version is selected by `include` and `exclude`.
bool PathSelected(std::string_view path, const std::vector<std::string>& include,
                  const std::vector<std::string>& exclude);

// Writes the selected files of `v` (ready or archived) from `blobs` into a
// temporary sibling of opt.dest ("DIR/.NAME.get-XXXXXX"), checks each one's
// bytes as written against its digest, syncs them, and renames the
// directory to opt.dest. On any error the temporary directory is removed
// and opt.dest is left as it was: Exists when it is there and not an empty
// directory, Invalid for a draft or when nothing is selected, Corrupt when
// a blob's bytes do not match its digest, IO (errno kept) for a failed
// write. Files are the caller's, writable (0666 or 0777 less the umask)
// unless hard-linked; symlinks are recreated. Directories are created as
// needed (every directory of the version when no filter is given).
Result<GetReport> GetVersionFiles(const Snapshot& s, const BlobStore& blobs, const Version& v,
                                  const GetOptions& opt);

}  // namespace modelfs
