#!/usr/bin/env bash
# The everyday commands of SPEC §2 and §5, end to end against one registry:
# init, push (layouts, dedupe, modes, digests), show, list, set, alias,
# approve, archive, log, gc, fsck, --help and usage errors.
. "$TESTS_DIR/cli/common.sh"

R=$WORK/reg

# ---------------------------------------------------------------- init
check "init creates index/, blobs/, staging/, policy.toml; ROOT is 0700"
ok mf init "$R"
for d in index blobs staging; do [ -d "$R/$d" ] || die "init did not create $R/$d"; done
[ -f "$R/policy.toml" ] || die "init did not create $R/policy.toml"
assert_eq 700 "$(stat -c %a "$R")" "mode of ROOT after init"
assert_eq "[]" "$(mf list "$R" --json | jpy 'j')" "list --json of an empty registry"

check "init on an existing registry fails and leaves it alone"
assert_fails 1 "$R" mf init "$R"
[ -d "$R/index" ] || die "failed init damaged the registry"

# ---------------------------------------------------------------- sources
S=$WORK/src
mkdir -p "$S/sub/deeper" "$S/empty-dir"
printf 'weights-v1' >"$S/model.bin"
head -c 300000 /dev/urandom >"$S/sub/big.bin"
printf '#!/bin/sh\necho hi\n' >"$S/sub/run.sh"
chmod 755 "$S/sub/run.sh"
printf 'deep' >"$S/sub/deeper/c.txt"
: >"$S/sub/zero-length"

# ---------------------------------------------------------------- push (one dir)
check "push of one directory prints MODEL@1 and lays it out as cp -r (contents at top, subdirs kept)"
ok mf push "$R" churn "$S"
assert_eq "churn@1" "$OUT" "push output"
mf show "$R" churn@1 --json >"$WORK/v1.json" || die "show churn@1 --json failed"
assert_eq '["model.bin", "sub/big.bin", "sub/deeper/c.txt", "sub/run.sh", "sub/zero-length"]' \
  "$(jpy 'sorted(f["path"] for f in j["files"])' "$WORK/v1.json")" "files of churn@1"

check "every file's blob has the source's bytes, its size and mode 0444"
verify_version "$R" churn@1 "$S"

check "modes: an executable file is 0555, others 0444"
assert_eq 0555 "$(jpy '[f["mode"] for f in j["files"] if f["path"]=="sub/run.sh"][0]' "$WORK/v1.json")" "mode of sub/run.sh"
assert_eq 0444 "$(jpy '[f["mode"] for f in j["files"] if f["path"]=="model.bin"][0]' "$WORK/v1.json")" "mode of model.bin"

check "show --json has every key of SPEC §5 with the right types"
jpy '
[k for k in ["model","version","state","digest","size","created_at","created_by","description",
             "aliases","approval","metrics","params","tags","lineage","files"] if k not in j]' "$WORK/v1.json" |
  { read -r missing; assert_eq "[]" "$missing" "missing keys in show --json"; } || exit 1
assert_eq true "$(jpy '
isinstance(j["version"], int) and not isinstance(j["version"], bool) and j["version"] == 1
and j["model"] == "churn" and j["state"] == "ready"
and isinstance(j["size"], int) and isinstance(j["aliases"], list)
and isinstance(j["metrics"], dict) and isinstance(j["params"], dict) and isinstance(j["tags"], dict)
and isinstance(j["lineage"], dict) and all(k in j["lineage"] for k in ("parents","datasets","code","run"))
and isinstance(j["files"], list)
and all(isinstance(f, dict) and all(k in f for k in ("path","size","mode","digest")) for f in j["files"])
and j["created_by"] == "root"' "$WORK/v1.json")" "types of show --json"
assert_eq "$(find "$S" -type f -printf '%s\n' | awk '{s+=$1} END{print s}')" \
  "$(jpy 'j["size"]' "$WORK/v1.json")" "size of churn@1 (total bytes)"
assert_eq true "$(jpy 'len(j["digest"]) == 32 and all(c in "0123456789abcdef" for c in j["digest"])' "$WORK/v1.json")" "digest is 32 hex digits"
assert_eq true "$(jpy '__import__("re").fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", j["created_at"]) is not None' "$WORK/v1.json")" "created_at is RFC 3339 UTC"

check "show (text) names the version, its state and its files"
ok mf show "$R" churn@1
assert_eq "churn@1" "$(printf '%s\n' "$OUT" | head -n1)" "first line of show"
assert_contains "$OUT" "ready" "show text"
assert_contains "$OUT" "sub/deeper/c.txt" "show text"
assert_contains "$OUT" "$(jpy 'j["digest"]' "$WORK/v1.json")" "show text"

# ---------------------------------------------------------------- dedupe, digests
check "re-pushing identical content stores no new blob and gives the same version digest"
nblobs=$(blob_count "$R")
assert_eq 5 "$nblobs" "blobs after first push (5 distinct files)"
ok mf push "$R" churn "$S"
assert_eq "churn@2" "$OUT" "second push"
assert_eq "$nblobs" "$(blob_count "$R")" "blob count after re-push of the same content"
d1=$(jpy 'j["digest"]' "$WORK/v1.json")
assert_eq "$d1" "$(mf show "$R" churn@2 --json | jpy 'j["digest"]')" "digest of identical content"
ok mf push "$R" other-model "$S"
assert_eq "other-model@1" "$OUT"
assert_eq "$nblobs" "$(blob_count "$R")" "blob count after pushing the same content to another model"
assert_eq "$d1" "$(mf show "$R" other-model@1 --json | jpy 'j["digest"]')" "digest of identical content in another model"

check "a changed byte, a changed mode or a renamed file changes the version digest"
S2=$WORK/src2
cp -a "$S" "$S2"
chmod 644 "$S2/sub/run.sh"
ok mf push "$R" churn "$S2"
assert_eq "churn@3" "$OUT"
mf show "$R" churn@3 --json >"$WORK/v3.json"
assert_ne "$d1" "$(jpy 'j["digest"]' "$WORK/v3.json")" "digest after chmod -x"
assert_eq 0444 "$(jpy '[f["mode"] for f in j["files"] if f["path"]=="sub/run.sh"][0]' "$WORK/v3.json")" "mode after chmod -x"
assert_eq "$nblobs" "$(blob_count "$R")" "blob count (only the mode changed)"
cp -a "$S2" "$WORK/src-v3"
mv "$S2/model.bin" "$S2/model2.bin"
ok mf push "$R" scratch "$S2"
assert_ne "$(jpy 'j["digest"]' "$WORK/v3.json")" "$(mf show "$R" scratch@1 --json | jpy 'j["digest"]')" "digest after a rename"
printf 'weights-v2' >"$S2/model2.bin"
ok mf push "$R" scratch "$S2"
assert_eq "$((nblobs + 1))" "$(blob_count "$R")" "blob count after one new file content"
verify_version "$R" scratch@2 "$S2"

# ---------------------------------------------------------------- push (several paths)
check "push of several paths stores each under its base name, directories with their subtree"
P=$WORK/parts
mkdir -p "$P/a/conf/inner" "$P/b"
printf 'tok' >"$P/a/tokenizer.json"
printf 'cfg' >"$P/a/conf/inner/x.yaml"
printf 'onnx' >"$P/b/model.onnx"
ok mf push "$R" multi "$P/b/model.onnx" "$P/a/conf" "$P/a/tokenizer.json"
assert_eq "multi@1" "$OUT"
assert_eq '["conf/inner/x.yaml", "model.onnx", "tokenizer.json"]' \
  "$(mf show "$R" multi@1 --json | jpy 'sorted(f["path"] for f in j["files"])')" "files of multi@1"
mkdir -p "$WORK/layout/conf/inner"
cp "$P/b/model.onnx" "$P/a/tokenizer.json" "$WORK/layout/"
cp "$P/a/conf/inner/x.yaml" "$WORK/layout/conf/inner/"
verify_version "$R" multi@1 "$WORK/layout"

check "a single file path is stored under its base name"
ok mf push "$R" single "$P/b/model.onnx"
assert_eq '["model.onnx"]' "$(mf show "$R" single@1 --json | jpy '[f["path"] for f in j["files"]]')"

check "two paths with the same base name are an error, and nothing is created"
mkdir -p "$WORK/d1" "$WORK/d2"
printf 1 >"$WORK/d1/x"
printf 2 >"$WORK/d2/x"
before_blobs=$(blob_listing "$R")
assert_fails 1 "base name" mf push "$R" multi "$WORK/d1/x" "$WORK/d2/x"
assert_fails 1 "base name" mf push "$R" fresh "$WORK/d1/x" "$WORK/d2/x"
assert_eq 1 "$(mf list "$R" multi --json | jpy 'len(j)')" "versions of multi after a refused push"
assert_fails 1 "fresh" mf show "$R" fresh
assert_eq "$before_blobs" "$(blob_listing "$R")" "blob store after a refused push"

check "push --json prints the new version's record"
ok mf push "$R" multi "$P/b/model.onnx" --json
assert_eq "multi 2 ready" "$(printf '%s' "$OUT" | jpy '"%s %s %s" % (j["model"], j["version"], j["state"])')" "push --json"

# ---------------------------------------------------------------- list
check "list shows every model; list --json is a list of model objects"
ok mf list "$R"
for m in churn other-model scratch multi single; do assert_contains "$OUT" "$m" "list"; done
mf list "$R" --json >"$WORK/list.json" || die "list --json failed"
assert_eq '["churn", "multi", "other-model", "scratch", "single"]' \
  "$(jpy 'sorted(m["model"] for m in j) if isinstance(j, list) else "not a list"' "$WORK/list.json")" "list --json models"

check "list MODEL shows its versions; --json is the list of version objects"
ok mf list "$R" churn
assert_contains "$OUT" "v1" "list churn"
assert_contains "$OUT" "v3" "list churn"
mf list "$R" churn --json >"$WORK/lc.json" || die "list churn --json failed"
assert_eq "[1, 2, 3]" "$(jpy '[v["version"] for v in j]' "$WORK/lc.json")" "versions in list churn --json"
assert_eq true "$(jpy 'all(v["model"] == "churn" and v["state"] == "ready" and "digest" in v for v in j)' "$WORK/lc.json")" "version objects in list --json"

# ---------------------------------------------------------------- push metadata
check "push records --metric/--param/--tag/--parent/--dataset/--code/--run/--description/--alias"
ok mf push "$R" churn "$S" --metric auc=0.913 --metric latency_ms=12 --param lr=0.01 \
  --tag team=growth --parent churn@1 --parent other-model@1 --dataset s3://d/train.parquet \
  --dataset s3://d/test.parquet --code git+https://x/y@abc --run run-7 \
  --description "first real model" --alias staging
assert_eq "churn@4" "$OUT"
mf show "$R" churn@4 --json >"$WORK/v4.json"
assert_eq true "$(jpy 'j["metrics"] == {"auc": 0.913, "latency_ms": 12}' "$WORK/v4.json")" "metrics (numbers)"
assert_eq '{"lr": "0.01"}' "$(jpy 'j["params"]' "$WORK/v4.json")" "params"
assert_eq '{"team": "growth"}' "$(jpy 'j["tags"]' "$WORK/v4.json")" "tags"
assert_eq '{"code": "git+https://x/y@abc", "datasets": ["s3://d/train.parquet", "s3://d/test.parquet"], "parents": ["churn@1", "other-model@1"], "run": "run-7"}' \
  "$(jpy 'j["lineage"]' "$WORK/v4.json")" "lineage"
assert_eq "first real model" "$(jpy 'j["description"]' "$WORK/v4.json")" "description"
assert_eq '["staging"]' "$(jpy 'j["aliases"]' "$WORK/v4.json")" "aliases"

# ---------------------------------------------------------------- set
check "set changes metrics, params, tags, lineage and description"
ok mf set "$R" churn@2 metrics.auc=0.91 params.depth=6 tags.owner=ml-team \
  lineage.parents=churn@1 lineage.datasets=s3://a,s3://b lineage.code=git:abc \
  lineage.run=r-1 "description=two words"
mf show "$R" churn@2 --json >"$WORK/v2.json"
assert_eq '{"auc": 0.91}' "$(jpy 'j["metrics"]' "$WORK/v2.json")" "metrics after set"
assert_eq '{"depth": "6"}' "$(jpy 'j["params"]' "$WORK/v2.json")" "params after set"
assert_eq '{"owner": "ml-team"}' "$(jpy 'j["tags"]' "$WORK/v2.json")" "tags after set"
assert_eq '{"code": "git:abc", "datasets": ["s3://a", "s3://b"], "parents": ["churn@1"], "run": "r-1"}' \
  "$(jpy 'j["lineage"]' "$WORK/v2.json")" "lineage after set"
assert_eq "two words" "$(jpy 'j["description"]' "$WORK/v2.json")" "description after set"
assert_eq "$d1" "$(jpy 'j["digest"]' "$WORK/v2.json")" "metadata does not change the content digest"

check "set overwrites a value; --remove removes keys"
ok mf set "$R" churn@2 metrics.auc=0.95
ok mf set "$R" churn@2 --remove tags.owner --remove params.depth
mf show "$R" churn@2 --json >"$WORK/v2.json"
assert_eq '{"auc": 0.95}' "$(jpy 'j["metrics"]' "$WORK/v2.json")" "metrics after overwrite"
assert_eq '{}' "$(jpy 'j["tags"]' "$WORK/v2.json")" "tags after --remove"
assert_eq '{}' "$(jpy 'j["params"]' "$WORK/v2.json")" "params after --remove"
assert_fails 1 "tags.owner" mf set "$R" churn@2 --remove tags.owner
assert_fails 1 "nothing to set" mf set "$R" churn@2

# ---------------------------------------------------------------- alias, show refs
check "alias creates; show MODEL@ALIAS resolves it; the version lists it"
ok mf alias "$R" churn@1 production
assert_eq 1 "$(mf show "$R" churn@production --json | jpy 'j["version"]')" "churn@production"
assert_eq '["production"]' "$(mf show "$R" churn@1 --json | jpy 'j["aliases"]')" "aliases of churn@1"
ok mf show "$R" churn@production
assert_eq "churn@1" "$(printf '%s\n' "$OUT" | head -n1)" "show churn@production (text)"

check "alias moves"
ok mf alias "$R" churn@2 production
assert_eq 2 "$(mf show "$R" churn@production --json | jpy 'j["version"]')" "churn@production after move"
assert_eq '[]' "$(mf show "$R" churn@1 --json | jpy 'j["aliases"]')" "aliases of churn@1 after move"
assert_eq '{"production": 2, "staging": 4}' \
  "$(mf list "$R" --json | jpy '[m["aliases"] for m in j if m["model"]=="churn"][0]')" "aliases in list --json"

check "show MODEL and MODEL@latest are the highest ready version"
assert_eq 4 "$(mf show "$R" churn --json | jpy 'j["version"]')" "show churn"
assert_eq 4 "$(mf show "$R" churn@latest --json | jpy 'j["version"]')" "show churn@latest"

check "alias --delete removes it"
ok mf alias "$R" --delete churn staging
assert_fails 1 "staging" mf show "$R" churn@staging
assert_eq '[]' "$(mf show "$R" churn@4 --json | jpy 'j["aliases"]')" "aliases of churn@4 after delete"
assert_fails 1 "staging" mf alias "$R" --delete churn staging

# ---------------------------------------------------------------- approve
check "approve / --reject with --comment"
ok mf approve "$R" churn@2 --comment "looks good"
assert_eq '["approved", "root", "looks good"]' \
  "$(mf show "$R" churn@2 --json | jpy '[j["approval"]["status"], j["approval"]["by"], j["approval"]["comment"]]')" "approval after approve"
ok mf approve "$R" churn@3 --reject --comment "auc too low"
assert_eq '["rejected", "root", "auc too low"]' \
  "$(mf show "$R" churn@3 --json | jpy '[j["approval"]["status"], j["approval"]["by"], j["approval"]["comment"]]')" "approval after reject"
assert_eq pending "$(mf show "$R" churn@1 --json | jpy 'j["approval"]["status"]')" "approval of an untouched version"

# ---------------------------------------------------------------- archive
check "archive: the version is archived, latest skips it"
ok mf archive "$R" churn@4
assert_eq archived "$(mf show "$R" churn@4 --json | jpy 'j["state"]')" "state of churn@4"
assert_eq 3 "$(mf show "$R" churn --json | jpy 'j["version"]')" "show churn after archiving v4"
assert_eq 3 "$(mf show "$R" churn@latest --json | jpy 'j["version"]')" "churn@latest after archiving v4"
assert_eq 3 "$(mf list "$R" --json | jpy '[m["latest"] for m in j if m["model"]=="churn"][0]')" "latest in list --json"

check "archiving an aliased version fails (exit 1, names the alias) and changes nothing"
assert_fails 1 "alias" mf archive "$R" churn@2
assert_eq ready "$(mf show "$R" churn@2 --json | jpy 'j["state"]')" "state of aliased churn@2"

check "version numbers are never reused"
ok mf push "$R" churn "$S"
assert_eq "churn@5" "$OUT"

# ---------------------------------------------------------------- log
check "log shows who, what, before -> after"
ok mf log "$R"
assert_contains "$OUT" "root" "log"
assert_contains "$OUT" "push churn@1" "log"
assert_contains "$OUT" "0.91 -> 0.95" "log (metric overwrite)"
assert_contains "$OUT" "production" "log"
assert_contains "$OUT" "archive" "log"
mf log "$R" churn --json >"$WORK/log.json" || die "log churn --json failed"
assert_eq true "$(jpy 'isinstance(j, list) and len(j) > 10 and all(r["model"] == "churn" for r in j)' "$WORK/log.json")" "log churn --json: only churn records"
assert_eq true "$(jpy 'all(k in r for r in j for k in ("time","user","action","object","before","after"))' "$WORK/log.json")" "log --json record keys"
assert_eq '[["0.91", "0.95"]]' "$(jpy '[[r["before"], r["after"]] for r in j if r["action"]=="set" and r["object"].endswith("metrics.auc") and r["before"]]' "$WORK/log.json")" "log --json before/after of metrics.auc"
assert_eq true "$(jpy 'any(r["action"] == "approve" and r["user"] == "root" for r in j)' "$WORK/log.json")" "approve in log --json"
mf log "$R" multi --json | jpy 'all(r["model"] == "multi" for r in j) and len(j) >= 2' | { read -r x; assert_eq true "$x" "log multi --json"; } || exit 1

# ---------------------------------------------------------------- fsck, gc
check "fsck of a healthy registry: exit 0, index consistent"
ok mf fsck "$R"
assert_contains "$OUT" "index consistent" "fsck"

check "gc --dry-run lists an unreferenced blob and the archived version, removes nothing"
stray_hex=00112233445566778899aabbccddeeff
stray=$(blob_path "$R" $stray_hex)
mkdir -p "$(dirname "$stray")"
printf 'nobody references me' >"$stray"
chmod 444 "$stray"
ok mf fsck "$R"
assert_contains "$OUT" "unreferenced blob blobs/00/112233445566778899aabbccddeeff" "fsck garbage list"
before=$(blob_listing "$R")
ok mf gc "$R" --dry-run
assert_contains "$OUT" "blobs/00/112233445566778899aabbccddeeff" "gc --dry-run"
assert_contains "$OUT" "churn@4" "gc --dry-run (archived version)"
assert_eq "$before" "$(blob_listing "$R")" "blob store after gc --dry-run"
assert_eq archived "$(mf show "$R" churn@4 --json | jpy 'j["state"]')" "churn@4 after gc --dry-run"

check "gc removes the unreferenced blob and the archived version; everything else intact"
ok mf gc "$R"
[ ! -e "$stray" ] || die "gc left the unreferenced blob $stray"
assert_contains "$OUT" "blobs/00/112233445566778899aabbccddeeff" "gc output"
assert_fails 1 "4" mf show "$R" churn@4
verify_version "$R" churn@1 "$S"
verify_version "$R" churn@3 "$WORK/src-v3"
verify_version "$R" churn@5 "$S"
verify_version "$R" multi@1 "$WORK/layout"
verify_version "$R" scratch@2 "$S2"
ok mf fsck "$R"
assert_contains "$OUT" "index consistent, 0 garbage" "fsck after gc"
ok mf gc "$R"
assert_contains "$OUT" "freed 0 bytes" "a second gc has nothing to do"

check "fsck detects a missing blob (exit 1, names the file)"
dig=$(mf show "$R" multi@1 --json | jpy '[f["digest"] for f in j["files"] if f["path"]=="conf/inner/x.yaml"][0]')
b=$(blob_path "$R" "$dig")
mv "$b" "$WORK/saved-blob"
run mf fsck "$R"
assert_eq 1 "$RC" "fsck exit status on a missing blob"
assert_contains "$OUT" "conf/inner/x.yaml" "fsck report"
assert_contains "$OUT" "INCONSISTENT" "fsck report"
mv "$WORK/saved-blob" "$b"
ok mf fsck "$R"

check "fsck detects a corrupted blob (exit 1, names the file)"
dig=$(mf show "$R" churn@1 --json | jpy '[f["digest"] for f in j["files"] if f["path"]=="sub/big.bin"][0]')
b=$(blob_path "$R" "$dig")
chmod u+w "$b"
flip_byte "$b" 1000
chmod 444 "$b"
run mf fsck "$R"
assert_eq 1 "$RC" "fsck exit status on a corrupted blob"
assert_contains "$OUT" "sub/big.bin" "fsck report"
assert_contains "$OUT" "INCONSISTENT" "fsck report"
case "$ERR" in "modelfs: "*) ;; *) die "fsck stderr does not start with 'modelfs: ': $ERR" ;; esac
cp "$S/sub/big.bin" "$WORK/fix" && chmod u+w "$b" && cp "$WORK/fix" "$b" && chmod 444 "$b"
ok mf fsck "$R"

# ---------------------------------------------------------------- help and usage
check "--help works for every command (exit 0, prints usage)"
ok mf --help
for c in init mount push show list set alias approve seal archive log gc fsck policy "policy check"; do
  # shellcheck disable=SC2086
  run mf $c --help
  [ "$RC" -eq 0 ] || die "modelfs $c --help exited $RC: $ERR"
  assert_contains "$OUT" "Usage" "modelfs $c --help"
done

check "usage errors exit 2 with a message naming the problem"
assert_usage "subcommand" mf
assert_usage "MODEL" mf push "$R"
assert_usage "PATH" mf push "$R" churn
assert_usage "REF" mf show
assert_usage "ALIAS" mf alias "$R" churn@1
assert_usage "--bogus" mf show "$R" churn --bogus
assert_usage "--frob" mf push "$R" churn "$S" --frob 1
assert_usage "--metric" mf push "$R" churn "$S" --metric
assert_usage "extra" mf show "$R" churn extra

check "a metric may be written with a leading + (a finite decimal number)"
ok mf set "$R" churn@1 metrics.gain=+0.5 metrics.loss=-0.25 metrics.big=1e3
assert_eq true "$(mf show "$R" churn@1 --json | jpy 'j["metrics"] == {"gain": 0.5, "loss": -0.25, "big": 1000}')" "metrics with signs and exponents"

check "an unknown command is a usage error that names it"
assert_usage "frobnicate" mf frobnicate "$R"
assert_usage "frobnicate" mf frobnicate

pass
