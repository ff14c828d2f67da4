# Extended attributes (SPEC §3) as getfattr and xattr(7) see them: the
# model's and the version's user.registry.*, metrics, params, tags and
# lineage; a file's digest; size-0 queries, ERANGE for a short buffer,
# ENODATA for absent names; setfattr refused (read side).
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
printf 'one' >"$WORK/a.bin"
printf 'two' >"$WORK/b.bin"
ok mf push "$R" features "$WORK/a.bin"
ok mf push "$R" churn "$WORK/a.bin" --metric auc=0.913 --metric latency_ms=12 \
  --param lr=0.01 --tag team=growth --parent features@1 \
  --dataset s3://bucket/train.parquet --dataset s3://bucket/eval.parquet \
  --code git+https://example.com/repo@abc123 --run run-42 --description "first model"
ok mf push "$R" churn "$WORK/b.bin"
ok mf alias "$R" churn@1 production
ok mf alias "$R" churn@1 champion
ok mf alias "$R" churn@2 staging
ok mf approve "$R" churn@1

start_mount "$R" "$M"

# xattr NAME PATH: the value getfattr prints (raw), or fails.
xattr() { getfattr --absolute-names --only-values -n "$1" "$2"; }

check "getfattr -d -m - on a version lists everything set, nothing unset"
v1=$(getfattr -d -m - "$M/churn/v1" 2>&1)
for line in 'user.registry.version="1"' 'user.registry.state="ready"' \
  'user.registry.aliases="champion,production"' 'user.registry.approval="approved"' \
  'user.registry.approved_by="root"' 'user.registry.description="first model"' \
  'user.registry.created_by="root"' 'user.metrics.auc="0.913"' 'user.metrics.latency_ms="12"' \
  'user.params.lr="0.01"' 'user.tags.team="growth"' 'user.lineage.parents="features@1"' \
  'user.lineage.datasets="s3://bucket/train.parquet,s3://bucket/eval.parquet"' \
  'user.lineage.code="git+https://example.com/repo@abc123"' 'user.lineage.run="run-42"'; do
  assert_contains "$v1" "$line" "getfattr -d of churn/v1"
done
json=$(mf show "$R" churn@1 --json)
assert_eq "$(echo "$json" | jpy 'j["digest"]')" "$(xattr user.registry.digest "$M/churn/v1")" "digest"
assert_eq "$(echo "$json" | jpy 'j["size"]')" "$(xattr user.registry.size "$M/churn/v1")" "size"
assert_eq "$(echo "$json" | jpy 'j["created_at"]')" "$(xattr user.registry.created_at "$M/churn/v1")" "created_at"
assert_contains "$v1" "user.registry.approved_at=\"$(date -u +%Y)-"

check "unset optional attributes are neither listed nor readable"
v2=$(getfattr -d -m - "$M/churn/v2" 2>&1)
for absent in description approved_by approved_at; do
  assert_not_contains "$v2" "user.registry.$absent" "getfattr -d of churn/v2"
done
assert_not_contains "$v2" "user.lineage." "getfattr -d of churn/v2"
assert_not_contains "$v2" "user.metrics." "getfattr -d of churn/v2"
assert_contains "$v2" 'user.registry.aliases="staging"'
assert_contains "$v2" 'user.registry.approval="pending"'

check "the model directory"
m=$(getfattr -d -m - "$M/churn" 2>&1)
for line in 'user.registry.owner="root"' 'user.registry.latest="2"' \
  'user.registry.next_version="3"' 'user.registry.aliases="champion=1,production=1,staging=2"'; do
  assert_contains "$m" "$line" "getfattr -d of churn"
done
assert_contains "$m" 'user.registry.created_at="'
assert_not_contains "$m" "user.registry.description" "model without description"

check "a file carries its digest"
d=$(mf show "$R" churn@1 --json | jpy 'j["files"][0]["digest"]')
assert_eq "$d" "$(xattr user.registry.digest "$M/churn/v1/a.bin")" "file digest"
assert_eq "# file: $M/churn/v1/a.bin
user.registry.digest=\"$d\"" "$(getfattr -d -m - --absolute-names "$M/churn/v1/a.bin")" "getfattr -d of a file"

check "absent names: ENODATA (getfattr -n, and through python)"
run getfattr -n user.metrics.nope "$M/churn/v1"
[ "$RC" -ne 0 ] || die "absent attribute read"
assert_contains "$ERR" "No such attribute"
run getfattr -n user.registry.description "$M/churn/v2"
assert_contains "$ERR" "No such attribute"
run "$PY" -c 'import os,sys; os.getxattr(sys.argv[1], "trusted.x")' "$M/churn/v1"
assert_contains "$ERR" "No data available"
run getfattr -n user.registry.digest "$M/churn/production"   # on the symlink itself: -h not given, so follows
[ "$RC" -eq 0 ] || die "getfattr through the alias symlink failed: $ERR"

check "xattr(7) sizes: size 0 returns the length, a short buffer is ERANGE"
cat >"$WORK/xa.py" <<'PY'
import ctypes, ctypes.util, os, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
path, name, want = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3].encode()
def call(fn, *args):
    r = fn(*args)
    return r, (ctypes.get_errno() if r < 0 else 0)
n, e = call(libc.getxattr, path, name, None, ctypes.c_size_t(0))
assert n == len(want), ("size-0 getxattr", n, e)
if len(want) > 1:  # a 0-byte buffer would be a size query
    buf = ctypes.create_string_buffer(len(want) - 1)
    r, e = call(libc.getxattr, path, name, buf, ctypes.c_size_t(len(want) - 1))
    assert r == -1 and e == 34, ("short getxattr: want ERANGE", r, e)
buf = ctypes.create_string_buffer(len(want))
r, e = call(libc.getxattr, path, name, buf, ctypes.c_size_t(len(want)))
assert r == len(want) and buf.raw[:r] == want, ("exact getxattr", r, buf.raw)
n, e = call(libc.listxattr, path, None, ctypes.c_size_t(0))
assert n > 0, ("size-0 listxattr", n, e)
lbuf = ctypes.create_string_buffer(n)
r, e = call(libc.listxattr, path, lbuf, ctypes.c_size_t(1))
assert r == -1 and e == 34, ("short listxattr: want ERANGE", r, e)
r, e = call(libc.listxattr, path, lbuf, ctypes.c_size_t(n))
assert r == n, ("exact listxattr", r, n, e)
names = lbuf.raw[:r].split(b"\0")[:-1]
assert name in names, (name, names)
assert sorted(names) == sorted(n.encode() for n in os.listxattr(sys.argv[1])), names
print("ok")
PY
ok "$PY" "$WORK/xa.py" "$M/churn/v1" user.metrics.auc 0.913
ok "$PY" "$WORK/xa.py" "$M/churn/v1" user.lineage.datasets "s3://bucket/train.parquet,s3://bucket/eval.parquet"
ok "$PY" "$WORK/xa.py" "$M/churn" user.registry.next_version 3
ok "$PY" "$WORK/xa.py" "$M/churn/v1/a.bin" user.registry.digest "$d"

check "metadata set from the CLI shows within 1 s"
ok mf set "$R" churn@2 metrics.auc=0.95 tags.team=risk
wait_until 1 sh -c "[ \"\$(getfattr --absolute-names --only-values -n user.metrics.auc '$M/churn/v2')\" = 0.95 ]" ||
  die "new metric not visible within 1 s"
assert_eq "risk" "$(xattr user.tags.team "$M/churn/v2")" "new tag"
ok mf approve "$R" churn@2
wait_until 1 sh -c "getfattr --absolute-names -d -m - '$M/churn/v2' | grep -q 'approval=\"approved\"'" ||
  die "approval not visible within 1 s"

check "setfattr and setfattr -x on a file of a ready version are refused (EROFS)"
run setfattr -n user.registry.digest -v 00 "$M/churn/v1/a.bin"
assert_contains "$ERR" "Read-only file system"
run setfattr -x user.registry.digest "$M/churn/v1/a.bin"
assert_contains "$ERR" "Read-only file system"
assert_eq "0.913" "$(xattr user.metrics.auc "$M/churn/v1")" "metric unchanged"

check "the root and symlinks have no attributes"
assert_eq "" "$(getfattr -d -m - "$M" 2>&1)" "getfattr -d of the root"
assert_eq "" "$(getfattr -h -d -m - "$M/churn/production" 2>&1)" "getfattr -h -d of a symlink"

check "getfattr -R over the whole mount"
# 2 models, 3 versions, 3 files, plus the 5 symlinks (getfattr reports a
# symlink with its target's attributes but does not walk into it).
n=$(getfattr -R -d -m - "$M" 2>/dev/null | grep -c '^# file:')
assert_eq 13 "$n" "objects with attributes"

assert_clean_log
pass
