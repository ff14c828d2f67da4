# A hung etcd member (SPEC §7): the leader, listed first to both hosts, is
# frozen with SIGSTOP (its connections accept, nothing answers). The
# clients must time it out and go to another member: pushes and alias
# moves from both hosts go on, each within 6 s, and B's mount, whose watch
# was on the frozen member, still shows A's commits within 6 s.
. "$TESTS_DIR/multihost/common.sh"
cd "$WORK"
command -v etcd >/dev/null || { echo "SKIP: etcd is not installed"; exit 77; }

private_cluster 3
leader=$(cluster_leader) || die "the cluster has no leader"
eps=${MEMBER_URL[$leader]}
for i in 0 1 2; do [ "$i" != "$leader" ] && eps+=",${MEMBER_URL[$i]}"; done
join_host ./A "$eps"
join_host ./B "$eps"
mkdir -p in && echo one >in/f
ok mf push ./A churn in
start_mount ./B mnt
wait_until 5 test -e mnt/churn/v1 || die "B's mount does not show churn@1"

check "the leader m$leader frozen: writes from both hosts go on"
kill -STOP "${MEMBER_PID[$leader]}"
echo two >in/f
timed 6000 mf push ./A churn in
assert_eq "churn@2" "$OUT"
timed 6000 mf alias ./B churn@2 production
echo three >in/f
timed 6000 mf push ./B churn in
assert_eq "churn@3" "$OUT"
ok mf show ./A churn@production --json
assert_eq 2 "$(jpy 'j["version"]' <<<"$OUT")" "production on A"

check "B's mount follows with its watch's member frozen"
t0=$(now_ms)
wait_until 6 test -e mnt/churn/v2 || die "B's mount does not show churn@2 within 6 s: $(mount_log)"
echo "    churn@2 in B's mount after $(($(now_ms) - t0)) ms"
# Its watch now on a live member: each push shows at once, not at the
# follower's next poll (every second).
for i in 4 5 6; do
  echo "$i" >in/f
  ok mf push ./A churn in
  t0=$(now_ms)
  wait_until 6 test -e "mnt/churn/v$i" || die "B's mount does not show churn@$i within 6 s: $(mount_log)"
  ms=$(($(now_ms) - t0))
  echo "    churn@$i in B's mount after $ms ms"
  [ "$ms" -lt 500 ] || die "B's mount took $ms ms to show a push: is its watch still on the frozen member?"
done
wait_until 3 link_is mnt/churn/production v2 || die "production not -> v2 in B's mount"

check "the member thawed: the cluster and both hosts agree"
kill -CONT "${MEMBER_PID[$leader]}"
cluster_healthy 20
echo seven >in/f
timed 6000 mf push ./B churn in
assert_eq "churn@7" "$OUT"
for h in A B; do
  ok mf list "./$h" churn --json
  assert_eq 7 "$(jpy 'len(j["versions"]) if isinstance(j, dict) else len(j)' <<<"$OUT")" "versions on $h"
done
wait_until 6 test -e mnt/churn/v7 || die "B's mount does not show churn@7"
pass
