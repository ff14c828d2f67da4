// How the CLI shows registry records: JSON objects with the keys SPEC §5
// names (show --json, list --json) and the plain-text forms for people.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "index/registry.h"

namespace modelfs::cli {

// One version with its files: the object `show --json` prints. Fails
// (Corrupt, naming the record) when a record it is made of cannot be read.
Result<nlohmann::json> VersionJson(const Snapshot& s, const Version& v);
// One model: name, counts, latest, aliases. A damaged version or alias
// record is left out of the row and the first such failure is kept in
// *error, so a listing can show the row and still report the damage.
nlohmann::json ModelJson(const Snapshot& s, const Model& m, Status* error);
nlohmann::json AuditJson(const AuditRecord& r);

// `j` as JSON text, indented by `indent`. Text in records written before
// the registry refused what is not UTF-8 may still hold such bytes: they are
// printed as U+FFFD rather than aborting the output (nlohmann's default).
std::string DumpJson(const nlohmann::json& j, int indent = 2);

// The text forms below print every string through EscapeText: a name with a
// newline stays on its line, and no stray byte reaches the terminal.
// The text form of `show`.
std::string VersionText(const nlohmann::json& v);
std::string AuditText(const AuditRecord& r);
std::string ModeString(uint32_t mode);  // "0444"
// A size for people, in powers of 1024 as ls -lh and du -h count them:
// "512 B", "1.5 KiB", "12 MiB", "3.0 GiB" (one decimal below 10). Tables
// and text show these; --json keeps exact bytes.
std::string FormatSize(uint64_t bytes);
// "1 file", "3 files": `n` and `noun`, plural unless n is 1.
inline std::string Count(uint64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// --quiet: commands print their results and errors only, no progress bars
// or confirmations. Set once by main.cc after parsing.
void SetQuiet(bool quiet);
bool Quiet();

}  // namespace modelfs::cli
