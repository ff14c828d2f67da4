#!/usr/bin/env bash
# A mountpoint where a ROOT is expected (cli/root.h): the CLI finds the
# mount's ROOT in /proc/self/mountinfo and uses it when the caller may open
# it (given first, with -R, or as $MODELFS_ROOT); a caller who may not is
# told plainly to work through the mount. Once unmounted the directory is
# just a directory again.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
M=$WORK/mnt
S=$WORK/src
mkdir -p "$S"
printf 'weights' >"$S/model.bin"
ok mf init "$R"
ok mf push "$R" churn "$S" --alias production
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/xdg
unset MODELFS_ROOT
start_mount "$R" "$M" -o allow_other

check "the mountpoint as the first argument, with -R, and as \$MODELFS_ROOT"
ok mf show "$M" churn@production --json
assert_eq churn "$(printf '%s' "$OUT" | jpy 'j["model"]')" "show MOUNTPOINT churn@production"
ok mf list -R "$M" --json
assert_eq '["churn"]' "$(printf '%s' "$OUT" | jpy '[m["model"] for m in j]')" "list -R MOUNTPOINT"
ok mf list -R "$M/" --json
MODELFS_ROOT=$M ok mf push churn "$S/model.bin"
assert_eq churn@2 "$OUT" "push with MODELFS_ROOT=MOUNTPOINT"
wait_until 5 test -d "$M/churn/v2" || die "the push through the mount's ROOT is not seen in the mount"
(cd "$WORK" && mf show ./mnt churn@2 --json) >"$WORK/rel.json" || die "show ./mnt failed"
assert_eq 2 "$(jpy 'j["version"]' "$WORK/rel.json")" "a relative mountpoint"

check "a caller who may open the mount's ROOT uses it (ROOT shared with group mf-pipeline)"
share_root "$R"
cp "$MODELFS" "$WORK/modelfs" && chmod 755 "$WORK/modelfs"
run as mf-alice "$WORK/modelfs" list "$M" --json
assert_eq 0 "$RC" "exit of mf-alice's list MOUNTPOINT ($ERR)"
assert_eq '["churn"]' "$(printf '%s' "$OUT" | jpy '[m["model"] for m in j]')" "mf-alice's list"

check "a caller who may not open it is told what to do"
chmod 700 "$R"
chgrp root "$R"
run as mf-dave "$WORK/modelfs" list "$M"
assert_eq 1 "$RC" "exit of mf-dave's list MOUNTPOINT"
assert_contains "$ERR" "$M is a modelfs mount of $R, which you may not open" "mf-dave's error"
assert_contains "$ERR" "work through the mount" "mf-dave's error"
assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c '')" "one line"
run as mf-dave env MODELFS_ROOT="$M" "$WORK/modelfs" show churn
assert_eq 1 "$RC" "exit of mf-dave's show with MODELFS_ROOT=MOUNTPOINT"
assert_contains "$ERR" "work through the mount" "mf-dave's error"

check "unmounted, the directory is no registry"
stop_mount "$M" "$MOUNT_PID"
assert_fails 1 "not a modelfs registry" mf list "$M"

pass
