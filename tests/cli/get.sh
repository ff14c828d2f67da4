#!/usr/bin/env bash
# `modelfs get` (issue 14, item 1): a version's files into a directory
# without a mount. Checks the bytes, modes and symlinks written; that DEST
# appears whole or not at all (an existing DEST, a corrupt blob, a filter
# matching nothing leave no DEST and no temporary sibling); --include and
# --exclude; --json; reflink-or-copy by default (the blob never shares its
# inode with DEST) and --link (it does); the policy's read.
. "$TESTS_DIR/cli/common.sh"

R=$WORK/reg
S=$WORK/src
ok mf init "$R"
mkdir -p "$S/sub/deep" "$S/conf"
head -c 200000 /dev/urandom >"$S/model.bin"
printf '{"a": 1}\n' >"$S/conf/a.json"
printf '{"b": 2}\n' >"$S/sub/deep/b.json"
printf '#!/bin/sh\necho hi\n' >"$S/sub/run.sh"
chmod 755 "$S/sub/run.sh"
: >"$S/empty.txt"
ln -s ../model.bin "$S/sub/link.bin"
ok mf push "$R" churn "$S" --alias production
assert_eq churn@1 "$OUT" "push"

# no_leftovers DIR: no temporary sibling of a get is left in DIR.
no_leftovers() {
  local left
  left=$(find "$1" -maxdepth 1 -name '.*.get-*' | head -n1)
  [ -z "$left" ] || die "a temporary directory was left behind: $left"
}

check "get writes every file, byte for byte, with its mode and symlinks, and says what it wrote"
ok mf get "$R" churn@production "$WORK/out"
for f in model.bin conf/a.json sub/deep/b.json sub/run.sh empty.txt; do
  assert_file_eq "$S/$f" "$WORK/out/$f" "$f"
done
[ -x "$WORK/out/sub/run.sh" ] || die "sub/run.sh lost its executable bit"
[ -x "$WORK/out/model.bin" ] && die "model.bin became executable"
[ -w "$WORK/out/model.bin" ] || die "a copied file should be the caller's, writable"
assert_eq ../model.bin "$(readlink "$WORK/out/sub/link.bin")" "symlink target"
assert_eq 6 "$(find "$WORK/out" -type f -o -type l | wc -l)" "number of entries in DEST"
assert_contains "$OUT" "$(printf '\t9\tsub/deep/b.json')" "get's output"
assert_eq "reflink copy" "$(printf '%s\n' "$OUT" | awk -F'\t' '$3=="model.bin"{print ($1=="reflink"||$1=="copy") ? "reflink copy" : $1}')" "method column of model.bin"
assert_contains "$OUT" "$(printf 'symlink\t12\tsub/link.bin -> ../model.bin')" "get's output of a symlink"
assert_contains "$OUT" "churn@1 -> $WORK/out: 6 files" "get's summary"
assert_contains "$OUT" "digests verified" "get's summary"
no_leftovers "$WORK"

check "by default DEST never shares an inode with a blob: writing it leaves the registry intact"
D=$(mf show "$R" churn@1 --json | jpy '[f["digest"] for f in j["files"] if f["path"]=="model.bin"][0]')
B=$(blob_path "$R" "$D")
assert_ne "$(stat -c %i "$B")" "$(stat -c %i "$WORK/out/model.bin")" "inode of DEST/model.bin"
printf 'scribble' >>"$WORK/out/model.bin"
assert_file_eq "$S/model.bin" "$B" "blob after writing the got file"
ok mf fsck "$R"

check "--json: one object with the version and each file's path, size, mode, digest, method"
ok mf get "$R" churn "$WORK/outj" --json
echo "$OUT" >"$WORK/g.json"
assert_eq "churn 1 $WORK/outj" "$(jpy 'j["model"] + " " + str(j["version"]) + " " + j["dest"]' "$WORK/g.json")" "json head"
assert_eq 200000 "$(jpy '[f["size"] for f in j["files"] if f["path"]=="model.bin"][0]' "$WORK/g.json")" "json size"
assert_eq "$D" "$(jpy '[f["digest"] for f in j["files"] if f["path"]=="model.bin"][0]' "$WORK/g.json")" "json digest"
assert_eq true "$(jpy 'all(f["method"] in ("reflink", "copy") for f in j["files"] if f["path"] != "sub/link.bin")' "$WORK/g.json")" "methods"
assert_eq symlink "$(jpy '[f["method"] for f in j["files"] if f["path"]=="sub/link.bin"][0]' "$WORK/g.json")" "method of the link"

check "--include and --exclude select paths by glob (* matches /)"
ok mf get "$R" churn@1 "$WORK/outf" --include '*.json' --exclude 'sub/*'
assert_eq "conf/a.json" "$(cd "$WORK/outf" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')" "filtered files"
ok mf get "$R" churn@1 "$WORK/outg" --include 'model.bin' --include 'sub/run.sh'
assert_eq "model.bin sub/run.sh" "$(cd "$WORK/outg" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')" "two includes"

check "a filter that matches nothing fails, and creates nothing"
assert_fails 1 "matches" mf get "$R" churn@1 "$WORK/none" --include '*.onnx'
[ -e "$WORK/none" ] && die "DEST was created although nothing matched"
no_leftovers "$WORK"

check "an existing DEST is refused and left alone; an empty directory is filled"
mkdir "$WORK/busy" && echo mine >"$WORK/busy/keep"
assert_fails 1 "exists" mf get "$R" churn@1 "$WORK/busy"
assert_eq mine "$(cat "$WORK/busy/keep")" "DEST's own file"
echo x >"$WORK/afile"
assert_fails 1 "exists" mf get "$R" churn@1 "$WORK/afile"
mkdir "$WORK/emptydir"
ok mf get "$R" churn@1 "$WORK/emptydir/"
assert_file_eq "$S/model.bin" "$WORK/emptydir/model.bin" "get into an empty directory"

check "a corrupt blob fails the get naming the file; no DEST, no temporary directory"
chmod u+w "$B"
flip_byte "$B" 100
chmod 444 "$B"
assert_fails 1 "corrupt" mf get "$R" churn@1 "$WORK/bad"
assert_contains "$ERR" "model.bin"
[ -e "$WORK/bad" ] && die "a get that failed left DEST behind"
no_leftovers "$WORK"
assert_fails 1 "corrupt" mf get "$R" churn@1 "$WORK/bad" --link
[ -e "$WORK/bad" ] && die "a get --link that failed left DEST behind"
no_leftovers "$WORK"
# Put the bytes back.
chmod u+w "$B" && cp "$S/model.bin" "$B" && chmod 444 "$B"

check "--link hard-links from the blob store on the same filesystem (read-only files)"
ok mf get "$R" churn@1 "$WORK/outl" --link --json
echo "$OUT" >"$WORK/l.json"
assert_eq link "$(jpy '[f["method"] for f in j["files"] if f["path"]=="model.bin"][0]' "$WORK/l.json")" "method with --link"
assert_eq "$(stat -c %i "$B")" "$(stat -c %i "$WORK/outl/model.bin")" "inode with --link"
assert_eq 444 "$(stat -c %a "$WORK/outl/model.bin")" "mode of a linked file"

check "bad input: a malformed REF is a usage error; a missing version or model fails; a draft-less model"
assert_usage "model" mf get "$R" 'Bad Name' "$WORK/x"
assert_fails 1 "churn@9" mf get "$R" churn@9 "$WORK/x"
assert_fails 1 "nope" mf get "$R" nope "$WORK/x"
assert_fails 1 "No such file" mf get "$R" churn@1 "$WORK/no/such/dir/x"
[ -e "$WORK/x" ] && die "a failed get created DEST"

check "the policy's read applies: a caller who may not read the model is denied (exit 3), nothing written"
cat >"$R/policy.toml" <<'P'
[defaults]
read = ["user:nobody"]
admin = ["user:nobody"]
P
assert_fails 3 "denied" mf get "$R" churn@1 "$WORK/denied"
[ -e "$WORK/denied" ] && die "a denied get created DEST"
pass
