#!/usr/bin/env bash
# A push that fails says why and leaves nothing behind: an index that is
# full (its LMDB map, MODELFS_MAP_SIZE, used up) is "the index is full",
# exit 1, with the index consistent and the versions before it intact.
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

pass
