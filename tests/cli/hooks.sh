#!/usr/bin/env bash
# Hooks (SPEC §8, issue 12 item 3) with real receivers: a webhook signed
# with HMAC-SHA256 (tests/tools/hook_receiver.py checks it) and command
# hooks run as hook_user; delivery at least once, in order, from the event
# log: the receiver down for a while (retried, none lost), the deliverer
# SIGKILLed mid-delivery (sent again, same delivery id), a command that
# fails or hangs (given up after max_attempts, `hooks retry`), `hooks
# test`, `hooks status`, and the admin right they need.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
RX=$WORK/rx      # the receiver's directory
OUTD=$WORK/out   # what command hooks write (as nobody)
mkdir -p "$RX" "$OUTD"
chmod 1777 "$OUTD"
printf 'k3y-%s' "$RANDOM" >"$RX/secret"
cp "$RX/secret" "$WORK/secret"
chmod 600 "$WORK/secret"
printf 'weights\n' >"$WORK/model.bin"
chmod a+r "$WORK/model.bin"
ok mf init "$R"
ok mf gc "$R"
share_root "$R"

RXPID=
start_receiver() {  # [PORT]
  rm -f "$RX/port"
  "$PY" "$TESTS_DIR/tools/hook_receiver.py" "$RX" "${1:-0}" 2>>"$RX/err" &
  RXPID=$!
  wait_until 10 test -s "$RX/port" || die "the receiver did not start: $(cat "$RX/err")"
}
stop_receiver() { [ -n "$RXPID" ] && kill "$RXPID" 2>/dev/null && wait "$RXPID" 2>/dev/null; RXPID=; }
on_exit 'stop_receiver'
start_receiver
PORT=$(cat "$RX/port")

DPID=
start_deliverer() {
  "$MODELFS" hooks "$R" run 2>>"$WORK/deliverer.log" &
  DPID=$!
}
stop_deliverer() { [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null; DPID=; }
on_exit 'stop_deliverer'

# received ID: how many times delivery ID reached the receiver.
received() { grep -c "\"id\": \"$1\"" "$RX/received.jsonl" 2>/dev/null || true; }
# got ID N: delivery ID reached the receiver N times or more (asked afresh
# on each call, for wait_until).
got() { [ "$(received "$1")" -ge "$2" ]; }
last_seq() { mf events "$R" --json | tail -1 | jpy 'j["seq"]'; }

cat >"$R/policy.toml" <<TOML
hook_user = "nobody"

[defaults]
admin = ["user:root"]

[[hooks]]
name = "deploy"
on = ["alias.production"]
url = "http://127.0.0.1:$PORT/hook"
secret_file = "$WORK/secret"
timeout = "10s"

[[hooks]]
name = "record"
on = ["version.*"]
run = ["/bin/sh", "-c", "cat >$OUTD/ev-\$MODELFS_EVENT_SEQ.json; id -u >$OUTD/uid-\$MODELFS_EVENT_SEQ; echo \$MODELFS_EVENT_TYPE \$MODELFS_MODEL \$MODELFS_VERSION \$MODELFS_DELIVERY >$OUTD/env-\$MODELFS_EVENT_SEQ"]

[[hooks]]
name = "gate"
on = ["approval"]
run = ["/bin/sh", "-c", "test -e $OUTD/ready || { echo not ready yet; exit 3; }"]
max_attempts = 1

[[hooks]]
name = "hang"
on = ["approval"]
run = ["sleep", "60"]
timeout = "1s"
max_attempts = 1
TOML
ok mf policy check "$R/policy.toml"

# ---------------------------------------------------------------- policy file
# refused FILE WORDS: `policy check FILE` fails (exit 1) saying WORDS.
refused() {
  run mf policy check "$1"
  [ "$RC" -eq 1 ] || die "policy check $1: expected exit 1, got $RC: $OUT $ERR"
  assert_contains "$ERR" "$2" "policy check $1"
}
check "a hook with both run and url, without on, or with an unknown key is refused at its line"
printf '[[hooks]]\nname = "x"\non = ["approval"]\nrun = ["true"]\nurl = "http://h/"\n' >"$WORK/bad1.toml"
refused "$WORK/bad1.toml" "bad1.toml:5:7: [[hooks]] #1 has both run and url"
printf '[[hooks]]\nname = "x"\nrun = ["true"]\n' >"$WORK/bad2.toml"
refused "$WORK/bad2.toml" "has no on"
printf '[[hooks]]\nname = "x"\non = ["approval"]\nurl = "ftp://h/"\n' >"$WORK/bad3.toml"
refused "$WORK/bad3.toml" "http:// or https://"
printf '[[hooks]]\nname = "x"\non = ["approval"]\nrun = ["true"]\nretries = 3\n' >"$WORK/bad4.toml"
refused "$WORK/bad4.toml" 'unknown key "retries"'

# ---------------------------------------------------------------- admin
check "hooks status needs the admin right"
assert_fails 3 "denied" as mf-bob "$MODELFS" hooks "$R" status
ok mf hooks "$R" status
assert_contains "$OUT" "deploy: 0 pending, 0 failed"

# ---------------------------------------------------------------- deliveries
check "a new hook starts at the newest event; then a push and an alias move are delivered"
ok mf push "$R" churn "$WORK/model.bin"  # before any deliverer: not sent
start_deliverer
wait_until 10 eval "mf hooks '$R' status --json | jpy 'all(h[\"started\"] for h in j)' | grep -qx true" ||
  die "the deliverer did not start: $(cat "$WORK/deliverer.log")"
ok mf push "$R" churn "$WORK/model.bin"
ok mf alias "$R" churn@2 production
S=$(last_seq)
wait_until 10 got "deploy-$S" 1 || die "deploy-$S not delivered: $(cat "$WORK/deliverer.log")"
line=$(grep "\"deploy-$S\"" "$RX/received.jsonl" | head -1)
assert_eq "True alias.production alias.production $S application/json /hook" \
  "$(echo "$line" | jpy '" ".join(str(x) for x in [j["sig_ok"], j["event"], j["type"], j["seq"], j["content_type"], j["path"]])')" "the webhook"
V=$((S - 1))
wait_until 10 test -s "$OUTD/env-$V" || die "the record hook did not run for seq $V: $(cat "$WORK/deliverer.log")"
assert_eq "version.ready churn 2 record-$V" "$(cat "$OUTD/env-$V")" "the command's environment"
assert_eq "$(id -u nobody)" "$(cat "$OUTD/uid-$V")" "the command ran as hook_user"
assert_eq "version.ready 2" "$(jpy 'j["type"] + " " + str(j["version"])' "$OUTD/ev-$V.json")" "the event on stdin"
[ -e "$OUTD/env-$((V - 1))" ] && die "the push made before the hook started was sent"
assert_eq 0 "$(grep -c '"alias.production"' "$RX/received.jsonl" | awk '{print ($1 > 1)}')" "one delivery of the alias move"

check "the receiver down for a while: the moves are retried and all arrive, in order"
stop_receiver
ok mf alias "$R" churn@1 production
A1=$(last_seq)
ok mf alias "$R" churn@2 production
A2=$(last_seq)
ok mf alias "$R" churn@1 production
A3=$(last_seq)
wait_until 10 eval "mf hooks '$R' status --json | jpy '[h for h in j if h[\"name\"]==\"deploy\"][0][\"attempts\"]' | grep -qv '^0$'" ||
  die "no failed attempt recorded while the receiver was down"
ok mf hooks "$R" status
assert_contains "$OUT" "deploy: 3 pending, 0 failed; retrying (attempt" "status while the receiver is down"
sleep 2
start_receiver "$PORT"
wait_until 40 got "deploy-$A3" 1 || die "deploy-$A3 never arrived: $(tail -5 "$WORK/deliverer.log")"
order=$(grep -o '"id": "deploy-[0-9]*"' "$RX/received.jsonl" | grep -o '[0-9]*' | awk '!seen[$0]++' | tr '\n' ' ')
assert_eq "$S $A1 $A2 $A3 " "$order" "deliveries, first arrival of each, in order"
ok mf hooks "$R" status
assert_contains "$OUT" "deploy: 0 pending, 0 failed" "status after the receiver came back"

check "the deliverer SIGKILLed mid-delivery: the event is sent again after restart, same delivery id"
touch "$RX/slow"
ok mf alias "$R" churn@2 production
K=$(last_seq)
wait_until 10 got "deploy-$K" 1 || die "deploy-$K did not start"
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
DPID=
rm -f "$RX/slow"
start_deliverer
wait_until 20 got "deploy-$K" 2 || die "deploy-$K was not sent again after the restart"

# ---------------------------------------------------------------- failures, retry, test
check "a failing command and a hanging one are given up after max_attempts; hooks retry sends again"
t0=$(date +%s)
ok mf approve "$R" churn@2
P=$(last_seq)
wait_until 20 eval "mf hooks '$R' status --json | jpy 'sum(len(h[\"failed\"]) for h in j)' | grep -qx 2" ||
  die "the gate and hang deliveries were not given up: $(tail -5 "$WORK/deliverer.log")"
[ $(($(date +%s) - t0)) -lt 15 ] || die "giving up a 1 s timeout took $(($(date +%s) - t0)) s"
ok mf hooks "$R" status
assert_contains "$OUT" "failed gate-$P (approval) after 1 attempts: exit 3: not ready yet"
assert_contains "$OUT" "failed hang-$P (approval) after 1 attempts: timed out after 1 s"
assert_fails 1 "not ready yet" mf hooks "$R" retry "gate-$P"
touch "$OUTD/ready"
ok mf hooks "$R" retry "gate-$P"
ok mf hooks "$R" status --json
assert_eq "0 1" "$(echo "$OUT" | jpy '" ".join(str(len(h["failed"])) for h in j if h["name"] in ("gate", "hang"))')" "failed lists after the retry"
assert_fails 1 "no failed delivery" mf hooks "$R" retry "gate-$P"
assert_usage "needs a delivery ID" mf hooks "$R" retry
assert_usage "unknown action" mf hooks "$R" frobnicate

check "hooks test NAME sends a synthetic, signed event"
ok mf hooks "$R" test deploy
wait_until 5 grep -q '"type": "test"' "$RX/received.jsonl" || die "no test event received"
assert_eq true "$(grep '"type": "test"' "$RX/received.jsonl" | tail -1 | jpy 'j["sig_ok"]')" "test event signature"
assert_fails 1 "no hook named nope" mf hooks "$R" test nope

check "a tampered secret: the receiver refuses the signature (401) and the delivery is retried, not lost"
printf 'other' >"$RX/secret"
ok mf alias "$R" churn@1 production
B=$(last_seq)
wait_until 10 got "deploy-$B" 1 || die "deploy-$B not attempted"
assert_eq false "$(grep "\"deploy-$B\"" "$RX/received.jsonl" | head -1 | jpy 'j["sig_ok"]')" "signature under another key"
cp "$WORK/secret" "$RX/secret"
wait_until 20 eval "grep '\"deploy-$B\"' '$RX/received.jsonl' | grep -q '\"sig_ok\": true'" ||
  die "deploy-$B was not retried after the 401"

pass
