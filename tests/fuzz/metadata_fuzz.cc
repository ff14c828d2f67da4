// Fuzzes index/metadata: metadata keys as `modelfs set` takes them, xattr
// names as setfattr/removexattr send them, and ApplyMeta of a value (any
// bytes) on a version, against a real registry so that lineage.parents are
// looked up. Input: one flags byte, then NAME '\0' VALUE.
//   flags & 1: NAME is an xattr name, else a key;  flags & 2: remove;
//   (flags >> 2) % 3: MetaExpect (any, absent, present).
// Beyond "no crash": keys read back the same from their name and xattr; a
// change that is applied reads back as `after`, is valid UTF-8, and the
// version still encodes and decodes to itself; errors are one printable
// line.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <filesystem>
#include <fstream>

#include "index/metadata.h"
#include "index/registry.h"
#include "tests/fuzz/check.h"

using namespace modelfs;

namespace {

// A registry with churn@1, churn@2 and features@1 (parents to name), in a
// temporary directory (under $TMPDIR) removed at exit.
struct World {
  std::string dir;
  std::unique_ptr<Registry> reg;
  std::optional<Snapshot> snap;
  Version base;

  World() {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/modelfs-fuzz-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) Need(Status::FromErrno("mkdtemp " + tmpl, errno));
    dir = tmpl;
    std::string root = dir + "/reg", src = dir + "/src";
    std::filesystem::create_directories(src);
    std::ofstream(src + "/w.bin") << "weights";
    Need(Registry::Init(root, "# policy\n"));
    auto r = Registry::Open(root);
    Need(r.status());
    reg = std::move(*r);
    for (const char* model : {"churn", "churn", "features"}) {
      PushRequest req;
      req.model = model;
      req.paths = {src};
      Need(reg->Push(req, Actor{1001, "alice"}).status());
    }
    auto s = reg->Read();
    Need(s.status());
    snap.emplace(std::move(*s));
    auto v = snap->GetVersion("churn", 2);
    Need(v.status());
    base = *v;
    base.metrics = {{"auc", 0.91}};
    base.tags = {{"team", "growth"}};
    base.lineage.parents = {"churn@1"};
  }
  ~World() {
    snap.reset();
    reg.reset();
    std::filesystem::remove_all(dir);
  }
  static void Need(const Status& st) {
    if (st.ok()) return;
    fprintf(stderr, "metadata_fuzz: setting up: %s\n", st.message().c_str());
    abort();
  }
};

bool Printable(std::string_view s) { return CheckEntryPath(s).ok(); }

void CheckKey(std::string_view name, bool is_xattr, std::optional<MetaKey>* key) {
  if (is_xattr) {
    auto k = MetaKeyOfXattr(name);
    if (!k) return;
    FUZZ_CHECK(k->xattr() == name, name);
    // Both names of a key with a valid <k> lead back to it.
    if (auto p = ParseMetaKey(k->name()); p.ok()) FUZZ_CHECK(*p == *k, name);
    *key = k;
    return;
  }
  auto k = ParseMetaKey(name);
  if (!k.ok()) {
    FUZZ_CHECK(k.status().code() == Code::kInvalid && Printable(k.status().message()), name);
    return;
  }
  auto again = ParseMetaKey(k->name());
  FUZZ_CHECK(again.ok() && *again == *k, name);
  auto x = MetaKeyOfXattr(k->xattr());
  FUZZ_CHECK(x && *x == *k, name);
  *key = *k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size == 0) return 0;
  std::string_view input = fuzz::Text(data, size);
  uint8_t flags = data[0];
  std::string_view rest = input.substr(1);
  size_t nul = rest.find('\0');
  std::string_view name = rest.substr(0, nul);
  std::string_view value = nul == std::string_view::npos ? "" : rest.substr(nul + 1);

  std::optional<MetaKey> key;
  CheckKey(name, flags & 1, &key);
  // ApplyMeta takes the key as `modelfs set` does; an xattr is mapped first.
  MetaChange c;
  c.key = flags & 1 ? (key ? key->name() : "") : std::string(name);
  if (c.key.empty()) return 0;
  if (!(flags & 2)) c.value = std::string(value);
  c.expect = static_cast<MetaExpect>((flags >> 2) % 3);

  Version v = world.base;
  std::string before, after;
  Status st = ApplyMeta(*world.snap, &v, c, &before, &after);
  if (!st.ok()) {
    FUZZ_CHECK(Printable(st.message()), input);
    return 0;
  }
  FUZZ_CHECK(key.has_value(), input);
  std::optional<std::string> now = GetMeta(v, *key);
  FUZZ_CHECK(now.value_or("") == after, input);
  FUZZ_CHECK(CheckText("value", after).ok(), input);
  FUZZ_CHECK(GetMeta(world.base, *key).value_or("") == before, input);
  if (!c.value) FUZZ_CHECK(!now, input);
  if (c.value && key->field == MetaField::kMetric) {
    auto m = ParseMetric(key->sub, *c.value);
    FUZZ_CHECK(m.ok() && after == FormatMetric(*m), input);
  }
  if (c.value && (key->field == MetaField::kParam || key->field == MetaField::kTag))
    FUZZ_CHECK(after == *c.value, input);
  Version decoded;
  FUZZ_CHECK(Decode(Encode(v), &decoded).ok() && decoded == v, input);
  return 0;
}
