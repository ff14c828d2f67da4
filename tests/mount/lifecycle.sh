# The mount's lifecycle: fusermount3 -u and SIGTERM end the daemon; a
# missing mountpoint, a ROOT that is not a registry, a busy mountpoint and
# a bad option fail with one clear line and exit 1; the default (daemon)
# mode returns once mounted and logs to ROOT/mount.log.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
printf 'x' >"$WORK/a.bin"
ok mf push "$R" churn "$WORK/a.bin"

check "fusermount3 -u makes a foreground daemon exit 0"
start_mount "$R" "$M"
pid=$MOUNT_PID
ok timeout 10 fusermount3 -u "$M"
wait_pid_exit "$pid" 10 || die "daemon still running 10 s after fusermount3 -u"
wait "$pid"
assert_eq 0 $? "exit status after unmount"
is_mounted "$M" && die "still mounted"

check "SIGTERM unmounts and exits 0"
start_mount "$R" "$M"
pid=$MOUNT_PID
kill -TERM "$pid"
wait_pid_exit "$pid" 10 || die "daemon still running 10 s after SIGTERM"
wait "$pid"
assert_eq 0 $? "exit status after SIGTERM"
wait_until 5 eval "! is_mounted '$M'" || die "still mounted after SIGTERM"
grep -qs " $M fuse" /proc/mounts && die "a mount entry remains after SIGTERM"

check "a missing mountpoint: exit 1, one line"
assert_fails 1 "does not exist" timeout 10 "$MODELFS" mount "$R" "$WORK/nowhere" -f

check "a ROOT that is not a registry: exit 1, one line"
mkdir -p "$WORK/notreg"
assert_fails 1 "not a modelfs registry" timeout 10 "$MODELFS" mount "$WORK/notreg" "$M" -f
assert_fails 1 "$WORK/missing" timeout 10 "$MODELFS" mount "$WORK/missing" "$M" -f

check "a mountpoint already mounted: exit 1, names the way out"
start_mount "$R" "$M"
assert_fails 1 "already mounted" timeout 10 "$MODELFS" mount "$R" "$M" -f
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "the first mount still serves"
stop_mount "$M" "$MOUNT_PID"

check "an unknown -o option fails without mounting"
run timeout 10 "$MODELFS" mount "$R" "$M" -f -o no_such_option
[ "$RC" -eq 1 ] || die "expected exit 1 for a bad option, got $RC: $ERR"
assert_contains "$ERR" "no_such_option"
is_mounted "$M" && die "mounted despite a bad option"
assert_fails 1 "read=" timeout 10 "$MODELFS" mount "$R" "$M" -f -o read=bogus

check "default mode daemonizes: the command returns 0 with the mount up"
run timeout 20 "$MODELFS" mount "$R" "$M"
[ "$RC" -eq 0 ] || die "daemon mode exited $RC: $ERR"
on_exit "stop_mount '$M'"
wait_until 10 is_mounted "$M" || die "not mounted after daemon start"
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "read through the daemon"
dpid=$(pgrep -f "^$MODELFS mount $R $M\$" | head -1)
[ -n "$dpid" ] || die "no daemon process found"
assert_contains "$(cat "$R/mount.log")" "serving $R at $M"
ok timeout 10 fusermount3 -u "$M"
wait_pid_exit "$dpid" 10 || die "daemon $dpid still running after unmount"
assert_contains "$(cat "$R/mount.log")" "unmounting $M"

check "a dead mount (daemon killed) is reported, and can be cleaned up"
start_mount "$R" "$M"
kill -9 "$MOUNT_PID"
wait_pid_exit "$MOUNT_PID" 10
assert_fails 1 "fusermount3 -u" timeout 10 "$MODELFS" mount "$R" "$M" -f
stop_mount "$M"

pass
