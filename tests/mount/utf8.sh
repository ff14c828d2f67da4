#!/usr/bin/env bash
# Text kept in the registry is UTF-8 (README, "Choices where the contract is
# silent"), through the mount as through the CLI: setfattr of a metadata
# value that is not UTF-8 is EINVAL and changes nothing; in a draft, a file
# may be created under any name, but sealing a draft holding a name that is
# not UTF-8, or that has a control character, is EINVAL, the draft stays a
# draft, and the daemon log names the file escaped. Renamed, it seals.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
echo weights >"$WORK/m.bin"
ok mf push "$R" churn "$WORK/m.bin"
start_mount "$R" "$M"
V=$M/churn/v1
val() { getfattr --only-values -n "$1" "$2" 2>/dev/null; }
audit_count() { mf log "$R" --json | jpy 'len(j)'; }

check "setfattr of a value that is not UTF-8 is EINVAL and changes nothing"
n=$(audit_count)
for name in user.tags.x user.params.lr user.registry.description user.lineage.code \
            user.lineage.run user.lineage.datasets; do
  run setfattr -n "$name" -v $'x\xff\xfe' "$V"
  [ "$RC" -ne 0 ] || die "setfattr -n $name of bytes that are not UTF-8 succeeded"
  assert_contains "$ERR" "Invalid argument" "setfattr -n $name"
  run getfattr -n "$name" "$V"
  assert_contains "$ERR" "No such attribute" "getfattr -n $name after the refusal"
done
assert_eq "$n" "$(audit_count)" "audit records after the refusals"
ok setfattr -n user.tags.city -v $'Z\xc3\xbcrich' "$V"
assert_eq $'Z\xc3\xbcrich' "$(val user.tags.city "$V")" "a UTF-8 value is kept"
ok mf show "$R" churn@1 --json

check "a draft holding a file named with bytes that are not UTF-8 does not seal (EINVAL)"
ok mkdir "$M/churn/v2"
D=$M/churn/v2
echo w >"$D/model.bin" || die "write model.bin in the draft"
echo w >"$D/x"$'\xff\xfe' || die "creating a file of any name in a draft is allowed"
run setfattr -n user.registry.state -v ready "$D"
assert_contains "$ERR" "Invalid argument" "seal with a bad name"
assert_eq draft "$(val user.registry.state "$D")" "state after the refused seal"
assert_eq draft "$(mf show "$R" churn@2 --json | jpy 'j["state"]')" "show after the refused seal"
wait_until 5 grep -qF 'x\xff\xfe' "$MOUNT_LOG" || die "the daemon log does not name the file:
$(mount_log)"
grep -q $'\xff' "$MOUNT_LOG" && die "the daemon log holds a raw byte 0xff"
ok mv "$D/x"$'\xff\xfe' "$D/renamed.bin"

check "a file named with a newline does not seal either; renamed, the draft seals"
mkdir "$D/sub" || die "mkdir in the draft"
echo w >"$D/sub/two"$'\n'"lines" || die "create a file named with a newline"
run setfattr -n user.registry.state -v ready "$D"
assert_contains "$ERR" "Invalid argument" "seal with a newline in a name"
assert_eq draft "$(val user.registry.state "$D")" "state after the refused seal"
wait_until 5 grep -qF 'sub/two\nlines' "$MOUNT_LOG" || die "the daemon log does not name the file:
$(mount_log)"
ok mv "$D/sub/two"$'\n'"lines" "$D/sub/two-lines"
ok setfattr -n user.registry.state -v ready "$D"
assert_eq ready "$(val user.registry.state "$D")" "state after sealing"
ok mf show "$R" churn@2 --json
echo "$OUT" >"$WORK/s.json"
assert_eq '["model.bin", "renamed.bin", "sub/two-lines"]' \
  "$(jpy 'sorted(f["path"] for f in j["files"])' "$WORK/s.json")" "files of churn@2"
assert_clean_log
pass
