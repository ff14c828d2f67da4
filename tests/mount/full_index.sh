# A full index through the mount: a change that does not fit (the LMDB map,
# MODELFS_MAP_SIZE, used up) is ENOSPC with "the index is full" in the
# daemon log, never EIO; nothing is half-committed and reads go on.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
export MODELFS_MAP_SIZE=65536  # 16 pages, for the mount and the CLI alike
ok mf init "$R"
echo weights >"$WORK/m.bin"
ok mf push "$R" churn "$WORK/m.bin"
start_mount "$R" "$M"

check "mkdir of models until the index is full: ENOSPC, not EIO"
made=0
for i in $(seq 1 2000); do
  run mkdir "$M/model-with-a-rather-long-name-to-fill-pages-$i"
  [ "$RC" -eq 0 ] || break
  made=$i
done
[ "$made" -lt 2000 ] || die "2000 models fit in a 64 KiB index: MODELFS_MAP_SIZE is not honoured"
assert_contains "$ERR" "No space left on device"
grep -q "the index is full" "$MOUNT_LOG" || die "the daemon log does not say the index is full: $(mount_log)"

check "the mount still serves reads; the index is consistent"
assert_eq weights "$(cat "$M/churn/v1/m.bin")" "a file read after the index filled up"
ok mf list "$R" --json
assert_eq "$((made + 1))" "$(jpy 'len(j)' <<<"$OUT")" "models after the refused mkdir"
ok mf fsck "$R"
assert_clean_log
stop_mount "$M" "$MOUNT_PID"
pass
