#!/usr/bin/env bash
# Lifecycle commands of issue 14, item 8, and one number format (item 10):
# unarchive; copy within a ROOT and into another ROOT (files, metadata,
# lineage); a model's own description and owner (`set ROOT MODEL K=V`);
# push --if-changed; a whole metric prints as 14 in show, --json and log.
. "$TESTS_DIR/cli/common.sh"

R=$WORK/reg
R2=$WORK/reg2
S=$WORK/src
ok mf init "$R"
ok mf init "$R2"
mkdir -p "$S/sub"
head -c 100000 /dev/urandom >"$S/model.bin"
printf 'cfg\n' >"$S/sub/c.txt"
ln -s ../model.bin "$S/sub/l.bin"
ok mf push "$R" features "$S/sub/c.txt"
ok mf push "$R" churn "$S" --metric auc=0.91 --metric latency_ms=14 --param lr=0.05 \
  --tag team=growth --parent features@1 --dataset s3://lake/x --code git+x@1 --run r1 \
  --description "the churn model"
assert_eq churn@1 "$OUT" "push"

# ---------------------------------------------------------------- numbers
check "a whole metric prints as 14 in show, show --json and log; a fraction as given"
ok mf show "$R" churn@1
assert_contains "$OUT" "latency_ms = 14"$'\n' "show"
assert_not_contains "$OUT" "14.0" "show"
assert_contains "$OUT" "auc = 0.91"$'\n' "show"
ok mf show "$R" churn@1 --json
assert_contains "$OUT" '"latency_ms": 14' "show --json"
assert_not_contains "$OUT" '14.0' "show --json"
ok mf set "$R" churn@1 metrics.latency_ms=15.0 metrics.tiny=0.0001
ok mf log "$R" churn
assert_contains "$OUT" "metrics.latency_ms  14 -> 15" "log"
ok mf show "$R" churn@1 --json
assert_eq "15 0.0001" "$(echo "$OUT" | jpy 'json.dumps(j["metrics"]["latency_ms"]) + " " + json.dumps(j["metrics"]["tiny"])')" "json numbers"
ok mf set "$R" churn@1 metrics.latency_ms=14

# ---------------------------------------------------------------- unarchive
check "unarchive makes an archived version ready again (audited); latest follows"
ok mf push "$R" churn "$S/model.bin"
assert_eq churn@2 "$OUT" "push 2"
ok mf archive "$R" churn@2
assert_eq 1 "$(mf list "$R" --json | jpy '[m["latest"] for m in j if m["model"]=="churn"][0]')" "latest after archive"
ok mf unarchive "$R" churn@2
assert_eq ready "$(mf show "$R" churn@2 --json | jpy 'j["state"]')" "state after unarchive"
assert_eq 2 "$(mf list "$R" --json | jpy '[m["latest"] for m in j if m["model"]=="churn"][0]')" "latest after unarchive"
ok mf log "$R" churn --json
assert_eq "archived ready" "$(echo "$OUT" | jpy '[r["before"] + " " + r["after"] for r in j if r["action"]=="unarchive"][-1]')" "audit of unarchive"
check "unarchive of a ready version changes nothing; of a missing one fails; bad REF is usage"
ok mf unarchive "$R" churn@2
assert_fails 1 "churn@9" mf unarchive "$R" churn@9
assert_usage "churn" mf unarchive "$R" churn
check "gc removes an archived version: then unarchive cannot bring it back"
ok mf archive "$R" churn@2
ok mf gc "$R"
assert_fails 1 "churn@2" mf unarchive "$R" churn@2

# ---------------------------------------------------------------- model description and owner
check "set ROOT MODEL description=... owner=...: list --json shows them, log audits them"
ok mf set "$R" churn description="predicts churn" owner=ana
ok mf list "$R" --json
assert_eq "predicts churn|ana" "$(echo "$OUT" | jpy '[m["description"] + "|" + m["owner"] for m in j if m["model"]=="churn"][0]')" "model fields"
ok mf log "$R" churn --json
assert_eq "churn description" "$(echo "$OUT" | jpy '[r["object"] for r in j if r["action"]=="set"][-2]')" "audit object"
ok mf set "$R" churn --remove description
assert_eq "" "$(mf list "$R" --json | jpy '[m["description"] for m in j if m["model"]=="churn"][0]')" "removed description"
check "a model's other keys, an empty owner, a missing model are refused; nothing changes"
assert_fails 1 "owner" mf set "$R" churn owner=
assert_fails 1 "owner" mf set "$R" churn --remove owner
assert_fails 1 "unknown model key" mf set "$R" churn colour=red
assert_usage "MODEL@N" mf set "$R" churn metrics.auc=1
assert_fails 1 "nope" mf set "$R" nope description=x
assert_eq ana "$(mf list "$R" --json | jpy '[m["owner"] for m in j if m["model"]=="churn"][0]')" "owner after refusals"

# ---------------------------------------------------------------- push --if-changed
check "push --if-changed of the same files and metadata returns the latest, makes no version"
ok mf push "$R" fraud "$S" --metric auc=0.8
assert_eq fraud@1 "$OUT" "first push"
seq_before=$(mf log "$R" --json | jpy 'j[-1]["seq"]')
ok mf push "$R" fraud "$S" --metric auc=0.8 --if-changed
assert_eq fraud@1 "$OUT" "unchanged push"
assert_contains "$ERR" "no new version"
assert_eq "$seq_before" "$(mf log "$R" --json | jpy 'j[-1]["seq"]')" "audit after an unchanged push"
assert_eq 1 "$(mf list "$R" fraud --json | jpy 'len(j)')" "versions of fraud"
check "--if-changed with other metadata, or other bytes, makes a new version"
ok mf push "$R" fraud "$S" --metric auc=0.81 --if-changed
assert_eq fraud@2 "$OUT" "changed metadata"
printf 'more' >"$WORK/extra.bin"
ok mf push "$R" fraud "$S/model.bin" "$WORK/extra.bin" --metric auc=0.81 --if-changed
assert_eq fraud@3 "$OUT" "changed files"
check "--if-changed with --alias points the alias at the existing version"
ok mf push "$R" fraud "$S/model.bin" "$WORK/extra.bin" --metric auc=0.81 --if-changed --alias staging
assert_eq fraud@3 "$OUT" "unchanged push with alias"
assert_eq '["staging"]' "$(mf show "$R" fraud@3 --json | jpy 'j["aliases"]')" "alias of fraud@3"
check "without --if-changed the same push makes a new version, as before"
ok mf push "$R" fraud "$S/model.bin" "$WORK/extra.bin" --metric auc=0.81
assert_eq fraud@4 "$OUT" "plain push"

# ---------------------------------------------------------------- copy
check "copy within a ROOT: same files (no blob added), metadata kept, the source a parent"
blobs_before=$(blob_count "$R")
ok mf copy "$R" churn@1 churn-eu
assert_eq churn-eu@1 "$OUT" "copy prints the new version"
assert_eq "$blobs_before" "$(blob_count "$R")" "blobs after a copy within a ROOT"
mf show "$R" churn@1 --json >"$WORK/src.json"
mf show "$R" churn-eu@1 --json >"$WORK/dst.json"
for k in digest size metrics params tags description files; do
  assert_eq "$(jpy "j['$k']" "$WORK/src.json")" "$(jpy "j['$k']" "$WORK/dst.json")" "copy: $k"
done
assert_eq '["features@1", "churn@1"]' "$(jpy 'j["lineage"]["parents"]' "$WORK/dst.json")" "copy: parents"
assert_eq "s3://lake/x git+x@1 r1" "$(jpy '" ".join(j["lineage"]["datasets"]) + " " + j["lineage"]["code"] + " " + j["lineage"]["run"]' "$WORK/dst.json")" "copy: lineage"
assert_eq pending "$(jpy 'j["approval"]["status"]' "$WORK/dst.json")" "copy: approval not copied"
ok mf log "$R" churn-eu --json
assert_eq "churn@1" "$(echo "$OUT" | jpy '[r["before"] for r in j if r["action"]=="copy"][0]')" "copy audited"
check "copy by alias into an existing model takes its next number"
ok mf alias "$R" churn@1 production
ok mf copy "$R" churn@production churn-eu --json
assert_eq 2 "$(echo "$OUT" | jpy 'j["version"]')" "copy --json"

check "copy into another ROOT: blobs stored there and verified; the source named in tags.copied_from"
ok mf copy "$R" churn@1 churn --to "$R2"
assert_eq churn@1 "$OUT" "copy --to"
mf show "$R2" churn@1 --json >"$WORK/far.json"
assert_eq "$(jpy 'j["digest"]' "$WORK/src.json")" "$(jpy 'j["digest"]' "$WORK/far.json")" "digest across ROOTs"
assert_eq "$R:churn@1" "$(jpy 'j["tags"]["copied_from"]' "$WORK/far.json")" "copied_from"
assert_eq "[]" "$(jpy 'j["lineage"]["parents"]' "$WORK/far.json")" "parents across ROOTs"
ok mf fsck "$R2"
ok mf get "$R2" churn@1 "$WORK/far-out"
assert_file_eq "$S/model.bin" "$WORK/far-out/model.bin" "got from the copy"
assert_file_eq "$S/sub/c.txt" "$WORK/far-out/sub/c.txt" "got from the copy"
assert_eq ../model.bin "$(readlink "$WORK/far-out/sub/l.bin")" "symlink of the copy"
assert_eq 2 "$(blob_count "$R2")" "blobs in the second ROOT"

check "copy of a corrupt blob into another ROOT fails naming it, and leaves nothing there"
D=$(jpy '[f["digest"] for f in j["files"] if f["path"]=="model.bin"][0]' "$WORK/src.json")
B=$(blob_path "$R" "$D")
chmod u+w "$B" && flip_byte "$B" 10
n2=$(blob_count "$R2")
ok mf init "$WORK/reg3"
assert_fails 1 "corrupt" mf copy "$R" churn@1 churn --to "$WORK/reg3"
assert_eq 0 "$(blob_count "$WORK/reg3")" "blobs left in the third ROOT"
assert_eq "[]" "$(mf list "$WORK/reg3" --json | jpy 'j')" "models in the third ROOT"
cp "$S/model.bin" "$B" && chmod 444 "$B"
assert_eq "$n2" "$(blob_count "$R2")" "second ROOT untouched"

check "copy: bad input"
assert_usage "model" mf copy "$R" churn@1 'Bad Name'
assert_fails 1 "churn@9" mf copy "$R" churn@9 x
assert_fails 1 "nope" mf copy "$R" nope@1 x

check "copy and unarchive follow the policy: read on the source, write (create) on the destination; admin to unarchive"
cat >"$R/policy.toml" <<'P'
[defaults]
read = ["*"]
create = ["user:nobody"]
write = ["user:nobody"]
admin = ["user:nobody"]
P
assert_fails 3 "denied" mf copy "$R" churn@1 churn-x
assert_fails 3 "denied" mf copy "$R" churn@1 churn-eu
ok mf archive "$R2" churn@1
cp "$R/policy.toml" "$R2/policy.toml"
assert_fails 3 "denied" mf unarchive "$R2" churn@1
assert_fails 3 "denied" mf set "$R" churn description=x
assert_fails 3 "denied" mf copy "$R" churn@1 churn --to "$R2"
pass
