# The policy is one for the registry (SPEC §7): `modelfs policy set` on
# host A is enforced on host B, by B's CLI and by B's running mount (within
# 2 s); a non-admin may not set it; a malformed file is refused with its
# line and column, and nothing changes on any host.
. "$TESTS_DIR/multihost/common.sh"
. "$TESTS_DIR/users.sh"
cd "$WORK"

join_host ./A
join_host ./B
share_root ./A
share_root ./B
mkdir -p in
head -c 5000 /dev/urandom >in/w.bin
ok mf push ./A churn in
start_mount ./B mnt -o allow_other
as mf-carol cat mnt/churn/v1/w.bin >/dev/null || die "carol cannot read churn@1 through B's mount before"
ok as mf-carol "$MODELFS" show ./B churn@1

cat >deny-carol.toml <<'TOML'
[defaults]
read = ["user:root", "user:mf-alice"]
admin = ["user:root"]
TOML
cat >bad.toml <<'TOML'
[defaults]
read = ["user:root"
admin = ["user:root"]
TOML
before_a=$(cat A/policy.toml)

check "a malformed file is refused with its line:col, nothing changes"
run mf policy set ./A bad.toml
assert_eq 1 "$RC" "exit of policy set with a bad file"
assert_contains "$ERR" "bad.toml:3:" "the parse error's place"
assert_eq "$before_a" "$(cat A/policy.toml)" "A's policy.toml after a bad file"
ok mf log ./A --json
assert_not_contains "$OUT" '"policy.set"' "the audit trail after a bad file"

check "a non-admin may not set the policy (exit 3), nothing changes"
run as mf-alice "$MODELFS" policy set ./A deny-carol.toml
assert_eq 3 "$RC" "exit of policy set by a non-admin: $ERR"
assert_contains "$ERR" "denied" "the refusal"
assert_eq "$before_a" "$(cat A/policy.toml)" "A's policy.toml after a refusal"
as mf-carol cat mnt/churn/v1/w.bin >/dev/null || die "carol lost read after a refused policy set"

check "policy set on A: carol refused by B's mount within 2 s, and by B's CLI"
ok mf policy set ./A deny-carol.toml
t0=$(date +%s%N)
wait_until 2 eval '! as mf-carol cat mnt/churn/v1/w.bin >/dev/null 2>&1' ||
  die "carol still reads through B's mount 2 s after policy set on A: $(mount_log)"
echo "    B's mount refused carol after $((($(date +%s%N) - t0) / 1000000)) ms"
run as mf-carol cat mnt/churn/v1/w.bin
assert_contains "$ERR" "Permission denied" "carol's read through B's mount"
as mf-alice cat mnt/churn/v1/w.bin >/dev/null || die "alice may read still, through B's mount"
run as mf-carol "$MODELFS" show ./B churn@1
assert_eq 3 "$RC" "exit of carol's show on B: $ERR"
ok as mf-alice "$MODELFS" show ./B churn@1
assert_file_eq deny-carol.toml B/policy.toml "B's copy of the registry's policy"

check "policy.set is audited with the text's digest and the host"
ok mf log ./B --json
digest=$(jpy '[r for r in j if r["action"] == "policy.set"][-1]["after"]' <<<"$OUT")
[[ "$digest" == xxh3:* ]] || die "policy.set record's after is not a digest: $digest"
pass
