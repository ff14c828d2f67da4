// How the CLI shows registry records: JSON objects with the keys SPEC §5
// names (show --json, list --json) and the plain-text forms for people.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "index/registry.h"

namespace modelfs::cli {

// One version with its files: the object `show --json` prints. A record it
// cannot read (a damaged file entry or alias) leaves out what it held; the
// first such failure goes to *error when given, for the caller to report.
nlohmann::json VersionJson(const Snapshot& s, const Version& v, bool with_files = true,
                           Status* error = nullptr);
// One model: name, counts, latest, aliases; read failures as VersionJson.
nlohmann::json ModelJson(const Snapshot& s, const Model& m, Status* error = nullptr);
// One audit record; "version" is null and "alias" "" when it names none.
nlohmann::json AuditJson(const AuditRecord& r);

// The text form of `show`.
std::string VersionText(const nlohmann::json& v);
std::string AuditText(const AuditRecord& r);
std::string ModeString(uint32_t mode);  // "0444"

}  // namespace modelfs::cli
