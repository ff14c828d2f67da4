// Encoding of the data model as CBOR (via nlohmann::json) for LMDB values.
// Field names are short and stable: they are the on-disk format.
#include "index/records.h"

#include <chrono>
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

Result<json> FromCbor(std::string_view bytes) {
  json j = json::from_cbor(bytes.begin(), bytes.end(), true, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corrupt("undecodable record in the index");
  return j;
}

json DigestJson(const Digest& d) {
  return json::binary(std::vector<uint8_t>(d.bytes.begin(), d.bytes.end()));
}

Digest DigestFrom(const json& j) {
  Digest d;
  if (j.is_binary() && j.get_binary().size() == 16)
    std::copy(j.get_binary().begin(), j.get_binary().end(), d.bytes.begin());
  return d;
}

template <class T>
T Get(const json& j, const char* k, T dflt = T()) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) return dflt;
  return it->get<T>();
}

}  // namespace

std::string Encode(const Model& m) {
  return ToCbor({{"id", m.id}, {"li", m.latest_id}, {"n", m.name}, {"ca", m.created_at_ns},
                 {"cb", m.created_by}, {"o", m.owner}, {"d", m.description},
                 {"nv", m.next_version}});
}

Status Decode(std::string_view bytes, Model* m) {
  auto j = FromCbor(bytes);
  if (!j.ok()) return j.status();
  m->id = Get<uint64_t>(*j, "id");
  m->latest_id = Get<uint64_t>(*j, "li");
  m->name = Get<std::string>(*j, "n");
  m->created_at_ns = Get<int64_t>(*j, "ca");
  m->created_by = Get<std::string>(*j, "cb");
  m->owner = Get<std::string>(*j, "o");
  m->description = Get<std::string>(*j, "d");
  m->next_version = Get<uint32_t>(*j, "nv", 1);
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
  auto jr = FromCbor(bytes);
  if (!jr.ok()) return jr.status();
  const json& j = *jr;
  v->id = Get<uint64_t>(j, "id");
  v->model_id = Get<uint64_t>(j, "mid");
  v->model = Get<std::string>(j, "m");
  v->number = Get<uint32_t>(j, "n");
  v->state = static_cast<State>(Get<int>(j, "s"));
  v->digest = DigestFrom(j.value("dg", json()));
  v->size = Get<uint64_t>(j, "sz");
  v->files = Get<uint64_t>(j, "f");
  v->created_at_ns = Get<int64_t>(j, "ca");
  v->created_by = Get<std::string>(j, "cb");
  v->created_uid = Get<uint32_t>(j, "cu");
  v->description = Get<std::string>(j, "d");
  v->metrics = Get<std::map<std::string, double>>(j, "me");
  v->params = Get<std::map<std::string, std::string>>(j, "pa");
  v->tags = Get<std::map<std::string, std::string>>(j, "t");
  v->lineage.parents = Get<std::vector<std::string>>(j, "lp");
  v->lineage.datasets = Get<std::vector<std::string>>(j, "ld");
  v->lineage.code = Get<std::string>(j, "lc");
  v->lineage.run = Get<std::string>(j, "lr");
  v->approval.status = Get<std::string>(j, "as", "pending");
  v->approval.by = Get<std::string>(j, "ab");
  v->approval.at_ns = Get<int64_t>(j, "at");
  v->approval.comment = Get<std::string>(j, "ac");
  v->past_aliases = Get<std::vector<std::string>>(j, "pal");
  return Status::Ok();
}

std::string Encode(const Entry& e) {
  json j = {{"id", e.id}, {"p", e.parent}, {"n", e.name}, {"m", e.mode}, {"s", e.size}};
  if (!e.is_dir()) j["dg"] = DigestJson(e.digest);
  return ToCbor(j);
}

Status Decode(std::string_view bytes, Entry* e) {
  auto j = FromCbor(bytes);
  if (!j.ok()) return j.status();
  e->id = Get<uint64_t>(*j, "id");
  e->parent = Get<uint64_t>(*j, "p");
  e->name = Get<std::string>(*j, "n");
  e->mode = Get<uint32_t>(*j, "m");
  e->size = Get<uint64_t>(*j, "s");
  e->digest = DigestFrom(j->value("dg", json()));
  return Status::Ok();
}

std::string Encode(const Alias& a) {
  return ToCbor({{"id", a.id}, {"n", a.name}, {"v", a.version}, {"ua", a.updated_at_ns},
                 {"ub", a.updated_by}});
}

Status Decode(std::string_view bytes, Alias* a) {
  auto j = FromCbor(bytes);
  if (!j.ok()) return j.status();
  a->id = Get<uint64_t>(*j, "id");
  a->name = Get<std::string>(*j, "n");
  a->version = Get<uint32_t>(*j, "v");
  a->updated_at_ns = Get<int64_t>(*j, "ua");
  a->updated_by = Get<std::string>(*j, "ub");
  return Status::Ok();
}

std::string Encode(const AuditRecord& r) {
  return ToCbor({{"q", r.seq}, {"t", r.at_ns}, {"u", r.uid}, {"un", r.user}, {"a", r.action},
                 {"m", r.model}, {"o", r.object}, {"b", r.before}, {"af", r.after},
                 {"ok", r.allowed}, {"r", r.reason}});
}

Status Decode(std::string_view bytes, AuditRecord* r) {
  auto j = FromCbor(bytes);
  if (!j.ok()) return j.status();
  r->seq = Get<uint64_t>(*j, "q");
  r->at_ns = Get<int64_t>(*j, "t");
  r->uid = Get<uint32_t>(*j, "u");
  r->user = Get<std::string>(*j, "un");
  r->action = Get<std::string>(*j, "a");
  r->model = Get<std::string>(*j, "m");
  r->object = Get<std::string>(*j, "o");
  r->before = Get<std::string>(*j, "b");
  r->after = Get<std::string>(*j, "af");
  r->allowed = Get<bool>(*j, "ok", true);
  r->reason = Get<std::string>(*j, "r");
  return Status::Ok();
}

}  // namespace modelfs
