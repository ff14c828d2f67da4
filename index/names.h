// Validation and parsing of the names and values users type: model and alias
// names, metadata keys, metric values, references such as churn@12. One
// implementation serves the CLI and the mount, so both reject the same input
// with the same message.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "index/status.h"

namespace modelfs {

inline constexpr size_t kMaxMetaValue = 4096;  // SPEC §3: values ≤ 4096 bytes

Status CheckModelName(std::string_view name);
Status CheckAliasName(std::string_view name);
// Keys <k> of user.metrics.<k> etc.: ^[A-Za-z0-9_.-]{1,128}$
Status CheckMetaKey(std::string_view key);

// Text stored in the registry is UTF-8, so that every record can be shown
// as JSON. CheckText: Invalid, naming `what`, when `text` is not valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included).
// Control characters are allowed: a description may span lines.
Status CheckText(std::string_view what, std::string_view text);
// A path of a file or directory inside a version ("conf/params.json"): valid
// UTF-8 without control characters (U+0000-U+001F, U+007F-U+009F), so that
// a listing is one line per file. Invalid names the path, escaped.
Status CheckEntryPath(std::string_view path);
// `text` as it can be printed on one line: control characters as \n, \t,
// \r, \xNN (C0, DEL) or \uNNNN (C1), bytes that are not UTF-8 as \xNN;
// the rest unchanged. Backslashes are not doubled: the form is for people.
std::string EscapeText(std::string_view text);
// A version directory name "v<N>", N ≥ 1 without leading zeros; 0 if not one.
uint32_t ParseVersionDir(std::string_view name);
// A finite decimal number such as 0.913 or -2e-3; rejects "nan", "inf", "",
// trailing garbage and hex.
Result<double> ParseMetric(std::string_view key, std::string_view text);
// The one form a metric value is printed in, everywhere (xattrs, show,
// show --json, log, gate reasons): text that reads back as the same double,
// a whole number without a fraction ("14", not "14.0"), else JSON's
// shortest round-trip form (0.913, 0.0001, 1e-07, 1.5e+20).
std::string FormatMetric(double v);
// The same value as a JSON number whose text is exactly FormatMetric(v):
// an integer when v is a whole number below 2^53 in magnitude.
nlohmann::json MetricJson(double v);
// A positive decimal version number.
Result<uint32_t> ParseVersionNumber(std::string_view text);

// "a,b,c" lists, as xattrs and the CLI show them. SplitList trims spaces
// around items and drops empty ones.
std::string JoinList(const std::vector<std::string>& items);
std::vector<std::string> SplitList(std::string_view text);

// MODEL, MODEL@N or MODEL@ALIAS; MODEL@vN is MODEL@N, as the mount names
// version directories (no alias has the form v<digits>).
struct Ref {
  std::string model;
  uint32_t version = 0;  // 0 when not given as a number
  std::string alias;     // set when given as @ALIAS
};
Result<Ref> ParseRef(std::string_view text);
// "MODEL@N": the one way a version is named in messages, records and output.
std::string FormatRef(std::string_view model, uint32_t number);
// MODEL@N, the form parents take (lineage).
Result<Ref> ParseVersionRef(std::string_view text);
// "churn@12": the one way a version is named in messages, audit records and
// lineage; ParseVersionRef reads it back.
std::string FormatRef(std::string_view model, uint32_t number);

// Did-you-mean: the candidates nearest to `word` by edit distance (optimal
// string alignment: insert, delete, substitute or swap two neighbours, each
// one step), all of those at the smallest distance, sorted; none when even
// the nearest is further than a third of `word`'s length (at least 1, at
// most 3) steps, or is `word` itself.
std::vector<std::string> Nearest(std::string_view word, const std::vector<std::string>& candidates);
// The steps Nearest counts from `a` to `b`.
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace modelfs
