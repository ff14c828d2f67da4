#!/usr/bin/env bash
# Use counts through a real mount (SPEC §8, issue 11 item 6): opens of a
# version's files are counted in memory and flushed to the index in batches
# (never a write transaction per open); `show --json` then has use_count
# and last_used_at, getfattr the xattr user.registry.last_used_at; counts
# survive an unmount and remount (the last batch is flushed at unmount);
# -o use_counts=0 counts nothing.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
mkdir -p "$WORK/src"
echo a >"$WORK/src/a.bin"
echo b >"$WORK/src/b.bin"
ok mf push "$R" churn "$WORK/src"
ok mf push "$R" churn "$WORK/src/a.bin"
ok mf push "$R" churn "$WORK/src/b.bin"

# The LMDB environment's last committed write transaction id, from its two
# meta pages (lmdb.h's MDB_meta: mm_txnid at byte 144 of a meta page on a
# 64-bit build; the newer page wins). It grows by one per write transaction.
txnid() {
  "$PY" -c '
import struct, sys
d = open(sys.argv[1], "rb").read(8192)
metas = [off for off in (0, 4096) if struct.unpack_from("<I", d, off + 16)[0] == 0xBEEFC0DE]
assert metas, "no LMDB meta page"
print(max(struct.unpack_from("<Q", d, off + 144)[0] for off in metas))
' "$R/index/data.mdb" || die "cannot read the LMDB meta pages"
}
field() { mf show "$R" "$1" --json | jpy "j['$2']"; }
audit_seq() { mf log "$R" --json | jpy 'j[-1]["seq"]'; }
count_is() { [ "$(field "$1" use_count)" = "$2" ]; }

check "never used: show says never, --json null and 0, the xattr says never"
assert_eq null "$(field churn@1 last_used_at)" "last_used_at before any open"
assert_eq 0 "$(field churn@1 use_count)" "use_count before any open"
ok mf show "$R" churn@1
assert_contains "$OUT" "last used:    never"

export MODELFS_USE_FLUSH_MS=2000
start_mount "$R" "$M"
assert_eq never "$(getfattr --only-values -n user.registry.last_used_at "$M/churn/v1")" "xattr before any open"

check "60 opens through the mount: one or two write transactions, no audit record"
before_txn=$(txnid)
before_audit=$(audit_seq)
t0=$(date +%s)
for i in $(seq 1 40); do cat "$M/churn/v1/a.bin" >/dev/null || die "cat failed"; done
for i in $(seq 1 20); do cat "$M/churn/v1/b.bin" >/dev/null || die "cat failed"; done
cat "$M/churn/v2/a.bin" >/dev/null
wait_until 10 count_is churn@1 60 || die "use_count of churn@1 is $(field churn@1 use_count), not 60"
wait_until 5 count_is churn@2 1 || die "use_count of churn@2 is $(field churn@2 use_count), not 1"
txns=$(($(txnid) - before_txn))
elapsed=$(($(date +%s) - t0))
echo "    $txns write transaction(s) for 61 opens in ${elapsed}s"
# One flush per 2 s at most: the opens and the wait span a few intervals.
[ "$txns" -ge 1 ] && [ "$txns" -le $((elapsed / 2 + 2)) ] ||
  die "$txns write transactions for 61 opens in ${elapsed}s (flushes every 2 s)"
assert_eq "$before_audit" "$(audit_seq)" "the audit trail after the flushes"
assert_eq 0 "$(field churn@3 use_count)" "an unopened version"

check "last_used_at is RFC 3339, in show, --json and the xattr alike"
last=$(field churn@1 last_used_at)
[[ "$last" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || die "last_used_at is [$last]"
ok mf show "$R" churn@1
assert_contains "$OUT" "last used:    $last (60 opens)"
wait_until 2 eval '[ "$(getfattr --only-values -n user.registry.last_used_at "$M/churn/v1")" = "$last" ]' ||
  die "the xattr says [$(getfattr --only-values -n user.registry.last_used_at "$M/churn/v1")], not $last"
ok getfattr -d "$M/churn/v1"
assert_contains "$OUT" "user.registry.last_used_at=\"$last\"" "getfattr -d lists it"
assert_eq never "$(getfattr --only-values -n user.registry.last_used_at "$M/churn/v3")" "unopened version's xattr"
run setfattr -n user.registry.last_used_at -v 2020-01-01T00:00:00Z "$M/churn/v1"
[ "$RC" -ne 0 ] || die "setfattr of user.registry.last_used_at succeeded"

check "find reads the use counts: used in the last hour, and what nothing serves (never used too)"
ok mf find "$R" 'last_used_at > -1h' --json
assert_eq "1 2" "$(echo "$OUT" | "$PY" -c 'import json,sys; print(" ".join(str(json.loads(l)["version"]) for l in sys.stdin))')" "used in the last hour"
ok mf find "$R" 'last_used_at < -30d' --json
assert_eq "3" "$(echo "$OUT" | "$PY" -c 'import json,sys; print(" ".join(str(json.loads(l)["version"]) for l in sys.stdin))')" "unused (never opened)"
ok mf find "$R" 'not exists(last_used_at)' --json
assert_eq "3" "$(echo "$OUT" | "$PY" -c 'import json,sys; print(" ".join(str(json.loads(l)["version"]) for l in sys.stdin))')" "never used"

check "the last batch is flushed at unmount, and counts survive a remount"
stop_mount "$M" "$MOUNT_PID"
export MODELFS_USE_FLUSH_MS=600000  # no flush but the one at unmount
start_mount "$R" "$M"
cat "$M/churn/v1/a.bin" "$M/churn/v3/b.bin" >/dev/null
assert_eq 60 "$(field churn@1 use_count)" "before the unmount (not flushed yet)"
stop_mount "$M" "$MOUNT_PID"
assert_eq 61 "$(field churn@1 use_count)" "churn@1 after the unmount"
assert_eq 1 "$(field churn@3 use_count)" "churn@3 after the unmount"
start_mount "$R" "$M"
assert_eq 61 "$(field churn@1 use_count)" "after a remount"

check "-o use_counts=0 counts nothing"
stop_mount "$M" "$MOUNT_PID"
start_mount "$R" "$M" -o use_counts=0
for i in 1 2 3; do cat "$M/churn/v1/a.bin" >/dev/null; done
stop_mount "$M" "$MOUNT_PID"
assert_eq 61 "$(field churn@1 use_count)" "with use_counts=0"

check "a bad MODELFS_USE_FLUSH_MS or use_counts= refuses the mount, saying why"
run env MODELFS_USE_FLUSH_MS=5s "$MODELFS" mount "$R" "$M" -f
[ "$RC" -ne 0 ] || die "mount with MODELFS_USE_FLUSH_MS=5s succeeded"
assert_contains "$ERR" "MODELFS_USE_FLUSH_MS"
run "$MODELFS" mount "$R" "$M" -f -o use_counts=2
[ "$RC" -ne 0 ] || die "mount with -o use_counts=2 succeeded"
assert_contains "$ERR" "use_counts"

assert_clean_log
pass
