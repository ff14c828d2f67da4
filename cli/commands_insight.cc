// The commands that look across versions (SPEC §8): compare (versions side
// by side), diff (what changed from one to another) and lineage (where a
// version comes from and what was made from it). index/compare.h and
// index/lineage.h build the results; this file checks the caller may read
// them and renders them as text, JSON, Graphviz dot or SVG.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"
#include "index/compare.h"
#include "index/lineage.h"

namespace modelfs::cli {
namespace {

using nlohmann::json;
using policy::Operation;

// Color only on a terminal, and never with NO_COLOR set (no-color.org).
bool UseColor() {
  const char* no = getenv("NO_COLOR");
  return isatty(1) && !(no && *no);
}

// Resolves each of `texts` (MODEL@REF) that the caller may read.
Result<std::vector<Version>> ResolveAll(Session& s, const Snapshot& snap,
                                        const std::vector<Ref>& refs,
                                        const std::vector<std::string>& texts) {
  std::vector<Version> out;
  for (size_t i = 0; i < refs.size(); ++i) {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kRead, refs[i].model, texts[i]));
    auto v = snap.Resolve(refs[i]);
    if (!v.ok()) return s.Explain(refs[i], v.status());
    out.push_back(std::move(*v));
  }
  return out;
}

Result<std::vector<Ref>> ParseRefs(const std::vector<std::string>& texts) {
  std::vector<Ref> refs;
  for (const auto& t : texts) {
    auto r = ParseRef(t);
    if (!r.ok()) return r.status();
    refs.push_back(std::move(*r));
  }
  return refs;
}

// ---------------------------------------------------------------- compare

struct CompareArgs {
  std::string root;
  std::vector<std::string> refs;
  bool json = false;
};

json CellJson(const CompareCell& c) {
  if (!c.text) return nullptr;
  if (c.number) return MetricJson(*c.number);
  return *c.text;
}

// Columns padded to their widest cell (in characters, UTF-8 counted once
// per code point); `*` in the first column marks a row that differs, and
// on a terminal its cells are highlighted.
void PrintComparison(const Comparison& c) {
  auto width = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char ch : s) n += (ch & 0xc0) != 0x80;
    return n;
  };
  std::vector<std::string> head{"FIELD"};
  for (const auto& r : c.refs) head.push_back(EscapeText(r));
  std::vector<std::vector<std::string>> table;
  for (const auto& row : c.rows) {
    std::vector<std::string> line{EscapeText(row.key)};
    for (const auto& cell : row.cells) line.push_back(cell.text ? EscapeText(*cell.text) : "-");
    table.push_back(std::move(line));
  }
  std::vector<size_t> w(head.size(), 0);
  for (size_t i = 0; i < head.size(); ++i) w[i] = width(head[i]);
  for (const auto& line : table)
    for (size_t i = 0; i < line.size(); ++i) w[i] = std::max(w[i], width(line[i]));
  bool color = UseColor();
  auto pad = [&](const std::string& s, size_t i) { return s + std::string(w[i] - width(s), ' '); };
  std::string out = "  ";
  for (size_t i = 0; i < head.size(); ++i) out += pad(head[i], i) + (i + 1 < head.size() ? "  " : "");
  while (out.back() == ' ') out.pop_back();
  std::cout << out << "\n";
  for (size_t r = 0; r < table.size(); ++r) {
    bool differs = c.rows[r].differs;
    out = differs ? "* " : "  ";
    for (size_t i = 0; i < table[r].size(); ++i) {
      std::string cell = pad(table[r][i], i);
      if (differs && color && i > 0) cell = "\033[1;33m" + cell + "\033[0m";
      out += cell + (i + 1 < table[r].size() ? "  " : "");
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::cout << out << "\n";
  }
}

int RunCompare(const CompareArgs& a) {
  auto refs = ParseRefs(a.refs);
  if (!refs.ok()) return UsageError(refs.status());
  if (refs->size() < 2)
    return UsageError(Status::Invalid("compare needs two versions or more (MODEL@REF MODEL@REF...)"));
  return WithSession(a.root, [&](Session& s) -> Status {
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    auto versions = ResolveAll(s, *snap, *refs, a.refs);
    if (!versions.ok()) return versions.status();
    auto c = Compare(*snap, *versions);
    if (!c.ok()) return c.status();
    if (!a.json) {
      PrintComparison(*c);
      return Status::Ok();
    }
    json rows = json::array();
    for (const auto& r : c->rows) {
      json values = json::array();
      for (const auto& cell : r.cells) values.push_back(CellJson(cell));
      rows.push_back({{"key", r.key}, {"values", values}, {"differs", r.differs}});
    }
    std::cout << DumpJson({{"versions", c->refs}, {"rows", rows}}) << "\n";
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- diff

struct DiffArgs {
  std::string root;
  std::vector<std::string> refs;  // exactly two
  bool json = false;
};

json EntryJson(const std::optional<Entry>& e) {
  if (!e) return nullptr;
  json j = {{"mode", ModeString(e->mode)},
            {"type", e->is_dir() ? "dir" : e->is_link() ? "symlink" : "file"}};
  if (!e->is_dir()) {
    j["size"] = e->size;
    j["digest"] = e->digest.hex();
  }
  if (e->is_link()) j["target"] = e->target;
  return j;
}

std::string EntryText(const Entry& e) {
  if (e.is_dir()) return "directory " + ModeString(e.mode);
  std::string s = e.digest.hex().substr(0, 12) + " " + ModeString(e.mode) + " " + FormatSize(e.size);
  if (e.is_link()) s += " -> " + EscapeText(e.target);
  return s;
}

void PrintDiff(const VersionDiff& d) {
  std::cout << "--- " << EscapeText(d.from) << "\n+++ " << EscapeText(d.to) << "\n";
  if (d.files.empty() && d.meta.empty()) {
    std::cout << "no differences\n";
    return;
  }
  if (!d.files.empty()) std::cout << "files:\n";
  for (const auto& f : d.files) {
    std::string path = EscapeText(f.path);
    switch (f.kind) {
      case FileChange::Kind::kAdded:
        std::cout << "  + " << path << "  " << EntryText(*f.after) << "\n";
        break;
      case FileChange::Kind::kRemoved:
        std::cout << "  - " << path << "  " << EntryText(*f.before) << "\n";
        break;
      case FileChange::Kind::kChanged:
        std::cout << "  ~ " << path << "  " << EntryText(*f.before) << " -> " << EntryText(*f.after)
                  << "\n";
        break;
      case FileChange::Kind::kMode:
        std::cout << "  m " << path << "  " << ModeString(f.before->mode) << " -> "
                  << ModeString(f.after->mode) << "\n";
        break;
    }
  }
  if (!d.meta.empty()) std::cout << "metadata:\n";
  for (const auto& m : d.meta)
    std::cout << "  " << EscapeText(m.key) << ": "
              << (m.before ? EscapeText(*m.before) : std::string("(unset)")) << " -> "
              << (m.after ? EscapeText(*m.after) : std::string("(unset)")) << "\n";
}

int RunDiff(const DiffArgs& a) {
  auto refs = ParseRefs(a.refs);
  if (!refs.ok()) return UsageError(refs.status());
  return WithSession(a.root, [&](Session& s) -> Status {
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    auto v = ResolveAll(s, *snap, *refs, a.refs);
    if (!v.ok()) return v.status();
    auto d = Diff(*snap, (*v)[0], (*v)[1]);
    if (!d.ok()) return d.status();
    if (!a.json) {
      PrintDiff(*d);
      return Status::Ok();
    }
    json files = json::array(), meta = json::array();
    for (const auto& f : d->files)
      files.push_back({{"path", f.path},
                       {"change", FileChangeName(f.kind)},
                       {"before", EntryJson(f.before)},
                       {"after", EntryJson(f.after)}});
    auto opt = [](const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); };
    for (const auto& m : d->meta)
      meta.push_back({{"key", m.key}, {"before", opt(m.before)}, {"after", opt(m.after)}});
    std::cout << DumpJson({{"from", d->from}, {"to", d->to}, {"files", files}, {"metadata", meta}})
              << "\n";
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- lineage

struct LineageArgs {
  std::string root;
  std::string ref;
  bool up = false, down = false, both = false;
  std::optional<unsigned> depth;
  std::string format = "tree";
};

// "ready, approved, production": what a version node shows besides its name.
std::string NodeNote(const LineageNode& n, const Snapshot& s) {
  if (n.kind == LineageKind::kMissing) return "missing";
  if (!n.version) return "";
  const Version& v = *n.version;
  std::string note = std::string(StateName(v.state));
  if (v.approval.status != "pending") note += ", " + v.approval.status;
  for (const auto& al : s.AliasesOf(v.model_id, v.number)) note += ", " + al;
  return note;
}

std::string NodeLine(const LineageNode& n, const Snapshot& s) {
  switch (n.kind) {
    case LineageKind::kDataset: return "dataset " + EscapeText(n.label);
    case LineageKind::kCode: return "code " + EscapeText(n.label);
    case LineageKind::kHidden: return "(hidden)";
    default: break;
  }
  std::string note = NodeNote(n, s);
  return EscapeText(n.label) + (note.empty() ? "" : " (" + note + ")");
}

// The tree form: the root, then its parents (up) and children (down) as
// trees; a version whose subtree was printed already is "(see above)".
class TreePrinter {
 public:
  TreePrinter(const LineageGraph& g, const Snapshot& s) : g_(g), s_(s) {
    up_.resize(g.nodes.size());
    down_.resize(g.nodes.size());
    for (const auto& e : g.edges) {
      up_[e.to].push_back(e.from);
      down_[e.from].push_back(e.to);
    }
    // Versions first, then datasets, then code: parents before leaves.
    for (auto& l : up_)
      std::stable_sort(l.begin(), l.end(), [&](size_t x, size_t y) {
        return Rank(g_.nodes[x].kind) < Rank(g_.nodes[y].kind);
      });
  }

  void Print(bool up, bool down) {
    std::cout << NodeLine(g_.nodes[0], s_) << "\n";
    done_.insert(0);
    if (up && down) {
      std::cout << "├── up\n";
      Children(0, true, "│   ");
      std::cout << "└── down\n";
      Children(0, false, "    ");
    } else {
      Children(0, up, "");
    }
  }

 private:
  static int Rank(LineageKind k) { return k == LineageKind::kDataset ? 1 : k == LineageKind::kCode ? 2 : 0; }

  void Children(size_t i, bool up, const std::string& prefix) {
    std::vector<size_t> next;
    for (size_t n : up ? up_[i] : down_[i]) {
      // Downward, a version's datasets and code are not below it.
      LineageKind k = g_.nodes[n].kind;
      if (!up && (k == LineageKind::kDataset || k == LineageKind::kCode)) continue;
      next.push_back(n);
    }
    if (next.empty() && i == 0) std::cout << prefix << "└── (none)\n";
    for (size_t j = 0; j < next.size(); ++j) {
      bool last = j + 1 == next.size();
      size_t n = next[j];
      const LineageNode& node = g_.nodes[n];
      bool version = node.kind == LineageKind::kVersion;
      bool again = version && !done_.insert(n).second;
      std::cout << prefix << (last ? "└── " : "├── ") << NodeLine(node, s_)
                << (again ? " (see above)" : "") << "\n";
      if (version && !again) Children(n, up, prefix + (last ? "    " : "│   "));
    }
  }

  const LineageGraph& g_;
  const Snapshot& s_;
  std::vector<std::vector<size_t>> up_, down_;
  std::set<size_t> done_;
};

json LineageJson(const LineageGraph& g, const Snapshot& s) {
  json nodes = json::array(), edges = json::array();
  for (const auto& n : g.nodes) {
    json j = {{"id", n.id}, {"kind", LineageKindName(n.kind)}, {"label", n.label}, {"depth", n.depth}};
    if (n.version) {
      const Version& v = *n.version;
      j["state"] = StateName(v.state);
      j["approval"] = v.approval.status;
      j["aliases"] = s.AliasesOf(v.model_id, v.number);
      j["created_at"] = FormatTime(v.created_at_ns);
      json m = json::object();
      for (const auto& [k, val] : v.metrics) m[k] = MetricJson(val);
      j["metrics"] = m;
    }
    nodes.push_back(std::move(j));
  }
  for (const auto& e : g.edges) edges.push_back({{"from", g.nodes[e.from].id}, {"to", g.nodes[e.to].id}});
  return {{"root", g.nodes[0].id}, {"nodes", nodes}, {"edges", edges}};
}

// A Graphviz string: quotes, backslashes and control bytes escaped.
std::string DotQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : EscapeText(s)) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string LineageDot(const LineageGraph& g, const Snapshot& s) {
  std::ostringstream o;
  o << "digraph lineage {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n";
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const LineageNode& n = g.nodes[i];
    std::string label = n.label, attrs;
    switch (n.kind) {
      case LineageKind::kVersion:
        label += "\\n" + NodeNote(n, s);
        if (i == 0) attrs = ", style=\"bold,filled\", fillcolor=\"#e8f0fe\"";
        break;
      case LineageKind::kMissing: label += "\\n(missing)"; attrs = ", style=dashed"; break;
      case LineageKind::kHidden: attrs = ", style=dotted, fontcolor=gray"; break;
      case LineageKind::kDataset: attrs = ", shape=cylinder"; break;
      case LineageKind::kCode: attrs = ", shape=note"; break;
    }
    // \n in the label is Graphviz's line break: kept out of DotQuote's escaping.
    std::string q = DotQuote(label);
    for (size_t p; (p = q.find("\\\\n")) != std::string::npos;) q.replace(p, 3, "\\n");
    o << "  n" << i << " [label=" << q << attrs << "];\n";
  }
  for (const auto& e : g.edges) o << "  n" << e.from << " -> n" << e.to << ";\n";
  o << "}\n";
  return o.str();
}

// `dot` on PATH, or "".
std::string FindDot() {
  const char* path = getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= p.size();) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    std::string f = (dir.empty() ? "." : dir) + "/dot";
    if (access(f.c_str(), X_OK) == 0) return f;
    start = end + 1;
  }
  return "";
}

// Runs Graphviz's dot -Tsvg on `src`; its SVG in *svg. Bounded: killed
// after kDotTimeout (a graph of thousands of nodes takes seconds).
constexpr auto kDotTimeout = std::chrono::seconds(60);

Status RunDot(const std::string& src, std::string* svg) {
  std::string dot = FindDot();
  if (dot.empty())
    return Status::NotFound(
        "--format svg needs Graphviz's dot, which is not installed (Debian: apt-get install "
        "graphviz); --format dot prints the graph's source instead");
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return Status::FromErrno("pipe", errno);
  }
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    return Status::FromErrno("fork", err);
  }
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execl(dot.c_str(), "dot", "-Tsvg", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  // A dot that exits before reading all its input must be an error
  // reported, not a SIGPIPE that kills this process silently.
  signal(SIGPIPE, SIG_IGN);
  size_t written = 0;
  auto deadline = std::chrono::steady_clock::now() + kDotTimeout;
  bool timed_out = false;
  int wfd = in[1], rfd = out[0];
  if (src.empty()) {
    close(wfd);
    wfd = -1;
  }
  while (rfd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{rfd, POLLIN, 0}, {wfd, POLLOUT, 0}};
    int n = poll(fds, wfd >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (wfd >= 0 && fds[1].revents) {
      ssize_t w = write(wfd, src.data() + written, src.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN) written = src.size();  // dot closed its input
      if (written == src.size()) {
        close(wfd);
        wfd = -1;
      }
    }
    if (fds[0].revents) {
      char buf[65536];
      ssize_t r = read(rfd, buf, sizeof buf);
      if (r > 0) svg->append(buf, static_cast<size_t>(r));
      else if (r == 0 || errno != EINTR) {
        close(rfd);
        rfd = -1;
      }
    }
  }
  if (wfd >= 0) close(wfd);
  if (rfd >= 0) close(rfd);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return Status::IO("dot -Tsvg took more than " + std::to_string(kDotTimeout.count()) +
                      " s and was stopped; try --depth, or --format dot");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Status::IO(dot + " -Tsvg failed (status " + std::to_string(WEXITSTATUS(status)) + ")");
  return Status::Ok();
}

int RunLineage(const LineageArgs& a) {
  auto ref = ParseRef(a.ref);
  if (!ref.ok()) return UsageError(ref.status());
  if (int(a.up) + int(a.down) + int(a.both) > 1)
    return UsageError(Status::Invalid("give one of --up, --down and --both"));
  LineageOptions opt;
  opt.up = !a.down;
  opt.down = a.down || a.both;
  opt.depth = a.depth;
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kRead, ref->model, a.ref));
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    auto v = snap->Resolve(*ref);
    if (!v.ok()) return s.Explain(*ref, v.status());
    opt.may_read = [&s](const std::string& model) { return s.MayRead(model); };
    auto g = BuildLineage(*snap, *v, opt);
    if (!g.ok()) return g.status();
    if (a.format == "json") {
      std::cout << DumpJson(LineageJson(*g, *snap)) << "\n";
    } else if (a.format == "dot") {
      std::cout << LineageDot(*g, *snap);
    } else if (a.format == "svg") {
      std::string svg;
      MODELFS_RETURN_IF_ERROR(RunDot(LineageDot(*g, *snap), &svg));
      std::cout << svg;
    } else {
      TreePrinter(*g, *snap).Print(opt.up, opt.down);
    }
    return Status::Ok();
  });
}

}  // namespace

Command AddCompare(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  CLI::App* c = app.add_subcommand("compare", "Versions side by side: one column each, differences marked");
  AddRoot(c, a->root);
  c->add_option("REFS", a->refs, "MODEL@REF, two or more")->required();
  AddJson(c, a->json);
  Example(c, {"compare churn@12 churn@13 churn@production", "compare churn@1 churn-eu@2 --json"});
  return {c, [a] { return RunCompare(*a); }};
}

Command AddDiff(CLI::App& app) {
  auto a = std::make_shared<DiffArgs>();
  CLI::App* c = app.add_subcommand("diff", "What changed from one version to another: files and metadata");
  AddRoot(c, a->root);
  c->add_option("REFS", a->refs, "MODEL@REF MODEL@REF: from, to")->required()->expected(2);
  AddJson(c, a->json);
  Example(c, {"diff churn@12 churn@13", "diff churn@production churn --json"});
  return {c, [a] { return RunDiff(*a); }};
}

Command AddLineage(CLI::App& app) {
  auto a = std::make_shared<LineageArgs>();
  CLI::App* c = app.add_subcommand(
      "lineage", "Where a version comes from (parents, datasets, code) and what was made from it");
  AddRoot(c, a->root);
  c->add_option("REF", a->ref, "MODEL[@N|@vN|@ALIAS]")->required();
  c->add_flag("--up", a->up, "Follow the parents (the default)");
  c->add_flag("--down", a->down, "Follow the versions that name it as a parent");
  c->add_flag("--both", a->both, "Both ways");
  c->add_option("--depth", a->depth, "Follow at most N versions away (default: all)");
  c->add_option("--format", a->format, "tree (default), json, dot (Graphviz) or svg (runs dot)")
      ->check(CLI::IsMember({"tree", "json", "dot", "svg"}));
  Example(c, {"lineage churn@13", "lineage features@7 --down --depth 2",
              "lineage churn@production --both --format svg > churn.svg"});
  return {c, [a] { return RunLineage(*a); }};
}

}  // namespace modelfs::cli
