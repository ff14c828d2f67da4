# A damaged record in the index does not take the mount down: a request
# that touches it gets EIO (and the daemon log names the record), every
# other version, alias and model is still served with cat, ls and
# getfattr, and the mount is alive at the end. That holds for a record
# damaged before the mount started and for one damaged while it runs.
. "$TESTS_DIR/lib.sh"
: "${DAMAGE_RECORD:?set DAMAGE_RECORD to the damage_record test tool (tests/tools)}"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
for i in 1 2 3; do
  printf 'churn weights %s' "$i" >"$WORK/model.onnx"
  ok mf push "$R" churn "$WORK/model.onnx" --metric auc=0.9$i
done
printf 'fraud weights' >"$WORK/model.onnx"
ok mf push "$R" fraud "$WORK/model.onnx"
printf 'spam weights' >"$WORK/model.onnx"
ok mf push "$R" spam "$WORK/model.onnx"
ok mf alias "$R" churn@3 production

# Every access to the mount is bounded: a hung daemon fails the test.
t() { timeout 10 "$@"; }

# alive: the daemon runs and the mount answers.
alive() {
  pid_alive "$MOUNT_PID" || die "the daemon died; its log:
$(mount_log)"
  is_mounted "$M" || die "the mount is gone; daemon log:
$(mount_log)"
}

check "damage churn@2 (its metrics become a list), then mount"
ok "$DAMAGE_RECORD" "$R" versions churn@2 me '[1, 2]'
start_mount "$R" "$M"

check "other versions read with cat, ls and getfattr"
assert_eq "churn weights 1" "$(t cat "$M/churn/v1/model.onnx")" "cat churn/v1"
assert_eq "churn weights 3" "$(t cat "$M/churn/v3/model.onnx")" "cat churn/v3"
assert_eq "churn weights 3" "$(t cat "$M/churn/production/model.onnx")" "cat churn/production"
assert_eq "churn weights 3" "$(t cat "$M/churn/latest/model.onnx")" "cat churn/latest"
assert_eq "fraud weights" "$(t cat "$M/fraud/v1/model.onnx")" "cat fraud/v1"
assert_eq "model.onnx" "$(t ls "$M/churn/v1")" "ls churn/v1"
ok t getfattr -d -m - "$M/churn/v3"
assert_contains "$OUT" 'user.metrics.auc="0.93"'
assert_contains "$OUT" 'user.registry.version="3"'
ok t getfattr -d -m - "$M/churn"
assert_contains "$OUT" 'user.registry.latest="3"'

check "the damaged version gives EIO, and the daemon log names the record"
for cmd in "ls $M/churn/v2" "cat $M/churn/v2/model.onnx" "getfattr -n user.registry.state $M/churn/v2" \
  "stat $M/churn/v2"; do
  run t $cmd
  [ "$RC" -ne 0 ] || die "$cmd succeeded on a damaged version"
  [ "$RC" -ne 124 ] || die "$cmd hung"
  assert_contains "$ERR" "Input/output error" "$cmd"
done
wait_until 5 grep -q "versions record churn@2 is damaged" "$MOUNT_LOG" ||
  die "the daemon log does not name the damaged record:
$(mount_log)"
alive

check "listing the model shows the versions that can be read"
run t ls "$M/churn"
[ "$RC" -ne 124 ] || die "ls of the model hung"
for name in v1 v3 production latest; do
  assert_contains "$OUT" "$name" "ls churn"
done
alive

check "a record damaged while the mount runs: EIO for it, the rest still served"
ok "$DAMAGE_RECORD" "$R" models spam --bytes $'\xff not CBOR'
run t cat "$M/spam/v1/model.onnx"
[ "$RC" -ne 0 ] || die "reading a model whose record is damaged succeeded"
assert_contains "$ERR" "Input/output error" "cat spam/v1"
assert_eq "fraud weights" "$(t cat "$M/fraud/v1/model.onnx")" "cat fraud/v1 after"
assert_eq "churn weights 1" "$(t cat "$M/churn/v1/model.onnx")" "cat churn/v1 after"
# The listing skips what it cannot read; as the last entry, that also ends
# it with EIO (after the others), which ls reports.
run t ls "$M"
[ "$RC" -ne 124 ] || die "ls of the root hung"
assert_contains "$OUT" "churn" "ls of the root"
assert_contains "$OUT" "fraud" "ls of the root"

check "changes from the CLI still reach the mount"
ok mf alias "$R" churn@1 staging
wait_until 5 test -L "$M/churn/staging" || die "alias staging did not appear within 5 s"
assert_eq "churn weights 1" "$(t cat "$M/churn/staging/model.onnx")" "cat churn/staging"

check "the mount is alive at the end"
alive
assert_eq "churn weights 3" "$(t cat "$M/churn/production/model.onnx")" "cat churn/production at the end"
assert_clean_log
stop_mount "$M" "$MOUNT_PID"
pass
