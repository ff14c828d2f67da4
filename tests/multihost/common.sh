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
