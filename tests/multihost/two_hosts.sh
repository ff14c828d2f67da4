# Two hosts (two ROOTs) joined to one registry on etcd + S3 (SPEC §7): what
# one commits the other reads through the CLI (show, list, get: the blob
# fetched from the store and verified), an alias moved on either shows on
# the other, and status reports both engines.
. "$TESTS_DIR/multihost/common.sh"
cd "$WORK"

check "init creates the registry, a second init joins it"
join_host ./A
assert_contains "$OUT" "created registry"
join_host ./B
assert_contains "$OUT" "joined registry"
[ -f A/registry.toml ] || die "no registry.toml"
assert_not_contains "$(cat A/registry.toml)" "$AWS_SECRET_ACCESS_KEY" "registry.toml"

check "push on A: B shows and lists it"
mkdir -p in/sub
head -c 300000 /dev/urandom >in/w.bin
echo config >in/sub/c.json
ok mf push ./A churn in --metric auc=0.91 --tag team=growth
assert_eq "churn@1" "$OUT"
ok mf show ./B churn@1 --json
assert_eq 0.91 "$(jpy 'j["metrics"]["auc"]' <<<"$OUT")" "B's view of the metric"
ok mf list ./B
assert_contains "$OUT" "churn"

check "fsck on B: consistent, though no blob is cached yet"
ok mf fsck ./B
assert_contains "$OUT" "index consistent"

check "the blob is in the store, and B fetches it on get, verified"
keys=$(object_keys)
digest=$(mf show ./A churn@1 --json | jpy '[f["digest"] for f in j["files"] if f["path"]=="w.bin"][0]')
assert_contains "$keys" "reg/blobs/${digest:0:2}/${digest:2}" "the store's keys"
[ ! -e "$(blob_path B "$digest")" ] || die "B has the blob before any read"
ok mf get ./B churn@1 out
assert_file_eq in/w.bin out/w.bin "got file"
assert_file_eq in/sub/c.json out/sub/c.json "got file"
cmp -s in/w.bin "$(blob_path B "$digest")" || die "B's cached blob differs"

check "an alias moved on B shows on A; a second push continues the numbers"
ok mf alias ./B churn@1 production
ok mf show ./A churn@production --json
assert_eq 1 "$(jpy 'j["version"]' <<<"$OUT")" "A's production"
echo two >in/sub/c.json
ok mf push ./B churn in
assert_eq "churn@2" "$OUT"
ok mf alias ./A churn@2 production
ok mf show ./B churn@production --json
assert_eq 2 "$(jpy 'j["version"]' <<<"$OUT")" "B's production after A moved it"
ok mf log ./A churn
assert_contains "$OUT" "alias churn/production"

check "status: applied commit, no lag, both engines reachable"
ok mf status ./A --json
assert_eq true "$(jpy 'j["etcd"]["reachable"] and j["s3"]["reachable"]' <<<"$OUT")"
assert_eq 0 "$(jpy 'j["lag"]' <<<"$OUT")" "A's lag"
assert_eq "$(jpy 'j["etcd"]["commit"]' <<<"$OUT")" "$(jpy 'j["applied"]["commit"]' <<<"$OUT")"

check "a write whose decision is refused leaves nothing in etcd"
before=$(mf status ./A --json | jpy 'j["etcd"]["commit"]')
assert_fails 1 "cannot point" mf alias ./A churn@9 production
assert_eq "$before" "$(mf status ./A --json | jpy 'j["etcd"]["commit"]')" "etcd's commit after a refused write"
pass
