#include "hooks/checks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "hooks/command.h"
#include "index/get.h"

namespace modelfs::hooks {

namespace {

namespace fsys = std::filesystem;

// Makes the copies read-only (links are the blobs, 0444 already) and then
// every directory 0555, deepest first.
void MakeReadOnly(const GetReport& rep) {
  for (const auto& f : rep.files) {
    if (f.method == GetMethod::kLink || f.method == GetMethod::kSymlink) continue;
    chmod((rep.dest + "/" + f.path).c_str(), f.mode & 0555);
  }
  std::vector<std::string> dirs;
  std::error_code ec;
  for (auto it = fsys::recursive_directory_iterator(rep.dest, ec); !ec && it != fsys::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
  }
  for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) chmod(d->c_str(), 0555);
  chmod(rep.dest.c_str(), 0555);
}

// Removes what MakeReadOnly locked (the hard links go, the blobs stay).
void RemoveTree(const std::string& dir) {
  std::error_code ec;
  chmod(dir.c_str(), 0700);
  for (auto it = fsys::recursive_directory_iterator(dir, ec); !ec && it != fsys::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) chmod(it->path().c_str(), 0700);
  }
  fsys::remove_all(dir, ec);
}

std::string Joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

policy::Enforcer::Checker MakeChecker(Registry* reg, const std::atomic<bool>* cancel) {
  return [reg, cancel](const Version& v, const std::vector<std::string>& argv, const std::string& user,
                       int64_t timeout_s, std::string* summary) -> Status {
    const char* tmp = getenv("TMPDIR");
    std::string base = std::string(tmp && *tmp ? tmp : "/tmp") + "/modelfs-check-XXXXXX";
    if (mkdtemp(base.data()) == nullptr) return Status::FromErrno("creating a directory for the check", errno);
    chmod(base.c_str(), 0755);  // the check's user must reach it
    std::string dest = base + "/" + v.model + "-v" + std::to_string(v.number);
    struct Cleanup {
      std::string dir;
      ~Cleanup() { RemoveTree(dir); }
    } cleanup{base};
    auto snap = reg->Read();
    if (!snap.ok()) return snap.status();
    GetOptions opt;
    opt.dest = dest;
    opt.link = true;  // read-only anyway; no byte copied where links work
    auto rep = GetVersionFiles(*snap, reg->blobs(), v, opt);
    if (!rep.ok()) return rep.status().WithContext("preparing " + v.ref() + " for the check");
    MakeReadOnly(*rep);
    CommandSpec spec;
    spec.argv = argv;
    // "scripts/smoke.sh" is the registry's own script: taken from ROOT.
    if (!spec.argv[0].empty() && spec.argv[0][0] != '/' && spec.argv[0].find('/') != std::string::npos)
      spec.argv[0] = reg->root() + "/" + spec.argv[0];
    spec.argv.push_back(dest);
    spec.env = {"MODELFS_MODEL=" + v.model, "MODELFS_VERSION=" + std::to_string(v.number),
                "MODELFS_DIGEST=" + v.digest.hex(), "MODELFS_CHECK_DIR=" + dest};
    spec.user = user;
    spec.cwd = dest;
    spec.timeout_seconds = timeout_s;
    spec.cancel = cancel;
    CommandResult r = RunCommand(spec);
    if (!r.status.ok()) return Status::IO(Joined(argv) + ": " + r.status.message());
    std::ostringstream s;
    s.precision(2);
    s << std::fixed << Joined(argv) << " (" << r.seconds << " s)";
    *summary = s.str();
    return Status::Ok();
  };
}

}  // namespace modelfs::hooks
