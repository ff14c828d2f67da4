// Which registry a command works on (see root.h): the ROOT rule for the
// first argument, the defaults ($MODELFS_ROOT, the config files) and
// mountpoints standing for the ROOT they serve.
#include "cli/root.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <toml++/toml.h>

#include "index/names.h"

namespace modelfs::cli {
namespace {

struct RootSpec {
  std::string* value;
  RootPlace place;
};

// The commands that take ROOT. Filled while the app is built (one thread),
// read after parsing.
std::map<const CLI::App*, RootSpec>& Specs() {
  static std::map<const CLI::App*, RootSpec> specs;
  return specs;
}

// Where the ROOT in use came from when not the command line, for messages.
std::string& Origin() {
  static std::string origin;
  return origin;
}

bool IsOptionWord(const std::string& t) {
  // "-" is a word (stdin); "-1" and "-.5" are values, as CLI11 reads them.
  return t.size() > 1 && t[0] == '-' && !(t[1] >= '0' && t[1] <= '9') && t[1] != '.';
}

// The option `word` names on `app` or an app above it (options fall
// through to the parents: `modelfs show churn -R /srv/reg`); sets *inline_value
// when the word carries its value (--root=X, -RX).
const CLI::Option* FindOption(const CLI::App* app, const std::string& word, bool* inline_value) {
  *inline_value = false;
  for (const CLI::App* a = app; a; a = a->get_parent()) {
    for (const CLI::Option* o : a->get_options()) {
      if (o->get_positional()) continue;
      if (word.rfind("--", 0) == 0) {
        std::string name = word.substr(2);
        auto eq = name.find('=');
        if (eq != std::string::npos) name.resize(eq);
        if (!o->check_lname(name)) continue;
        *inline_value = eq != std::string::npos;
        return o;
      }
      if (!o->check_sname(word.substr(1, 1))) continue;
      *inline_value = word.size() > 2;
      return o;
    }
  }
  return nullptr;
}

bool TakesValue(const CLI::Option* o) { return o->get_items_expected_max() > 0; }

CLI::App* FindSubcommand(CLI::App* app, const std::string& word) {
  for (CLI::App* c : app->get_subcommands([](CLI::App*) { return true; }))
    if (c->get_name() == word) return c;
  return nullptr;
}

// How many positional arguments `sub` takes besides ROOT (huge when one of
// them takes any number).
size_t MaxOwnPositionals(const CLI::App* sub) {
  size_t n = 0;
  for (const CLI::Option* o : sub->get_options())
    if (o->get_positional()) n += static_cast<size_t>(std::max(o->get_items_expected_max(), 0));
  return n;
}

// A path, never a model name or reference: those have no '/' and do not
// start with '.'.
bool PathLike(const std::string& w) {
  return w.find('/') != std::string::npos || w == "." || w == "..";
}

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// `w` names a registry (index/ and policy.toml) or a modelfs mount here.
bool NamesRegistryHere(const std::string& w) {
  struct stat st;
  bool reg = IsDir(w + "/index") && stat((w + "/policy.toml").c_str(), &st) == 0;
  return reg || !MountSource(w).empty();
}

// Unescapes the octal escapes of /proc/self/mountinfo (\040 for a space).
std::string Unoctal(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
        s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// `path` made absolute and normalised without asking the filesystem about
// its last component: stat of a mountpoint would be a request to the
// daemon, and a hung one would hang the CLI.
std::string Absolute(const std::string& path) {
  std::string abs = path;
  if (abs.empty() || abs[0] != '/') {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return path;
    abs = std::string(cwd) + "/" + abs;
  }
  std::vector<std::string> parts;
  std::stringstream in(abs);
  for (std::string p; std::getline(in, p, '/');) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(p);
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

std::string UserConfigPath() {
  const char* xdg = getenv("XDG_CONFIG_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/modelfs/config.toml";
  const char* home = getenv("HOME");
  return std::string(home && *home ? home : "") + "/.config/modelfs/config.toml";
}
constexpr const char* kSystemConfigPath = "/etc/modelfs/config.toml";

// `root` from the first config file that exists: Ok and empty when none
// does; Invalid as FILE:LINE:COL: message when it does not parse or holds
// anything but an absolute `root`.
Status ConfigRoot(std::string* root, std::string* file) {
  for (const std::string& path : {UserConfigPath(), std::string(kSystemConfigPath)}) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;
      return Status::FromErrno("cannot read " + path, errno);
    }
    std::ifstream in(path);
    if (!in) return Status::FromErrno("cannot read " + path, errno ? errno : EIO);
    std::stringstream text;
    text << in.rdbuf();
    *file = path;
    auto at = [&](const toml::source_region& r, const std::string& msg) {
      return Status::Invalid(path + ":" + std::to_string(std::max<uint32_t>(r.begin.line, 1)) + ":" +
                             std::to_string(std::max<uint32_t>(r.begin.column, 1)) + ": " + msg);
    };
    toml::table t;
    try {
      t = toml::parse(text.str(), std::string_view(path));
    } catch (const toml::parse_error& e) {
      return at(e.source(), EscapeText(e.description()));
    }
    for (auto&& [key, node] : t) {
      if (key.str() == "root") continue;
      std::string msg = "unknown key " + EscapeText(key.str()) + "; the config takes root = \"/path\"";
      if (!Nearest(key.str(), {"root"}).empty()) msg += " (did you mean root?)";
      return at(key.source(), msg);
    }
    const toml::node* r = t.get("root");
    if (!r) continue;  // a file without root leaves the choice to the next
    const std::string* s = r->as_string() ? &r->as_string()->get() : nullptr;
    if (!s || s->empty() || (*s)[0] != '/')
      return at(r->source(), "root must be an absolute path in a string, such as \"/srv/registry\"");
    *root = *s;
    return Status::Ok();
  }
  return Status::Ok();
}

// The ROOT the command line did not give: $MODELFS_ROOT, then the config.
Status DefaultRoot(std::string* root, std::string* origin) {
  const char* env = getenv("MODELFS_ROOT");
  if (env && *env) {
    *root = env;
    *origin = "$MODELFS_ROOT";
    return Status::Ok();
  }
  std::string file;
  MODELFS_RETURN_IF_ERROR(ConfigRoot(root, &file));
  if (!root->empty()) *origin = file;
  return Status::Ok();
}

// A mountpoint stands for the ROOT it serves: Ok with *root replaced, or
// NoAccess saying what to do when the caller may not open that ROOT.
Status ThroughMount(std::string* root, std::string* origin) {
  std::string src = MountSource(*root);
  if (src.empty()) return Status::Ok();
  if (access((src + "/index").c_str(), R_OK | W_OK | X_OK) != 0) {
    return Status::NoAccess(
        *root + " is a modelfs mount of " + src +
        ", which you may not open (ROOT is private to its owner and trusted accounts): work "
        "through the mount (ls, cp, getfattr -d -m - " + *root + "/MODEL/vN, ln -sfn vN " +
        *root + "/MODEL/ALIAS), or ask the owner of " + src + " for access");
  }
  *origin = "the mount at " + *root;
  *root = src;
  return Status::Ok();
}

}  // namespace

void AddRoot(CLI::App* c, std::string& root, RootPlace place) {
  c->add_option("-R,--root", root,
                "Registry root or a mountpoint of it (default: $MODELFS_ROOT, then root = in "
                "~/.config/modelfs/config.toml, /etc/modelfs/config.toml)");
  Specs()[c] = {&root, place};
}

bool TakesRoot(const CLI::App* sub) { return Specs().count(sub) > 0; }

CommandWords ReadWords(CLI::App& app, const std::vector<std::string>& args) {
  CommandWords w;
  CLI::App* cur = &app;
  bool dashdash = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& t = args[i];
    if (!dashdash && t == "--") {
      dashdash = w.after_dashdash = true;
      continue;
    }
    if (!dashdash && IsOptionWord(t)) {
      bool inline_value = false;
      const CLI::Option* o = FindOption(cur, t, &inline_value);
      if (o && TakesValue(o) && !inline_value) {
        if (i + 1 < args.size()) ++i;
        else w.pending = o;
      }
      continue;
    }
    if (w.positionals.empty() && !dashdash) {
      if (CLI::App* sub = FindSubcommand(cur, t)) {
        cur = w.sub = sub;
        w.sub_index = i;
        continue;
      }
    }
    w.positionals.push_back(i);
  }
  return w;
}

Status TakeLeadingRoot(CLI::App& app, std::vector<std::string>& args, std::string* root) {
  CommandWords w = ReadWords(app, args);
  if (!w.sub || w.positionals.empty()) return Status::Ok();
  auto it = Specs().find(w.sub);
  if (it == Specs().end()) return Status::Ok();
  const std::string first = args[w.positionals[0]];
  bool is_root = w.positionals.size() > MaxOwnPositionals(w.sub) ||
                 (it->second.place == RootPlace::kLeading && PathLike(first)) ||
                 (it->second.place == RootPlace::kLeadingDir && PathLike(first) &&
                  std::filesystem::is_directory(first));
  if (is_root) {
    *root = first;
    args.erase(args.begin() + static_cast<std::ptrdiff_t>(w.positionals[0]));
    return Status::Ok();
  }
  if (!PathLike(first) && NamesRegistryHere(first))
    return Status::Invalid("'" + EscapeText(first) + "' is ambiguous: a registry here, or a name? Write ./" +
                           EscapeText(first) + " (or -R " + EscapeText(first) + ") for the registry");
  return Status::Ok();
}

Status ResolveRoot(const CLI::App* sub, const std::string& positional, const std::string& global,
                   bool* usage) {
  *usage = false;
  auto it = Specs().find(sub);
  if (it == Specs().end()) return Status::Ok();
  std::string& root = *it->second.value;
  std::string origin;
  // At most one of the first argument, the command's -R and the -R given
  // before the command.
  std::vector<std::string> given;
  for (const std::string* g : std::initializer_list<const std::string*>{&positional, &root, &global})
    if (!g->empty()) given.push_back(*g);
  if (given.size() > 1) {
    *usage = true;
    return Status::Invalid("ROOT given twice: " + EscapeText(given[0]) + " and " + EscapeText(given[1]));
  }
  if (!given.empty()) root = given[0];
  if (root.empty()) MODELFS_RETURN_IF_ERROR(DefaultRoot(&root, &origin));
  if (root.empty()) {
    *usage = true;
    return Status::Invalid(
        "no registry ROOT given: name it first (a path: ./reg, /srv/registry), or use -R ROOT, "
        "$MODELFS_ROOT, or root = \"/path\" in " + UserConfigPath());
  }
  MODELFS_RETURN_IF_ERROR(ThroughMount(&root, &origin));
  Origin() = origin;
  return Status::Ok();
}

const std::string& RootOrigin() { return Origin(); }

std::string DefaultRootQuietly() {
  std::string root, origin;
  if (!DefaultRoot(&root, &origin).ok() || root.empty()) return "";
  if (!ThroughMount(&root, &origin).ok()) return "";
  return root;
}

std::string MountSource(const std::string& path) {
  std::string want = Absolute(path);
  std::ifstream in("/proc/self/mountinfo");
  std::string found;  // of the last mount there: the one on top
  for (std::string line; std::getline(in, line);) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
    std::istringstream f(line);
    std::string id, parent, dev, mroot, mnt;
    f >> id >> parent >> dev >> mroot >> mnt;
    if (Unoctal(mnt) != want) continue;
    std::string w, fstype, source;
    while (f >> w && w != "-") {
    }
    f >> fstype >> source;
    found = fstype == "fuse.modelfs" ? Unoctal(source) : "";
  }
  return found;
}

}  // namespace modelfs::cli
