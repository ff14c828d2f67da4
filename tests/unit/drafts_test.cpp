// Unit tests of the registry rules the mount relies on, without a mount:
// the draft-writer protocol (DraftWriter, DraftLock) against Seal,
// DiscardDraft and TornDraftFiles; discard modes; alias modes.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/xattr.h>

#include <atomic>
#include <climits>
#include <thread>

#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;
namespace stdfs = std::filesystem;

namespace {

// Opens `rel` in the draft for writing (created if missing).
Result<DraftWriter> Writer(Registry& reg, const Version& d, const std::string& rel,
                           bool truncate = false) {
  std::string path = reg.DraftDir(d) + "/" + rel;
  return reg.OpenDraftWriter(
      d, [&] { return open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644); }, truncate);
}

bool Marked(const std::string& path) {
  char c;
  return getxattr(path.c_str(), Registry::kWritingXattr, &c, 1) >= 0 || errno == ERANGE;
}

}  // namespace

TEST_CASE("a draft writer keeps a seal out until it closes", "[drafts]") {
  Fixture f;
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  std::string file = f.reg->DraftDir(*d) + "/model.onnx";
  {
    auto w = Writer(*f.reg, *d, "model.onnx");
    REQUIRE(w.ok());
    REQUIRE(write(w->fd(), "abc", 3) == 3);
    CHECK(Marked(file));  // marked while open: a crash leaves it torn
    auto w2 = Writer(*f.reg, *d, "model.onnx");  // a second writer of the same file
    REQUIRE(w2.ok());
    CHECK(f.reg->Seal("churn", 2, Alice()).status().code() == Code::kBusy);
    // A live writer's file is not torn.
    auto torn = f.reg->TornDraftFiles(false);
    REQUIRE(torn.ok());
    CHECK(torn->empty());
  }
  CHECK_FALSE(Marked(file));  // the last writer's close removes the mark
  auto sealed = f.reg->Seal("churn", 2, Alice());
  REQUIRE(sealed.ok());
  CHECK(sealed->size == 3);
  // Writers of a sealed draft are refused: it is no longer a draft.
  CHECK(Writer(*f.reg, *d, "late.bin").status().code() == Code::kNotFound);
}

TEST_CASE("no writer starts while a seal holds the draft, whatever process seals", "[drafts]") {
  Fixture f;
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  {
    // What Seal holds from its walk to its commit; flock excludes it from
    // this process's own holds as from another's.
    auto sealing = DraftLock::Take(f.reg->DraftDir(*d), true, "sealing");
    REQUIRE(sealing.ok());
    auto w = Writer(*f.reg, *d, "model.onnx");
    CHECK(w.status().code() == Code::kBusy);
    CHECK_FALSE(stdfs::exists(f.reg->DraftDir(*d) + "/model.onnx"));  // not even opened
  }
  CHECK(Writer(*f.reg, *d, "model.onnx").ok());
}

TEST_CASE("truncation happens only once the writer holds the file", "[drafts]") {
  Fixture f;
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  std::string file = f.reg->DraftDir(*d) + "/a.bin";
  WriteFile(file, "keep me");
  {
    // A seal holding the file (LOCK_EX) makes the writer Busy, and the
    // bytes are not truncated under the seal.
    int held = open(file.c_str(), O_RDONLY);
    REQUIRE(flock(held, LOCK_EX) == 0);
    CHECK(Writer(*f.reg, *d, "a.bin", true).status().code() == Code::kBusy);
    close(held);
  }
  CHECK(ReadFile(file) == "keep me");
  CHECK_FALSE(Marked(file));
  {
    auto w = Writer(*f.reg, *d, "a.bin", true);
    REQUIRE(w.ok());
  }
  CHECK(ReadFile(file).empty());
}

TEST_CASE("a writer that dies leaves a torn file that seal refuses and recovery drops",
          "[drafts]") {
  Fixture f;
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  std::string dir = f.reg->DraftDir(*d);
  WriteFile(dir + "/whole.bin", "whole");
  {
    auto w = Writer(*f.reg, *d, "half.bin");
    REQUIRE(w.ok());
    REQUIRE(write(w->fd(), "ha", 2) == 2);
    // A crash: the descriptor (and its lock) goes, the mark stays.
    int fd = dup(w->fd());
    REQUIRE(fd >= 0);
    *w = DraftWriter();  // released by the process, as at a crash...
    REQUIRE(fsetxattr(fd, Registry::kWritingXattr, "1", 1, 0) == 0);  // ...with the mark left
    close(fd);
  }
  CHECK(f.reg->Seal("churn", 2, Alice()).status().code() == Code::kCorrupt);
  auto torn = f.reg->TornDraftFiles(true);
  REQUIRE(torn.ok());
  CHECK(*torn == std::vector<std::string>{"churn@2 half.bin (2 bytes)"});
  CHECK_FALSE(stdfs::exists(dir + "/half.bin"));
  auto sealed = f.reg->Seal("churn", 2, Alice());
  REQUIRE(sealed.ok());
  CHECK(sealed->files == 1);
}

TEST_CASE("sealing is idempotent and excludes changes of names", "[drafts]") {
  Fixture f;
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  WriteFile(f.reg->DraftDir(*d) + "/m.bin", "m");
  {
    auto change = f.reg->BeginDraftNameChange(*d);
    REQUIRE(change.ok());
    CHECK(f.reg->Seal("churn", 2, Alice()).status().code() == Code::kBusy);
    CHECK(f.reg->DiscardDraft("churn", 2, Alice()).code() == Code::kBusy);
  }
  auto sealed = f.reg->Seal("churn", 2, Alice());
  REQUIRE(sealed.ok());
  uint64_t seq = f.reg->Read()->LastAuditSeq();
  auto again = f.reg->Seal("churn", 2, Alice());
  REQUIRE(again.ok());
  CHECK(again->id == sealed->id);
  CHECK(f.reg->Read()->LastAuditSeq() == seq);  // nothing recorded: nothing happened
  REQUIRE(f.reg->Archive("churn", 2, Alice()).ok());
  CHECK(f.reg->Seal("churn", 2, Alice()).status().code() == Code::kInvalid);
  CHECK(f.reg->CheckDraft(*d).code() == Code::kNotFound);
}

TEST_CASE("discarding: drafts only, empty when asked, never an alias target", "[drafts]") {
  Fixture f;
  f.Push("churn");
  REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  f.Push("churn");
  CHECK(f.reg->DiscardDraft("churn", 1, Alice(), DiscardMode::kMustBeEmpty).code() ==
        Code::kBusy);  // SPEC §4: EBUSY deleting the target of an alias
  CHECK(f.reg->DiscardDraft("churn", 2, Alice(), DiscardMode::kMustBeEmpty).code() ==
        Code::kReadOnly);
  CHECK(f.reg->DiscardDraft("churn", 9, Alice()).code() == Code::kNotFound);
  auto d = f.reg->CreateDraft("churn", 3, Alice());
  REQUIRE(d.ok());
  WriteFile(f.reg->DraftDir(*d) + "/sub/x", "x");
  CHECK(f.reg->DiscardDraft("churn", 3, Alice(), DiscardMode::kMustBeEmpty).code() ==
        Code::kNotEmpty);
  CHECK(f.reg->Read()->GetVersion("churn", 3).ok());  // nothing half-done
  stdfs::remove_all(f.reg->DraftDir(*d) + "/sub");
  REQUIRE(f.reg->DiscardDraft("churn", 3, Alice(), DiscardMode::kMustBeEmpty).ok());
  CHECK_FALSE(f.reg->Read()->GetVersion("churn", 3).ok());
  CHECK_FALSE(stdfs::exists(f.reg->DraftDir(*d)));
}

TEST_CASE("an empty-only discard racing a writer never loses a file", "[drafts]") {
  // rmdir of a draft while another process creates a file in it: either
  // the discard wins (the file was never created) or the file is created
  // and the discard is refused. Never a created file in a discarded draft.
  Fixture f;
  f.Push("churn");
  for (int round = 0; round < 50; ++round) {
    auto d = f.reg->CreateDraft("churn", static_cast<uint32_t>(round + 2), Alice());
    REQUIRE(d.ok());
    std::atomic<bool> go{false};
    bool created = false;
    std::thread writer([&] {
      while (!go) {
      }
      auto change = f.reg->BeginDraftNameChange(*d);
      if (!change.ok()) return;
      if (f.reg->CheckDraft(*d).ok()) {
        WriteFile(f.reg->DraftDir(*d) + "/f.bin", "f");
        created = true;
      }
    });
    go = true;
    Status st = f.reg->DiscardDraft("churn", d->number, Alice(), DiscardMode::kMustBeEmpty);
    writer.join();
    INFO("round " << round << ": " << st.message());
    bool discarded = !f.reg->Read()->GetVersion("churn", d->number).ok();
    CHECK(discarded == st.ok());
    CHECK_FALSE((created && discarded));
    if (!discarded) {
      // Busy (the writer held the names) or NotEmpty (it had written).
      CHECK((st.code() == Code::kBusy || st.code() == Code::kNotEmpty));
      REQUIRE(f.reg->DiscardDraft("churn", d->number, Alice()).ok());
    }
  }
}

TEST_CASE("aliases: create-only, replace-only, and targets checked in the transaction",
          "[aliases]") {
  Fixture f;
  f.Push("churn");
  f.Push("churn");
  REQUIRE(f.reg->CreateDraft("churn", 3, Alice()).ok());
  CHECK(f.reg->SetAlias("churn", "staging", 1, Alice(), {}, AliasMode::kReplace).code() ==
        Code::kNotFound);
  REQUIRE(f.reg->SetAlias("churn", "staging", 1, Alice(), {}, AliasMode::kCreate).ok());
  CHECK(f.reg->SetAlias("churn", "staging", 2, Alice(), {}, AliasMode::kCreate).code() ==
        Code::kExists);
  CHECK(f.reg->Read()->GetAlias(f.reg->Read()->GetModel("churn")->id, "staging")->version == 1);
  REQUIRE(f.reg->SetAlias("churn", "staging", 2, Alice(), {}, AliasMode::kReplace).ok());
  CHECK(f.reg->SetAlias("churn", "staging", 3, Alice()).code() == Code::kInvalid);   // a draft
  CHECK(f.reg->SetAlias("churn", "staging", 7, Alice()).code() == Code::kInvalid);   // none
  CHECK(f.reg->SetAlias("nope", "staging", 1, Alice()).code() == Code::kNotFound);
  CHECK(f.reg->SetAlias("churn", "latest", 1, Alice()).code() == Code::kInvalid);
  // The guard sees the version as committed, and its refusal changes nothing.
  Guard no = [](const Snapshot&, const Version& v, std::string*) {
    return Status::Denied("gate: " + v.ref());
  };
  Status st = f.reg->SetAlias("churn", "staging", 1, Alice(), no);
  CHECK(st.code() == Code::kDenied);
  CHECK(st.message() == "gate: churn@1");
  CHECK(f.reg->Read()->GetAlias(f.reg->Read()->GetModel("churn")->id, "staging")->version == 2);
}

TEST_CASE("seal refuses a draft with a file name that is not UTF-8 text", "[drafts]") {
  for (std::string name : {std::string("x\xff\xfe"), std::string("a\nb"), std::string("d\xc3/ok")}) {
    INFO(EscapeText(name));
    Fixture f;
    f.Push("churn");
    auto d = f.reg->CreateDraft("churn", 2, Alice());
    REQUIRE(d.ok());
    WriteFile(f.reg->DraftDir(*d) + "/model.onnx", "w");
    WriteFile(f.reg->DraftDir(*d) + "/" + name, "w");
    auto sealed = f.reg->Seal("churn", 2, Alice());
    CHECK(sealed.status().code() == Code::kInvalid);
    CHECK(sealed.status().message().find("file name") != std::string::npos);
    CHECK(f.reg->Read()->GetVersion("churn", 2)->state == State::kDraft);
    // Renamed, the draft seals.
    std::string top = name.substr(0, name.find('/'));
    stdfs::rename(f.reg->DraftDir(*d) + "/" + top, f.reg->DraftDir(*d) + "/renamed");
    CHECK(f.reg->Seal("churn", 2, Alice()).ok());
  }
}

TEST_CASE("a draft path seal could not open is refused naming the limit, not EIO", "[drafts]") {
  Fixture f;
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  std::string dir = f.reg->DraftDir(*d);
  size_t max = PATH_MAX - 1 - (dir.size() + 1);  // DraftDir()/PATH fits PATH_MAX
  CHECK(f.reg->CheckDraftPath(*d, std::string(max, 'a')).ok());
  Status st = f.reg->CheckDraftPath(*d, std::string(max + 1, 'a'));
  CHECK(st.sys_errno() == ENAMETOOLONG);
  CHECK(st.message().find(std::to_string(max)) != std::string::npos);
  CHECK(st.message().find("PATH_MAX") != std::string::npos);
  // A tree made deeper than that behind the check's back (by descriptor,
  // as a rename into a deep directory would): seal says the same.
  WriteFile(dir + "/model.onnx", "w");
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  std::string name(250, 'd');
  for (size_t depth = 0; depth * (name.size() + 1) <= max + 1; ++depth) {
    REQUIRE(mkdirat(fd, name.c_str(), 0755) == 0);
    int next = openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(next >= 0);
    close(fd);
    fd = next;
  }
  close(fd);
  auto sealed = f.reg->Seal("churn", 2, Alice());
  CHECK(sealed.status().sys_errno() == ENAMETOOLONG);
  CHECK(sealed.status().message().find("PATH_MAX") != std::string::npos);
  CHECK(f.reg->Read()->GetVersion("churn", 2)->state == State::kDraft);
}

TEST_CASE("a draft's size is the size of its staging files", "[drafts][sparse]") {
  Fixture f;
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  CHECK(f.reg->DraftSize(*d) == 0);
  std::string dir = f.reg->DraftDir(*d);
  WriteFile(dir + "/model.onnx", std::string(5 << 20, 'w'));
  WriteFile(dir + "/conf/params.json", "{}");
  REQUIRE(truncate((WriteFile(dir + "/conf/big.bin", ""), dir + "/conf/big.bin").c_str(),
                   off_t{2} << 30) == 0);  // a hole counts at its size
  symlink("model.onnx", (dir + "/link").c_str());
  CHECK(f.reg->DraftSize(*d) == (5u << 20) + 2 + (uint64_t{2} << 30));

  // The attributes a draft lists show it (the mount passes this size in).
  auto snap = f.reg->Read();
  REQUIRE(snap.ok());
  Version v = *d;
  v.size = f.reg->DraftSize(*d);
  auto xs = VersionAttributes(*snap, v);
  REQUIRE(xs.ok());
  bool found = false;
  for (const auto& [k, x] : *xs)
    if (k == "user.registry.size") found = (x == std::to_string(v.size));
  CHECK(found);
}
