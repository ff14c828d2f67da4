// The multi-host engine (SPEC §7): etcd as the index of record, an S3
// object store for blobs, behind index/replication.h's Replication.
//
// etcd layout, under the registry's key prefix P (registry.toml):
//   P "head"          the sequence number of the last commit, in decimal
//                     ("0" once created); every commit compares it
//   P "log/" SEQ      commit SEQ (16 hex digits): 8 random bytes that name
//                     the attempt, then the change set (EncodeChanges)
//   P "policy"        the registry's policy.toml, as init created it
// A commit is one etcd transaction: if head == N, put log/N+1 and head =
// N+1. The one head key serializes commits registry-wide (versions stay
// consecutive, no alias move is lost) at the price of concurrency; finer
// compares (per model) are future work. Commits are kept as a log rather
// than one etcd key per record because a version with many files would
// exceed etcd's default --max-txn-ops (128) as keys, and because a replica
// then catches up by one range read from its position, compaction of
// etcd's history or not (log keys are never deleted).
//
// Objects: BUCKET/PREFIX/blobs/<2 hex>/<30 hex> of the XXH3-128 digest.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "index/remote/etcd.h"
#include "index/remote/s3.h"
#include "index/replication.h"

namespace modelfs::remote {

// ROOT/registry.toml: where the registry's engines are. No secret is kept
// here: S3 keys come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or a
// credentials file (mode 0600) named by `credentials`.
struct RegistrySettings {
  std::vector<std::string> etcd;  // endpoints
  std::string etcd_prefix = "/modelfs/";
  std::string s3_bucket;
  std::string s3_prefix;  // "" or ending in '/'
  std::string s3_endpoint;
  std::string s3_region = "us-east-1";
  std::string cache_size;   // as given ("20G"); "" = unbounded (blob_cache.h)
  std::string credentials;  // path, or ""
};

// "s3://BUCKET/PREFIX" into bucket and prefix ("team/reg" → "team/reg/").
Status ParseS3Url(const std::string& url, RegistrySettings* s);
std::string FormatSettings(const RegistrySettings& s);  // the TOML text
Result<RegistrySettings> ParseSettings(const std::string& text, const std::string& file);
Result<RegistrySettings> LoadSettings(const std::string& root);

// The S3 configuration of `s`, with credentials from the environment or
// the credentials file.
Result<S3Config> S3ConfigOf(const RegistrySettings& s);

// The object key of blob `d` and the etcd key of commit `seq`.
std::string BlobKey(const RegistrySettings& s, const Digest& d);
std::string LogKey(const std::string& prefix, uint64_t seq);
// The sequence number in a log key; nullopt when it is not one.
std::optional<uint64_t> LogSeq(const std::string& prefix, const std::string& key);

// Creates the registry at an empty etcd prefix, or joins the one there, and
// makes ROOT its replica (fully caught up). Checks first that etcd answers
// and that a probe object can be written, read and deleted in the bucket,
// saying which failed. `*joined` says which it did.
Status InitMultiHost(const std::string& root, const RegistrySettings& s,
                     const std::string& policy_text, bool* joined);

// What `modelfs status` shows.
struct RegistryStatus {
  ReplicaPosition applied;
  bool etcd_ok = false;
  std::string etcd_error;
  uint64_t head = 0;          // the last commit in etcd
  int64_t etcd_revision = 0;  // etcd's revision now
  bool s3_ok = false;
  std::string s3_error;
  RegistrySettings settings;
};
Result<RegistryStatus> StatusOf(Registry& reg);

// Makes Registry::Open attach this engine to multi-host ROOTs.
void InstallEngine();

}  // namespace modelfs::remote
