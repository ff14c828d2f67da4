# Fetching into the cache (SPEC §7): a large blob comes in ranged GETs,
# several at once, and is bit-exact; prefetch fills the cache ahead of reads
# (`cache --json` counts the hits); the store dying mid-download fails the
# open with EIO, leaves no partial blob or temp file, and the next open
# after the store is back succeeds. Host B reaches the store through a
# small TCP proxy (python) that logs each request and that the test kills:
# the shared Swift fixture itself is never stopped.
. "$TESTS_DIR/multihost/common.sh"
. "$TESTS_DIR/fixtures/common.sh"  # free_ports
cd "$WORK"

s3_port=${S3_ENDPOINT##*:}
proxy_port=$(free_ports 1)
# proxy DELAY: the proxy, logging requests, sleeping DELAY s after each
# 64 KiB the store sends.
proxy() { start_proxy "$proxy_port" "$s3_port" --log proxy.log --down-delay "$1"; }
proxy 0

join_host ./A
ok mf init ./B --etcd "$ETCD_ENDPOINTS" --etcd-prefix "$PREFIX" --s3 "s3://$BUCKET/reg" \
  --s3-endpoint "http://127.0.0.1:$proxy_port" --s3-region "$S3_REGION"
mkdir -p in
head -c $((40 * 1048576 + 12345)) /dev/urandom >in/big.bin
for i in 1 2 3; do head -c $((1000 * i)) /dev/urandom >in/s$i.bin; done
: >in/empty.bin
ok mf push ./A m in
digest() { mf show ./A "$1" --json | jpy "[f['digest'] for f in j['files'] if f['path']=='$2'][0]"; }
big=$(digest m@1 big.bin)

check "a 40 MiB blob comes in 8 MiB ranged GETs and is bit-exact"
: >proxy.log
ok mf get ./B m@1 out
assert_file_eq in/big.bin out/big.bin "the 40 MiB file"
assert_file_eq in/empty.bin out/empty.bin "the empty file"
cmp -s in/big.bin "$(blob_path B "$big")" || die "the cached blob differs"
ranges=$(grep -c "GET .*${big:2}.*Range: bytes=" proxy.log)
[ "$ranges" -eq 6 ] || die "expected 6 ranged GETs of the 40 MiB blob, got $ranges:
$(cat proxy.log)"
grep -q "Range: bytes=33554432-41943039" proxy.log || die "no GET of the 5th part: $(cat proxy.log)"
small=$(digest m@1 s1.bin)
[ "$(grep -c "GET .*${small:2}" proxy.log)" -eq 1 ] || die "a small blob took more than one GET"

check "prefetch fetches what is missing, then reads are hits"
rm -rf out
mkdir -p in2 && head -c 3000000 /dev/urandom >in2/p.bin && echo x >in2/q.txt
ok mf push ./A p in2
ok mf prefetch ./B p@1 --json
assert_eq 2 "$(jpy 'j["fetched"]["blobs"]' <<<"$OUT")" "blobs prefetched"
assert_eq 3000002 "$(jpy 'j["fetched"]["bytes"]' <<<"$OUT")" "bytes prefetched"
ok mf cache ./B --json
hits0=$(jpy 'j["hits"]' <<<"$OUT"); misses0=$(jpy 'j["misses"]' <<<"$OUT")
ok mf prefetch ./B p@1 m@1 --json
assert_eq 0 "$(jpy 'j["fetched"]["blobs"]' <<<"$OUT")" "blobs fetched by a second prefetch"
assert_eq 7 "$(jpy 'j["cached"]["blobs"]' <<<"$OUT")" "blobs already cached"
ok mf get ./B p@1 out
ok mf cache ./B --json
assert_eq $((hits0 + 9)) "$(jpy 'j["hits"]' <<<"$OUT")" "hits after prefetch + get"
assert_eq "$misses0" "$(jpy 'j["misses"]' <<<"$OUT")" "misses after prefetch + get"
run mf prefetch ./B no-such@1
assert_ne 0 "$RC" "prefetch of a missing model"

check "the store dies mid-download: EIO, nothing partial left; back, the read succeeds"
mkdir -p in3 && head -c $((40 * 1048576)) /dev/urandom >in3/big2.bin
ok mf push ./A q in3
big2=$(digest q@1 big2.bin)
stop_proxy
proxy 0.02  # about 3 MB/s per connection
start_mount ./B mnt
run_cat() { cat mnt/q/v1/big2.bin >cat.out 2>cat.err; echo $? >cat.rc; }
run_cat &
cat_pid=$!
wait_until 30 sh -c "find B/staging -name 'fetch-*' -size +1M | grep -q ." ||
  die "the download did not start: $(cat proxy.log)"
stop_proxy
wait_until 60 sh -c "! kill -0 $cat_pid 2>/dev/null" || die "the open did not fail within 60 s"
wait "$cat_pid"
assert_ne 0 "$(cat cat.rc)" "cat's exit while the store is gone"
assert_contains "$(cat cat.err)" "Input/output error"
[ ! -s cat.out ] || die "cat printed bytes of a failed fetch"
[ ! -e "$(blob_path B "$big2")" ] || die "a partial blob is in B's cache"
assert_eq "" "$(find B/staging B/blobs -name 'fetch-*')" "temp files left by the failed fetch"
proxy 0
ok cmp in3/big2.bin mnt/q/v1/big2.bin
cmp -s in3/big2.bin "$(blob_path B "$big2")" || die "the cached blob differs"
pass
