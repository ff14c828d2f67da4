# A 3-member etcd cluster (SPEC §7), two hosts joined with all three
# endpoints. One member killed (listed first): writes go on from both hosts,
# each within 5 s. Two killed: a write fails within 10 s with a clear
# error (exit 1; through a mount, EIO), reads go on from the replica, and
# nothing is half-committed: once the members are back, neither host has
# the failed version or alias move, and writes succeed again.
. "$TESTS_DIR/multihost/common.sh"
cd "$WORK"
command -v etcd >/dev/null || { echo "SKIP: etcd is not installed"; exit 77; }

private_cluster 3
join_host ./A "$CLUSTER"
join_host ./B "$CLUSTER"
mkdir -p in && echo one >in/f
ok mf push ./A churn in
ok mf alias ./B churn@1 production
ok mf get ./B churn@1 got1  # B has the blob cached

check "the first-listed member killed: pushes and alias moves from both hosts go on"
first=0  # the clients must fail over
echo "    killing m0 (listed first; the leader: m$(cluster_leader))"
member_kill "$first"
echo two >in/f
timed 5000 mf push ./A churn in
assert_eq "churn@2" "$OUT"
echo three >in/f
timed 5000 mf push ./B churn in
assert_eq "churn@3" "$OUT"
timed 5000 mf alias ./A churn@2 production
timed 5000 mf alias ./B churn@3 production
ok mf show ./A churn@production --json
assert_eq 3 "$(jpy 'j["version"]' <<<"$OUT")" "production on A"

check "the member back: it catches up, writes go on"
member_start "$first"
cluster_healthy 20
timed 5000 mf push ./A churn in
assert_eq "churn@4" "$OUT"

check "two members killed: B's mount serves reads"
start_mount ./B mnt
wait_until 5 test -e mnt/churn/v4 || die "B's mount does not show churn@4"
dead=(0 1)  # m2 alone: the clients fail over past two dead members
echo "    killing m${dead[0]} and m${dead[1]}"
member_kill "${dead[0]}"
member_kill "${dead[1]}"
ok mf show ./B churn@3
assert_contains "$OUT" "ready"
assert_contains "$ERR" "warning"
cmp -s got1/f mnt/churn/v1/f || die "B's mount cannot read churn@1 without quorum"

check "no quorum: a push and an alias move fail within 10 s, exit 1, naming etcd"
echo five >in/f
for cmd in "push ./A churn in" "alias ./B churn@1 production"; do
  t0=$(now_ms)
  # shellcheck disable=SC2086  # the command's words
  run mf $cmd
  ms=$(($(now_ms) - t0))
  assert_eq 1 "$RC" "exit status of $cmd (stderr: $ERR)"
  assert_contains "$ERR" "etcd"
  echo "    $cmd failed after $ms ms: $(printf '%s' "$ERR" | tail -1)"
  [ "$ms" -lt 10000 ] || die "$cmd took $ms ms to fail (at most 10 s)"
done
t0=$(now_ms)
run ln -sfn v1 mnt/churn/production
ms=$(($(now_ms) - t0))
assert_ne 0 "$RC" "ln -sfn through the mount without quorum"
assert_contains "$ERR" "Input/output error"
echo "    the mount's alias move refused after $ms ms"
[ "$ms" -lt 10000 ] || die "the mount's alias move took $ms ms to fail (at most 10 s)"
link_is mnt/churn/production v3 || die "production moved in B's mount: $(readlink mnt/churn/production)"

check "the members back: nothing of the failed writes, on either host"
member_start "${dead[0]}"
member_start "${dead[1]}"
cluster_healthy 20
for h in A B; do
  ok mf list "./$h" churn --json
  assert_eq 4 "$(jpy 'len(j["versions"]) if isinstance(j, dict) else len(j)' <<<"$OUT")" "versions on $h"
  assert_not_contains "$ERR" "warning"
  ok mf show "./$h" churn@production --json
  assert_eq 3 "$(jpy 'j["version"]' <<<"$OUT")" "production on $h"
done
ok mf log ./A churn --json
assert_eq 3 "$(jpy 'len([r for r in j if r["action"] == "alias"])' <<<"$OUT")" "alias records"

check "writes succeed again, and B's mount follows"
timed 5000 mf push ./A churn in
assert_eq "churn@5" "$OUT"
timed 5000 mf alias ./B churn@5 production
wait_until 5 test -e mnt/churn/v5 || die "B's mount does not show churn@5 once quorum is back: $(mount_log)"
wait_until 5 link_is mnt/churn/production v5 || die "production not -> v5 in B's mount"
pass
