// Name and value validation shared by the CLI and the mount (SPEC §3).
#include "index/names.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace modelfs {
namespace {

bool IsLowerDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Whether the UTF-8 sequence of `n` bytes at the start of `s` is a control
// character: C0 and DEL, or C1 (U+0080-U+009F, which terminals may obey too).
bool IsControlSequence(std::string_view s, size_t n) {
  auto c = static_cast<unsigned char>(s[0]);
  if (n == 1) return IsControl(c);
  return n == 2 && c == 0xc2 && static_cast<unsigned char>(s[1]) < 0xa0;
}

// The length of the UTF-8 sequence at the start of `s`, or 0 when it is not
// one (RFC 3629: shortest form only, no surrogates, at most U+10FFFF).
size_t Utf8Length(std::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n == 0 || s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i)
    if ((b(i) & 0xc0) != 0x80) return 0;
  // The second byte's range rules out overlong forms, surrogates and
  // code points past U+10FFFF.
  if (c == 0xe0 && b(1) < 0xa0) return 0;
  if (c == 0xed && b(1) > 0x9f) return 0;
  if (c == 0xf0 && b(1) < 0x90) return 0;
  if (c == 0xf4 && b(1) > 0x8f) return 0;
  return n;
}

// Where `s` stops being UTF-8 (npos if it never does); with `no_controls`,
// a control character stops it too.
size_t FirstBad(std::string_view s, bool no_controls) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8Length(s.substr(i));
    if (n == 0 || (no_controls && IsControlSequence(s.substr(i), n))) return i;
    i += n;
  }
  return std::string_view::npos;
}

std::string Quote(std::string_view s) { return "\"" + EscapeText(s) + "\""; }

}  // namespace

std::string EscapeText(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8Length(s.substr(i));
    auto c = static_cast<unsigned char>(s[i]);
    if (n != 0 && !IsControlSequence(s.substr(i), n)) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    if (n == 2) {  // C1: shown by its code point
      char buf[8];
      unsigned cp = (c & 0x1fu) << 6 | (static_cast<unsigned char>(s[i + 1]) & 0x3fu);
      snprintf(buf, sizeof buf, "\\u%04x", cp);
      out += buf;
      i += 2;
      continue;
    }
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
    ++i;
  }
  return out;
}

Status CheckText(std::string_view what, std::string_view text) {
  size_t bad = FirstBad(text, false);
  if (bad == std::string_view::npos) return Status::Ok();
  // A value may be 4096 bytes: the message shows its start.
  constexpr size_t kShown = 64;
  std::string shown = text.size() > kShown ? Quote(text.substr(0, kShown)) + "..." : Quote(text);
  return Status::Invalid(std::string(what) + " " + shown + " is not valid UTF-8 (byte " +
                         std::to_string(bad + 1) + ")");
}

Status CheckEntryPath(std::string_view path) {
  size_t bad = FirstBad(path, true);
  if (bad == std::string_view::npos) return Status::Ok();
  bool control = Utf8Length(path.substr(bad)) != 0;
  return Status::Invalid("file name " + Quote(path) +
                         (control ? " contains a control character"
                                  : " is not valid UTF-8") +
                         ": names in a version must be UTF-8 text without control characters");
}

Status CheckModelName(std::string_view name) {
  if (name.empty()) return Status::Invalid("model name is empty");
  if (name.size() > 128)
    return Status::Invalid("model name " + Quote(name) + " is longer than 128 characters");
  if (name == "." || name == "..")
    return Status::Invalid("model name " + Quote(name) + " is not allowed");
  if (!IsLowerDigit(name[0]))
    return Status::Invalid("model name " + Quote(name) +
                           " must start with a lowercase letter or digit (^[a-z0-9][a-z0-9._-]*$)");
  for (char c : name) {
    if (!(IsLowerDigit(c) || c == '.' || c == '_' || c == '-'))
      return Status::Invalid("model name " + Quote(name) +
                             " may contain only a-z, 0-9, '.', '_' and '-'");
  }
  return Status::Ok();
}

Status CheckAliasName(std::string_view name) {
  if (name.empty()) return Status::Invalid("alias name is empty");
  if (name.size() > 64)
    return Status::Invalid("alias name " + Quote(name) + " is longer than 64 characters");
  if (name == "latest")
    return Status::Invalid("alias name \"latest\" is reserved: it always names the highest ready version");
  if (!(name[0] >= 'a' && name[0] <= 'z'))
    return Status::Invalid("alias name " + Quote(name) +
                           " must start with a lowercase letter (^[a-z][a-z0-9_-]*$)");
  for (char c : name) {
    if (!(IsLowerDigit(c) || c == '_' || c == '-'))
      return Status::Invalid("alias name " + Quote(name) + " may contain only a-z, 0-9, '_' and '-'");
  }
  if (name.size() > 1 && name[0] == 'v' &&
      name.find_first_not_of("0123456789", 1) == std::string_view::npos)
    return Status::Invalid("alias name " + Quote(name) + " looks like a version directory (v<N>)");
  return Status::Ok();
}

Status CheckMetaKey(std::string_view key) {
  if (key.empty() || key.size() > 128)
    return Status::Invalid("metadata key " + Quote(key) + " must be 1 to 128 characters");
  for (char c : key) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok)
      return Status::Invalid("metadata key " + Quote(key) +
                             " may contain only A-Z, a-z, 0-9, '_', '.' and '-'");
  }
  return Status::Ok();
}

uint32_t ParseVersionDir(std::string_view name) {
  if (name.size() < 2 || name[0] != 'v' || name[1] == '0' || name.size() > 11) return 0;
  uint64_t n = 0;
  for (size_t i = 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return n > UINT32_MAX ? 0 : static_cast<uint32_t>(n);
}

Result<uint32_t> ParseVersionNumber(std::string_view text) {
  uint32_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || n == 0 ||
      (text.size() > 1 && text[0] == '0'))
    return Status::Invalid("version " + Quote(text) + " is not a positive whole number");
  return n;
}

Result<double> ParseMetric(std::string_view key, std::string_view text) {
  std::string what = "metric " + std::string(key) + "=" + Quote(text);
  if (text.empty()) return Status::Invalid(what + " has no value");
  // Accept only the decimal syntax: digits, sign, '.', exponent.
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
      return Status::Invalid(what + " is not a finite decimal number");
  }
  // from_chars takes no leading '+', but "+0.5" is a fine way to write 0.5.
  std::string_view num = text[0] == '+' ? text.substr(1) : text;
  double v = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  bool double_sign = num != text && !num.empty() && (num[0] == '+' || num[0] == '-');
  if (num.empty() || double_sign || ec != std::errc() || p != num.data() + num.size() ||
      !std::isfinite(v))
    return Status::Invalid(what + " is not a finite decimal number");
  return v;
}

nlohmann::json MetricJson(double v) {
  // Whole numbers print as integers: nlohmann writes 14.0 for the double,
  // and people write (and policy gates compare) 14. Below 2^53 every whole
  // double is exact as an int64; above, JSON's form is 1e+20 already.
  constexpr double kExact = 9007199254740992.0;  // 2^53
  if (std::isfinite(v) && std::trunc(v) == v && std::fabs(v) < kExact)
    return nlohmann::json(static_cast<int64_t>(v));
  return nlohmann::json(v);
}

std::string FormatMetric(double v) { return MetricJson(v).dump(); }

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t c = s.find(',', start);
    if (c == std::string_view::npos) c = s.size();
    std::string_view item = s.substr(start, c - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = c + 1;
  }
  return out;
}

Result<Ref> ParseRef(std::string_view text) {
  Ref ref;
  auto at = text.find('@');
  ref.model = std::string(text.substr(0, at));
  MODELFS_RETURN_IF_ERROR(CheckModelName(ref.model));
  if (at == std::string_view::npos) return ref;
  std::string_view rest = text.substr(at + 1);
  if (rest.empty()) return Status::Invalid("reference " + Quote(text) + " has nothing after '@'");
  // MODEL@vN as well as MODEL@N: what `ls` of the mount shows can be typed.
  // Only v<digits>: "v1beta" is an alias name like any other (CheckAliasName).
  bool v_form = rest.size() > 1 && rest[0] == 'v' &&
                rest.find_first_not_of("0123456789", 1) == std::string_view::npos;
  if (v_form) rest.remove_prefix(1);
  if (v_form || (rest[0] >= '0' && rest[0] <= '9')) {
    auto n = ParseVersionNumber(rest);
    if (!n.ok()) return Status::Invalid("reference " + Quote(text) + ": " + n.status().message());
    ref.version = *n;
  } else if (rest == "latest") {
    ref.alias = "latest";
  } else {
    MODELFS_RETURN_IF_ERROR(CheckAliasName(rest));
    ref.alias = std::string(rest);
  }
  return ref;
}

Result<Ref> ParseVersionRef(std::string_view text) {
  auto r = ParseRef(text);
  if (!r.ok()) return r;
  if (r->version == 0)
    return Status::Invalid("reference " + Quote(text) + " must name a version as MODEL@N");
  return r;
}

std::string FormatRef(std::string_view model, uint32_t number) {
  return std::string(model) + "@" + std::to_string(number);
}

size_t EditDistance(std::string_view a, std::string_view b) {
  // d[i][j]: steps from a[0,i) to b[0,j).
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, sub});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::vector<std::string> Nearest(std::string_view word, const std::vector<std::string>& candidates) {
  // A third of the word: "prodution" finds "production", "ab" finds
  // nothing three letters away.
  size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3);
  size_t best = limit + 1;
  std::vector<std::string> out;
  for (const auto& c : candidates) {
    if (c == word) continue;
    // Lengths alone bound the distance: skip the table for hopeless ones.
    size_t gap = c.size() > word.size() ? c.size() - word.size() : word.size() - c.size();
    if (gap > limit) continue;
    size_t d = EditDistance(word, c);
    if (d > best) continue;
    if (d < best) out.clear();
    best = d;
    out.push_back(c);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace modelfs
