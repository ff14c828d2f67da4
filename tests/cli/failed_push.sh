#!/usr/bin/env bash
# A push that fails says why and leaves nothing behind: an index that is
# full (its LMDB map, MODELFS_MAP_SIZE, used up) is "the index is full",
# exit 1, with the index consistent and the versions before it intact; a
# push refused at commit (an alias gate) removes the blobs it wrote.
. "$TESTS_DIR/cli/common.sh"

R=$WORK/reg
S=$WORK/src
mkdir -p "$S"

check "a push into a full index fails saying so, and commits nothing"
export MODELFS_MAP_SIZE=65536  # 16 pages: full after a few pushes
ok mf init "$R"
pushed=0
for i in $(seq 1 200); do
  printf 'weights %s' "$i" >"$S/model.bin"
  run mf push "$R" churn "$S" --tag "run=$(printf "r%.0s" $(seq 1 150))$i"
  [ "$RC" -eq 0 ] || break
  pushed=$i
done
[ "$pushed" -gt 0 ] || die "not even one push fit: $ERR"
[ "$pushed" -lt 200 ] || die "200 pushes fit in a 64 KiB index: MODELFS_MAP_SIZE is not honoured"
assert_fails 1 "the index is full" mf push "$R" churn "$S" --tag run=again
assert_not_contains "$ERR" "Input/output error"
ok mf fsck "$R"
ok mf list "$R" churn --json
assert_eq "$pushed" "$(jpy 'len(j)' <<<"$OUT")" "versions after the failed push"
unset MODELFS_MAP_SIZE
assert_eq "" "$(mf fsck "$R" | grep garbage:)" "garbage left by the push that did not fit"

check "a push refused by an alias gate at commit leaves no new blob"
R2=$WORK/reg2
ok mf init "$R2"
printf '\n[aliases.production]\nrequire_approval = true\n' >>"$R2/policy.toml"
printf 'first' >"$S/model.bin"
ok mf push "$R2" churn "$S"
before=$(blob_listing "$R2")
printf 'second' >"$S/model.bin"
printf 'more' >"$S/extra.bin"
assert_fails 3 "require_approval" mf push "$R2" churn "$S" --alias production
assert_eq "$before" "$(blob_listing "$R2")" "blobs after the refused push"
run mf fsck "$R2"
assert_not_contains "$OUT" "garbage:" "fsck after the refused push"
ok mf push "$R2" churn "$S"  # the same files, without the alias, still go in
assert_eq "churn@2" "$OUT" "the next push's number"

pass
