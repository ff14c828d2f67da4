# The blob cache of a multi-host host (SPEC §7): bounded by --cache-size,
# evicted least-recently-used after each fetch and by `cache --trim`, never
# a blob that is open (pinned by the mount, seen from the CLI, another
# process), and an evicted blob is fetched again, verified, when read.
. "$TESTS_DIR/multihost/common.sh"
cd "$WORK"

MiB=1048576
join_host ./A
mkdir -p in
for i in 1 2 3 4 5 6; do head -c $MiB /dev/urandom >in/f$i.bin; done
ok mf push ./A m in
ok mf init ./B --etcd "$ETCD_ENDPOINTS" --etcd-prefix "$PREFIX" --s3 "s3://$BUCKET/reg" \
  --s3-endpoint "$S3_ENDPOINT" --s3-region "$S3_REGION" --cache-size 3584K  # 3.5 blobs
assert_usage "cache size" mf init ./C --etcd "$ETCD_ENDPOINTS" --etcd-prefix "$PREFIX" \
  --s3 "s3://$BUCKET/reg" --s3-endpoint "$S3_ENDPOINT" --cache-size 12Q
[ ! -e C/registry.toml ] || die "a bad --cache-size left a registry.toml"

digest() { mf show ./A m@1 --json | jpy "[f['digest'] for f in j['files'] if f['path']=='$1'][0]"; }
for i in 1 2 3 4 5 6; do eval "d$i=$(digest f$i.bin)"; done
cached() { [ -e "$(blob_path B "$1")" ]; }
# Bytes the cached blob files take (du of ROOT/blobs less its directories).
cache_bytes() { find B/blobs -type f -printf '%b\n' | awk '{s += $1 * 512} END {print s + 0}'; }
limit=$((3584 * 1024))

start_mount ./B mnt
read_ok() { cmp -s "in/$1" "mnt/m/v1/$1" || die "mnt/m/v1/$1 differs from what was pushed"; }

check "three reads fill the cache; reading f1 again makes it the most recent"
read_ok f1.bin; read_ok f2.bin; read_ok f3.bin
cached "$d1" && cached "$d2" && cached "$d3" || die "the three blobs read are not all cached"
sleep 0.05
read_ok f1.bin

check "a fourth fetch evicts the least recently used (f2), not f1"
read_ok f4.bin
cached "$d2" && die "f2's blob, the least recently used, was not evicted"
cached "$d1" || die "f1's blob, used recently, was evicted"
cached "$d4" || die "the blob just fetched is not cached"
[ "$(cache_bytes)" -le "$limit" ] || die "cache holds $(cache_bytes) bytes, over $limit"

check "an open file's blob survives eviction (the mount's and the CLI's) and still reads correctly"
exec 3<mnt/m/v1/f3.bin
read_ok f5.bin; read_ok f6.bin; read_ok f1.bin; read_ok f2.bin  # f3: the oldest, and open
cached "$d3" || die "f3's blob was evicted by the mount while open"
ok mf cache ./B --json
assert_eq 1 "$(jpy 'j["open"]' <<<"$OUT")" "open blobs seen by the CLI"
# The CLI with a smaller bound: it must evict, and not the open blob.
sed -i 's/^cache_size = .*/cache_size = "1536K"/' B/registry.toml
ok mf cache ./B --trim --json
[ "$(jpy 'j["trimmed"]["blobs"]' <<<"$OUT")" -ge 1 ] || die "the CLI's trim evicted nothing: $OUT"
cached "$d3" || die "cache --trim (another process) evicted the open blob"
cmp -s in/f3.bin - <&3 || die "the open file's bytes differ after the trims"
exec 3<&-

check "closed, it is evicted by the next trim; read again, it is fetched again, verified"
wait_until 5 sh -c "'$MODELFS' cache ./B --json | grep -q '\"open\": 0'" || die "f3 still open after close"
sed -i 's/^cache_size = .*/cache_size = "512K"/' B/registry.toml  # f3 alone is over it
ok mf cache ./B --trim
cached "$d3" && die "f3's blob, closed and least recently used, survived a trim over the limit"
sed -i 's/^cache_size = .*/cache_size = "3584K"/' B/registry.toml
read_ok f3.bin
cached "$d3" || die "f3's blob was not fetched again"
cmp -s in/f3.bin "$(blob_path B "$d3")" || die "the refetched blob differs"

check "reading everything twice keeps the bound; the counters add up"
for i in 1 2 3 4 5 6 1 2 3 4 5 6; do read_ok f$i.bin; done
[ "$(cache_bytes)" -le $((limit + MiB)) ] || die "cache holds $(cache_bytes) bytes after 12 reads"
ok mf cache ./B --json
[ "$(jpy 'j["misses"]' <<<"$OUT")" -ge 6 ] || die "fewer misses than blobs: $OUT"
[ "$(jpy 'j["evicted"]["blobs"]' <<<"$OUT")" -ge 3 ] || die "evictions not counted: $OUT"
assert_eq "$limit" "$(jpy 'j["cache_size"]' <<<"$OUT")" "cache size"
assert_eq "" "$(find B/staging -name 'fetch-*')" "fetch leftovers in B/staging"

check "a single-host ROOT is never a cache: cache and prefetch refuse it"
ok mf init ./S
assert_fails 1 "single-host" mf cache ./S
assert_fails 1 "single-host" mf prefetch ./S m@1
pass
