// `modelfs why PATH`: why the mount refused the caller, read back from the
// mount itself (user.registry.why, policy/refusals.h). It works through the
// mount, not ROOT, so anyone the mount serves can ask, and learns only their
// own refusals: the daemon answers by the uid of the process asking.
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/session.h"
#include "policy/refusals.h"

namespace modelfs::cli {
namespace {

namespace fs = std::filesystem;

struct WhyArgs {
  std::string path;
  bool json = false;
};

// mountinfo escapes blanks, tabs, newlines and backslashes as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool octal = true;
      for (size_t k = 1; k <= 3; ++k) {
        if (i + k >= s.size() || s[i + k] < '0' || s[i + k] > '7') octal = false;
        else v = v * 8 + (s[i + k] - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

struct MountOf {
  fs::path point;
  std::string type;
};

// The mount that holds `p` (absolute, normal), by the longest mount point
// that is a prefix of it: lexical, as `p` itself may be out of reach.
MountOf FindMount(const fs::path& p) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  MountOf best;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream t(line.substr(dash + 3));
    std::string type;
    t >> type;
    fs::path mp(Unescape(point));
    auto rel = p.lexically_relative(mp);
    if (rel.empty() || *rel.begin() == "..") continue;
    if (best.point.empty() || mp.string().size() >= best.point.string().size()) best = {mp, type};
  }
  return best;
}

// getxattr of the why attribute: the value, or errno in *err.
std::string ReadWhy(const fs::path& p, int* err) {
  std::string name(policy::kWhyXattr);
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t n = getxattr(p.c_str(), name.c_str(), nullptr, 0);
    if (n < 0) break;
    std::string v(static_cast<size_t>(n), '\0');
    ssize_t got = getxattr(p.c_str(), name.c_str(), v.data(), v.size());
    if (got >= 0) {
      v.resize(static_cast<size_t>(got));
      *err = 0;
      return v;
    }
    if (errno != ERANGE) break;  // grew in between: ask again
  }
  *err = errno;
  return "";
}

int RunWhy(const WhyArgs& a) {
  std::error_code ec;
  fs::path path = fs::absolute(a.path, ec).lexically_normal();
  if (ec) return Fail(Status::Invalid(a.path + ": " + ec.message()));
  if (!path.has_filename() && path != path.root_path()) path = path.parent_path();  // "dir/"
  MountOf m = FindMount(path);
  if (m.type != "fuse.modelfs")
    return Fail(Status::Invalid(a.path + " is not in a modelfs mount (" + m.point.string() +
                                " is " + (m.type.empty() ? "unknown" : m.type) +
                                "); `modelfs why` reads the reasons a mount keeps"));
  // PATH itself may be out of reach (a model the caller may not read, a
  // name that is refused): then the nearest directory above it that the
  // caller reaches answers, at worst the mount's root, which holds all of
  // the caller's refusals.
  fs::path at = path;
  int err = 0;
  std::string why = ReadWhy(at, &err);
  std::string first_error;
  while (err == EACCES || err == ENOENT || err == ENOTDIR || err == ESTALE || err == ELOOP) {
    if (first_error.empty()) first_error = std::strerror(err);
    if (at == m.point || !at.has_parent_path() || at.parent_path() == at) break;
    at = at.parent_path();
    why = ReadWhy(at, &err);
  }
  if (err == ENODATA) {
    return Fail(Status::NotFound(
        "no refusal of yours (uid " + std::to_string(getuid()) + ") is kept for " +
        at.string() + (at != path ? " (" + a.path + ": " + first_error + ")" : std::string()) +
        ": the mount keeps each caller's latest refusal per model for 10 minutes"));
  }
  if (err != 0)
    return Fail(Status::FromErrno("cannot read " + std::string(policy::kWhyXattr) + " of " +
                                      at.string(),
                                  err));
  std::vector<std::string> lines;
  std::istringstream in(why);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  if (at != path)
    std::cerr << "modelfs: " << a.path << ": " << first_error << "; "
              << (at == m.point ? "your refusals in this mount, newest first"
                                : "your latest refusal in " + at.string())
              << ":\n";
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const std::string& l : lines) {
      // "TIME ERRNO TEXT"
      auto sp1 = l.find(' ');
      auto sp2 = sp1 == std::string::npos ? sp1 : l.find(' ', sp1 + 1);
      nlohmann::json r;
      r["at"] = l.substr(0, sp1);
      r["error"] = sp1 == std::string::npos ? "" : l.substr(sp1 + 1, sp2 - sp1 - 1);
      r["reason"] = sp2 == std::string::npos ? "" : l.substr(sp2 + 1);
      r["path"] = at.string();
      out.push_back(std::move(r));
    }
    std::cout << out.dump(2) << "\n";
  } else {
    for (const std::string& l : lines) std::cout << l << "\n";
  }
  return kExitOk;
}

}  // namespace

Command AddWhy(CLI::App& app) {
  auto a = std::make_shared<WhyArgs>();
  CLI::App* c = app.add_subcommand(
      "why", "Why the mount refused you: your latest refusal on PATH's model (on the mount root: "
             "all of yours), kept 10 minutes");
  c->add_option("PATH", a->path, "A path in a modelfs mount")->required();
  AddJson(c, a->json);
  // Exit status: 0 a reason printed, 1 none kept (or PATH is not in a modelfs mount).
  Example(c, {"why /models/churn", "why /models/churn/production --json"});
  return {c, [a] { return RunWhy(*a); }};
}

}  // namespace modelfs::cli
