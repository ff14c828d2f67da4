# /etc/fstab and `mount -t modelfs`: mount(8) runs /sbin/mount.modelfs
# (the modelfs binary under that name), which drops mount(8)'s own options
# (_netdev, noauto, nofail, defaults, rw ...) and mounts as `modelfs mount`
# does, returning once the mount serves; umount(8) stops the daemon.
#
# The system is left alone: the test runs in a private mount namespace of
# its own (unshare), where mount.modelfs is added to /usr/sbin by an
# overlay and fstab lines go to a temporary file (`mount -T FILE`).
if [ -z "${MODELFS_FSTAB_NS:-}" ]; then
  command -v unshare >/dev/null || { echo "FAIL: unshare(1) is needed" >&2; exit 1; }
  exec unshare --mount --propagation private env MODELFS_FSTAB_NS=1 bash "$0" "$@"
fi
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
mkdir -p "$M" "$WORK/ovl"
ok mf init "$R"
printf 'x' >"$WORK/a.bin"
ok mf push "$R" churn "$WORK/a.bin"

# /sbin/mount.modelfs, in this namespace only: an overlay whose upper
# layer is on a tmpfs (any filesystem under $WORK may not take one).
SBIN=$(realpath /sbin)
ok mount -t tmpfs tmpfs "$WORK/ovl"
on_exit "umount -l '$WORK/ovl'"
mkdir -p "$WORK/ovl/upper" "$WORK/ovl/work"
ok mount -t overlay overlay \
  -o "lowerdir=$SBIN,upperdir=$WORK/ovl/upper,workdir=$WORK/ovl/work" "$SBIN"
on_exit "umount -l '$SBIN'"
ln -s "$MODELFS" "$SBIN/mount.modelfs"

# daemon_pid: the mount.modelfs daemon serving $M.
daemon_pid() { pgrep -f "mount.modelfs $R $M( |\$)" | head -1; }

# umount_and_wait: umount(8) unmounts and the daemon exits.
umount_and_wait() {
  local pid
  pid=$(daemon_pid)
  [ -n "$pid" ] || die "no mount.modelfs daemon for $M"
  ok timeout 10 umount "$M"
  wait_pid_exit "$pid" 10 || die "daemon $pid still running 10 s after umount"
  is_mounted "$M" && die "still mounted after umount"
  return 0
}

check "an fstab line (allow_other,_netdev,noauto): mount MOUNTPOINT mounts it"
printf '# a comment\n%s %s modelfs allow_other,_netdev,noauto 0 0\n' "$R" "$M" >"$WORK/fstab"
run timeout 20 mount -T "$WORK/fstab" "$M"
on_exit "stop_mount '$M'"
[ "$RC" -eq 0 ] || die "mount -T fstab failed ($RC): $ERR"
is_mounted "$M" || die "mount returned 0 but nothing is mounted at $M"
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "read through the fstab mount"
line=$(grep " $M fuse.modelfs " /proc/mounts)
assert_contains "$line" "$R $M fuse.modelfs" "/proc/mounts"
assert_contains "$line" "allow_other" "/proc/mounts options"
assert_contains "$(cat "$R/mount.log")" "serving $R at $M" "the daemon log"
umount_and_wait

check "mount -a mounts the lines without noauto (nofail dropped too)"
printf '%s %s modelfs allow_other,nofail,defaults 0 0\n' "$R" "$M" >"$WORK/fstab-auto"
run timeout 20 mount -T "$WORK/fstab-auto" -a
[ "$RC" -eq 0 ] || die "mount -a failed ($RC): $ERR"
is_mounted "$M" || die "mount -a did not mount $M"
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "read after mount -a"
umount_and_wait
run timeout 20 mount -T "$WORK/fstab" -a
[ "$RC" -eq 0 ] || die "mount -a failed ($RC): $ERR"
is_mounted "$M" && die "mount -a mounted a noauto line"

check "mount -t modelfs ROOT MOUNTPOINT -o ro,defaults: read-only"
run timeout 20 mount -t modelfs "$R" "$M" -o ro,defaults,x-systemd.automount
[ "$RC" -eq 0 ] || die "mount -t modelfs failed ($RC): $ERR"
is_mounted "$M" || die "mount -t modelfs did not mount $M"
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "read through mount -t"
mkdir "$M/fraud" 2>"$WORK/mkdir.err" && die "mkdir succeeded on a read-only mount"
assert_contains "$(cat "$WORK/mkdir.err")" "Read-only file system"
umount_and_wait

check "mount.modelfs threads=N and noverify reach the daemon"
run timeout 20 mount -t modelfs "$R" "$M" -o threads=3,noverify
[ "$RC" -eq 0 ] || die "mount -t modelfs -o threads=3,noverify failed ($RC): $ERR"
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "read with threads=3"
umount_and_wait

check "an option neither mount(8) nor FUSE knows: mount fails naming it, nothing mounted"
run timeout 20 mount -t modelfs "$R" "$M" -o allow_other,no_such_option
[ "$RC" -ne 0 ] || die "mount with a bad option succeeded"
assert_contains "$ERR" "no_such_option"
is_mounted "$M" && die "mounted despite a bad option"

check "a non-empty mountpoint: refused unless -o nonempty"
printf 'keep me' >"$M/notes.txt"
run timeout 20 mount -t modelfs "$R" "$M"
[ "$RC" -ne 0 ] || die "mount over a non-empty directory succeeded"
assert_contains "$ERR" "-o nonempty"
is_mounted "$M" && die "mounted over a non-empty directory"
run timeout 20 mount -t modelfs "$R" "$M" -o nonempty
[ "$RC" -eq 0 ] || die "mount -o nonempty failed ($RC): $ERR"
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "read with nonempty"
umount_and_wait
assert_eq "keep me" "$(cat "$M/notes.txt")" "the directory's file after unmount"

check "a ROOT that is not a registry: mount fails with modelfs' reason"
rm "$M/notes.txt"
mkdir -p "$WORK/notreg"
run timeout 20 mount -t modelfs "$WORK/notreg" "$M"
[ "$RC" -ne 0 ] || die "mount of a non-registry succeeded"
assert_contains "$ERR" "not a modelfs registry"

check "the daemons' log (their stderr) has no sanitizer report"
if grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$R/mount.log"; then
  die "sanitizer report in $R/mount.log: $(cat "$R/mount.log")"
fi

pass
