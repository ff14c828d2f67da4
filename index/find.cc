// Find (find.h): the planner, which picks an indexed test of the top-level
// `and` or a scan, and the search itself: candidates, the check of the whole
// expression, the order and the limit.
#include "index/find.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "index/find_index.h"

namespace modelfs {
namespace {

using expr::Field;
using expr::Literal;
using expr::Node;
using expr::Op;

// What a plan reads: the versions of some models (all of them for a scan),
// streamed; or the versions the find index names.
struct Plan {
  bool by_index = false;
  bool all_models = true;
  std::vector<Model> models;                 // !by_index && !all_models: in name order
  std::vector<findindex::VersionRef> refs;   // by_index
  uint64_t estimate = 0;
  std::string text = "scan";
};

bool Indexable(const Node& n) {
  if (n.kind != Node::Kind::kTest) return false;
  switch (n.key.field) {
    case Field::kMetric:
      return n.op == Op::kExists || n.op == Op::kEq || n.op == Op::kLt || n.op == Op::kLe ||
             n.op == Op::kGt || n.op == Op::kGe || n.op == Op::kIn;
    case Field::kParam:
    case Field::kTag:
      if (n.op == Op::kExists) return true;
      if (n.op != Op::kEq && n.op != Op::kIn) return false;
      // A number compares with the value read as a number ("0.05" = 0.050).
      for (const auto& l : n.values)
        if (l.kind != Literal::Kind::kString) return false;
      return true;
    default:
      return false;
  }
}

// The candidates of an indexed test, in index order, stopping (and
// returning false) once there are more than `cap`.
bool IndexCandidates(const Snapshot& s, const Node& n, uint64_t cap,
                     std::vector<findindex::VersionRef>* out, Status* error) {
  auto add = [&](std::string_view key) {
    out->push_back(findindex::RefOf(key));
    return out->size() <= cap;
  };
  auto scan = [&](const std::string& prefix, const std::string& start,
                  const std::function<bool(std::string_view)>& fn) {
    Status st = s.ForEachFindKey(prefix, start, fn);
    if (!st.ok() && error->ok()) *error = st;
  };
  if (n.key.field == Field::kMetric) {
    std::string p = findindex::MetricPrefix(n.key.name);
    if (n.op == Op::kExists) {
      scan(p, "", add);
      return out->size() <= cap;
    }
    for (const auto& lit : n.values) {
      double x = lit.number;
      Op op = n.op == Op::kIn ? Op::kEq : n.op;
      std::string start = (op == Op::kLt || op == Op::kLe) ? p : p + findindex::EncodeDouble(x);
      bool more = true;
      scan(p, start, [&](std::string_view key) {
        double d = findindex::DecodeDouble(key.substr(p.size(), 8));
        bool holds = op == Op::kEq ? d == x : op == Op::kLt ? d < x : op == Op::kLe ? d <= x
                   : op == Op::kGt ? d > x : d >= x;
        if (holds) return more = add(key);
        // Keys ascend by value: past x, nothing more of =, < or <= can hold.
        return op == Op::kGt;
      });
      if (!more) return false;
    }
    return out->size() <= cap;
  }
  char kind = n.key.field == Field::kParam ? 'p' : 't';
  if (n.op == Op::kExists) {
    scan(findindex::TextPrefix(kind, n.key.name), "", add);
    return out->size() <= cap;
  }
  for (const auto& lit : n.values) {
    bool more = true;
    scan(findindex::TextValuePrefix(kind, n.key.name, lit.text), "",
         [&](std::string_view key) { return more = add(key); });
    if (!more) return false;
  }
  return out->size() <= cap;
}

// The literal prefix of a glob: what every name it matches starts with.
std::string GlobPrefix(const std::string& glob) {
  size_t end = glob.find_first_of("*?[\\");
  return glob.substr(0, end);
}

// The models a `model` test names, in name order (Exists-free: a name
// that is no model is left out), with their version counts in *estimate.
// False when the test is not one the models table answers.
bool ModelCandidates(const Snapshot& s, const Node& n, std::vector<Model>* out,
                     uint64_t* estimate, Status* error) {
  if (n.kind != Node::Kind::kTest || n.key.field != Field::kModel) return false;
  auto take = [&](const Model& m) {
    out->push_back(m);
    *estimate += m.next_version - 1;
  };
  if (n.op == Op::kEq || n.op == Op::kIn) {
    std::vector<std::string> names;
    for (const auto& l : n.values) names.push_back(l.text);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (const auto& name : names) {
      auto m = s.GetModel(name);
      if (m.ok()) take(*m);
      else if (m.status().code() != Code::kNotFound && error->ok()) *error = m.status();
    }
    return true;
  }
  if (n.op == Op::kGlob) {
    std::string prefix = GlobPrefix(n.values[0].text);
    if (prefix.empty()) return false;
    const std::string& glob = n.values[0].text;
    // ForEachModel starts after `after`: the prefix with its last byte one
    // lower, then 0xff, sorts before every name that starts with the prefix
    // (names are ASCII) and after most that do not.
    std::string after = prefix;
    after.back() = static_cast<char>(after.back() - 1);
    after += "\xff";
    Status st = s.ForEachModel(after, [&](const Model& m) {
      if (m.name.compare(0, prefix.size(), prefix) != 0) return m.name < prefix;
      if (fnmatch(glob.c_str(), m.name.c_str(), 0) == 0) take(m);
      return true;
    });
    if (!st.ok() && error->ok()) *error = st;
    return true;
  }
  return false;
}

std::string Describe(const Node& n) { return expr::NodeText(n); }

// Every indexed test of the top-level `and` gives its candidates (one with
// more than a quarter of all versions is left out: it narrows little), and
// the plan reads their intersection, kept to the models a `model` test
// names. Without an indexed test, the versions of those models; without
// either, a scan.
Plan Choose(const Snapshot& s, const expr::Expr& e, Status* error) {
  Plan plan;
  const uint64_t total = s.VersionCount();
  plan.estimate = total;
  const uint64_t cap = total / 4;
  std::optional<std::vector<Model>> models;  // of the model test naming the fewest versions
  uint64_t models_estimate = 0;
  std::string models_text;
  std::optional<std::vector<findindex::VersionRef>> refs;  // the intersection so far
  std::vector<std::string> used;
  for (const Node* c : e.Conjuncts()) {
    std::vector<Model> ms;
    uint64_t est = 0;
    if (ModelCandidates(s, *c, &ms, &est, error)) {
      if (!models || est < models_estimate) {
        models = std::move(ms);
        models_estimate = est;
        models_text = Describe(*c);
      }
      continue;
    }
    if (!Indexable(*c)) continue;
    std::vector<findindex::VersionRef> r;
    if (!IndexCandidates(s, *c, cap, &r, error)) continue;
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    if (refs) {
      std::vector<findindex::VersionRef> both;
      std::set_intersection(refs->begin(), refs->end(), r.begin(), r.end(), std::back_inserter(both));
      refs = std::move(both);
    } else {
      refs = std::move(r);
    }
    used.push_back(Describe(*c));
  }
  if (refs) {
    if (models) {
      std::set<ObjectId> ids;
      for (const auto& m : *models) ids.insert(m.id);
      std::erase_if(*refs, [&](const findindex::VersionRef& r) { return !ids.count(r.model_id); });
      used.push_back(models_text);
    }
    plan.by_index = true;
    plan.estimate = refs->size();
    plan.refs = std::move(*refs);
    plan.text = "index";
    for (size_t i = 0; i < used.size(); ++i) plan.text += (i ? " and " : " ") + used[i];
  } else if (models) {
    plan.all_models = false;
    plan.models = std::move(*models);
    plan.estimate = models_estimate;
    plan.text = "models " + models_text;
  }
  return plan;
}

// A match kept for ordering: the version and its sort keys' values.
struct Match {
  Version v;
  std::vector<std::optional<expr::Value>> keys;
};

}  // namespace

Result<SortKey> ParseSortKey(std::string_view text) {
  SortKey k;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    k.descending = text[0] == '-';
    text.remove_prefix(1);
  }
  auto key = expr::ParseKey(text);
  if (!key.ok()) return key.status();
  k.key = *key;
  return k;
}

std::optional<int64_t> LastUsedAt(const Snapshot& s, const Version& v) {
  // The mount's use counts (usage.h); a damaged record reads as never used,
  // as `show` reads it, until the next flush rewrites it.
  auto u = s.UsageOf(v.model_id, v.number);
  if (!u) return std::nullopt;
  return u->last_used_at_ns;
}

Status Find(const Snapshot& s, const expr::Expr& e, const FindOptions& opt, const FindVisitor& fn,
            FindStats* stats) {
  FindStats local;
  FindStats& st = stats ? *stats : local;
  st = FindStats{};
  Status error;  // the first damaged record or failed read; the search goes on

  // Aliases, read once per model (the versions come model by model).
  ObjectId alias_model = 0;
  bool alias_loaded = false;
  std::map<uint32_t, std::vector<std::string>> alias_names;
  expr::EvalContext ctx;
  ctx.now_ns = opt.now_ns;
  ctx.aliases = [&](const Version& v) -> std::vector<std::string> {
    if (!alias_loaded || alias_model != v.model_id) {
      alias_names.clear();
      alias_model = v.model_id;
      alias_loaded = true;
      Status as = s.ForEachAlias(v.model_id, "", [&](const Alias& a) {
        alias_names[a.version].push_back(a.name);
        return true;
      });
      if (!as.ok() && error.ok()) error = as;
    }
    auto it = alias_names.find(v.number);
    return it == alias_names.end() ? std::vector<std::string>{} : it->second;
  };
  ctx.last_used_at = [&s](const Version& v) { return LastUsedAt(s, v); };

  std::unordered_map<std::string, bool> readable;
  auto may_read = [&](const std::string& model) {
    if (!opt.may_read) return true;
    auto it = readable.find(model);
    if (it == readable.end()) it = readable.emplace(model, opt.may_read(model)).first;
    return it->second;
  };

  Plan plan = Choose(s, e, &error);
  st.plan = plan.text;
  bool streaming = !plan.by_index && opt.sort.empty();
  std::vector<Match> kept;
  bool stopped = false;
  // Each candidate: checked, then given out (streaming) or kept.
  auto consider = [&](const Version& v) {
    ++st.decoded;
    if (!e.Eval(v, ctx)) return true;
    ++st.matched;
    if (streaming) {
      if (!fn(v, ctx)) stopped = true;
      if (opt.limit && st.matched >= opt.limit) stopped = true;
      return !stopped;
    }
    Match m{v, {}};
    for (const auto& k : opt.sort) {
      auto value = expr::Lookup(k.key, v, ctx);
      // No alias sorts as a missing value: last.
      if (auto* l = value ? std::get_if<std::vector<std::string>>(&*value) : nullptr; l && l->empty())
        value.reset();
      m.keys.push_back(std::move(value));
    }
    kept.push_back(std::move(m));
    return true;
  };

  if (plan.by_index) {
    std::sort(plan.refs.begin(), plan.refs.end());
    plan.refs.erase(std::unique(plan.refs.begin(), plan.refs.end()), plan.refs.end());
    st.candidates = plan.refs.size();
    for (const auto& r : plan.refs) {
      auto v = s.GetVersion(r.model_id, r.number);
      if (!v.ok()) {
        // NotFound: an entry left by a damaged record (fsck reports it).
        if (v.status().code() != Code::kNotFound && error.ok()) error = v.status();
        continue;
      }
      if (!may_read(v->model)) continue;
      consider(*v);
    }
  } else {
    auto visit_model = [&](const Model& m) {
      if (!may_read(m.name)) return true;
      st.candidates += m.next_version - 1;
      Status vs = s.ForEachVersion(m.id, 0, consider);
      if (!vs.ok() && error.ok()) error = vs;
      return !stopped;
    };
    if (plan.all_models) {
      Status ms = s.ForEachModel("", visit_model);
      if (!ms.ok() && error.ok()) error = ms;
    } else {
      for (const auto& m : plan.models)
        if (!visit_model(m)) break;
    }
  }

  if (!streaming) {
    auto by_name = [](const Match& a, const Match& b) {
      return a.v.model != b.v.model ? a.v.model < b.v.model : a.v.number < b.v.number;
    };
    std::sort(kept.begin(), kept.end(), [&](const Match& a, const Match& b) {
      for (size_t i = 0; i < opt.sort.size(); ++i) {
        const auto& x = a.keys[i];
        const auto& y = b.keys[i];
        if (!x || !y) {
          if (!x && !y) continue;
          return bool(x);  // missing last
        }
        int c = expr::CompareValues(*x, *y);
        if (c != 0) return opt.sort[i].descending ? c > 0 : c < 0;
      }
      return by_name(a, b);
    });
    uint64_t n = 0;
    for (const auto& m : kept) {
      if (opt.limit && n >= opt.limit) break;
      ++n;
      if (!fn(m.v, ctx)) break;
    }
  }
  return error;
}

}  // namespace modelfs
