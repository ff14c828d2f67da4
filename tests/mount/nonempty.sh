# Mounting over a directory that holds files would hide them: refused with
# one clear line (exit 1, nothing mounted) unless `-o nonempty`, which
# mounts over them; they are back, unchanged, once unmounted. An empty
# directory mounts as before.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
printf 'x' >"$WORK/a.bin"
ok mf push "$R" churn "$WORK/a.bin"

check "an empty mountpoint mounts"
start_mount "$R" "$M"
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "read through the mount"
stop_mount "$M" "$MOUNT_PID"

check "a mountpoint holding a file: refused, exit 1, one line naming the way out"
printf 'keep me' >"$M/notes.txt"
assert_fails 1 "-o nonempty" timeout 10 "$MODELFS" mount "$R" "$M" -f
assert_contains "$ERR" "not empty"
assert_contains "$ERR" "notes.txt"
is_mounted "$M" && die "mounted over a non-empty directory"
assert_eq "keep me" "$(cat "$M/notes.txt")" "the file, after the refusal"

check "daemon mode refuses too, before daemonizing"
assert_fails 1 "not empty" timeout 10 "$MODELFS" mount "$R" "$M"
is_mounted "$M" && die "mounted over a non-empty directory (daemon mode)"

check "a hidden file alone counts"
rm "$M/notes.txt"
touch "$M/.hidden"
assert_fails 1 "not empty" timeout 10 "$MODELFS" mount "$R" "$M" -f
rm "$M/.hidden"
printf 'keep me' >"$M/notes.txt"

check "-o nonempty mounts over the files; they come back after unmount"
start_mount "$R" "$M" -o nonempty
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "read through the mount"
[ -e "$M/notes.txt" ] && die "the directory's own file shows through the mount"
stop_mount "$M" "$MOUNT_PID"
assert_eq "keep me" "$(cat "$M/notes.txt")" "the file, after unmount"

check "nonempty goes with other options"
start_mount "$R" "$M" -o ro,nonempty
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "read through the mount"
stop_mount "$M" "$MOUNT_PID"

pass
