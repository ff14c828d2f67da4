# A blob whose bytes no longer match its digest reads as EIO through the
# mount, never as wrong bytes (SPEC §5, mount); other files still read;
# --no-verify skips the check (and so serves what is on disk).
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
head -c 200000 /dev/urandom >"$WORK/bad.bin"
printf 'good bytes' >"$WORK/good.bin"
ok mf push "$R" churn "$WORK/bad.bin" "$WORK/good.bin"

d=$(mf show "$R" churn@1 --json | jpy '[f["digest"] for f in j["files"] if f["path"] == "bad.bin"][0]')
b=$(blob_path "$R" "$d")
[ -f "$b" ] || die "no blob at $b"

check "flip one byte of a blob, then read it through the mount: EIO"
chmod u+w "$b"
"$PY" - "$b" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100000)
    c = f.read(1)
    f.seek(100000)
    f.write(bytes([c[0] ^ 0xFF]))
PY
chmod 0444 "$b"
start_mount "$R" "$M"
run cat "$M/churn/v1/bad.bin"
[ "$RC" -ne 0 ] || die "cat of a corrupt blob succeeded"
assert_contains "$ERR" "Input/output error"
assert_eq "" "$OUT" "no bytes of a corrupt blob"
run cat "$M/churn/v1/bad.bin"
[ "$RC" -ne 0 ] || die "second open of a corrupt blob succeeded"
assert_contains "$(mount_log)" "bad.bin"

check "other files of the same version read fine"
assert_eq "good bytes" "$(cat "$M/churn/v1/good.bin")" "good file"
stat "$M/churn/v1/bad.bin" >/dev/null || die "stat of the corrupt file failed (only reads should)"
stop_mount "$M" "$MOUNT_PID"

check "--no-verify serves the bytes on disk"
start_mount "$R" "$M" --no-verify
ok cmp "$b" "$M/churn/v1/bad.bin"
stop_mount "$M" "$MOUNT_PID"

check "a missing blob is EIO as well"
d2=$(mf show "$R" churn@1 --json | jpy '[f["digest"] for f in j["files"] if f["path"] == "good.bin"][0]')
rm -f "$(blob_path "$R" "$d2")"
start_mount "$R" "$M"
run cat "$M/churn/v1/good.bin"
assert_contains "$ERR" "Input/output error"

assert_clean_log
pass
