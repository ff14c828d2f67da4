# etcd compaction while a host was not following (SPEC §7): B, idle while
# A commits and etcd compacts its history, catches up on its next command
# to exactly A's state, and a mount started on B after it follows too.
. "$TESTS_DIR/multihost/common.sh"
cd "$WORK"

join_host ./A
join_host ./B
mkdir -p in
for i in 1 2 3 4 5; do
  echo "$i" >in/f
  ok mf push ./A churn in --metric "step=$i"
done
ok mf alias ./A churn@4 production
ok mf archive ./A churn@2
ok mf set ./A churn@5 tags.stage=eval

check "etcd compacts its history to now"
ok timeout 30 "$REMOTE_TOOL" compact
rev=$OUT
echo "    compacted at revision $rev"

check "B catches up: the same versions, alias, states and metadata as A"
snapshot() {
  mf list "$1" churn --json | jpy 'json.dumps(j, sort_keys=True)' >"$2" || die "list on $1"
  for i in 1 2 3 4 5; do
    mf show "$1" "churn@$i" --json | jpy 'json.dumps({k: j[k] for k in ("digest","state","metrics","tags","aliases")}, sort_keys=True)' >>"$2" || die "show churn@$i on $1"
  done
  mf log "$1" churn --json | jpy 'len(j)' >>"$2"
}
snapshot ./A a.txt
snapshot ./B b.txt
cmp -s a.txt b.txt || die "B differs from A after catching up: $(diff a.txt b.txt)"
assert_contains "$(cat b.txt)" "archived"

check "a mount on B after the compaction follows A's next commit"
start_mount ./B mnt
echo 6 >in/f
ok mf push ./A churn in
wait_until 5 test -e mnt/churn/v6 || die "B's mount does not show churn@6 within 5 s: $(mount_log)"
assert_eq 6 "$(cat mnt/churn/v6/f)" "churn@6's file through B's mount"
pass
