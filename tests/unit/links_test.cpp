// Unit tests of symlinks inside versions (index/links.h): the rule itself
// (CheckVersionLinks), and seal and push applying it: a relative link that
// resolves inside the version is kept as a symlink Entry; anything else
// refuses the whole seal or push, naming the link and what to do instead.
// gc and fsck handle a link as what it is: no blob.
#include <sys/stat.h>
#include <unistd.h>

#include "index/links.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;

namespace {

TreeItem Dir(const std::string& rel) { return {rel, true, 040555u, 0, {}, {}}; }
TreeItem File(const std::string& rel) { return {rel, false, 0100444u, 1, {}, {}}; }
TreeItem Link(const std::string& rel, const std::string& target) {
  return {rel, false, kSymlinkMode, target.size(), {}, target};
}

Status Check(std::vector<TreeItem> items) {
  return CheckVersionLinks(items, "churn@3", "use cp -L");
}

// The entry at `path` of a version.
Result<Entry> EntryAt(Registry& reg, const Version& v, const std::string& path) {
  auto snap = reg.Read();
  if (!snap.ok()) return snap.status();
  Result<Entry> found = Status::NotFound(path);
  Status st = snap->ForEachPath(v, [&](const std::string& p, const Entry& e) {
    if (p == path) found = e;
    return true;
  });
  if (!st.ok()) return st;
  return found;
}

}  // namespace

TEST_CASE("a link is kept when it resolves inside the version", "[links]") {
  std::vector<TreeItem> tree = {Dir("shards"), File("shards/model-00001.safetensors"),
                                Dir("a"), Dir("a/b"), File("a/b/c.txt")};
  auto with = [&](std::vector<TreeItem> more) {
    auto t = tree;
    t.insert(t.end(), more.begin(), more.end());
    return Check(t);
  };
  CHECK(with({Link("model.safetensors", "shards/model-00001.safetensors")}).ok());
  CHECK(with({Link("a/b/up", "../../shards/./model-00001.safetensors")}).ok());
  CHECK(with({Link("dir", "a/b")}).ok());                       // to a directory
  CHECK(with({Link("l1", "l2"), Link("l2", "a/b/c.txt")}).ok());  // a chain
  CHECK(with({Link("via", "a/b"), Link("x", "via/c.txt")}).ok());  // through a linked directory
  // ".." after a linked directory is that directory's parent (as the kernel does).
  CHECK(with({Link("via", "a/b"), Link("y", "via/../b/c.txt")}).ok());
}

TEST_CASE("a link that is absolute, escapes, dangles or loops is refused naming it",
          "[links]") {
  std::vector<TreeItem> tree = {Dir("a"), File("a/f")};
  auto refused = [&](TreeItem link, const std::string& why) {
    auto t = tree;
    t.push_back(link);
    Status st = Check(t);
    REQUIRE_FALSE(st.ok());
    CHECK(st.code() == Code::kInvalid);
    CHECK_THAT(st.message(), Catch::Contains("churn@3: symlink " + link.rel + " -> " + link.target));
    CHECK_THAT(st.message(), Catch::Contains(why));
    CHECK_THAT(st.message(), Catch::Contains("use cp -L"));
  };
  refused(Link("abs", "/etc/passwd"), "is absolute");
  refused(Link("up", "../v2/model.bin"), "leads outside the version");
  refused(Link("a/up", "../../x"), "leads outside the version");
  refused(Link("a/up", "f/../../../x"), "passes through a file");
  refused(Link("gone", "a/missing"), "which the version does not have");
  refused(Link("empty", ""), "empty target");
  {
    auto t = tree;
    t.push_back(Link("l1", "l2"));
    t.push_back(Link("l2", "l1"));
    Status st = Check(t);
    CHECK_THAT(st.message(), Catch::Contains("too many levels of symbolic links"));
  }
  {
    // Escaping through another link is escaping too.
    auto t = tree;
    t.push_back(Link("a/out", ".."));
    t.push_back(Link("x", "a/out/../secret"));
    Status st = Check(t);
    CHECK_THAT(st.message(), Catch::Contains("leads outside the version"));
  }
}

TEST_CASE("seal keeps symlinks that resolve inside the version, with no blob", "[links]") {
  Fixture f;
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  std::string dir = f.reg->DraftDir(*d);
  REQUIRE(mkdir((dir + "/shards").c_str(), 0755) == 0);
  WriteFile(dir + "/shards/model-00001.safetensors", "weights");
  REQUIRE(symlink("shards/model-00001.safetensors", (dir + "/model.safetensors").c_str()) == 0);
  auto v = f.reg->Seal("churn", 2, Alice());
  REQUIRE(v.ok());
  CHECK(v->files == 2);
  CHECK(v->size == 7);  // a link adds no bytes
  auto e = EntryAt(*f.reg, *v, "model.safetensors");
  REQUIRE(e.ok());
  CHECK(e->is_link());
  CHECK(e->mode == kSymlinkMode);
  CHECK(e->target == "shards/model-00001.safetensors");
  CHECK(e->digest == LinkDigest("shards/model-00001.safetensors"));
  CHECK_FALSE(f.reg->blobs().Exists(e->digest));
  // fsck finds nothing wrong (no blob expected), gc removes nothing of it.
  auto rep = f.reg->Fsck(false, Alice());
  REQUIRE(rep.ok());
  CHECK(rep->problems.empty());
  auto gc = f.reg->Gc(GcOptions{}, Alice());
  REQUIRE(gc.ok());
  CHECK(gc->removed.empty());
}

TEST_CASE("seal refuses a link leading outside the version and keeps the draft", "[links]") {
  Fixture f;
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  std::string dir = f.reg->DraftDir(*d);
  WriteFile(dir + "/config.json", "{}");
  REQUIRE(symlink("../../blobs/ab/cdef", (dir + "/model.safetensors").c_str()) == 0);
  auto v = f.reg->Seal("churn", 2, Alice());
  REQUIRE_FALSE(v.ok());
  CHECK(v.status().code() == Code::kInvalid);
  CHECK_THAT(v.status().message(),
             Catch::Contains("churn@2: symlink model.safetensors -> ../../blobs/ab/cdef leads "
                             "outside the version"));
  CHECK_THAT(v.status().message(), Catch::Contains("cp -L"));
  // Nothing changed: still a draft with its files, nothing left in staging.
  auto snap = f.reg->Read();
  REQUIRE(snap.ok());
  CHECK(snap->GetVersion("churn", 2)->state == State::kDraft);
  CHECK(ReadFile(dir + "/config.json") == "{}");
  int left = 0;
  for (auto& e : std::filesystem::directory_iterator(f.reg->blobs().staging_dir()))
    if (e.path().filename().string().rfind("blob-", 0) == 0) ++left;
  CHECK(left == 0);
  // Fixed (cp -L would copy the bytes): it seals.
  REQUIRE(unlink((dir + "/model.safetensors").c_str()) == 0);
  WriteFile(dir + "/model.safetensors", "bytes");
  CHECK(f.reg->Seal("churn", 2, Alice()).ok());
}

TEST_CASE("push keeps links inside its input, refuses others, follows them with dereference",
          "[links][push]") {
  Fixture f;
  REQUIRE(symlink("model.onnx", (f.src + "/latest.onnx").c_str()) == 0);
  PushRequest req;
  req.model = "churn";
  req.paths = {f.src};
  auto v = f.reg->Push(req, Alice());
  REQUIRE(v.ok());
  auto e = EntryAt(*f.reg, *v, "latest.onnx");
  REQUIRE(e.ok());
  CHECK(e->is_link());
  CHECK(e->target == "model.onnx");

  // The same tree pushed again has the same digest: links count in it.
  auto again = f.reg->Push(req, Alice());
  REQUIRE(again.ok());
  CHECK(again->digest == v->digest);

  // A link out of the input tree: nothing is stored.
  std::string outside = f.tmp.path + "/outside.bin";
  WriteFile(outside, "elsewhere");
  REQUIRE(symlink(outside.c_str(), (f.src + "/abs.bin").c_str()) == 0);
  REQUIRE(symlink("../outside.bin", (f.src + "/rel.bin").c_str()) == 0);
  auto bad = f.reg->Push(req, Alice());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kInvalid);
  CHECK_THAT(bad.status().message(), Catch::Contains("symlink abs.bin -> " + outside + " is absolute"));
  CHECK_THAT(bad.status().message(), Catch::Contains("--dereference"));
  CHECK(f.reg->Read()->GetModel("churn")->next_version == 3);

  // --dereference: every link stored as the bytes it leads to.
  req.dereference = true;
  auto deref = f.reg->Push(req, Alice());
  REQUIRE(deref.ok());
  for (const char* p : {"abs.bin", "rel.bin", "latest.onnx"}) {
    auto fe = EntryAt(*f.reg, *deref, p);
    REQUIRE(fe.ok());
    CHECK(fe->is_file());
    CHECK(f.reg->blobs().Exists(fe->digest));
  }
  CHECK(ReadFile(f.reg->blobs().PathOf(EntryAt(*f.reg, *deref, "rel.bin")->digest)) == "elsewhere");
}

TEST_CASE("a symlink entry round-trips through its record; older records decode as before",
          "[links][records]") {
  Entry e;
  e.id = 9;
  e.parent = 4;
  e.name = "model.safetensors";
  e.mode = kSymlinkMode;
  e.size = 5;
  e.target = "a/b.x";
  e.digest = LinkDigest(e.target);
  Entry back;
  REQUIRE(Decode(Encode(e), &back).ok());
  CHECK(back.is_link());
  CHECK(back.target == "a/b.x");
  CHECK(back.digest == e.digest);
  Entry file;
  file.id = 10;
  file.parent = 4;
  file.name = "w.bin";
  file.mode = 0100444;
  std::string bytes = Encode(file);
  CHECK(bytes.find("lt") == std::string::npos);  // nothing new in a file's record
  REQUIRE(Decode(bytes, &back).ok());
  CHECK(back.is_file());
  CHECK(back.target.empty());
}
