// damage_record: a test-only tool that damages one record of a registry's
// index, for the shell tests of what a damaged record does to the CLI and
// the mount (tests/cli/corrupt_record.sh, tests/mount/corrupt_record.sh).
// It finds the record's key through the registry, closes it, and rewrites
// the value with the LMDB C API (tests/tools/damage.h). Safe while a mount
// of ROOT runs: LMDB serializes writers across processes.
//
//   damage_record ROOT TABLE RECORD FIELD JSON   set one field to JSON
//   damage_record ROOT TABLE RECORD FIELD --text TEXT
//                                                set one field to the string
//                                                TEXT, byte for byte (not
//                                                UTF-8, as a modelfs that did
//                                                not check may have stored)
//   damage_record ROOT TABLE RECORD --bytes TEXT the whole value becomes TEXT
//
// TABLE RECORD: models MODEL | versions MODEL@N | aliases MODEL/ALIAS |
// entries MODEL@N/PATH | audit SEQ.
#include <iostream>
#include <nlohmann/json.hpp>

#include "index/lmdb_keys.h"
#include "index/registry.h"
#include "tests/tools/damage.h"

using namespace modelfs;

namespace {

int PrintUsage() {
  std::cerr << "usage: damage_record ROOT TABLE RECORD (FIELD JSON | FIELD --text TEXT | --bytes TEXT)\n"
               "  TABLE RECORD: models MODEL | versions MODEL@N | aliases MODEL/ALIAS |\n"
               "                entries MODEL@N/PATH | audit SEQ\n";
  return 2;
}

// The LMDB key of RECORD in TABLE, as registry.cc lays keys out.
Result<std::string> KeyOf(const std::string& root, const std::string& table,
                          const std::string& record) {
  auto reg = Registry::Open(root);
  if (!reg.ok()) return reg.status();
  auto snap = (*reg)->Read();
  if (!snap.ok()) return snap.status();
  if (table == "models") return record;
  if (table == "audit") return lmdb::Key64(std::stoull(record));
  if (table == "aliases") {
    auto slash = record.find('/');
    if (slash == std::string::npos) return Status::Invalid("aliases take MODEL/ALIAS");
    auto m = snap->GetModel(record.substr(0, slash));
    if (!m.ok()) return m.status();
    return lmdb::Key64Name(m->id, record.substr(slash + 1));
  }
  std::string ref = record.substr(0, record.find('/'));
  auto r = ParseVersionRef(ref);
  if (!r.ok()) return r.status();
  auto m = snap->GetModel(r->model);
  if (!m.ok()) return m.status();
  if (table == "versions") return lmdb::VersionKey(m->id, r->version);
  if (table != "entries") return Status::Invalid("unknown table " + table);
  if (ref.size() == record.size()) return Status::Invalid("entries take MODEL@N/PATH");
  auto v = snap->GetVersion(m->id, r->version);
  if (!v.ok()) return v.status();
  ObjectId parent = v->id;
  std::string path = record.substr(ref.size() + 1);
  for (;;) {
    auto slash = path.find('/');
    std::string name = path.substr(0, slash);
    if (slash == std::string::npos) return lmdb::Key64Name(parent, name);
    auto e = snap->GetEntry(parent, name);
    if (!e.ok()) return e.status();
    parent = e->id;
    path = path.substr(slash + 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool text = argc == 7 && std::string(argv[5]) == "--text";
  if (argc != 6 && !text) return PrintUsage();
  std::string root = argv[1], table = argv[2], record = argv[3], field = argv[4],
              arg = argv[text ? 6 : 5];
  auto key = KeyOf(root, table, record);  // the registry is closed again here
  if (!key.ok()) {
    std::cerr << "damage_record: " << key.status().message() << "\n";
    return 1;
  }
  std::string err;
  if (text) {
    // nlohmann keeps a string's bytes as they are; only dump() checks them.
    err = testing::SetRecordField(root, table.c_str(), *key, field, nlohmann::json(arg));
  } else if (field == "--bytes") {
    err = testing::EditRawRecord(root, table.c_str(), *key, [&](std::string* v) { *v = arg; });
  } else {
    auto value = nlohmann::json::parse(arg, nullptr, false);
    if (value.is_discarded()) {
      std::cerr << "damage_record: " << arg << " is not JSON\n";
      return 2;
    }
    err = testing::SetRecordField(root, table.c_str(), *key, field, value);
  }
  if (!err.empty()) {
    std::cerr << "damage_record: " << table << " " << record << ": " << err << "\n";
    return 1;
  }
  return 0;
}
