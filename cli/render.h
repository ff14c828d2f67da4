// How the CLI shows registry records: JSON objects with the keys SPEC §5
// names (show --json, list --json) and the plain-text forms for people.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "index/registry.h"

namespace modelfs::cli {

// One version with its files: the object `show --json` prints. Fails if
// the version's files cannot be read from the snapshot.
Result<nlohmann::json> VersionJson(const Snapshot& s, const Version& v);
// One model: name, counts, latest, aliases.
nlohmann::json ModelJson(const Snapshot& s, const Model& m);
nlohmann::json AuditJson(const AuditRecord& r);

// The text form of `show`.
std::string VersionText(const nlohmann::json& v);
std::string AuditText(const AuditRecord& r);
std::string ModeString(uint32_t mode);  // "0444"

}  // namespace modelfs::cli
