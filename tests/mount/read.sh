# Reading through the mount: bytes equal what was pushed (cat, cmp, cp -r +
# diff -r, sha256sum), a 100 MiB file, reads at odd offsets, shared files
# across versions, every read path (-o read=copy|splice|splice_move), by
# FUSE passthrough and (MODELFS_PASSTHROUGH=0) without.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
S=$WORK/src
ok mf init "$R"
mkdir -p "$S/sub/deeper" "$S/emptydir"
printf 'weights-v1' >"$S/model.bin"
head -c 1234567 /dev/urandom >"$S/sub/odd.bin"
printf 'deep' >"$S/sub/deeper/c.txt"
: >"$S/sub/empty"
head -c $((100 << 20)) /dev/urandom >"$WORK/big.bin"
ok mf push "$R" churn "$S" --alias production
ok mf push "$R" big "$WORK/big.bin" "$S/model.bin"

for mode in copy splice splice_move; do
  start_mount "$R" "$M" -o "read=$mode"

  check "[$mode] cat and cmp of each file equal the pushed bytes"
  assert_eq "weights-v1" "$(cat "$M/churn/v1/model.bin")" "cat"
  (cd "$S" && find . -type f) | while read -r f; do
    cmp "$S/$f" "$M/churn/production/$f" || die "[$mode] $f differs"
  done

  check "[$mode] cp -r out of the mount, then diff -r"
  rm -rf "$WORK/out"
  ok cp -r "$M/churn/v1" "$WORK/out"
  ok diff -r "$S" "$WORK/out"

  check "[$mode] a 100 MiB file: sha256sum through the mount"
  want=$(sha256sum <"$WORK/big.bin" | cut -d' ' -f1)
  assert_eq "$want" "$(sha256sum <"$M/big/latest/big.bin" | cut -d' ' -f1)" "sha256 of 100 MiB"
  bd=$(mf show "$R" big@1 --json | jpy '[f["digest"] for f in j["files"] if f["path"] == "big.bin"][0]')
  if [ "${MODELFS_PASSTHROUGH:-1}" = 1 ]; then
    # Passthrough (tests run as root): the kernel reads the blob itself, so
    # its pages are the one cached copy, and the daemon serves no reads.
    res=$(fincore -b -n -o RES "$(blob_path "$R" "$bd")" | tr -d ' ')
    [ "$res" -ge $((95 << 20)) ] || die "[$mode] passthrough: only $res bytes of the blob cached after a full read"
    ! grep -q "passthrough refused\|passthrough: not offered" "$MOUNT_LOG" ||
      die "passthrough was refused:
$(mount_log)"
  elif [ "$mode" != splice_move ]; then
    # The bytes now sit in the mounted file's page cache; the daemon drops
    # the blob's copy as it serves it, so they are not cached twice.
    res=$(fincore -b -n -o RES "$(blob_path "$R" "$bd")" | tr -d ' ')
    [ "$res" -lt $((4 << 20)) ] || die "[$mode] blob still has $res bytes in the page cache after a full read"
  fi
  # A second read comes from the kernel's cache (keep_cache) and must agree.
  assert_eq "$want" "$(sha256sum <"$M/big/v1/big.bin" | cut -d' ' -f1)" "sha256, cached"

  check "[$mode] reads at odd offsets and lengths (dd skip/count)"
  for spec in "1 7" "4095 3" "1048575 2" "999999 1"; do
    set -- $spec
    a=$(dd if="$S/sub/odd.bin" bs=1 skip="$1" count="$2" 2>/dev/null | od -An -tx1)
    b=$(dd if="$M/churn/v1/sub/odd.bin" bs=1 skip="$1" count="$2" 2>/dev/null | od -An -tx1)
    assert_eq "$a" "$b" "[$mode] bytes at $1+$2"
  done
  tail_want=$(tail -c 100 "$S/sub/odd.bin" | od -An -tx1)
  assert_eq "$tail_want" "$(tail -c 100 "$M/churn/v1/sub/odd.bin" | od -An -tx1)" "tail"

  check "[$mode] opens of one file overlap: read and mmap through each, closed in any order"
  # One backing file per inode, shared by its opens and closed on the last
  # release: a later open must not get a closed one.
  ok "$PY" - "$M/big/v1/big.bin" "$WORK/big.bin" <<'PY'
import hashlib, mmap, os, sys
path, want = sys.argv[1], open(sys.argv[2], "rb").read()
def mapped(fd):
    with mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ) as m:
        return hashlib.sha256(m).digest()
h = hashlib.sha256(want).digest()
for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
    fds = [os.open(path, os.O_RDONLY) for _ in range(3)]
    for fd in fds:
        assert mapped(fd) == h, "mmap differs"
        assert os.pread(fd, 4096, 12345) == want[12345:12345 + 4096], "pread differs"
    for i in order:
        os.close(fds[i])
        rest = [fds[j] for j in order[order.index(i) + 1:]]
        if rest:
            assert mapped(rest[0]) == h, "mmap differs after another open closed"
    fd = os.open(path, os.O_RDONLY)
    assert mapped(fd) == h, "mmap differs on a later open"
    os.close(fd)
PY

  check "[$mode] a file shared by two versions reads the same in both"
  cmp "$M/churn/v1/model.bin" "$M/big/v1/model.bin" || die "shared blob differs"

  check "[$mode] opening for writing is EROFS"
  run "$PY" -c "import os,sys; os.open(sys.argv[1], os.O_WRONLY)" "$M/churn/v1/model.bin"
  assert_contains "$ERR" "Read-only file system"
  run "$PY" -c "import os,sys; os.open(sys.argv[1], os.O_RDWR)" "$M/churn/v1/model.bin"
  assert_contains "$ERR" "Read-only file system"

  assert_clean_log
  stop_mount "$M" "$MOUNT_PID"
done
pass
