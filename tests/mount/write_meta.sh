# Metadata through the mount (SPEC §3, §4): setfattr/-x on draft and ready
# version directories maps to `modelfs set`, approval and archive; getfattr
# right after shows the change; flags, sizes and bad values give the errno
# of xattr(7) and SPEC §4, with nothing changed.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
echo weights >"$WORK/m.bin"
ok mf push "$R" churn "$WORK/m.bin"
ok mf push "$R" churn "$WORK/m.bin" --alias production
start_mount "$R" "$M"
V=$M/churn/v1
val() { getfattr --only-values -n "$1" "$2" 2>/dev/null; }

check "set metrics, params, tags, lineage, description on a ready version; getfattr sees them at once"
ok setfattr -n user.metrics.auc -v 0.913 "$V"
assert_eq 0.913 "$(val user.metrics.auc "$V")" "metric"
ok setfattr -n user.params.lr -v 0.01 "$V"
ok setfattr -n user.tags.team -v growth "$V"
ok setfattr -n user.lineage.datasets -v "s3://b/train.parquet" "$V"
ok setfattr -n user.lineage.code -v "git+https://x/y@abc" "$V"
ok setfattr -n user.lineage.run -v run-17 "$V"
ok setfattr -n user.registry.description -v "first model" "$V"
assert_eq 0.01 "$(val user.params.lr "$V")" "param"
assert_eq growth "$(val user.tags.team "$V")" "tag"
assert_eq "first model" "$(val user.registry.description "$V")" "description"
ok setfattr -n user.lineage.parents -v churn@1 "$M/churn/v2"
ok mf show "$R" churn@1 --json
echo "$OUT" >"$WORK/s.json"
assert_eq 0.913 "$(jpy 'j["metrics"]["auc"]' "$WORK/s.json")" "show: metric"
assert_eq growth "$(jpy 'j["tags"]["team"]' "$WORK/s.json")" "show: tag"
assert_eq run-17 "$(jpy 'j["lineage"]["run"]' "$WORK/s.json")" "show: run"
ok mf log "$R" churn --json
n=$(echo "$OUT" | jpy 'len([r for r in j if r["action"] == "set" and r["object"] == "churn@1 metrics.auc"])')
assert_eq 1 "$n" "audit of the metric"

check "setfattr -x removes; removing what is absent is ENODATA"
ok setfattr -x user.tags.team "$V"
run getfattr -n user.tags.team "$V"
assert_contains "$ERR" "No such attribute"
run setfattr -x user.tags.team "$V"
assert_contains "$ERR" "No such attribute"
run setfattr -x user.registry.description "$M/churn/v2"
assert_contains "$ERR" "No such attribute"

check "a non-numeric or non-finite metric is EINVAL and changes nothing"
run setfattr -n user.metrics.auc -v high "$V"
assert_contains "$ERR" "Invalid argument"
run setfattr -n user.metrics.auc -v nan "$V"
assert_contains "$ERR" "Invalid argument"
assert_eq 0.913 "$(val user.metrics.auc "$V")" "metric after refusals"

check "bad keys, read-only registry names and unknown names are EINVAL; other namespaces ENOTSUP"
run setfattr -n "user.metrics.bad key" -v 1 "$V"
assert_contains "$ERR" "Invalid argument"
run setfattr -n user.registry.digest -v 00 "$V"
assert_contains "$ERR" "Invalid argument"
run setfattr -n user.registry.version -v 9 "$V"
assert_contains "$ERR" "Invalid argument"
run setfattr -n user.whatever -v 1 "$V"
assert_contains "$ERR" "Invalid argument"
run setfattr -n user.lineage.parents -v churn@7 "$V"
assert_contains "$ERR" "Invalid argument"
run setfattr -n trusted.x -v 1 "$V"
[ "$RC" -ne 0 ] || die "trusted.x was accepted"
run setfattr -n user.registry.next_version -v 9 "$M/churn"  # description and owner may be set (model_meta.sh)
assert_contains "$ERR" "Invalid argument"

check "values over 4096 bytes are E2BIG"
big=$(head -c 4097 /dev/zero | tr '\0' a)
run setfattr -n user.tags.big -v "$big" "$V"
assert_contains "$ERR" "Argument list too long"
ok setfattr -n user.tags.big -v "${big:1}" "$V"
assert_eq 4096 "$(val user.tags.big "$V" | wc -c)" "a 4096-byte value"

check "names that would not fit one listxattr (64 KiB) are E2BIG; getfattr -d still lists them all"
ok mf push "$R" tagged "$WORK/m.bin"
long=$(head -c 120 /dev/zero | tr '\0' k)
args=()
for i in $(seq 1000 1399); do args+=("tags.$long$i=v"); done
ok mf set "$R" tagged@1 "${args[@]}"  # 400 names of 135 bytes: 54 KB
T=$M/tagged/v1
refused=
for i in $(seq 1400 1600); do
  run setfattr -n "user.tags.$long$i" -v v "$T"
  if [ "$RC" -ne 0 ]; then refused=$i; break; fi
done
[ -n "$refused" ] || die "200 more long tag names were accepted: no limit on the name list"
assert_contains "$ERR" "Argument list too long"
run mf set "$R" tagged@1 "tags.$long$refused=v"
assert_contains "$ERR" "65536"
[ "$RC" = 1 ] || die "modelfs set over the limit: exit $RC, want 1"
run getfattr -d "$T"
[ "$RC" = 0 ] || die "getfattr -d of a version with the most names: $ERR"
assert_eq "$((refused - 1000))" "$(grep -c "^user.tags.$long" <<<"$OUT")" "tags listed by getfattr -d"
run getfattr -d -m - "$T"
[ "$RC" = 0 ] || die "getfattr -d -m - of a version with the most names: $ERR"
assert_contains "$OUT" "user.registry.state" "getfattr -d -m -"

check "XATTR_CREATE on an existing name is EEXIST; XATTR_REPLACE on an absent one ENODATA"
cat >"$WORK/flags.py" <<'PY'
import os, sys, errno
path, name, value, flag = sys.argv[1:]
try:
    os.setxattr(path, name, value.encode(), getattr(os, flag))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
assert_eq EEXIST "$("$PY" "$WORK/flags.py" "$V" user.metrics.auc 0.5 XATTR_CREATE)" "XATTR_CREATE"
assert_eq ENODATA "$("$PY" "$WORK/flags.py" "$V" user.metrics.nope 0.5 XATTR_REPLACE)" "XATTR_REPLACE"
assert_eq ok "$("$PY" "$WORK/flags.py" "$V" user.metrics.f1 0.5 XATTR_CREATE)" "XATTR_CREATE new"
assert_eq ok "$("$PY" "$WORK/flags.py" "$V" user.metrics.f1 0.6 XATTR_REPLACE)" "XATTR_REPLACE existing"
assert_eq 0.6 "$(val user.metrics.f1 "$V")" "f1"

check "files: ready ones are EROFS, draft ones ENOTSUP (not kept in a version)"
run setfattr -n user.tags.x -v 1 "$V/m.bin"
assert_contains "$ERR" "Read-only file system"
ok mkdir "$M/churn/v3"
echo d >"$M/churn/v3/d.txt"
run setfattr -n user.tags.x -v 1 "$M/churn/v3/d.txt"
assert_contains "$ERR" "not supported"

check "metadata on a draft is kept by the seal"
ok setfattr -n user.metrics.auc -v 0.8 "$M/churn/v3"
ok setfattr -n user.registry.state -v ready "$M/churn/v3"
assert_eq 0.8 "$(val user.metrics.auc "$M/churn/v3")" "metric after seal"

check "approval: approved|rejected on a ready version, EINVAL on a draft or for other values"
ok setfattr -n user.registry.approval -v approved "$V"
assert_eq approved "$(val user.registry.approval "$V")" "approval"
assert_eq root "$(val user.registry.approved_by "$V")" "approved_by"
run setfattr -n user.registry.approval -v maybe "$V"
assert_contains "$ERR" "Invalid argument"
ok mkdir "$M/churn/v4"
run setfattr -n user.registry.approval -v approved "$M/churn/v4"
assert_contains "$ERR" "Invalid argument"
ok rmdir "$M/churn/v4"

check "archive: the target of an alias is EBUSY; otherwise archived, hidden from latest, metadata frozen"
run setfattr -n user.registry.state -v archived "$M/churn/v2"
assert_contains "$ERR" "Device or resource busy"
assert_eq ready "$(val user.registry.state "$M/churn/v2")" "v2 still ready"
ok setfattr -n user.registry.state -v archived "$M/churn/v3"
assert_eq archived "$(val user.registry.state "$M/churn/v3")" "state"
wait_until 3 link_is "$M/churn/latest" v2 || die "latest is $(readlink "$M/churn/latest"), want v2"
run setfattr -n user.metrics.auc -v 0.9 "$M/churn/v3"
assert_contains "$ERR" "Read-only file system"
run rmdir "$M/churn/v2"
assert_contains "$ERR" "Device or resource busy"

assert_clean_log
stop_mount "$M" "$MOUNT_PID"
pass
