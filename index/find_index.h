// The find index: a secondary LMDB table ("find") from a version's values to
// the version, so that a selective `find` reads a range of keys instead of
// decoding every version. Keys only (the values are empty):
//
//   'm' metric-key 0x00 f64(8)                 model_id(8) number(4)
//   'p' param-key  0x00 text 0x00 0x01         model_id(8) number(4)
//   't' tag-key    0x00 text 0x00 0x01         model_id(8) number(4)
//
// f64 is the metric as an order-preserving 8-byte big-endian encoding (a
// range of values is a range of keys); text is the value's first
// kIndexedTextBytes bytes, each 0x00 written 0x00 0xFF so the 0x00 0x01
// terminator sorts below any continuation. A longer value shares its key
// with every value of the same prefix: the index gives candidates, and the
// expression is always checked again on the version itself.
//
// WriteTxn::PutVersion and DelVersion keep it in the transaction of every
// change of a version; Registry builds it when an index has none (meta
// "find_index") and fsck checks it against the versions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "index/records.h"

namespace modelfs::findindex {

// The part of a text value kept in a key (LMDB keys are at most 511 bytes:
// 1 + a 128-byte key + 1 + 2 × 160 escaped + 2 + 12 fits).
inline constexpr size_t kIndexedTextBytes = 160;

// The keys of version `v`, sorted.
std::vector<std::string> KeysOf(const Version& v);

// 8 bytes that sort as the doubles do (-0 as 0).
std::string EncodeDouble(double d);
double DecodeDouble(std::string_view b);

// 'm' key 0x00: every value of metric `key`.
std::string MetricPrefix(std::string_view key);
// 'p'/'t' key 0x00: every value of param/tag `key` (kind 'p' or 't').
std::string TextPrefix(char kind, std::string_view key);
// ... and the entries of one value.
std::string TextValuePrefix(char kind, std::string_view key, std::string_view value);

// The version a key names: its model id and number (the last 12 bytes).
struct VersionRef {
  uint64_t model_id = 0;
  uint32_t number = 0;
  auto operator<=>(const VersionRef&) const = default;
};
VersionRef RefOf(std::string_view key);

}  // namespace modelfs::findindex
