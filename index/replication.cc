// The change-set encoding and the factory hook of replication.h.
#include "index/replication.h"

#include <unistd.h>

#include <algorithm>
#include <mutex>

#include "index/lmdb_keys.h"

namespace modelfs {

namespace {

constexpr std::string_view kMagic = "MFC1";

std::mutex g_factory_mu;
ReplicationFactory g_factory;  // guarded by g_factory_mu

void PutBytes(std::string* out, std::string_view s) {
  lmdb::PutBE32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

// Reads one length-prefixed field at *pos; false when the bytes end first.
bool GetBytes(std::string_view in, size_t* pos, std::string* out) {
  if (in.size() - *pos < 4) return false;
  uint64_t n = lmdb::GetBE(in, *pos, 4);
  *pos += 4;
  if (in.size() - *pos < n) return false;
  out->assign(in.substr(*pos, n));
  *pos += n;
  return true;
}

}  // namespace

bool IsReplicatedTable(std::string_view table) {
  return std::find(std::begin(kReplicatedTables), std::end(kReplicatedTables), table) !=
         std::end(kReplicatedTables);
}

std::string EncodeChanges(const std::vector<Change>& changes) {
  std::string out(kMagic);
  for (const Change& c : changes) {
    out.push_back(c.value ? 'P' : 'D');
    PutBytes(&out, c.table);
    PutBytes(&out, c.key);
    if (c.value) PutBytes(&out, *c.value);
  }
  return out;
}

Result<std::vector<Change>> DecodeChanges(std::string_view in) {
  if (in.substr(0, kMagic.size()) != kMagic)
    return Status::Corrupt("change set does not start with " + std::string(kMagic));
  std::vector<Change> out;
  size_t pos = kMagic.size();
  while (pos < in.size()) {
    char kind = in[pos++];
    if (kind != 'P' && kind != 'D')
      return Status::Corrupt("change set: unknown change kind at byte " + std::to_string(pos - 1));
    Change c;
    std::string value;
    if (!GetBytes(in, &pos, &c.table) || !GetBytes(in, &pos, &c.key) ||
        (kind == 'P' && !GetBytes(in, &pos, &value)))
      return Status::Corrupt("change set: truncated change #" + std::to_string(out.size() + 1));
    if (!IsReplicatedTable(c.table))
      return Status::Corrupt("change set: table \"" + c.table + "\" is not replicated");
    if (kind == 'P') c.value = std::move(value);
    out.push_back(std::move(c));
  }
  return out;
}

std::string MachineHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == 0) return "localhost";
  return name;
}

void SetReplicationFactory(ReplicationFactory f) {
  std::lock_guard<std::mutex> g(g_factory_mu);
  g_factory = std::move(f);
}

ReplicationFactory GetReplicationFactory() {
  std::lock_guard<std::mutex> g(g_factory_mu);
  return g_factory;
}

}  // namespace modelfs
