// Encoding of the data model as CBOR (via nlohmann::json) for LMDB values.
// Field names are short and stable: they are the on-disk format.
#include "index/records.h"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <nlohmann/json.hpp>

namespace modelfs {

using nlohmann::json;

std::string Digest::hex() const {
  static const char* kHex = "0123456789abcdef";
  std::string s(32, '0');
  for (size_t i = 0; i < 16; ++i) {
    s[2 * i] = kHex[bytes[i] >> 4];
    s[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return s;
}

Result<Digest> Digest::FromHex(std::string_view hex) {
  if (hex.size() != 32) return Status::Invalid("digest must be 32 hex digits");
  Digest d;
  for (size_t i = 0; i < 32; ++i) {
    char c = hex[i];
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0) return Status::Invalid("digest must be 32 lowercase hex digits");
    d.bytes[i / 2] = static_cast<uint8_t>(d.bytes[i / 2] | (i % 2 ? v : v << 4));
  }
  return d;
}

std::string_view StateName(State s) {
  switch (s) {
    case State::kDraft: return "draft";
    case State::kReady: return "ready";
    case State::kArchived: return "archived";
  }
  return "unknown";
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatTime(int64_t ns) {
  if (ns == 0) return "";
  time_t t = static_cast<time_t>(ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

std::string ToCbor(const json& j) {
  std::vector<uint8_t> v = json::to_cbor(j);
  return std::string(v.begin(), v.end());
}

json DigestJson(const Digest& d) {
  return json::binary(std::vector<uint8_t>(d.bytes.begin(), d.bytes.end()));
}

// ------------------------------------------------------------ decoding
//
// A record read back from LMDB may be damaged: not CBOR, or a field of the
// wrong type (a list where a number belongs). Decoding checks the type of
// every field it reads and says which one is wrong; it never lets
// nlohmann::json throw, so one bad record cannot take down a command or the
// mount. Absent (or null) fields keep their defaults, so records written
// before a field existed still decode.

// Text from a record as a message shows it: quoted, on one line, whatever
// bytes it holds (EscapeText).
std::string Quoted(std::string_view text) { return "\"" + EscapeText(text) + "\""; }

// How a value looks in a message: its JSON type, and for a scalar its
// value: "a number (3)", "an array".
std::string Describe(const json& v) {
  std::string type = v.type_name();
  std::string d = (type[0] == 'a' || type[0] == 'o' ? "an " : "a ") + type;
  if (v.is_number() || v.is_boolean()) return d + " (" + v.dump() + ")";
  if (v.is_string()) {
    std::string text = v.get_ref<const std::string&>();
    if (text.size() > 40) text = text.substr(0, 40) + "...";
    return d + " (" + Quoted(text) + ")";
  }
  return d;
}

// Each Convert checks that `v` has the type of *out and fills it; on a
// mismatch it returns what was expected ("a string") and leaves *out alone.
std::string Convert(const json& v, std::string* out) {
  if (!v.is_string()) return "a string";
  *out = v.get_ref<const std::string&>();
  return "";
}

std::string Convert(const json& v, bool* out) {
  if (!v.is_boolean()) return "a boolean";
  *out = v.get<bool>();
  return "";
}

std::string Convert(const json& v, uint64_t* out) {
  if (!v.is_number_unsigned()) return "an unsigned integer";  // CBOR: a major type 0 integer
  *out = v.get<uint64_t>();
  return "";
}

std::string Convert(const json& v, uint32_t* out) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
    return "an unsigned 32-bit integer";
  *out = static_cast<uint32_t>(v.get<uint64_t>());
  return "";
}

std::string Convert(const json& v, int64_t* out) {
  if (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(v.get<uint64_t>());
    return "";
  }
  if (!v.is_number_integer() || v.is_number_unsigned()) return "a 64-bit integer";
  *out = v.get<int64_t>();
  return "";
}

std::string Convert(const json& v, double* out) {
  // Metrics are finite (SPEC §3); a NaN or infinity can only be damage.
  if (!v.is_number() || !std::isfinite(v.get<double>())) return "a finite number";
  *out = v.get<double>();
  return "";
}

std::string Convert(const json& v, Digest* out) {
  if (!v.is_binary() || v.get_binary().size() != out->bytes.size())
    return "a 16-byte binary digest";
  std::copy(v.get_binary().begin(), v.get_binary().end(), out->bytes.begin());
  return "";
}

std::string Convert(const json& v, std::vector<std::string>* out) {
  if (!v.is_array()) return "an array of strings";
  std::vector<std::string> items(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      return "an array of strings (item " + std::to_string(i) + " is " + Describe(v[i]) + ")";
    items[i] = v[i].get_ref<const std::string&>();
  }
  *out = std::move(items);
  return "";
}

template <class V>
std::string Convert(const json& v, std::map<std::string, V>* out) {
  const char* want = std::is_same_v<V, double> ? "a map of numbers" : "a map of strings";
  if (!v.is_object()) return want;
  std::map<std::string, V> items;
  for (auto it = v.begin(); it != v.end(); ++it) {
    V item{};
    if (!Convert(it.value(), &item).empty())
      return std::string(want) + " (key " +
             Quoted(it.key()) + " holds " +
             Describe(it.value()) + ")";
    items.emplace(it.key(), std::move(item));
  }
  *out = std::move(items);
  return "";
}

// Builds the json value of a record as from_cbor does, but refuses values
// nested deeper than any record (a map of maps or lists): from_cbor
// recurses once per level, so a few damaged megabytes of nested arrays
// would overflow the stack. nlohmann's own DOM builder does the rest (it is
// in nlohmann::detail, but is what from_cbor uses).
class BoundedDom : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  static constexpr int kMaxDepth = 16;
  explicit BoundedDom(json& j) : json_sax_dom_parser(j, /*allow_exceptions=*/false) {}
  bool start_object(std::size_t n) { return Enter() && json_sax_dom_parser::start_object(n); }
  bool start_array(std::size_t n) { return Enter() && json_sax_dom_parser::start_array(n); }
  bool end_object() { --depth_; return json_sax_dom_parser::end_object(); }
  bool end_array() { --depth_; return json_sax_dom_parser::end_array(); }
  bool too_deep() const { return too_deep_; }

 private:
  bool Enter() {
    too_deep_ = ++depth_ > kMaxDepth;
    return !too_deep_;
  }
  int depth_ = 0;
  bool too_deep_ = false;
};

// The fields of one record. Get() leaves a field at its default when it is
// absent and records the first field of a wrong type; status() says which.
class Fields {
 public:
  explicit Fields(std::string_view bytes) {
    BoundedDom dom(j_);
    bool ok = false;
    // Even without exceptions, nlohmann throws where a length in the bytes
    // is past what a container can hold ("excessive array size").
    try {
      ok = json::sax_parse(bytes.begin(), bytes.end(), &dom, json::input_format_t::cbor,
                           /*strict=*/true);
    } catch (const json::exception&) {
      ok = false;
    }
    if (dom.too_deep())
      st_ = Status::Corrupt("values nested more than " + std::to_string(BoundedDom::kMaxDepth) +
                            " deep");
    else if (!ok)
      st_ = Status::Corrupt("not a CBOR value");
    else if (!j_.is_object())
      st_ = Status::Corrupt("the value is " + Describe(j_) + ", not a map of fields");
  }

  template <class T>
  void Get(const char* key, T* out) {
    if (!st_.ok()) return;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return;
    std::string want = Convert(*it, out);
    if (!want.empty())
      st_ = Status::Corrupt("field \"" + std::string(key) + "\" should be " + want + ", not " +
                            Describe(*it));
  }

  // For the fields that identify a record (its id, its name): a record
  // without them cannot be served.
  template <class T>
  void Need(const char* key, T* out) {
    auto it = j_.find(key);
    if (st_.ok() && (it == j_.end() || it->is_null()))
      st_ = Status::Corrupt("field \"" + std::string(key) + "\" is missing");
    Get(key, out);
  }

  const Status& status() const { return st_; }

 private:
  json j_;
  Status st_;
};

}  // namespace

std::string Encode(const Model& m) {
  return ToCbor({{"id", m.id}, {"li", m.latest_id}, {"n", m.name}, {"ca", m.created_at_ns},
                 {"cb", m.created_by}, {"o", m.owner}, {"d", m.description},
                 {"nv", m.next_version}});
}

Status Decode(std::string_view bytes, Model* m) {
  Fields f(bytes);
  Model r;
  f.Need("id", &r.id);
  f.Get("li", &r.latest_id);
  f.Need("n", &r.name);
  f.Get("ca", &r.created_at_ns);
  f.Get("cb", &r.created_by);
  f.Get("o", &r.owner);
  f.Get("d", &r.description);
  f.Get("nv", &r.next_version);
  if (!f.status().ok()) return f.status();
  *m = std::move(r);
  return Status::Ok();
}

std::string Encode(const Version& v) {
  json j = {{"id", v.id},
            {"mid", v.model_id},
            {"m", v.model},
            {"n", v.number},
            {"s", static_cast<int>(v.state)},
            {"dg", DigestJson(v.digest)},
            {"sz", v.size},
            {"f", v.files},
            {"ca", v.created_at_ns},
            {"cb", v.created_by},
            {"cu", v.created_uid},
            {"d", v.description},
            {"me", v.metrics},
            {"pa", v.params},
            {"t", v.tags},
            {"lp", v.lineage.parents},
            {"ld", v.lineage.datasets},
            {"lc", v.lineage.code},
            {"lr", v.lineage.run},
            {"as", v.approval.status},
            {"ab", v.approval.by},
            {"at", v.approval.at_ns},
            {"ac", v.approval.comment},
            {"pal", v.past_aliases}};
  return ToCbor(j);
}

Status Decode(std::string_view bytes, Version* v) {
  Fields f(bytes);
  Version r;
  uint32_t state = static_cast<uint32_t>(r.state);
  f.Need("id", &r.id);
  f.Need("mid", &r.model_id);
  f.Need("m", &r.model);
  f.Need("n", &r.number);
  f.Get("s", &state);
  f.Get("dg", &r.digest);
  f.Get("sz", &r.size);
  f.Get("f", &r.files);
  f.Get("ca", &r.created_at_ns);
  f.Get("cb", &r.created_by);
  f.Get("cu", &r.created_uid);
  f.Get("d", &r.description);
  f.Get("me", &r.metrics);
  f.Get("pa", &r.params);
  f.Get("t", &r.tags);
  f.Get("lp", &r.lineage.parents);
  f.Get("ld", &r.lineage.datasets);
  f.Get("lc", &r.lineage.code);
  f.Get("lr", &r.lineage.run);
  f.Get("as", &r.approval.status);
  f.Get("ab", &r.approval.by);
  f.Get("at", &r.approval.at_ns);
  f.Get("ac", &r.approval.comment);
  f.Get("pal", &r.past_aliases);
  if (!f.status().ok()) return f.status();
  if (state > static_cast<uint32_t>(State::kArchived))
    return Status::Corrupt("field \"s\" holds state " + std::to_string(state) +
                           ", not 0 (draft), 1 (ready) or 2 (archived)");
  r.state = static_cast<State>(state);
  *v = std::move(r);
  return Status::Ok();
}

std::string Encode(const Entry& e) {
  json j = {{"id", e.id}, {"p", e.parent}, {"n", e.name}, {"m", e.mode}, {"s", e.size}};
  if (!e.is_dir()) j["dg"] = DigestJson(e.digest);
  if (e.is_link()) j["lt"] = e.target;
  return ToCbor(j);
}

Status Decode(std::string_view bytes, Entry* e) {
  Fields f(bytes);
  Entry r;
  f.Need("id", &r.id);
  f.Need("p", &r.parent);
  f.Need("n", &r.name);
  f.Need("m", &r.mode);
  f.Get("s", &r.size);
  f.Get("dg", &r.digest);
  if (r.is_link()) f.Need("lt", &r.target);
  if (!f.status().ok()) return f.status();
  // A directory has no digest; Encode writes none, so one read here would
  // not survive the record's next write.
  if (r.is_dir()) r.digest = Digest{};
  *e = std::move(r);
  return Status::Ok();
}

std::string Encode(const Alias& a) {
  return ToCbor({{"id", a.id}, {"n", a.name}, {"v", a.version}, {"ua", a.updated_at_ns},
                 {"ub", a.updated_by}});
}

Status Decode(std::string_view bytes, Alias* a) {
  Fields f(bytes);
  Alias r;
  f.Need("id", &r.id);
  f.Need("n", &r.name);
  f.Need("v", &r.version);
  f.Get("ua", &r.updated_at_ns);
  f.Get("ub", &r.updated_by);
  if (!f.status().ok()) return f.status();
  *a = std::move(r);
  return Status::Ok();
}

std::string Encode(const AuditRecord& r) {
  json j = {{"q", r.seq}, {"t", r.at_ns}, {"u", r.uid}, {"un", r.user}, {"a", r.action},
            {"m", r.model}, {"v", r.version}, {"al", r.alias}, {"o", r.object},
            {"b", r.before}, {"af", r.after}, {"ok", r.allowed}, {"r", r.reason}};
  // Only when known, so that a record written before hosts were recorded
  // re-encodes to the same bytes.
  if (!r.host.empty()) j["h"] = r.host;
  return ToCbor(j);
}

Status Decode(std::string_view bytes, AuditRecord* out) {
  Fields f(bytes);
  AuditRecord r;
  f.Need("q", &r.seq);
  f.Get("t", &r.at_ns);
  f.Get("u", &r.uid);
  f.Get("un", &r.user);
  f.Get("a", &r.action);
  f.Get("m", &r.model);
  f.Get("v", &r.version);  // absent in records written before it existed
  f.Get("al", &r.alias);
  f.Get("o", &r.object);
  f.Get("b", &r.before);
  f.Get("af", &r.after);
  f.Get("ok", &r.allowed);
  f.Get("r", &r.reason);
  f.Get("h", &r.host);  // absent before hosts were recorded
  if (!f.status().ok()) return f.status();
  *out = std::move(r);
  return Status::Ok();
}

}  // namespace modelfs
