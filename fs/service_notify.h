// Readiness for a service manager: systemd's notify protocol (sd_notify(3)),
// so that a `Type=notify` unit (packaging/modelfs@.service) is started only
// once the mount serves, and says it is stopping. The protocol is one
// datagram of NEWLINE-separated VAR=VALUE lines to the AF_UNIX socket named
// by $NOTIFY_SOCKET (a path, or an abstract name when it starts with '@');
// written here in a few lines rather than linking libsystemd. No FUSE types.
#pragma once

#include <string>

#include "index/status.h"

namespace modelfs::fs {

// Sends `state` (e.g. "READY=1\nSTATUS=serving ...") to $NOTIFY_SOCKET.
// Without NOTIFY_SOCKET (not run by a service manager) does nothing and
// succeeds. A socket that cannot be reached is an error naming it; the
// mount logs it and goes on serving. Thread-safe (no shared state).
Status NotifyServiceManager(const std::string& state);

}  // namespace modelfs::fs
