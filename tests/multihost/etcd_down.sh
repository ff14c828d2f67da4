# etcd unreachable (SPEC §7): reads go on from the replica (with a warning),
# a write fails within 10 s with a clear error (exit 1) and leaves nothing
# behind (no version on either host once etcd is back), and writes work
# again after etcd restarts. The test's own etcd, so that it can stop it.
. "$TESTS_DIR/multihost/common.sh"
. "$TESTS_DIR/fixtures/common.sh"
cd "$WORK"
command -v etcd >/dev/null || { echo "SKIP: etcd is not installed"; exit 77; }

mkdir -p etcd
ports=($(free_ports 2))
EP=http://127.0.0.1:${ports[0]}
ETCD_PID=
start_etcd() {
  setsid etcd --name m0 --data-dir "$WORK/etcd/data" \
    --listen-client-urls "$EP" --advertise-client-urls "$EP" \
    --listen-peer-urls "http://127.0.0.1:${ports[1]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ports[1]}" \
    --initial-cluster "m0=http://127.0.0.1:${ports[1]}" --initial-cluster-state new \
    >>"$WORK/etcd/log" 2>&1 </dev/null &
  ETCD_PID=$!
  fixture_wait 20 curl -sf -m 2 -X POST -d '{"key":"AA=="}' "$EP/v3/kv/range" ||
    die "private etcd did not start: $(tail -5 "$WORK/etcd/log")"
}
stop_etcd() {
  [ -n "$ETCD_PID" ] || return 0
  kill -TERM "$ETCD_PID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$ETCD_PID" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$ETCD_PID" 2>/dev/null
  wait "$ETCD_PID" 2>/dev/null
  ETCD_PID=
}
on_exit stop_etcd
start_etcd

join_host ./A "$EP"
join_host ./B "$EP"
mkdir -p in && echo one >in/f
ok mf push ./A churn in
ok mf get ./B churn@1 got1  # B has the blob cached

start_mount ./B mnt
ls mnt/churn/v1 >/dev/null || die "B's mount does not show churn@1"

check "etcd down: reads on B go on, with a warning"
stop_etcd
ok mf show ./B churn@1
assert_contains "$OUT" "ready"
assert_contains "$ERR" "warning"
assert_contains "$ERR" "etcd"
ok mf list ./B
assert_contains "$OUT" "churn"

check "etcd down: a push fails within 10 s, exit 1, naming etcd"
echo two >in/f
t0=$(date +%s%N)
run mf push ./A churn in
t1=$(date +%s%N)
assert_eq 1 "$RC" "push's exit status (stderr: $ERR)"
assert_contains "$ERR" "etcd"
ms=$(((t1 - t0) / 1000000))
echo "    push failed after $ms ms: $(printf '%s' "$ERR" | tail -1)"
[ "$ms" -lt 10000 ] || die "the failed push took $ms ms (at most 10 s)"
run mf alias ./B churn@1 production
assert_eq 1 "$RC" "alias's exit status"

check "etcd down: through B's mount, reads go on and an alias move is EIO within 10 s"
cmp -s got1/f mnt/churn/v1/f || die "B's mount cannot read churn@1 with etcd down"
t0=$(date +%s%N)
run ln -sfn v1 mnt/churn/production
ms=$((($(date +%s%N) - t0) / 1000000))
assert_ne 0 "$RC" "ln -sfn through the mount with etcd down"
assert_contains "$ERR" "Input/output error"
echo "    refused after $ms ms: $ERR"
[ "$ms" -lt 10000 ] || die "the mount's alias move took $ms ms to fail (at most 10 s)"
[ ! -L mnt/churn/production ] || die "production exists after a failed move"

check "etcd back: nothing was committed, and writes work again"
start_etcd
ok mf list ./A churn --json
assert_eq 1 "$(jpy 'len(j["versions"]) if isinstance(j, dict) else len(j)' <<<"$OUT")" "versions on A"
ok mf list ./B churn --json
assert_eq 1 "$(jpy 'len(j["versions"]) if isinstance(j, dict) else len(j)' <<<"$OUT")" "versions on B"
assert_not_contains "$ERR" "warning"
ok mf push ./A churn in
assert_eq "churn@2" "$OUT"
ok mf show ./B churn@2
wait_until 5 test -e mnt/churn/v2 || die "B's mount does not follow again once etcd is back"
pass
