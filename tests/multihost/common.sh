# Helpers for the multi-host tests (tests/multihost/*.sh): tests/lib.sh's
# (command line and mount), plus the fixtures' servers (ctest gives
# their env files: MODELFS_ETCD_ENV, MODELFS_S3_ENV) and a registry of this
# test's own (a new bucket and etcd prefix), which join_host joins a ROOT to.
. "$TESTS_DIR/lib.sh"  # tests/cli/common.sh, and the mount helpers

: "${REMOTE_TOOL:?set REMOTE_TOOL to the remote_tool binary}"
for f in "${MODELFS_ETCD_ENV:?}" "${MODELFS_S3_ENV:?}"; do
  [ -f "$f" ] || die "fixture env $f is missing: run through ctest (the fixtures start first)"
  set -a
  . "$f"
  set +a
done

TEST_ID="$(basename "$0" .sh | tr -c 'a-z0-9\n' '-')-$$-$RANDOM"
BUCKET="mh-$TEST_ID"
PREFIX="/modelfs-test/$TEST_ID/"
timeout 30 "$REMOTE_TOOL" mb "$BUCKET" || die "cannot create bucket $BUCKET"

# join_host ROOT [ETCD_ENDPOINTS]: init ROOT against this test's registry.
join_host() {
  ok mf init "$1" --etcd "${2:-$ETCD_ENDPOINTS}" --etcd-prefix "$PREFIX" \
    --s3 "s3://$BUCKET/reg" --s3-endpoint "$S3_ENDPOINT" --s3-region "$S3_REGION"
}

# object_keys: the store's keys under the registry's prefix.
object_keys() { timeout 30 "$REMOTE_TOOL" ls "$BUCKET" reg/; }
# aws_keys: the same, as the AWS CLI (scripts/setup installs awscli) lists
# them: a second client's word on what the store holds.
aws_keys() {
  local aws=/usr/bin/aws  # Debian's, before any other on PATH
  [ -x "$aws" ] || aws=aws
  AWS_EC2_METADATA_DISABLED=true timeout 60 "$aws" s3 ls --recursive --endpoint-url "$S3_ENDPOINT" \
    --region "$S3_REGION" "s3://$BUCKET/reg/" | awk '{print $4}'
}

# --- A private etcd cluster, for the tests that kill or freeze members ---
# (never the shared fixture: other tests use it at the same time).

# private_cluster N: starts N members under $WORK/etcd (tests/fixtures/
# etcd.sh), stopped when the test exits however it exits (SIGCONT first, for
# a member left frozen). Sets CLUSTER (the endpoints, comma-separated, m0
# first), MEMBER_URL[i], MEMBER_PID[i], MEMBER_CMD_i (the command line, to
# restart a killed member with its data).
private_cluster() {
  local i
  ETCD_MEMBERS=$1 timeout 60 bash "$TESTS_DIR/fixtures/etcd.sh" start "$WORK/etcd" >"$WORK/etcd.out" 2>&1 ||
    die "the private etcd cluster did not start: $(cat "$WORK/etcd.out")"
  on_exit "for p in \${MEMBER_PID[@]}; do kill -CONT \$p 2>/dev/null; done; timeout 60 bash '$TESTS_DIR/fixtures/etcd.sh' stop '$WORK/etcd' >/dev/null 2>&1"
  mapfile -t MEMBER_PID <"$WORK/etcd/pids"
  CLUSTER=$(sed -n 's/^ETCD_ENDPOINTS=//p' "$WORK/etcd/env")
  IFS=, read -r -a MEMBER_URL <<<"$CLUSTER"
  for i in "${!MEMBER_PID[@]}"; do
    mapfile -d '' -t "MEMBER_CMD_$i" <"/proc/${MEMBER_PID[$i]}/cmdline" || die "member m$i is gone"
  done
}

# member_status I: etcd's status of member I (JSON), bounded.
member_status() { curl -sf -m 2 -X POST -d '{}' "${MEMBER_URL[$1]}/v3/maintenance/status"; }

# cluster_leader: the index of the member that is the leader now.
cluster_leader() {
  local i st
  for i in "${!MEMBER_URL[@]}"; do
    st=$(member_status "$i") || continue
    if [ "$(jpy 'j["leader"] == j["header"]["member_id"]' <<<"$st")" = true ]; then
      echo "$i"
      return 0
    fi
  done
  return 1
}

# member_kill I: SIGKILLs member I and waits (bounded) until it is gone.
member_kill() {
  kill -KILL "${MEMBER_PID[$1]}" 2>/dev/null
  wait_until 10 eval "! pid_alive ${MEMBER_PID[$1]}" || die "member m$1 does not die"
}

# member_start I: restarts a killed member I on its data, as the fixture
# started it (recorded so that the fixture's stop takes it down), and waits
# until it answers.
member_start() {
  local -n cmd="MEMBER_CMD_$1"
  setsid env MODELFS_FIXTURE_DIR="$(realpath "$WORK/etcd")" "${cmd[@]}" >>"$WORK/etcd/m$1.restart.log" 2>&1 </dev/null &
  MEMBER_PID[$1]=$!
  echo "${MEMBER_PID[$1]}" >>"$WORK/etcd/pids"
}

# cluster_healthy SECS: every member answers a (linearizable) range.
cluster_healthy() {
  local i
  for i in "${!MEMBER_URL[@]}"; do
    wait_until "$1" curl -sf -m 2 -X POST -d '{"key":"AA=="}' "${MEMBER_URL[$i]}/v3/kv/range" ||
      die "member m$i does not answer within $1 s"
  done
}

# start_proxy PORT UPSTREAM_PORT [tcp_proxy.py OPTIONS...]: tests/tools/
# tcp_proxy.py between 127.0.0.1:PORT and the store (or another server),
# for a test to slow or cut (stop_proxy kills it with SIGKILL); its stderr
# goes to $WORK/proxy.err. Sets PROXY_PID; stopped at exit.
PROXY_PID=
start_proxy() {
  local port=$1
  "$PY" "$TESTS_DIR/tools/tcp_proxy.py" "$@" 2>>"$WORK/proxy.err" &
  PROXY_PID=$!
  wait_until 10 "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port))" ||
    die "the proxy did not start: $(cat "$WORK/proxy.err")"
}
stop_proxy() {
  [ -n "$PROXY_PID" ] || return 0
  kill -KILL "$PROXY_PID" 2>/dev/null
  wait "$PROXY_PID" 2>/dev/null
  PROXY_PID=
}
on_exit stop_proxy

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# timed LIMIT_MS CMD...: CMD must succeed within LIMIT_MS (the time printed).
timed() {
  local limit=$1 t0 ms
  shift
  t0=$(now_ms)
  ok "$@"
  ms=$(($(now_ms) - t0))
  echo "    $ms ms: ${*:2:3}"
  [ "$ms" -lt "$limit" ] || die "took $ms ms (at most $limit): $*"
}
