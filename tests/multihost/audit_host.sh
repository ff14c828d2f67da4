# Audit records carry the host that made the change (SPEC §7): two ROOTs on
# one machine, named at init (--host-name, kept in registry.toml); an alias
# moved on B shows host B in A's `events --json` and `log --json`.
. "$TESTS_DIR/multihost/common.sh"
cd "$WORK"

init_named() {  # ROOT NAME
  ok mf init "$1" --etcd "$ETCD_ENDPOINTS" --etcd-prefix "$PREFIX" --s3 "s3://$BUCKET/reg" \
    --s3-endpoint "$S3_ENDPOINT" --s3-region "$S3_REGION" --host-name "$2"
}
init_named ./A host-a
init_named ./B host-b
grep -qx 'host = "host-b"' B/registry.toml || die "B's registry.toml does not name its host: $(cat B/registry.toml)"
mkdir -p in
echo weights >in/w.bin
ok mf push ./A churn in
ok mf push ./A churn in --metric auc=0.9

check "an alias moved on B names host B in A's events and log"
ok mf alias ./B churn@2 production
ok mf events ./A --json
printf '%s\n' "$OUT" >events.jsonl
host_of() {  # ACTION: the host of the last event of that action
  "$PY" -c 'import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print([r.get("host") for r in rs if r["action"] == sys.argv[2]][-1])' events.jsonl "$1"
}
assert_eq host-b "$(host_of alias)" "host of the alias event"
assert_eq host-a "$(host_of push)" "host of A's push event"
ok mf log ./A --json
assert_eq host-b "$(jpy '[r for r in j if r["action"] == "alias"][-1]["host"]' <<<"$OUT")" \
  "host of the alias record in A's log"
assert_usage host-name mf init ./C --etcd "$ETCD_ENDPOINTS" --etcd-prefix "$PREFIX" \
  --s3 "s3://$BUCKET/reg" --s3-endpoint "$S3_ENDPOINT" --host-name "two words"
[ ! -e C ] || die "a refused init left ./C behind"
pass
