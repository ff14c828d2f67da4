// mount.modelfs's command line (see mount_helper.h).
#include "fs/mount_helper.h"

#include <cerrno>
#include <cstdlib>

namespace modelfs::fs {

bool IsMountCommandOption(const std::string& o) {
  static const char* const kDropped[] = {
      "defaults", "rw",    "auto",  "noauto", "user", "nouser", "users",
      "owner",    "group", "_netdev", "nofail", "netdev",
  };
  for (const char* d : kDropped)
    if (o == d) return true;
  // x-*: for userspace tools (x-systemd.automount, x-gvfs-show ...);
  // comment=: the old spelling of the same.
  return o.rfind("x-", 0) == 0 || o.rfind("comment=", 0) == 0;
}

namespace {

Status AddOptions(const std::string& list, MountHelperCall* call) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string o = list.substr(start, comma - start);
    start = comma + 1;
    if (o.empty() || IsMountCommandOption(o)) continue;
    if (o.rfind("threads=", 0) == 0) {
      std::string v = o.substr(8);
      char* end = nullptr;
      errno = 0;
      unsigned long n = strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end || errno || n == 0 || n > 1024 || v[0] == '-')
        return Status::Invalid("-o threads= takes a number of worker threads from 1 to 1024, not " +
                               v);
      call->opt.threads = static_cast<unsigned>(n);
    } else if (o == "noverify") {
      call->opt.verify = false;
    } else {
      call->opt.options.push_back(o);  // modelfs mount's to judge, then libfuse's
    }
  }
  return Status::Ok();
}

}  // namespace

Result<MountHelperCall> ParseMountHelperArgs(const std::vector<std::string>& args) {
  MountHelperCall call;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    if (a == "-o" || a == "-t") {
      if (i + 1 >= args.size()) return Status::Invalid(a + " needs a value");
      if (a == "-o") {
        Status st = AddOptions(args[++i], &call);
        if (!st.ok()) return st;
      } else {
        ++i;  // the type (modelfs, or fuse.modelfs): that is why we run
      }
      continue;
    }
    if (a.rfind("-o", 0) == 0) {  // -oOPTS
      Status st = AddOptions(a.substr(2), &call);
      if (!st.ok()) return st;
      continue;
    }
    // Flags, alone or together (-sfnv).
    for (size_t k = 1; k < a.size(); ++k) {
      switch (a[k]) {
        case 's': break;  // sloppy: accepted; an option FUSE does not know still fails
        case 'n': break;  // no mtab: there is none to write
        case 'f': call.fake = true; break;
        case 'v': call.verbose = true; break;
        case 'N':
          return Status::Invalid("-N (another mount namespace) is not supported");
        default:
          return Status::Invalid(std::string("unknown flag -") + a[k]);
      }
    }
  }
  if (positional.size() != 2)
    return Status::Invalid("usage: mount.modelfs ROOT MOUNTPOINT [-sfnv] [-o OPTIONS]");
  call.opt.root = positional[0];
  call.opt.mountpoint = positional[1];
  return call;
}

}  // namespace modelfs::fs
