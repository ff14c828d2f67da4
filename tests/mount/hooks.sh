#!/usr/bin/env bash
# The mount delivers hooks (issue 12 item 3): `ln -sfn` of an alias through
# the mount reaches a signed webhook; while the mount runs, `modelfs hooks
# run` waits for it (one deliverer per ROOT) and takes over once the mount
# is gone, sending what was committed meanwhile.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
RX=$WORK/rx
mkdir -p "$RX"
printf 'mount-k3y' >"$RX/secret"
printf 'w\n' >"$WORK/a.bin"
ok mf init "$R"
ok mf push "$R" churn "$WORK/a.bin"
ok mf push "$R" churn "$WORK/a.bin"

"$PY" "$TESTS_DIR/tools/hook_receiver.py" "$RX" 2>"$RX/err" &
RXPID=$!
on_exit "kill $RXPID 2>/dev/null"
wait_until 10 test -s "$RX/port" || die "the receiver did not start: $(cat "$RX/err")"
cat >>"$R/policy.toml" <<TOML

[[hooks]]
name = "deploy"
on = ["alias.*"]
url = "http://127.0.0.1:$(cat "$RX/port")/reload"
secret_file = "$RX/secret"
TOML
ok mf policy check "$R/policy.toml"
last_seq() { mf events "$R" --json | tail -1 | jpy 'j["seq"]'; }
arrived() { grep -q "\"id\": \"$1\"" "$RX/received.jsonl" 2>/dev/null; }

check "ln -sfn through the mount reaches the webhook, signed"
start_mount "$R" "$M"
mpid=$MOUNT_PID
wait_until 10 eval "mf hooks '$R' status --json | jpy 'j[0][\"started\"]' | grep -qx true" ||
  die "the mount's deliverer did not start: $(mount_log)"
ok ln -sfn v2 "$M/churn/production"
S=$(last_seq)
wait_until 10 arrived "deploy-$S" || die "deploy-$S did not arrive: $(mount_log)"
assert_eq "true alias.production" "$(grep "\"deploy-$S\"" "$RX/received.jsonl" | jpy 'json.dumps(j["sig_ok"]) + " " + j["type"]')" "the delivery"
grep -q "hook deploy: delivered deploy-$S" "$MOUNT_LOG" || die "the mount did not log the delivery: $(mount_log)"

check "modelfs hooks run waits while the mount delivers, then takes over"
"$MODELFS" hooks "$R" run 2>"$WORK/deliverer.log" &
dpid=$!
on_exit "kill $dpid 2>/dev/null"
wait_until 10 grep -q "another deliverer runs" "$WORK/deliverer.log" || die "hooks run did not wait: $(cat "$WORK/deliverer.log")"
ok timeout 10 fusermount3 -u "$M"
wait_pid_exit "$mpid" 10 || die "the daemon did not exit"
ok mf alias "$R" churn@1 production
T=$(last_seq)
wait_until 10 arrived "deploy-$T" || die "deploy-$T did not arrive after the mount stopped: $(cat "$WORK/deliverer.log")"
kill "$dpid"
wait_pid_exit "$dpid" 5 || die "hooks run did not stop on SIGTERM"
assert_clean_log

pass
