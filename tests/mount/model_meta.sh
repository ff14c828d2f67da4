#!/usr/bin/env bash
# A model's own description and owner through the mount (issue 14, item 8):
# setfattr and setfattr -x of user.registry.description and
# user.registry.owner on a model directory, seen at once by getfattr and by
# the CLI, audited; flags and bad names give xattr(7)'s errnos, nothing
# changed; state=ready on an archived version unarchives it. And one number format (item 10): a metric's xattr is the text
# `show` prints.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
echo weights >"$WORK/m.bin"
ok mf push "$R" churn "$WORK/m.bin" --metric latency_ms=14 --metric auc=0.913
start_mount "$R" "$M"
val() { getfattr --only-values -n "$1" "$2" 2>/dev/null; }
model_field() { mf list "$R" --json | jpy "[m['$1'] for m in j if m['model']=='churn'][0]"; }

check "setfattr of user.registry.description on a model: getfattr and list --json see it, log audits it"
run val user.registry.description "$M/churn"
assert_eq "" "$OUT" "no description yet"
ok setfattr -n user.registry.description -v "predicts churn" "$M/churn"
assert_eq "predicts churn" "$(val user.registry.description "$M/churn")" "xattr"
assert_eq "predicts churn" "$(model_field description)" "list --json"
ok mf log "$R" churn --json
assert_eq "churn description:predicts churn" "$(echo "$OUT" | jpy '[r["object"] + ":" + r["after"] for r in j if r["action"]=="set"][-1]')" "audit"

check "setfattr of user.registry.owner; getfattr -d lists both"
ok setfattr -n user.registry.owner -v ana "$M/churn"
assert_eq ana "$(val user.registry.owner "$M/churn")" "owner xattr"
assert_eq ana "$(model_field owner)" "owner in list --json"
ok getfattr -d -m - "$M/churn"
assert_contains "$OUT" 'user.registry.description="predicts churn"'
assert_contains "$OUT" 'user.registry.owner="ana"'

check "XATTR_CREATE of a set description is EEXIST; -x removes it; -x again is ENODATA"
run "$PY" -c 'import os,sys; os.setxattr(sys.argv[1], "user.registry.description", b"x", os.XATTR_CREATE)' "$M/churn"
assert_contains "$ERR" "File exists"
ok setfattr -x user.registry.description "$M/churn"
run getfattr -n user.registry.description "$M/churn"
assert_contains "$ERR" "No such attribute"
assert_eq "" "$(model_field description)" "description after -x"
run setfattr -x user.registry.description "$M/churn"
assert_contains "$ERR" "No such attribute"

check "an empty owner, removing the owner, other names on a model are EINVAL; nothing changes"
run setfattr -n user.registry.owner -v "" "$M/churn"
assert_contains "$ERR" "Invalid argument"
run setfattr -x user.registry.owner "$M/churn"
assert_contains "$ERR" "Invalid argument"
run setfattr -n user.metrics.auc -v 1 "$M/churn"
assert_contains "$ERR" "Invalid argument"
run setfattr -n user.registry.latest -v 3 "$M/churn"
assert_contains "$ERR" "Invalid argument"
assert_eq ana "$(val user.registry.owner "$M/churn")" "owner after refusals"

check "a change made by the CLI shows through the mount"
ok mf set "$R" churn description="from the cli"
wait_until 5 eval '[ "$(val user.registry.description "$M/churn")" = "from the cli" ]' ||
  die "the mount did not show the CLI's description: [$(val user.registry.description "$M/churn")]"

check "a metric's xattr is the text show prints (14, not 14.0)"
assert_eq 14 "$(val user.metrics.latency_ms "$M/churn/v1")" "xattr of a whole metric"
assert_eq 0.913 "$(val user.metrics.auc "$M/churn/v1")" "xattr of a fraction"
ok mf show "$R" churn@1
assert_contains "$OUT" "latency_ms = 14"$'\n'
ok setfattr -n user.metrics.latency_ms -v 15.0 "$M/churn/v1"
assert_eq 15 "$(val user.metrics.latency_ms "$M/churn/v1")" "xattr after setting 15.0"
assert_eq 15 "$(mf show "$R" churn@1 --json | jpy 'json.dumps(j["metrics"]["latency_ms"])')" "--json after setting 15.0"

check "state=archived then state=ready through the mount archives and unarchives (audited)"
ok setfattr -n user.registry.state -v archived "$M/churn/v1"
assert_eq archived "$(mf show "$R" churn@1 --json | jpy 'j["state"]')" "state after archiving"
ok setfattr -n user.registry.state -v ready "$M/churn/v1"
assert_eq ready "$(val user.registry.state "$M/churn/v1")" "xattr state after unarchiving"
assert_eq ready "$(mf show "$R" churn@1 --json | jpy 'j["state"]')" "state after unarchiving"
ok mf log "$R" churn --json
assert_eq "churn@1" "$(echo "$OUT" | jpy '[r["object"] for r in j if r["action"]=="unarchive"][-1]')" "audit of unarchive"
pass
