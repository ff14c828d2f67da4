# The object store gone mid-upload (SPEC §7: blobs first, then the commit):
# A reaches the store through a TCP proxy (throttled, so the upload takes
# seconds) that is killed with SIGKILL while A pushes a 24 MiB file. The
# push fails with exit 1 naming the store, no version is committed on
# either host, the store holds no object of the blob; with the store
# reachable again the same push succeeds and B reads it back.
. "$TESTS_DIR/multihost/common.sh"
. "$TESTS_DIR/fixtures/common.sh"
cd "$WORK"

port=$(free_ports 1)
up=${S3_ENDPOINT##*:}
# proxy RATE: the proxy, client-to-store bytes at most RATE a second (0: no
# limit), their total in $WORK/counter.
proxy() { start_proxy "$port" "$up" --up-rate "$1" --count "$WORK/counter"; }
proxy 0

S3_DIRECT=$S3_ENDPOINT
S3_ENDPOINT=http://127.0.0.1:$port join_host ./A
join_host ./B
mkdir -p in && head -c $((24 << 20)) /dev/urandom >in/w.bin
stop_proxy
echo 0 >counter
proxy $((4 << 20))  # 4 MiB/s: the upload takes about 6 s

check "the store's connection killed mid-upload: the push fails, exit 1"
mf push ./A churn in >push.out 2>push.err &
push=$!
wait_until 20 sh -c '[ "$(cat counter)" -gt $((4 << 20)) ]' || die "the upload did not start: $(cat push.err)"
echo "    killing the proxy after $(($(cat counter) >> 20)) MiB"
stop_proxy
wait "$push"
rc=$?
echo "    push: exit $rc: $(cat push.err)"
assert_eq 1 "$rc" "push's exit status"
assert_contains "$(cat push.err)" "object store"
[ ! -s push.out ] || die "the failed push printed $(cat push.out)"

check "nothing committed on either host, no object of the blob in the store"
for h in A B; do
  run mf list "./$h" --json
  [ "$RC" -eq 0 ] || die "list on $h: $ERR"
  assert_not_contains "$OUT" "churn" "models on $h"
done
ok mf status ./B --json  # A would exit 1: its store is unreachable
assert_eq 0 "$(jpy 'j["etcd"]["commit"]' <<<"$OUT")" "commits in etcd"
keys=$(object_keys)
assert_not_contains "$keys" "blobs/" "the store's keys"

check "the store reachable again: the same push succeeds, B reads it"
proxy 0
ok mf push ./A churn in
assert_eq "churn@1" "$OUT"
digest=$(mf show ./B churn@1 --json | jpy 'j["files"][0]["digest"]')
assert_contains "$(object_keys)" "reg/blobs/${digest:0:2}/${digest:2}" "the store's keys"
S3_ENDPOINT=$S3_DIRECT
ok mf get ./B churn@1 out
assert_file_eq in/w.bin out/w.bin "the file B got"
pass
