// Status helpers that need the C library.
#include "index/status.h"

#include <cerrno>
#include <cstring>

namespace modelfs {

Status Status::FromErrno(const std::string& what, int err) {
  Code c = Code::kIO;
  switch (err) {
    case ENOENT: c = Code::kNotFound; break;
    case EEXIST: c = Code::kExists; break;
    case EACCES:
    case EPERM: c = Code::kNoAccess; break;
    case ENOSPC:
    case EDQUOT: c = Code::kNoSpace; break;
    case EBUSY: c = Code::kBusy; break;
    case EROFS: c = Code::kReadOnly; break;
    case ENOTEMPTY: c = Code::kNotEmpty; break;
    case EINVAL: c = Code::kInvalid; break;
    default: break;
  }
  // Said in words, so that a log reader never mistakes it for damage or a
  // missing file (the errno, EMFILE or ENFILE, travels with it).
  if (err == EMFILE || err == ENFILE)
    return Status(c, what + ": out of file descriptors (" + std::strerror(err) + ")", err);
  return Status(c, what + ": " + std::strerror(err), err);
}

}  // namespace modelfs
