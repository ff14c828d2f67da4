# A corrupted object in the store (SPEC §7: never bytes that do not match
# their digest): a host that fetches it refuses it (get: exit 1 naming the
# blob, no DEST; the mount: EIO), leaves nothing in its cache, and fetches
# the good bytes once the object is repaired.
. "$TESTS_DIR/multihost/common.sh"
cd "$WORK"

join_host ./A
join_host ./B
mkdir -p in
head -c 100000 /dev/urandom >in/w.bin
ok mf push ./A churn in
digest=$(mf show ./A churn@1 --json | jpy 'j["files"][0]["digest"]')
key="reg/blobs/${digest:0:2}/${digest:2}"

check "the object's bytes are damaged in the store"
cp in/w.bin bad.bin
flip_byte bad.bin 5000
ok timeout 30 "$REMOTE_TOOL" put "$BUCKET" "$key" bad.bin

check "get on B: exit 1, corrupt, no DEST, nothing cached"
assert_fails 1 "corrupt" mf get ./B churn@1 out
[ ! -e out ] || die "get left its DEST behind"
[ ! -e "$(blob_path B "$digest")" ] || die "the corrupt blob is in B's cache"
assert_eq "" "$(find B/staging -name 'fetch-*')" "fetch leftovers in B/staging"

check "through B's mount: EIO, never the damaged bytes"
start_mount ./B mnt
run cat mnt/churn/v1/w.bin
assert_ne 0 "$RC" "cat of a corrupt blob"
assert_contains "$ERR" "Input/output error"
[ -z "$OUT" ] || die "cat printed bytes of a corrupt blob"
[ ! -e "$(blob_path B "$digest")" ] || die "the corrupt blob is in B's cache after the mount's read"

check "the object repaired: the same read succeeds"
ok timeout 30 "$REMOTE_TOOL" put "$BUCKET" "$key" in/w.bin
ok cat mnt/churn/v1/w.bin
cmp -s in/w.bin mnt/churn/v1/w.bin || die "the mount's bytes differ from what was pushed"
ok mf get ./B churn@1 out
assert_file_eq in/w.bin out/w.bin
pass
