// Fuzzes index/names: the parsers and checks of what users type (MODEL@REF,
// model and alias names, metadata keys, metric values, version numbers and
// directories, lists, digests, text and paths). Beyond "no crash": what is
// accepted reads back the same after formatting, and every message and
// escaped form is one line of valid UTF-8.
#include <cmath>
#include <string>

#include "index/names.h"
#include "index/records.h"
#include "tests/fuzz/check.h"

using namespace modelfs;

namespace {

// A message or escaped text prints on one line, as valid UTF-8.
bool Printable(std::string_view s) { return CheckEntryPath(s).ok(); }

void CheckRef(std::string_view text) {
  auto r = ParseRef(text);
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == Code::kInvalid, text);
    FUZZ_CHECK(Printable(r.status().message()), text);
    FUZZ_CHECK(!ParseVersionRef(text).ok(), text);
    return;
  }
  FUZZ_CHECK(CheckModelName(r->model).ok(), text);
  FUZZ_CHECK(r->version == 0 || r->alias.empty(), text);
  if (r->version != 0) {
    // MODEL@N, or MODEL@vN as the mount names version directories.
    FUZZ_CHECK(FormatRef(r->model, r->version) == text ||
                   r->model + "@v" + std::to_string(r->version) == text,
               text);
    auto v = ParseVersionRef(text);
    FUZZ_CHECK(v.ok() && v->model == r->model && v->version == r->version, text);
  } else {
    FUZZ_CHECK(!ParseVersionRef(text).ok(), text);
    std::string back = r->alias.empty() ? r->model : r->model + "@" + r->alias;
    FUZZ_CHECK(back == text, text);
    FUZZ_CHECK(r->alias.empty() || r->alias == "latest" || CheckAliasName(r->alias).ok(), text);
  }
}

void CheckNames(std::string_view text) {
  std::string s(text);
  if (Status st = CheckModelName(text); st.ok()) {
    auto r = ParseRef(text);
    FUZZ_CHECK(r.ok() && r->model == s && r->version == 0 && r->alias.empty(), text);
  } else {
    FUZZ_CHECK(Printable(st.message()), text);
  }
  if (Status st = CheckAliasName(text); st.ok()) {
    auto r = ParseRef("m@" + s);
    FUZZ_CHECK(r.ok() && r->alias == s && r->version == 0, text);
    FUZZ_CHECK(ParseVersionDir(text) == 0, text);  // v<N> is never an alias
  } else {
    FUZZ_CHECK(Printable(st.message()), text);
  }
  if (Status st = CheckMetaKey(text); !st.ok()) FUZZ_CHECK(Printable(st.message()), text);
}

void CheckNumbers(std::string_view text) {
  if (uint32_t n = ParseVersionDir(text); n != 0) {
    FUZZ_CHECK("v" + std::to_string(n) == text, text);
    auto m = ParseVersionNumber(text.substr(1));
    FUZZ_CHECK(m.ok() && *m == n, text);
  }
  if (auto n = ParseVersionNumber(text); n.ok()) {
    FUZZ_CHECK(*n != 0 && std::to_string(*n) == text, text);
    FUZZ_CHECK(ParseVersionDir("v" + std::string(text)) == *n, text);
  } else {
    FUZZ_CHECK(Printable(n.status().message()), text);
  }
  if (auto v = ParseMetric("k", text); v.ok()) {
    FUZZ_CHECK(std::isfinite(*v), text);
    auto back = ParseMetric("k", FormatMetric(*v));
    FUZZ_CHECK(back.ok() && *back == *v, text);
  } else {
    FUZZ_CHECK(v.status().code() == Code::kInvalid && Printable(v.status().message()), text);
  }
  if (auto d = Digest::FromHex(text); d.ok()) FUZZ_CHECK(d->hex() == text, text);
}

void CheckText(std::string_view text) {
  std::string escaped = EscapeText(text);
  FUZZ_CHECK(Printable(escaped), text);
  Status path = CheckEntryPath(text);
  // Text that is printable already is shown as it is.
  if (path.ok()) FUZZ_CHECK(escaped == text, text);
  else FUZZ_CHECK(Printable(path.message()), text);
  Status utf8 = modelfs::CheckText("value", text);
  if (path.ok()) FUZZ_CHECK(utf8.ok(), text);
  if (!utf8.ok()) FUZZ_CHECK(Printable(utf8.message()) && !path.ok(), text);
}

void CheckLists(std::string_view text) {
  std::vector<std::string> items = SplitList(text);
  for (const auto& i : items) {
    FUZZ_CHECK(!i.empty() && i.find(',') == std::string::npos, text);
    FUZZ_CHECK(i.front() != ' ' && i.back() != ' ', text);
  }
  FUZZ_CHECK(SplitList(JoinList(items)) == items, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::Text(data, size);
  CheckRef(text);
  CheckNames(text);
  CheckNumbers(text);
  CheckText(text);
  CheckLists(text);
  return 0;
}
