// Fault injection through index/sys.h: every registry change is run once to
// count the system calls it makes through the seam, then again with each of
// them failing in turn, with ENOSPC and with EIO, once or from then on (a
// disk that stays full). Each run must end in a clear error (or a success
// when only best-effort cleanup failed), the index must hold all of the
// change or none of it, fsck must find no problem, and the same change must
// then succeed.
#include <fcntl.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "index/sys.h"
#include "index/write_txn.h"
#include "tests/unit/fixture.h"

using namespace modelfs;
using namespace modelfs::testing;
namespace stdfs = std::filesystem;

namespace {

// Everything a change may touch, without times or audit records: models,
// versions and their metadata, every entry, aliases, and a draft's files.
std::string State(Registry& reg) {
  std::ostringstream o;
  auto snap = reg.Read();
  REQUIRE(snap.ok());
  REQUIRE(snap->ForEachModel("", [&](const Model& m) {
    o << "model " << m.name << " next " << m.next_version << " owner " << m.owner
      << " description " << m.description << "\n";
    REQUIRE(snap->ForEachVersion(m.id, 0, [&](const Version& v) {
      o << " v" << v.number << " " << StateName(v.state) << " " << v.digest.hex() << " "
        << v.size << "B " << v.files << " files, approval " << v.approval.status << "\n";
      for (const auto& [k, x] : v.metrics) o << "  metric " << k << "=" << x << "\n";
      for (const auto& [k, x] : v.tags) o << "  tag " << k << "=" << x << "\n";
      if (v.state == State::kDraft) {
        std::set<std::string> files;
        for (auto& e : stdfs::recursive_directory_iterator(reg.DraftDir(v)))
          files.insert(e.path().lexically_relative(reg.DraftDir(v)).string() + " " +
                       (e.is_regular_file() ? std::to_string(e.file_size()) : "dir"));
        for (const auto& f : files) o << "  staged " << f << "\n";
        return true;
      }
      REQUIRE(snap->ForEachPath(v, [&](const std::string& p, const Entry& e) {
        o << "  " << p << " " << std::oct << e.mode << std::dec << " " << e.size << " "
          << (e.is_dir() ? "" : e.digest.hex()) << "\n";
        return true;
      }).ok());
      return true;
    }).ok());
    REQUIRE(snap->ForEachAlias(m.id, "", [&](const Alias& a) {
      o << " alias " << a.name << " -> v" << a.version << "\n";
      return true;
    }).ok());
    return true;
  }).ok());
  return o.str();
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += "\n  " + x;
  return s;
}

// A tree to push or to write into a draft: a small file, one of 1.5 MiB (no
// zero chunk, so every byte is written), an empty file, and one in a
// subdirectory with the small file's bytes (a blob the store has already).
void WriteTree(const std::string& dir) {
  WriteFile(dir + "/small.txt", "hello");
  std::string big(3 << 19, '\0');
  uint32_t x = 12345;
  for (auto& c : big) c = static_cast<char>('a' + ((x = x * 1103515245 + 12345) >> 16) % 26);
  WriteFile(dir + "/big.bin", big);
  WriteFile(dir + "/empty", "");
  WriteFile(dir + "/sub/again.txt", "hello");
}

Status PushTree(Fixture& f, const std::string& model, const std::string& dir,
                const std::string& alias = "") {
  PushRequest req;
  req.model = model;
  req.paths = {dir};
  req.meta = {{"metrics.auc", std::string("0.91")}, {"tags.team", std::string("growth")}};
  req.alias = alias;
  return f.reg->Push(req, Alice()).status();
}

struct Scenario {
  std::string name;
  std::function<void(Fixture&)> setup;     // disarmed: the state before
  std::function<Status(Fixture&)> change;  // the change under test
  // The failed calls whose failure the change may ignore and still succeed,
  // by name (see each scenario for why).
  std::set<sys::Call> may_ignore;
  // The fsck problems the setup leaves for the change to repair.
  bool problems_expected = false;
  // Running it again after it succeeded changes nothing (gc, fsck), and
  // then leaves no garbage.
  bool repeatable = false;
  // Its Status is made by the scenario from a report (fsck's), so its code
  // says nothing of the errno.
  bool status_from_report = false;
};

// Fault runs go in a tmpfs when there is one: the calls that reach the
// disk cost nothing there, and the faults are injected above it anyway.
std::string Base() {
  std::error_code ec;
  return stdfs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                                             : "/tmp";
}

// Fsck's problems, except those the setup made on purpose.
std::vector<std::string> NewProblems(Registry& reg, const std::vector<std::string>& known) {
  auto r = reg.Fsck(false, Alice());
  REQUIRE(r.ok());
  std::vector<std::string> out;
  for (const auto& p : r->problems)
    if (std::find(known.begin(), known.end(), p) == known.end()) out.push_back(p);
  return out;
}

// Runs `s` with every call failing in turn.
void RunScenario(const Scenario& s) {
  // The change as it goes when nothing fails: its calls and resulting state.
  std::string before, after;
  std::vector<std::string> known;  // the setup's own problems
  std::vector<sys::CallRecord> calls;
  {
    Fixture f("# policy\n", Base());
    s.setup(f);
    before = State(*f.reg);
    auto fr = f.reg->Fsck(false, Alice());
    REQUIRE(fr.ok());
    known = fr->problems;
    REQUIRE(known.empty() != s.problems_expected);
    sys::ArmFaults(0, 0);
    Status st = s.change(f);
    calls = sys::DisarmFaults();
    INFO(s.name << ": " << st.message());
    REQUIRE(st.ok());
    after = State(*f.reg);
    REQUIRE(after != before);
    CHECK(NewProblems(*f.reg, {}).empty());
  }
  REQUIRE_FALSE(calls.empty());
  std::vector<std::string> garbage;
  for (bool sticky : {false, true}) {
    for (int err : {ENOSPC, EIO}) {
      for (size_t k = 1; k <= calls.size(); ++k) {
        Fixture f("# policy\n", Base());
        s.setup(f);
        sys::ArmFaults(k, err, sticky);
        Status st = s.change(f);
        auto made = sys::DisarmFaults();
        bool fired = sys::FaultFired();
        std::string failed = k <= made.size() ? made[k - 1].str() : "?";
        INFO(s.name << ": call " << k << " of " << calls.size() << " (" << failed << ") fails with "
                    << std::strerror(err) << (sticky ? ", and every later call too" : "")
                    << "\nstatus: " << st.message());
        REQUIRE(fired);
        // The same calls up to the failing one: the run is deterministic.
        REQUIRE(made[k - 1].call == calls[k - 1].call);
        std::string state = State(*f.reg);
        if (st.ok()) {
          // Only a failure the change may ignore (best-effort cleanup after
          // its commit) leaves it successful, and then it is all there.
          CHECK(s.may_ignore.count(made[k - 1].call) == 1);
          CHECK(state == after);
        } else {
          // What failed, then the system's words for why.
          CHECK_THAT(st.message(), Catch::Contains(std::string(": ") + std::strerror(err)));
          CHECK(st.message().find(std::strerror(err)) > 2);
          if (!s.status_from_report)
            CHECK(st.code() == (err == ENOSPC ? Code::kNoSpace : Code::kIO));
          // All or nothing.
          bool whole = state == after, none = state == before;
          CHECK((whole || none));
          if (!whole && !none) CHECK(state == before);  // shows the difference
        }
        auto problems = NewProblems(*f.reg, known);
        INFO("fsck after the failure:" << Join(problems));
        CHECK(problems.empty());
        // A failed change leaves no garbage, unless cleanup itself failed: a
        // call it may ignore, or any call after a sticky fault. (What gc and
        // fsck --repair did not remove is checked after their retry.)
        if (!sticky && !s.repeatable && s.may_ignore.count(made[k - 1].call) == 0) {
          auto fr = f.reg->Fsck(false, Alice());
          REQUIRE(fr.ok());
          INFO("garbage after the failure:" << Join(fr->garbage));
          CHECK(fr->garbage.empty());
        }
        // Nothing half done stops the next try, which does it all.
        if (state == before || s.repeatable) {
          Status again = s.change(f);
          INFO("again: " << again.message());
          CHECK(again.ok());
          CHECK(State(*f.reg) == after);
        }
        auto fr = f.reg->Fsck(false, Alice());
        REQUIRE(fr.ok());
        INFO("fsck after the retry:" << Join(fr->problems) << "\ngarbage:" << Join(fr->garbage));
        CHECK(fr->problems.empty());
        if (s.repeatable) CHECK(fr->garbage.empty());
        if (!fr->garbage.empty()) {
          garbage.push_back(failed + (sticky ? " (sticky)" : "") + ":" + Join(fr->garbage));
          // ... and gc removes all of it, and nothing else.
          auto gc = f.reg->Gc(GcOptions{}, Alice());
          INFO("gc: " << gc.status().message());
          CHECK(gc.ok());
          CHECK(State(*f.reg) == after);
          auto clean = f.reg->Fsck(false, Alice());
          REQUIRE(clean.ok());
          CHECK(clean->problems.empty());
          CHECK(clean->garbage.empty());
        }
      }
    }
  }
  std::map<std::string, int> kinds;
  for (const auto& c : calls) ++kinds[sys::CallName(c.call)];
  std::string by_kind;
  for (const auto& [name, n] : kinds) by_kind += " " + name + " " + std::to_string(n);
  WARN(s.name << ": " << calls.size() << " calls through the seam (" << by_kind.substr(1)
              << "), each failed in turn with ENOSPC and EIO, once and sticky; "
              << garbage.size() << " runs left garbage, which gc removed, e.g.:"
              << Join({garbage.begin(), garbage.begin() + std::min<size_t>(garbage.size(), 3)}));
}

}  // namespace

TEST_CASE("push: every failing call is a clear error, commits nothing, and the push then works",
          "[faults]") {
  Scenario s;
  s.name = "push";
  s.setup = [](Fixture& f) {
    f.Push("churn");  // small.txt's bytes are not stored yet; model.onnx's are
    WriteTree(f.tmp.path + "/tree");
    WriteFile(f.tmp.path + "/tree/model.onnx", "weights-1");  // stored by v1 already
  };
  s.change = [](Fixture& f) { return PushTree(f, "churn", f.tmp.path + "/tree", "candidate"); };
  // The only unlinks of a push that succeeds remove its temporary copy of
  // bytes the store had already: best effort, gc removes what is left.
  s.may_ignore = {sys::Call::kUnlink};
  RunScenario(s);
}

TEST_CASE("push of a new model under faults", "[faults]") {
  Scenario s;
  s.name = "push new model";
  s.setup = [](Fixture& f) { WriteTree(f.tmp.path + "/tree"); };
  s.change = [](Fixture& f) { return PushTree(f, "fraud", f.tmp.path + "/tree"); };
  s.may_ignore = {sys::Call::kUnlink};  // as above
  RunScenario(s);
}

namespace {
// churn@1 ready and churn@2 a draft holding WriteTree's files.
void DraftWithTree(Fixture& f) {
  f.Push("churn");
  auto d = f.reg->CreateDraft("churn", 2, Alice());
  REQUIRE(d.ok());
  WriteTree(f.reg->DraftDir(*d));
}
}  // namespace

TEST_CASE("draft: create, seal and discard under faults", "[faults]") {
  Scenario create;
  create.name = "create draft";
  create.setup = [](Fixture& f) { f.Push("churn"); };
  create.change = [](Fixture& f) { return f.reg->CreateDraft("churn", 2, Alice()).status(); };
  RunScenario(create);

  Scenario seal;
  seal.name = "seal";
  seal.setup = DraftWithTree;
  seal.change = [](Fixture& f) { return f.reg->Seal("churn", 2, Alice()).status(); };
  // The draft's directory is removed after the commit; what is left of it
  // is garbage that gc removes (fsck lists it as such, not as a problem).
  seal.may_ignore = {sys::Call::kRemoveAll, sys::Call::kUnlink};  // and as for push
  RunScenario(seal);

  Scenario discard;
  discard.name = "discard draft";
  discard.setup = seal.setup;
  discard.change = [](Fixture& f) { return f.reg->DiscardDraft("churn", 2, Alice()); };
  // As for seal: the directory goes after the commit, best effort.
  discard.may_ignore = {sys::Call::kRemoveAll};
  RunScenario(discard);
}

TEST_CASE("opening a draft file to rewrite it, under faults", "[faults]") {
  // What the mount does for open(O_TRUNC) in a draft: mark the file as being
  // written (an xattr), then truncate it; the writes are the mount's own.
  Scenario s;
  s.name = "draft writer";
  s.setup = DraftWithTree;
  s.change = [](Fixture& f) -> Status {
    auto snap = f.reg->Read();
    if (!snap.ok()) return snap.status();
    auto d = snap->GetVersion("churn", 2);
    if (!d.ok()) return d.status();
    std::string path = f.reg->DraftDir(*d) + "/big.bin";
    auto w = f.reg->OpenDraftWriter(
        *d, [&] { return open(path.c_str(), O_RDWR | O_CLOEXEC); }, true);
    return w.status();  // closed here, as the mount's release does
  };
  RunScenario(s);
}

TEST_CASE("aliases, metadata, approval and archive under faults", "[faults]") {
  auto two = [](Fixture& f) {
    f.Push("churn");
    WriteFile(f.src + "/model.onnx", "weights-2");
    f.Push("churn");
    REQUIRE(f.reg->SetAlias("churn", "production", 1, Alice()).ok());
  };
  std::vector<Scenario> all;
  auto add = [&](std::string name, std::function<Status(Fixture&)> change) {
    Scenario s;
    s.name = std::move(name);
    s.setup = two;
    s.change = std::move(change);
    all.push_back(std::move(s));
  };
  add("set alias", [](Fixture& f) { return f.reg->SetAlias("churn", "staging", 2, Alice()); });
  add("move alias", [](Fixture& f) { return f.reg->SetAlias("churn", "production", 2, Alice()); });
  add("delete alias", [](Fixture& f) { return f.reg->DeleteAlias("churn", "production", Alice()); });
  add("set metadata", [](Fixture& f) {
                   return f.reg->SetMeta("churn", 2, {{"metrics.auc", std::string("0.93")}},
                                         Alice());
                 });
  add("approve", [](Fixture& f) { return f.reg->Approve("churn", 2, true, "ok", Alice()); });
  add("archive", [](Fixture& f) { return f.reg->Archive("churn", 2, Alice()); });
  add("set model metadata", [](Fixture& f) {
    return f.reg->SetModelMeta("churn", {{"description", std::string("predicts churn")}}, Alice());
  });
  add("copy within a ROOT", [](Fixture& f) {
    auto snap = f.reg->Read();
    if (!snap.ok()) return snap.status();
    auto v = snap->GetVersion("churn", 2);
    if (!v.ok()) return v.status();
    return f.reg->Copy(*snap, f.reg->blobs(), *v, "churn-eu", "churn@2", Alice()).status();
  });
  // From another ROOT: the blobs are stored here (each a failure point),
  // and a failed copy leaves none of them behind.
  auto other = std::make_shared<std::unique_ptr<Registry>>();
  Scenario far;
  far.name = "copy from another ROOT";
  far.setup = [other](Fixture& f) {
    std::string root = f.tmp.path + "/other";
    REQUIRE(Registry::Init(root, "# policy\n").ok());
    auto r = Registry::Open(root);
    REQUIRE(r.ok());
    *other = std::move(*r);
    PushRequest req;
    req.model = "churn";
    req.paths = {f.src};
    req.meta = {{"metrics.auc", std::string("0.91")}};
    REQUIRE((*other)->Push(req, Alice()).ok());
  };
  far.change = [other](Fixture& f) {
    auto snap = (*other)->Read();
    if (!snap.ok()) return snap.status();
    auto v = snap->GetVersion("churn", 1);
    if (!v.ok()) return v.status();
    return f.reg->Copy(*snap, (*other)->blobs(), *v, "churn", "other:churn@1", Alice()).status();
  };
  all.push_back(std::move(far));
  Scenario un;
  un.name = "unarchive";
  un.setup = [two](Fixture& f) {
    two(f);
    REQUIRE(f.reg->Archive("churn", 2, Alice()).ok());
  };
  un.change = [](Fixture& f) { return f.reg->Unarchive("churn", 2, Alice()); };
  all.push_back(std::move(un));
  for (const auto& s : all) RunScenario(s);
}

TEST_CASE("gc under faults", "[faults]") {
  Scenario s;
  s.name = "gc";
  s.setup = [](Fixture& f) {
    WriteTree(f.tmp.path + "/tree");
    REQUIRE(PushTree(f, "churn", f.tmp.path + "/tree").ok());
    f.Push("churn");
    REQUIRE(f.reg->Archive("churn", 1, Alice()).ok());  // its blobs go with it
    WriteFile(f.root + "/staging/blob-0-0-0.tmp", "abandoned");  // a push that died
  };
  s.change = [](Fixture& f) { return f.reg->Gc(GcOptions{}, Alice()).status(); };
  // A staging file gc cannot open, it cannot prove abandoned: it keeps it
  // (for the next gc) and is not wrong to.
  s.may_ignore = {sys::Call::kOpen};
  s.repeatable = true;
  RunScenario(s);
}

TEST_CASE("gc with retention under faults", "[faults]") {
  // Retention drops versions and an expired draft (with its files in
  // staging) in one transaction, then their blobs, then old audit records.
  Scenario s;
  s.name = "gc with retention";
  s.setup = [](Fixture& f) {
    for (int i = 1; i <= 3; ++i) {
      WriteFile(f.src + "/model.onnx", "weights-" + std::to_string(i));
      f.Push("churn");
    }
    auto d = f.reg->CreateDraft("churn", 4, Alice());
    REQUIRE(d.ok());
    WriteTree(f.reg->DraftDir(*d));
  };
  s.change = [](Fixture& f) {
    GcOptions opt;
    opt.keep_last = 1;
    opt.draft_ttl_s = 0;
    opt.audit_keep = 2;
    return f.reg->Gc(opt, Alice()).status();
  };
  s.may_ignore = {sys::Call::kOpen};  // as for gc
  s.repeatable = true;
  RunScenario(s);
}

TEST_CASE("fsck --repair under faults", "[faults]") {
  Scenario s;
  s.name = "fsck --repair";
  s.problems_expected = true;
  s.repeatable = true;
  s.setup = [](Fixture& f) {
    f.Push("churn");
    f.Push("churn");
    {  // next_version behind the versions there are: repair raises it
      auto tx = WriteTxn::Begin(f.reg.get());
      REQUIRE(tx.ok());
      auto m = (*tx)->view().GetModel("churn");
      REQUIRE(m.ok());
      Model mm = *m;
      mm.next_version = 2;
      REQUIRE((*tx)->PutModel(mm).ok());
      REQUIRE((*tx)->Commit().ok());
    }
    WriteFile(f.tmp.path + "/loose", "no version names this");
    REQUIRE(f.reg->blobs().PutFile(f.tmp.path + "/loose").ok());
    WriteFile(f.root + "/staging/blob-0-0-0.tmp", "abandoned");
  };
  // fsck reports a blob it cannot read as a problem (exit 1) and goes on:
  // a report with any problem but the one set up, or with something it did
  // not repair, is a failure here.
  s.status_from_report = true;
  s.change = [](Fixture& f) -> Status {
    auto r = f.reg->Fsck(true, Alice());
    if (!r.ok()) return r.status();
    std::vector<std::string> other;
    for (const auto& p : r->problems)
      if (p.find("next_version 2 is not above") == std::string::npos) other.push_back(p);
    if (!other.empty()) return Status::IO("fsck found:" + Join(other));
    if (!r->not_repaired.empty()) return Status::IO("not repaired:" + Join(r->not_repaired));
    return Status::Ok();
  };
  // As for gc (fsck --repair runs it to remove the garbage).
  s.may_ignore = {sys::Call::kOpen};
  RunScenario(s);
}

TEST_CASE("the seam makes the call when disarmed and fails only the armed one", "[faults]") {
  TempDir t;
  std::string p = t.path + "/x";
  sys::ArmFaults(2, EIO);
  CHECK(sys::Mkdir(p.c_str(), 0700) == 0);
  errno = 0;
  CHECK(sys::Rmdir(p.c_str()) == -1);
  CHECK(errno == EIO);
  CHECK(sys::Rmdir(p.c_str()) == 0);
  auto calls = sys::DisarmFaults();
  REQUIRE(calls.size() == 3);
  CHECK(calls[1].str() == "rmdir " + p);
  CHECK(sys::Mkdir(p.c_str(), 0700) == 0);
  CHECK(sys::DisarmFaults().empty());  // not counted once disarmed
}
