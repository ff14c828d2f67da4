// The metadata table (see metadata.h): one row per field, read by every
// function below, so a field's names and rules live in one place.
#include "index/metadata.h"

#include "index/names.h"
#include "index/registry.h"

namespace modelfs {
namespace {

struct FieldInfo {
  MetaField field;
  std::string_view name;   // key and JSON path; families add ".<k>"
  std::string_view xattr;  // families add "<k>"
  bool family;             // one value per key <k>
  bool list;               // a comma-separated list (a JSON array)
};

// In listing order: getfattr -d shows the fields in this order.
constexpr FieldInfo kFields[] = {
    {MetaField::kDescription, "description", "user.registry.description", false, false},
    {MetaField::kMetric, "metrics", "user.metrics.", true, false},
    {MetaField::kParam, "params", "user.params.", true, false},
    {MetaField::kTag, "tags", "user.tags.", true, false},
    {MetaField::kParents, "lineage.parents", "user.lineage.parents", false, true},
    {MetaField::kDatasets, "lineage.datasets", "user.lineage.datasets", false, true},
    {MetaField::kCode, "lineage.code", "user.lineage.code", false, false},
    {MetaField::kRun, "lineage.run", "user.lineage.run", false, false},
};

const FieldInfo& Info(MetaField f) {
  for (const auto& i : kFields)
    if (i.field == f) return i;
  abort();  // every enumerator has a row: a missing one is a bug
}

// Registry fields that are shown but set by their own operations.
constexpr std::string_view kReadOnly[] = {"version", "state", "digest", "size",
                                          "created_at", "created_by", "aliases", "approval",
                                          "approved_by", "approved_at", "owner", "latest",
                                          "next_version", "last_used_at"};


// Where a field lives in a Version (const or not); nullptr when the field
// is not of that shape.
template <class V>
auto TextFamily(V* v, MetaField f) -> decltype(&v->params) {
  return f == MetaField::kParam ? &v->params : f == MetaField::kTag ? &v->tags : nullptr;
}

template <class V>
auto ListField(V* v, MetaField f) -> decltype(&v->lineage.parents) {
  return f == MetaField::kParents ? &v->lineage.parents
         : f == MetaField::kDatasets ? &v->lineage.datasets
                                     : nullptr;
}

template <class V>
auto TextField(V* v, MetaField f) -> decltype(&v->description) {
  return f == MetaField::kCode ? &v->lineage.code
         : f == MetaField::kRun ? &v->lineage.run
         : f == MetaField::kDescription ? &v->description
                                        : nullptr;
}

// Validates a list value, returning its items as stored.
Result<std::vector<std::string>> ParseListValue(const Snapshot& s, const Version& v,
                                                MetaField f, std::string_view text) {
  std::vector<std::string> items = SplitList(text);
  if (f == MetaField::kParents) {
    for (auto& p : items) {
      auto r = ParseVersionRef(p);
      if (!r.ok()) return Status::Invalid("lineage.parents: " + r.status().message());
      if (r->model == v.model && r->version >= v.number)
        return Status::Invalid("lineage.parents: " + p + " is not an earlier version of " +
                               v.model);
      auto pv = s.GetVersion(r->model, r->version);
      if (!pv.ok()) {
        if (pv.status().code() != Code::kNotFound) return pv.status();
        return Status::Invalid("lineage.parents: " + pv.status().message());
      }
      p = pv->ref();
    }
  } else {
    for (const auto& d : items) {
      auto h = d.find("#xxh3:");
      if (h != std::string::npos && !Digest::FromHex(d.substr(h + 6)).ok())
        return Status::Invalid("lineage.datasets: " + EscapeText(d) +
                               " has a bad #xxh3: digest (32 hex digits)");
    }
  }
  return items;
}

// Adds user.registry.NAME. Optional values are listed only when set: an
// absent one reads as ENODATA.
void AddRegistryAttribute(Attributes* out, std::string_view name, std::string value,
                          bool optional) {
  if (optional && value.empty()) return;
  out->emplace_back("user.registry." + std::string(name), std::move(value));
}

// The bytes listxattr(2) needs for v's names: each metadata name set, and
// every user.registry.* name a version may show (a bound: their number is
// fixed), each with its NUL.
size_t XattrListSize(const Version& v) {
  size_t n = 0;
  for (auto ro : kReadOnly) n += std::string_view("user.registry.").size() + ro.size() + 1;
  for (const auto& i : kFields) {
    if (i.field == MetaField::kMetric) {
      for (const auto& [k, x] : v.metrics) n += i.xattr.size() + k.size() + 1;
    } else if (i.family) {
      for (const auto& [k, x] : *TextFamily(&v, i.field)) n += i.xattr.size() + k.size() + 1;
    } else {
      n += i.xattr.size() + 1;  // a bound again: counted whether set or not
    }
  }
  return n;
}

}  // namespace

std::string SettableNames(bool xattrs) {
  std::string s;
  for (const auto& i : kFields) {
    if (!s.empty()) s += ", ";
    if (xattrs) s += std::string(i.xattr) + (i.family ? "K" : "");
    else s += std::string(i.name) + (i.family ? ".K" : "");
  }
  return s;
}

std::string MetaKey::name() const {
  const FieldInfo& i = Info(field);
  return i.family ? std::string(i.name) + "." + sub : std::string(i.name);
}

std::string MetaKey::xattr() const {
  const FieldInfo& i = Info(field);
  return i.family ? std::string(i.xattr) + sub : std::string(i.xattr);
}

Result<MetaKey> ParseMetaKey(std::string_view key) {
  std::string_view k = key;
  if (k == "registry.description") k = "description";
  for (const auto& i : kFields) {
    if (!i.family) {
      if (k == i.name) return MetaKey{i.field, ""};
      continue;
    }
    if (k.size() > i.name.size() && k.substr(0, i.name.size()) == i.name &&
        k[i.name.size()] == '.') {
      std::string_view sub = k.substr(i.name.size() + 1);
      Status bad = CheckMetaKey(sub);
      if (!bad.ok()) return Status::Invalid(EscapeText(key) + ": " + bad.message());
      return MetaKey{i.field, std::string(sub)};
    }
  }
  std::string_view bare = k.substr(0, 9) == "registry." ? k.substr(9) : k;
  for (auto ro : kReadOnly)
    if (bare == ro) return Status::Invalid(std::string(key) + " cannot be set this way");
  return Status::Invalid("unknown metadata key " + EscapeText(key) + " (settable: " +
                         SettableNames(false) + ")");
}

std::optional<MetaKey> MetaKeyOfXattr(std::string_view xattr) {
  for (const auto& i : kFields) {
    if (!i.family) {
      if (xattr == i.xattr) return MetaKey{i.field, ""};
    } else if (xattr.size() > i.xattr.size() && xattr.substr(0, i.xattr.size()) == i.xattr) {
      return MetaKey{i.field, std::string(xattr.substr(i.xattr.size()))};
    }
  }
  return std::nullopt;
}

std::optional<std::string> GetMeta(const Version& v, const MetaKey& key) {
  if (key.field == MetaField::kMetric) {
    auto it = v.metrics.find(key.sub);
    if (it == v.metrics.end()) return std::nullopt;
    return FormatMetric(it->second);
  }
  if (auto* m = TextFamily(&v, key.field)) {
    auto it = m->find(key.sub);
    if (it == m->end()) return std::nullopt;
    return it->second;
  }
  if (auto* l = ListField(&v, key.field)) {
    if (l->empty()) return std::nullopt;
    return JoinList(*l);
  }
  const std::string* t = TextField(&v, key.field);
  if (t->empty()) return std::nullopt;
  return *t;
}

Status ApplyMeta(const Snapshot& s, Version* v, const MetaChange& c, std::string* before,
                 std::string* after) {
  auto key = ParseMetaKey(c.key);
  if (!key.ok()) return key.status();
  if (c.value && c.value->size() > kMaxMetaValue)
    return Status::TooBig("value of " + c.key + " is longer than " +
                          std::to_string(kMaxMetaValue) + " bytes");
  // Every record must print as JSON: text that is not UTF-8 stays out.
  if (c.value) MODELFS_RETURN_IF_ERROR(CheckText("value of " + key->name(), *c.value));
  std::optional<std::string> old = GetMeta(*v, *key);
  if (old && c.expect == MetaExpect::kAbsent)
    return Status::Exists(key->name() + " is already set on " + v->ref());
  // Removing a family key that is not there is always NoData (xattr(7));
  // the whole-field values are cleared whatever they hold unless asked.
  bool must_exist = c.expect == MetaExpect::kPresent ||
                    (!c.value && Info(key->field).family);
  if (!old && must_exist) return Status::NoData(key->name() + " is not set on " + v->ref());
  *before = old.value_or("");
  // Only a new family key adds a name: what shrinks the list or keeps it
  // is always allowed, even on a version that is over the limit already.
  bool adds_name = c.value && !old && Info(key->field).family;

  const std::string& sub = key->sub;
  if (key->field == MetaField::kMetric) {
    if (c.value) {
      auto p = ParseMetric(sub, *c.value);
      if (!p.ok()) return p.status();
      v->metrics[sub] = *p;
    } else {
      v->metrics.erase(sub);
    }
  } else if (auto* m = TextFamily(v, key->field)) {
    if (c.value) (*m)[sub] = *c.value;
    else m->erase(sub);
  } else if (auto* l = ListField(v, key->field)) {
    std::vector<std::string> items;
    if (c.value) {
      auto parsed = ParseListValue(s, *v, key->field, *c.value);
      if (!parsed.ok()) return parsed.status();
      items = std::move(*parsed);
    }
    *l = std::move(items);
  } else {
    *TextField(v, key->field) = c.value.value_or("");
  }
  *after = GetMeta(*v, *key).value_or("");
  if (adds_name) {
    size_t names = XattrListSize(*v);
    if (names > kMaxXattrList)
      return Status::TooBig("cannot add " + key->name() + ": a version's metadata names may take " +
                            std::to_string(kMaxXattrList) +
                            " bytes in all (XATTR_LIST_MAX, what getfattr -d can list), and "
                            "this would make them " + std::to_string(names));
  }
  return Status::Ok();
}

bool SameMeta(const Version& a, const Version& b) {
  return a.description == b.description && a.metrics == b.metrics && a.params == b.params &&
         a.tags == b.tags && a.lineage == b.lineage;
}

std::optional<std::string> ModelMetaKeyOfXattr(std::string_view xattr) {
  if (xattr == "user.registry.description") return "description";
  if (xattr == "user.registry.owner") return "owner";
  return std::nullopt;
}

Status ApplyModelMeta(Model* m, const MetaChange& c, std::string* before, std::string* after) {
  std::string_view k = c.key;
  if (k.substr(0, 9) == "registry.") k = k.substr(9);
  std::string* field = k == "description" ? &m->description : k == "owner" ? &m->owner : nullptr;
  if (!field)
    return Status::Invalid("unknown model key " + EscapeText(c.key) +
                           " (a model's settable keys: description, owner; a version's are "
                           "set on MODEL@N)");
  std::string key(k);
  if (c.value && c.value->size() > kMaxMetaValue)
    return Status::TooBig("value of " + key + " is longer than " + std::to_string(kMaxMetaValue) +
                          " bytes");
  if (c.value) MODELFS_RETURN_IF_ERROR(CheckText("value of " + key, *c.value));
  if (key == "owner" && (!c.value || c.value->empty()))
    return Status::Invalid("a model always has an owner: give owner=NAME");
  if (key == "owner" && EscapeText(*c.value) != *c.value)
    return Status::Invalid("owner " + EscapeText(*c.value) + " holds control characters");
  if (!field->empty() && c.expect == MetaExpect::kAbsent)
    return Status::Exists(key + " is already set on model " + m->name);
  if (field->empty() && c.expect == MetaExpect::kPresent)
    return Status::NoData(key + " is not set on model " + m->name);
  *before = *field;
  *field = c.value.value_or("");
  *after = *field;
  return Status::Ok();
}

Result<Attributes> VersionAttributes(const Snapshot& s, const Version& v) {
  Attributes out;
  Status read;
  auto add = [&](std::string_view name, std::string value, bool optional = false) {
    AddRegistryAttribute(&out, name, std::move(value), optional);
  };
  add("version", std::to_string(v.number));
  add("state", std::string(StateName(v.state)));
  // A draft has no digest until it is sealed.
  if (v.state != State::kDraft || v.digest != Digest{}) add("digest", v.digest.hex());
  add("size", std::to_string(v.size));
  add("created_at", FormatTime(v.created_at_ns));
  add("created_by", v.created_by, true);
  add("aliases", JoinList(s.AliasesOf(v.model_id, v.number, &read)), true);
  MODELFS_RETURN_IF_ERROR(read);
  add("approval", v.approval.status, true);
  add("approved_by", v.approval.by, true);
  if (v.approval.at_ns != 0) add("approved_at", FormatTime(v.approval.at_ns));
  // Always listed, "never" until a mount has flushed an open of its files
  // (docs/xattrs.md); a damaged usage record reads as never, not as EIO:
  // counts are advisory.
  auto used = s.UsageOf(v.model_id, v.number);
  add("last_used_at", used ? FormatTime(used->last_used_at_ns) : "never");
  for (const auto& i : kFields) {
    if (i.field == MetaField::kMetric) {
      for (const auto& [k, x] : v.metrics) out.emplace_back(MetaKey{i.field, k}.xattr(), FormatMetric(x));
    } else if (i.family) {
      for (const auto& [k, x] : *TextFamily(&v, i.field))
        out.emplace_back(MetaKey{i.field, k}.xattr(), x);
    } else if (auto val = GetMeta(v, MetaKey{i.field, ""})) {
      out.emplace_back(std::string(i.xattr), *val);
    }
  }
  return out;
}

Result<Attributes> ModelAttributes(const Snapshot& s, const Model& m) {
  Attributes out;
  Status read;
  auto add = [&](std::string_view name, std::string value, bool optional = false) {
    AddRegistryAttribute(&out, name, std::move(value), optional);
  };
  add("description", m.description, true);
  add("owner", m.owner);
  add("created_at", FormatTime(m.created_at_ns));
  uint32_t latest = s.LatestReady(m.id, &read);
  MODELFS_RETURN_IF_ERROR(read);
  if (latest) add("latest", std::to_string(latest));
  add("next_version", std::to_string(m.next_version));
  // NAME=N pairs, as `modelfs list --json` shows a model's aliases.
  std::vector<std::string> aliases;
  MODELFS_RETURN_IF_ERROR(s.ForEachAlias(m.id, "", [&](const Alias& a) {
    aliases.push_back(a.name + "=" + std::to_string(a.version));
    return true;
  }));
  add("aliases", JoinList(aliases), true);
  return out;
}

Attributes FileAttributes(const Entry& e) { return {{"user.registry.digest", e.digest.hex()}}; }

nlohmann::json MetaJson(const Version& v) {
  using nlohmann::json;
  json j = json::object();
  for (const auto& i : kFields) {
    // The JSON path is the key: "lineage.code" is j["lineage"]["code"].
    json* at = &j;
    std::string_view path = i.name;
    for (auto dot = path.find('.'); dot != std::string_view::npos; dot = path.find('.')) {
      json& next = (*at)[std::string(path.substr(0, dot))];
      if (next.is_null()) next = json::object();
      at = &next;
      path = path.substr(dot + 1);
    }
    json& slot = (*at)[std::string(path)];
    if (i.field == MetaField::kMetric) {
      slot = json::object();
      for (const auto& [k, x] : v.metrics) slot[k] = MetricJson(x);
    }
    else if (i.family) slot = json(*TextFamily(&v, i.field));
    else if (i.list) slot = json(*ListField(&v, i.field));
    else slot = *TextField(&v, i.field);
  }
  return j;
}

}  // namespace modelfs
