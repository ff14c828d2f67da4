# A mount follows the registry (SPEC §7: a commit made on one host is
# visible through every host's mount within 1 second): with B mounted,
# pushes and alias moves on A show in B's mount (polled with stat), files
# read back byte for byte, and xattrs carry A's metadata.
. "$TESTS_DIR/multihost/common.sh"
cd "$WORK"

join_host ./A
join_host ./B
mkdir -p in
head -c 200000 /dev/urandom >in/w.bin
ok mf push ./A churn in --metric auc=0.9
start_mount ./B mnt
ls mnt/churn >/dev/null || die "B's mount cannot list churn"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
check "push on A: in B's mount within 1 s, each of 5 times"
worst=0
for i in 2 3 4 5 6; do
  head -c 1000 /dev/urandom >in/w.bin
  ok mf push ./A churn in --metric "auc=0.$i"
  t0=$(now_ms)
  wait_until 5 stat "mnt/churn/v$i" || die "churn@$i not in B's mount within 5 s: $(mount_log)"
  ms=$(($(now_ms) - t0))
  [ "$ms" -gt "$worst" ] && worst=$ms
  cmp -s in/w.bin "mnt/churn/v$i/w.bin" || die "churn@$i's file differs through B's mount"
done
echo "    slowest: $ms ms after the push returned (worst $worst ms)"
[ "$worst" -lt 1000 ] || die "a push took $worst ms to show in B's mount (at most 1 s)"
assert_eq 0.6 "$(getfattr --only-values -n user.metrics.auc mnt/churn/v6)" "auc of churn@6 through B"

check "an alias moved on A: B's symlink follows within 1 s"
ok mf alias ./A churn@3 production
t0=$(now_ms)
wait_until 5 link_is mnt/churn/production v3 || die "production not -> v3 in B's mount"
ms=$(($(now_ms) - t0))
echo "    alias visible after $ms ms"
[ "$ms" -lt 1000 ] || die "the alias took $ms ms to show"
ok mf alias ./A churn@5 production
wait_until 2 link_is mnt/churn/production v5 || die "production not -> v5 in B's mount"
pass
