// Unit tests of index/names: the UTF-8 rule for text kept in the registry
// (CheckText, CheckEntryPath) and the escaped form text output uses.
#include "index/names.h"

#include "tests/unit/fixture.h"

using namespace modelfs;

TEST_CASE("CheckText accepts UTF-8 and refuses everything else", "[names]") {
  for (std::string ok : {"", "plain", "caf\xc3\xa9", "\xe2\x82\xac 5", "\xf0\x9f\x98\x80",
                         "two\nlines\ttab", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf"}) {
    INFO(EscapeText(ok));
    CHECK(CheckText("value", ok).ok());
  }
  for (std::string bad : {"x\xff\xfe", "\x80", "caf\xc3", "\xc0\xaf", "\xe0\x80\xaf",
                          "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "ab\xe2\x82"}) {
    INFO(EscapeText(bad));
    Status st = CheckText("value of tags.x", bad);
    CHECK(st.code() == Code::kInvalid);
    CHECK(st.message().find("value of tags.x") != std::string::npos);
    CHECK(st.message().find("not valid UTF-8") != std::string::npos);
  }
  // The message shows the bytes escaped, never raw.
  Status st = CheckText("value", "x\xff\xfe");
  CHECK(st.message().find("\"x\\xff\\xfe\"") != std::string::npos);
  CHECK(st.message().find('\xff') == std::string::npos);
  // A long value is shown by its start.
  st = CheckText("value", std::string(4000, 'a') + "\xff");
  CHECK(st.message().size() < 200);
  CHECK(st.message().find("(byte 4001)") != std::string::npos);
}

TEST_CASE("paths in a version are UTF-8 without control characters", "[names]") {
  CHECK(CheckEntryPath("model.onnx").ok());
  CHECK(CheckEntryPath("conf/caf\xc3\xa9 1.json").ok());
  for (std::string bad : {"x\xff\xfe", "dir/x\xff", "a\nb", "tab\there", "del\x7f", "csi\xc2\x9b",
                          "nul"}) {
    if (bad == "nul") bad = std::string("a\0b", 3);
    INFO(EscapeText(bad));
    Status st = CheckEntryPath(bad);
    CHECK(st.code() == Code::kInvalid);
    CHECK(st.message().find(EscapeText(bad)) != std::string::npos);
  }
  CHECK(CheckEntryPath("a\nb").message().find("control character") != std::string::npos);
  CHECK(CheckEntryPath("x\xff").message().find("not valid UTF-8") != std::string::npos);
}

TEST_CASE("EscapeText keeps UTF-8 and escapes controls and stray bytes", "[names]") {
  CHECK(EscapeText("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(EscapeText("a\nb\tc\rd") == "a\\nb\\tc\\rd");
  CHECK(EscapeText("x\xff\xfe") == "x\\xff\\xfe");
  CHECK(EscapeText(std::string("\x1b[31m\0", 6)) == "\\x1b[31m\\x00");
  CHECK(EscapeText("\x7f") == "\\x7f");
  CHECK(EscapeText("\xc2\x9b" "2J \xc2\xa0") == "\\u009b2J \xc2\xa0");  // C1 escaped, NBSP kept
  CHECK(EscapeText("caf\xc3") == "caf\\xc3");  // a sequence cut short
}

TEST_CASE("MODEL@vN names version N, as the mount's v<N> directories do", "[names]") {
  auto r = ParseRef("churn@v12");
  REQUIRE(r.ok());
  CHECK(r->model == "churn");
  CHECK(r->version == 12);
  CHECK(r->alias.empty());
  CHECK(ParseVersionRef("features@v7")->version == 7);
  // Parents given as MODEL@vN are kept as MODEL@N (metadata.cc stores ref()).
  for (const char* bad : {"churn@v0", "churn@v01", "churn@v99999999999"}) {
    INFO(bad);
    CHECK(ParseRef(bad).status().code() == Code::kInvalid);
  }
  // "v" alone, or v followed by anything but a digit, is an alias name.
  CHECK(ParseRef("churn@v")->alias == "v");
  CHECK(ParseRef("churn@vx")->alias == "vx");
  CHECK(ParseRef("churn@v-1")->alias == "v-1");
  // v, digits, then anything else is an alias too (found by fuzz/names).
  CHECK(ParseRef("churn@v1x")->alias == "v1x");
  CHECK(ParseRef("m@v4v2795")->alias == "v4v2795");
  CHECK(ParseRef("churn@v2-old")->alias == "v2-old");
}

TEST_CASE("Nearest suggests the closest names, and none that are far", "[names]") {
  CHECK(EditDistance("churn", "churn") == 0);
  CHECK(EditDistance("chrun", "churn") == 1);  // a swap is one step
  CHECK(EditDistance("shwo", "show") == 1);
  CHECK(EditDistance("", "abc") == 3);
  CHECK(EditDistance("kitten", "sitting") == 3);
  std::vector<std::string> models = {"churn", "fraud", "churn-eu", "features"};
  CHECK(Nearest("chrun", models) == std::vector<std::string>{"churn"});
  CHECK(Nearest("fruad", models) == std::vector<std::string>{"fraud"});
  CHECK(Nearest("featurs", models) == std::vector<std::string>{"features"});
  CHECK(Nearest("churn", models).empty());        // the word itself is no suggestion
  CHECK(Nearest("zzzzz", models).empty());        // nothing near
  CHECK(Nearest("ab", {"xy", "ac"}) == std::vector<std::string>{"ac"});
  CHECK(Nearest("prodution", {"production", "staging"}) == std::vector<std::string>{"production"});
  // Ties are all given, sorted.
  CHECK(Nearest("cat", {"bat", "hat", "cart"}) == std::vector<std::string>{"bat", "cart", "hat"});
}
