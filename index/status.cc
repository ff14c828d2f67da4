// Status helpers that need the C library.
#include "index/status.h"

#include <cerrno>
#include <cstring>

namespace modelfs {

Status Status::FromErrno(const std::string& what, int err) {
  std::string m = what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT: return NotFound(m);
    case EEXIST: return Exists(m);
    case EACCES:
    case EPERM: return NoAccess(m);
    case ENOSPC:
    case EDQUOT: return NoSpace(m);
    case EBUSY: return Busy(m);
    case EROFS: return ReadOnly(m);
    case ENOTEMPTY: return NotEmpty(m);
    case EINVAL: return Invalid(m);
    default: return IO(m);
  }
}

}  // namespace modelfs
