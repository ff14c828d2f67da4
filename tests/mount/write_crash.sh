# A crash of the mount daemon while cp writes into a draft (SPEC §2, §4):
# after SIGKILL and a remount, ready versions are intact, the draft is still
# a draft, the file that was open for writing (it still carries
# user.modelfs.writing) is dropped at mount start with a log line, complete
# files are kept, fsck is clean and sealing works.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
head -c 200000 /dev/urandom >"$WORK/ready.bin"
ok mf push "$R" churn "$WORK/ready.bin" --alias production
head -c 1000000 /dev/urandom >"$WORK/done.bin"
start_mount "$R" "$M"
ok mkdir "$M/churn/v2"
ok cp "$WORK/done.bin" "$M/churn/v2/done.bin"

check "cp of a big file is under way (8 MiB written, more to come) when the daemon is killed"
head -c 8388608 /dev/urandom >"$WORK/head.bin"
# cp reads a fifo that delivers 8 MiB and then stalls: the file stays open
# for writing, deterministically.
mkfifo "$WORK/feed"
(cat "$WORK/head.bin"; exec sleep 60) >"$WORK/feed" &
FEED_PID=$!
on_exit "kill $FEED_PID 2>/dev/null"
cp "$WORK/feed" "$M/churn/v2/big.bin" &
CP_PID=$!
on_exit "kill $CP_PID 2>/dev/null"
staging_big() { find "$R/staging" -name big.bin -size +8191k | grep -q .; }
wait_until 20 staging_big || die "cp did not write 8 MiB into the draft"
big=$(find "$R/staging" -name big.bin)
getfattr -n user.modelfs.writing "$big" >/dev/null 2>&1 || die "a file open for writing does not carry user.modelfs.writing"
kill -9 "$MOUNT_PID"
wait "$MOUNT_PID" 2>/dev/null
kill "$FEED_PID" "$CP_PID" 2>/dev/null
wait "$FEED_PID" "$CP_PID" 2>/dev/null
stop_mount "$M"
[ -f "$big" ] || die "the torn file disappeared before the remount"

check "remount: the torn file is dropped with a log line; the complete file is kept"
start_mount "$R" "$M"
wait_until 5 grep -q "recovery: dropped churn@2 big.bin" "$MOUNT_LOG" || die "no recovery line: $(mount_log)"
[ ! -e "$big" ] || die "the torn file is still in staging"
[ ! -e "$M/churn/v2/big.bin" ] || die "the torn file is still visible"
cmp "$WORK/done.bin" "$M/churn/v2/done.bin" || die "the complete file changed"
assert_eq draft "$(getfattr --only-values -n user.registry.state "$M/churn/v2")" "state of v2"
cmp "$WORK/ready.bin" "$M/churn/v1/ready.bin" || die "v1 changed"
assert_eq v1 "$(readlink "$M/churn/production")" "production"

check "fsck is clean; sealing then works and keeps what was complete"
ok mf fsck "$R"
ok setfattr -n user.registry.state -v ready "$M/churn/v2"
ok mf show "$R" churn@2 --json
assert_eq '["done.bin"]' "$(echo "$OUT" | jpy '[f["path"] for f in j["files"]]')" "files of v2"
ok mf fsck "$R"
assert_clean_log
stop_mount "$M" "$MOUNT_PID"
pass
