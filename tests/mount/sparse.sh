# Sparse files through the mount: `truncate -s 2G` in a draft then seal is
# fast and stores a blob with its holes (little disk), which reads back as
# zeros where the holes were, with the digest of the full content (fsck); and a
# draft's user.registry.size shows the bytes it holds before it is sealed;
# [limits].max_file_size refuses larger draft files (EFBIG) and pushes.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
start_mount "$R" "$M"
ok mkdir "$M/churn"

check "a draft's user.registry.size is the size of its files"
ok mkdir "$M/churn/v1"
assert_eq 0 "$(getfattr --only-values -n user.registry.size "$M/churn/v1")" "size of an empty draft"
ok dd if=/dev/urandom of="$M/churn/v1/w.bin" bs=1M count=5 status=none
assert_eq 5242880 "$(getfattr --only-values -n user.registry.size "$M/churn/v1")" "size of a draft with 5 MB"
printf 'abc' >"$M/churn/v1/more.txt"
assert_eq 5242883 "$(getfattr --only-values -n user.registry.size "$M/churn/v1")" \
  "size after another write (not a cached value)"
ok setfattr -n user.registry.state -v ready "$M/churn/v1"
assert_eq 5242883 "$(getfattr --only-values -n user.registry.size "$M/churn/v1")" "size once sealed"

check "truncate -s 2G in a draft, then seal: fast, and the blob keeps its holes"
ok mkdir "$M/churn/v2"
ok truncate -s 2G "$M/churn/v2/big.bin"
printf 'head' | dd of="$M/churn/v2/big.bin" conv=notrunc status=none
printf 'tail' | dd of="$M/churn/v2/big.bin" bs=1 seek=$((2 * 1024 * 1024 * 1024 - 4)) conv=notrunc status=none
assert_eq 2147483648 "$(getfattr --only-values -n user.registry.size "$M/churn/v2")" "size of the sparse draft"
t0=$(date +%s)
ok timeout 30 setfattr -n user.registry.state -v ready "$M/churn/v2"
t1=$(date +%s)
[ $((t1 - t0)) -lt 30 ] || die "sealing a 2 GiB sparse file took $((t1 - t0)) s"
assert_eq ready "$(getfattr --only-values -n user.registry.state "$M/churn/v2")" "state after seal"
ok mf show "$R" churn@2 --json
echo "$OUT" >"$WORK/v2.json"
digest=$(jpy 'j["files"][0]["digest"]' "$WORK/v2.json")
assert_eq 2147483648 "$(jpy 'j["files"][0]["size"]' "$WORK/v2.json")" "stored size"
blob="$R/blobs/${digest:0:2}/${digest:2}"
[ -f "$blob" ] || die "no blob at $blob"
kb=$(du -k "$blob" | cut -f1)
[ "$kb" -lt 16384 ] || die "the blob of a 2 GiB sparse file takes $kb KiB on disk"

check "the sealed file reads back as its bytes and zeros where the holes were"
assert_eq head "$(head -c 4 "$M/churn/v2/big.bin")" "first bytes"
assert_eq tail "$(tail -c 4 "$M/churn/v2/big.bin")" "last bytes"
zeros=$(dd if="$M/churn/v2/big.bin" bs=1M skip=1000 count=2 status=none | tr -d '\0' | wc -c)
assert_eq 0 "$zeros" "non-zero bytes in the middle"
# Its digest is that of the full content: fsck hashes every byte.
ok mf fsck "$R"
check "a draft file past [limits].max_file_size (default 256G) is EFBIG"
ok mkdir "$M/churn/v3"
run truncate -s 1T "$M/churn/v3/huge.bin"
[ "$RC" -ne 0 ] || die "truncate -s 1T in a draft succeeded"
assert_contains "$ERR" "File too large"
ok truncate -s 256G "$M/churn/v3/huge.bin"
run truncate -s 257G "$M/churn/v3/huge.bin"
assert_contains "$ERR" "File too large"
run dd if=/dev/zero of="$M/churn/v3/huge.bin" bs=4096 count=1 seek=$((64 * 1024 * 1024)) conv=notrunc status=none
[ "$RC" -ne 0 ] || die "a write past the limit succeeded"
assert_contains "$ERR" "File too large"
assert_eq 274877906944 "$(stat -c %s "$M/churn/v3/huge.bin")" "size after the refusals"
grep -q 'over \[limits\].max_file_size = "256G"' "$MOUNT_LOG" || die "the limit is not named in the log: $(mount_log)"
ok rm "$M/churn/v3/huge.bin"

check "push of a file over the limit fails naming it (exit 1), and nothing is stored"
printf '\n[limits]\nmax_file_size = "1M"\n' >>"$R/policy.toml"
head -c 2000000 /dev/urandom >"$WORK/big.bin"
assert_fails 1 'max_file_size = "1M"' mf push "$R" big "$WORK/big.bin"
run mf show "$R" big
[ "$RC" -ne 0 ] || die "a refused push made a model"
head -c 1048576 /dev/urandom >"$WORK/ok.bin"
ok mf push "$R" big "$WORK/ok.bin"
# The mount reloads the policy: a draft file may no longer grow past 1M.
wait_until 5 eval "! truncate -s 2M '$M/churn/v3/x.bin' 2>/dev/null" ||
  die "the mount did not take up the new limit"
assert_clean_log
pass
