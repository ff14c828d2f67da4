# Writing a draft's files through the mount, by FUSE passthrough (the
# kernel writes the staging file itself: no write requests reach the
# daemon) and (MODELFS_PASSTHROUGH=0) by write requests: the bytes read back
# through any open, plain or mapped, before and after the seal; opens of one
# file for reading, writing and mapping overlap; a seal with a writer open is
# EBUSY whatever the mode; a small [limits].max_file_size still refuses each
# write past it (those opens are served by requests).
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
head -c $((64 << 20)) /dev/urandom >"$WORK/big.bin"
start_mount "$R" "$M"
PASS=${MODELFS_PASSTHROUGH:-1}
ok mkdir -p "$M/churn/v1"

check "cp of 64 MiB into a draft: the bytes read back, before the seal"
c0=$(counts)
ok cp "$WORK/big.bin" "$M/churn/v1/big.bin"
c1=$(counts)
ok cmp "$WORK/big.bin" "$M/churn/v1/big.bin"
writes=$(delta write "$c0" "$c1")
if [ "$PASS" = 1 ]; then
  [ "$writes" -eq 0 ] || die "passthrough: $writes write requests reached the daemon for a cp"
  ! grep -q "passthrough refused\|passthrough: not offered" "$MOUNT_LOG" ||
    die "passthrough was refused:
$(mount_log)"
else
  [ "$writes" -ge 64 ] || die "without passthrough only $writes write requests for 64 MiB"
fi

check "opens of one draft file overlap: pwrite, pread and shared mmap through each agree"
ok "$PY" - "$M/churn/v1/big.bin" <<'PY'
import mmap, os, sys
path = sys.argv[1]
# A reader opens first: the inode's backing file is then the daemon's
# read-only descriptor, and the writers opened after it must still write
# (the kernel opens a backing file per open, with that open's flags).
r1 = os.open(path, os.O_RDONLY)
w1 = os.open(path, os.O_RDWR)
w2 = os.open(path, os.O_WRONLY)
os.pwrite(w1, b"first", 0)
assert os.pread(r1, 5, 0) == b"first", "a reader does not see a writer's bytes"
os.pwrite(w2, b"second", 4096)
with mmap.mmap(w1, 0) as m:
    assert m[4096:4102] == b"second", "a map does not see another writer's bytes"
    m[8192:8198] = b"mapped"
    m.flush()
assert os.pread(r1, 6, 8192) == b"mapped", "a reader does not see bytes written through a map"
size = os.fstat(r1).st_size
os.pwrite(w2, b"tail", size)
assert os.fstat(r1).st_size == size + 4, "the size did not grow with a write at the end"
for fd in (w2, r1, w1):
    os.close(fd)
PY
python3 - "$WORK/big.bin" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[0:5] = b"first"; b[4096:4102] = b"second"; b[8192:8198] = b"mapped"; b += b"tail"
open(p, "wb").write(b)
PY
ok cmp "$WORK/big.bin" "$M/churn/v1/big.bin"

check "truncate of a draft file open for writing"
ok "$PY" - "$M/churn/v1/small.bin" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"x" * 10000)
os.ftruncate(fd, 100)
assert os.fstat(fd).st_size == 100
assert os.pread(fd, 200, 0) == b"x" * 100, "bytes past a truncate"
os.ftruncate(fd, 0)
os.write(fd, b"kept")
os.close(fd)
PY
assert_eq "kept" "$(cat "$M/churn/v1/small.bin")" "content after truncates"

check "a seal while a writer is open is EBUSY; after its close the seal keeps every byte"
exec 7>>"$M/churn/v1/small.bin"
run setfattr -n user.registry.state -v ready "$M/churn/v1"
[ "$RC" -ne 0 ] || die "a seal with a writer open succeeded"
assert_contains "$ERR" "busy"
printf '!' >&7
exec 7>&-
ok setfattr -n user.registry.state -v ready "$M/churn/v1"
assert_eq ready "$(getfattr --only-values -n user.registry.state "$M/churn/v1")" "state"
assert_eq "kept!" "$(cat "$M/churn/v1/small.bin")" "a sealed small file"
ok cmp "$WORK/big.bin" "$M/churn/v1/big.bin"
ok mf fsck "$R"
run sh -c "echo more >>'$M/churn/v1/small.bin'"
[ "$RC" -ne 0 ] || die "a sealed file took a write"

check "a small [limits].max_file_size refuses each write past it, passthrough or not"
printf '\n[limits]\nmax_file_size = "1M"\n' >>"$R/policy.toml"
ok mkdir "$M/churn/v2"
# The mount reloads the policy (bounded wait), then a write past 1M fails.
wait_until 5 eval "! truncate -s 2M '$M/churn/v2/probe.bin' 2>/dev/null" ||
  die "the mount did not take up the new limit"
run dd if=/dev/zero of="$M/churn/v2/w.bin" bs=64K count=32 status=none
[ "$RC" -ne 0 ] || die "a 2 MiB write under a 1M limit succeeded"
assert_contains "$ERR" "File too large"
size=$(stat -c %s "$M/churn/v2/w.bin")
[ "$size" -le $((1 << 20)) ] || die "the file grew to $size bytes past the 1M limit"
assert_clean_log
pass
