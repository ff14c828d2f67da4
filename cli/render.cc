// Rendering of registry records for the CLI.
#include "cli/render.h"

#include <cstdio>
#include <iterator>
#include <sstream>

#include "index/names.h"

namespace modelfs::cli {

using nlohmann::json;

std::string DumpJson(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

namespace {
bool quiet_output = false;
}  // namespace

void SetQuiet(bool quiet) { quiet_output = quiet; }
bool Quiet() { return quiet_output; }

std::string FormatSize(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes) / 1024;
  size_t u = 0;
  // 1023.96 KiB would print as "1024 KiB": move up once it rounds to 1024.
  while (v >= 1023.95 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 9.95 ? "%.1f %s" : "%.0f %s", v, kUnits[u]);
  return buf;
}

std::string ModeString(uint32_t mode) {
  char buf[8];
  snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

Result<json> VersionJson(const Snapshot& s, const Version& v) {
  Status read;
  auto aliases = s.AliasesOf(v.model_id, v.number, &read);
  MODELFS_RETURN_IF_ERROR(read);
  json j = {
      {"model", v.model},
      {"version", v.number},
      {"state", StateName(v.state)},
      {"digest", v.digest.hex()},
      {"size", v.size},
      {"file_count", v.files},
      {"created_at", FormatTime(v.created_at_ns)},
      {"created_by", v.created_by},
      {"aliases", aliases},
      {"approval",
       {{"status", v.approval.status},
        {"by", v.approval.by},
        {"at", FormatTime(v.approval.at_ns)},
        {"comment", v.approval.comment}}},
  };
  j.update(MetaJson(v));  // description, metrics, params, tags, lineage
  // Opens through mounts, as last flushed (index/usage.h); a damaged usage
  // record shows as never used rather than failing the whole record.
  auto used = s.UsageOf(v.model_id, v.number);
  j["last_used_at"] = used ? json(FormatTime(used->last_used_at_ns)) : json(nullptr);
  j["use_count"] = used ? used->use_count : 0;
  json files = json::array();
  MODELFS_RETURN_IF_ERROR(s.ForEachPath(v, [&](const std::string& path, const Entry& e) {
    if (e.is_link())
      files.push_back({{"path", path},
                       {"size", e.size},
                       {"mode", ModeString(e.mode)},
                       {"digest", e.digest.hex()},
                       {"type", "symlink"},
                       {"target", e.target}});
    else if (!e.is_dir())
      files.push_back({{"path", path},
                       {"size", e.size},
                       {"mode", ModeString(e.mode)},
                       {"digest", e.digest.hex()},
                       {"type", "file"}});
    return true;
  }));
  j["files"] = files;
  return j;
}

json ModelJson(const Snapshot& s, const Model& m, Status* error) {
  // Keeps the first failure: the row is still shown with what could be read.
  auto note = [error](const Status& st) {
    if (error->ok() && !st.ok()) *error = st;
  };
  uint64_t count = 0;
  note(s.ForEachVersion(m.id, 0, [&](const Version&) {
    ++count;
    return true;
  }));
  json aliases = json::object();
  note(s.ForEachAlias(m.id, "", [&](const Alias& a) {
    aliases[a.name] = a.version;
    return true;
  }));
  Status read;
  uint32_t latest = s.LatestReady(m.id, &read);
  note(read);
  return {{"model", m.name},
          {"versions", count},
          {"latest", latest ? json(latest) : json(nullptr)},
          {"next_version", m.next_version},
          {"aliases", aliases},
          {"description", m.description},
          {"owner", m.owner},
          {"created_at", FormatTime(m.created_at_ns)},
          {"created_by", m.created_by}};
}

json AuditJson(const AuditRecord& r) {
  return {{"seq", r.seq},
          {"time", FormatTime(r.at_ns)},
          {"uid", r.uid},
          {"user", r.user},
          {"action", r.action},
          {"model", r.model},
          {"version", r.version ? json(r.version) : json(nullptr)},
          {"alias", r.alias},
          {"object", r.object},
          {"before", r.before},
          {"after", r.after},
          {"allowed", r.allowed},
          {"reason", r.reason},
          {"host", r.host.empty() ? json(nullptr) : json(r.host)}};
}

namespace {

// A value as one line of text: strings escaped, anything else as JSON.
std::string Str(const json& j) {
  return j.is_string() ? EscapeText(j.get_ref<const std::string&>()) : DumpJson(j, -1);
}

std::string Join(const json& arr) {
  std::string out;
  for (const auto& x : arr) {
    if (!out.empty()) out += ',';
    out += Str(x);
  }
  return out;
}

}  // namespace

std::string VersionText(const json& v) {
  std::ostringstream o;
  o << FormatRef(v["model"].get<std::string>(), v["version"].get<uint32_t>()) << "\n";
  auto line = [&](const char* k, const std::string& val) {
    if (!val.empty()) o << "  " << k << ":" << std::string(13 - std::string(k).size(), ' ') << val << "\n";
  };
  line("state", Str(v["state"]));
  line("digest", Str(v["digest"]));
  uint64_t bytes = v["size"].get<uint64_t>();
  line("size", FormatSize(bytes) + (bytes >= 1024 ? " (" + std::to_string(bytes) + " bytes)" : "") +
                   " in " + Count(v["file_count"].get<uint64_t>(), "file"));
  line("created", Str(v["created_at"]) + " by " + Str(v["created_by"]));
  line("description", Str(v["description"]));
  line("aliases", Join(v["aliases"]));
  const json& a = v["approval"];
  std::string appr = Str(a["status"]);
  if (!Str(a["by"]).empty()) appr += " by " + Str(a["by"]) + " at " + Str(a["at"]);
  if (!Str(a["comment"]).empty()) appr += ": " + Str(a["comment"]);
  line("approval", appr);
  line("last used", v["last_used_at"].is_null()
                        ? std::string("never")
                        : Str(v["last_used_at"]) + " (" +
                              Count(v["use_count"].get<uint64_t>(), "open") + ")");
  for (const char* fam : {"metrics", "params", "tags"}) {
    if (v[fam].empty()) continue;
    o << "  " << fam << ":\n";
    for (auto it = v[fam].begin(); it != v[fam].end(); ++it)
      o << "    " << EscapeText(it.key()) << " = " << Str(it.value()) << "\n";
  }
  const json& l = v["lineage"];
  if (!l["parents"].empty() || !l["datasets"].empty() || !Str(l["code"]).empty() ||
      !Str(l["run"]).empty()) {
    o << "  lineage:\n";
    if (!l["parents"].empty()) o << "    parents  = " << Join(l["parents"]) << "\n";
    if (!l["datasets"].empty()) o << "    datasets = " << Join(l["datasets"]) << "\n";
    if (!Str(l["code"]).empty()) o << "    code     = " << Str(l["code"]) << "\n";
    if (!Str(l["run"]).empty()) o << "    run      = " << Str(l["run"]) << "\n";
  }
  o << "  files:\n";
  for (const auto& f : v["files"]) {
    char size[16];
    std::snprintf(size, sizeof size, "%9s", FormatSize(f["size"].get<uint64_t>()).c_str());
    o << "    " << Str(f["mode"]) << " " << size << "\t" << Str(f["path"]);
    if (f.contains("target")) o << " -> " << Str(f["target"]);
    o << "\n";
  }
  return o.str();
}

std::string AuditText(const AuditRecord& r) {
  std::string s = FormatTime(r.at_ns) + "  " + r.user + "(" + std::to_string(r.uid) + ")  " +
                  (r.allowed ? "" : "DENIED ") + r.action + " " + r.object;
  if (!r.before.empty() || !r.after.empty()) s += "  " + r.before + " -> " + r.after;
  if (!r.reason.empty()) s += "  (" + r.reason + ")";
  return EscapeText(s);
}

}  // namespace modelfs::cli
