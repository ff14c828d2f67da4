# gc of the object store (SPEC §7): `modelfs gc` deletes the blob objects
# the committed index no longer references once they are older than the
# grace period (--grace, default 1 h), keeps every referenced (and shared)
# object, never deletes an upload whose commit may be in flight, and does
# not disturb another host pushing at the same time.
. "$TESTS_DIR/multihost/common.sh"
cd "$WORK"

join_host ./A
join_host ./B
mkdir -p v1 v2
head -c 30000 /dev/urandom >v1/shared.bin
cp v1/shared.bin v2/shared.bin
head -c 20000 /dev/urandom >v1/only1.bin
head -c 10000 /dev/urandom >v2/only2.bin
ok mf push ./A churn v1
ok mf push ./A churn v2

digest_of() {  # ROOT REF FILE
  mf show "$1" "$2" --json | jpy "[f['digest'] for f in j['files'] if f['path'] == '$3'][0]"
}
key_of() { echo "reg/blobs/${1:0:2}/${1:2}"; }
has_object() { object_keys | grep -qx "$1"; }
k_shared=$(key_of "$(digest_of ./A churn@1 shared.bin)")
k_only1=$(key_of "$(digest_of ./A churn@1 only1.bin)")
k_only2=$(key_of "$(digest_of ./A churn@2 only2.bin)")
for k in "$k_shared" "$k_only1" "$k_only2"; do has_object "$k" || die "$k not in the store after the pushes"; done

check "gc --grace 0 after churn@1 is archived: its own object goes, shared and referenced stay"
ok mf archive ./A churn@1
# LastModified has whole seconds, which Swift rounds up: "older than 0 s"
# holds from the next second on.
sleep 2
ok mf gc ./A --grace 0 --json
assert_eq 1 "$(jpy 'j["objects"]["count"]' <<<"$OUT")" "objects deleted"
assert_eq 20000 "$(jpy 'j["objects"]["bytes"]' <<<"$OUT")" "object bytes deleted"
! has_object "$k_only1" || die "churn@1's own object $k_only1 survived gc --grace 0"
has_object "$k_shared" || die "the shared object $k_shared was deleted"
has_object "$k_only2" || die "churn@2's object $k_only2 was deleted"
# The AWS CLI sees the same objects: the shared one and churn@2's, not churn@1's.
[ -x /usr/bin/aws ] || command -v aws >/dev/null || die "aws (Debian's awscli) is not installed: run scripts/setup"
aws_keys >aws.keys || die "aws s3 ls failed: $(cat aws.keys)"
grep -qx "$k_shared" aws.keys && grep -qx "$k_only2" aws.keys || die "aws s3 ls lacks a live object: $(cat aws.keys)"
! grep -qx "$k_only1" aws.keys || die "aws s3 ls still lists $k_only1 after gc"
ok mf get ./B churn@2 out2
cmp -s v2/only2.bin out2/only2.bin && cmp -s v2/shared.bin out2/shared.bin ||
  die "churn@2 does not read back bit-exact on B after gc"
ok mf log ./B --json
assert_contains "$OUT" '"objects"' "the audit trail's record of the object gc"

check "an upload whose commit is in flight survives gc with the default grace"
head -c 4096 /dev/urandom >inflight.bin
# A well-formed blob key no version names: what a push leaves between its
# upload and its commit.
k_flight="reg/blobs/01/23456789abcdef0123456789abcdef"
timeout 30 "$REMOTE_TOOL" put "$BUCKET" "$k_flight" inflight.bin || die "cannot upload $k_flight"
ok mf gc ./A --json
assert_eq 0 "$(jpy 'j["objects"]["count"]' <<<"$OUT")" "objects deleted within the grace period"
has_object "$k_flight" || die "gc with the default grace deleted a fresh upload"
ok mf gc ./A --grace 1h
has_object "$k_flight" || die "gc --grace 1h deleted a fresh upload"
# LastModified has whole seconds, which Swift rounds up: "older than 0 s"
# holds from the next second on.
sleep 2
ok mf gc ./A --grace 0
! has_object "$k_flight" || die "gc --grace 0 kept an unreferenced object"
assert_usage grace mf gc ./A --grace soon

# With the default grace (not 0: a grace of 0 promises nothing to uploads in
# flight, which is what the grace period is for).
check "gc on A while B pushes: every version B pushed reads back bit-exact"
(
  for i in $(seq 1 8); do
    mkdir -p "b$i" && head -c $((5000 + i)) /dev/urandom >"b$i/w.bin"
    mf push ./B fraud "b$i" >/dev/null || exit 1
  done
) &
pusher=$!
on_exit "kill $pusher 2>/dev/null"
for _ in 1 2 3 4 5 6; do mf gc ./A >/dev/null || die "gc on A failed while B pushed"; done
wait "$pusher" || die "B's pushes failed while A ran gc"
ok mf gc ./A --grace 0  # and once all is committed, nothing of theirs is unreferenced
for i in $(seq 1 8); do
  ok mf get ./A "fraud@$i" "got$i"
  cmp -s "b$i/w.bin" "got$i/w.bin" || die "fraud@$i differs after gc on A"
done
pass
