// sd_notify's datagram, sent without libsystemd (see service_notify.h).
#include "fs/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace modelfs::fs {

Status NotifyServiceManager(const std::string& state) {
  const char* env = getenv("NOTIFY_SOCKET");
  if (!env || !*env) return Status::Ok();
  std::string path = env;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // The address must fit sun_path; an abstract name ('@') has no NUL.
  if (path.size() >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@'))
    return Status::Invalid("NOTIFY_SOCKET=" + path + " is not a socket path or @name");
  memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                         (path[0] == '@' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno("notifying the service manager: socket", errno);
  ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&addr), len);
  int err = errno;
  close(fd);
  if (n < 0) return Status::FromErrno("notifying the service manager at " + path, err);
  return Status::Ok();
}

}  // namespace modelfs::fs
