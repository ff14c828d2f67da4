// Writes the fuzz targets' seed corpora: fuzz_seeds DIR writes DIR/NAME/*
// for each target (tests/fuzz/corpus/ is its committed output; run it again
// after a change to the records or the policy format). Records are made by
// the real Encode, so the fuzzer starts from what the index holds.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "index/links.h"
#include "index/records.h"
#include "policy/policy.h"

using namespace modelfs;

namespace {

std::string dir;

void Write(const std::string& target, const std::string& name, std::string_view bytes) {
  std::filesystem::create_directories(dir + "/" + target);
  std::ofstream(dir + "/" + target + "/" + name, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void WriteAll(const std::string& target, const std::vector<std::string>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) Write(target, "seed-" + std::to_string(i), inputs[i]);
}

std::string Cbor(const nlohmann::json& j) {
  std::vector<uint8_t> v = nlohmann::json::to_cbor(j);
  return std::string(v.begin(), v.end());
}

void Records() {
  Digest d = *Digest::FromHex("0123456789abcdef0123456789abcdef");
  Model m{7, 8, "churn", 1764210496000000000, "alice", "alice", "churn model", 4};
  Version v;
  v.id = 20;
  v.model_id = 7;
  v.model = "churn";
  v.number = 3;
  v.digest = d;
  v.size = 4096;
  v.files = 2;
  v.created_at_ns = 1764210496000000000;
  v.created_by = "alice";
  v.created_uid = 1001;
  v.description = "two\nlines";
  v.metrics = {{"auc", 0.913}, {"latency_ms", 12}};
  v.params = {{"lr", "0.05"}};
  v.tags = {{"team", "growth"}};
  v.lineage = {{"features@7"}, {"s3://lake/churn#xxh3:" + d.hex()}, "git+https://git/c@9c1e", "run-412"};
  v.approval = {"approved", "bob", 1764210497000000000, "offline eval ok"};
  v.past_aliases = {"staging", "production"};
  Version draft;
  draft.id = 21;
  draft.model_id = 7;
  draft.model = "churn";
  draft.number = 4;
  draft.state = State::kDraft;
  Entry file{30, 20, "model.onnx", 0100444, 9, d, {}};
  Entry dir_entry{31, 20, "conf", 0040555, 0, {}, {}};
  const std::string target = "shards/model-00001.safetensors";
  Entry link{32, 20, "model.safetensors", kSymlinkMode, target.size(), LinkDigest(target), target};
  Alias a{40, "production", 3, 1764210498000000000, "bob"};
  AuditRecord r{12, 1764210499000000000, 1002, "bob", "alias", "churn", 3, "production",
                "churn/production", "2", "3", true, "allowed by [defaults].promote \"*\"", "host-a"};
  WriteAll("records_fuzz",
           {Encode(m), Encode(v), Encode(draft), Encode(file), Encode(dir_entry), Encode(link), Encode(a),
            Encode(r),
            // Damaged: a field of the wrong type, not a map, not CBOR.
            Cbor({{"id", 20}, {"mid", 7}, {"m", "churn"}, {"n", 3}, {"lp", 3}}),
            Cbor({1, 2, 3}), "\xff\x00garbage",
            // What the fuzzer found once (records_test has each): a length
            // past what a container holds, nesting, a directory's digest.
            std::string("\xbb\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a", 9),
            std::string(64, '\x81') + '\x00',
            Cbor({{"id", 31}, {"p", 20}, {"n", "conf"}, {"m", 040555},
                  {"dg", nlohmann::json::binary(std::vector<uint8_t>(16, 1))}})});
}

void Names() {
  WriteAll("names_fuzz",
           {"churn", "churn@12", "churn@production", "churn@latest", "fraud-x.v2_b@1",
            "churn@v3", "churn@012", "0.913", "-2e-3", "+0.5", "1e308", "v12", "v4294967295",
            "4294967296", "a, b,,c ", "caf\xc3\xa9 1.json", "a\nb\x7f\xc2\x9b\xff",
            "0123456789abcdef0123456789abcdef", "metrics.auc"});
}

// metadata_fuzz's input: a flags byte, then NAME '\0' VALUE.
std::string Change(char flags, std::string_view name, std::string_view value) {
  std::string s(1, flags);
  s.append(name).push_back('\0');
  return s.append(value);
}

void Metadata() {
  WriteAll("metadata_fuzz",
           {Change(0, "metrics.auc", "0.93"), Change(1, "user.metrics.auc", "1e-3"),
            Change(1, "user.tags.team", "growth"), Change(0, "params.lr", "0.05"),
            Change(0, "lineage.parents", "churn@1, features@1"),
            Change(0, "lineage.datasets", "s3://lake/x#xxh3:0123456789abcdef0123456789abcdef"),
            Change(0, "lineage.code", "git+https://git/c@9c1e"),
            Change(1, "user.lineage.run", "run-1"), Change(2, "tags.team", ""),
            Change(6, "metrics.auc", ""), Change(4, "description", "new\ntext"),
            Change(8, "registry.description", "x"), Change(1, "user.registry.description", "d"),
            Change(0, "registry.state", "ready"), Change(0, "metrics.a b", "1")});
}

void Policy() {
  // The example the default policy carries commented out, uncommented:
  // every table and key the format has.
  std::string_view text = policy::DefaultPolicyText();
  std::string example;
  for (size_t at = text.find("# [groups]"); at < text.size();) {
    size_t nl = text.find('\n', at);
    std::string_view line = text.substr(at, nl - at);
    if (line.starts_with("# ") && (line.starts_with("# [") || line.find(" = ") < 24))
      line.remove_prefix(2);
    example.append(line).push_back('\n');
    at = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  WriteAll("policy_fuzz",
           {std::string(text), example,
            "[defaults]\nread = [\"uid:1001\", \"group:ml\"]\nadmin = [\"user:root\"]\n",
            "[[models]]\nmatch = \"[!a]*\\\\x\"\nwrite = [\"*\"]\n",
            "[aliases.production]\nrequire_metrics = [\"auc>=0.8\", \"x != -1e-3\"]\n"
            "require_lineage = [\"run\"]\n",
            "[retention]\nkeep_last = -1\n", "[limits]\nmax_file_size = \"9999999999T\"\n",
            "[defaults\nread = \"*\"\n",
            // Found once: toml++ quoting a control character, and input that
            // trips toml++'s internal asserts (the fuzz build has NDEBUG).
            "x = n\x04\n", "[[>=models]]\n"});
}

void PolicyValues() {
  WriteAll("policy_values_fuzz",
           {"7d", "30s", "15m", "12h", "52w", "0s", "4096", "512K", "64G", "1T", "8E",
            "auc >= 0.80", "latency_ms<=50", "x != -1e-3", "a==+2", "parents", "datasets",
            "admin", "promote"});
}

void Expressions() {
  WriteAll("expr_fuzz",
           {"metrics.auc >= 0.9", "model ~ \"churn*\" and metrics.auc >= 0.9 and not alias = \"production\"",
            "tags.team in (\"growth\", \"risk\") or exists(params.lr)", "created_at > -30d",
            "created_at < \"2026-11-27T15:31:02.5+01:00\"", "size > 10M and size <= 2G",
            "(state = \"ready\" or approval != \"rejected\") and version in (1, 2, 3)",
            "not (last_used_at < -12h and created_by = \"a\\\"b\")", "-metrics.auc",
            "metrics.auc >", "model = churn", "((version = 1)"});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds DIR\n";
    return 2;
  }
  dir = argv[1];
  Records();
  Names();
  Metadata();
  Policy();
  PolicyValues();
  Expressions();
  return 0;
}
