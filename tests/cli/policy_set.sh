# `modelfs policy set ROOT FILE` on a single-host ROOT: the file is checked
# by the policy parser first (a bad one is refused with its line:col and
# nothing changes), only an admin of the policy in force may set it, and a
# set replaces ROOT/policy.toml atomically and is audited as policy.set with
# the digests of the old and new text.
. "$TESTS_DIR/cli/common.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
ok mf init "$R"
share_root "$R"
mkdir -p "$WORK/in" && echo w >"$WORK/in/w.bin"
ok mf push "$R" churn "$WORK/in"
before=$(cat "$R/policy.toml")

cat >"$WORK/bad.toml" <<'TOML'
[defaults]
read = ["*"]
admin = "user:root"
TOML
check "a malformed policy is refused with FILE:LINE:COL; nothing changes"
run mf policy set "$R" "$WORK/bad.toml"
assert_eq 1 "$RC" "exit for a bad policy"
assert_contains "$ERR" "bad.toml:3:" "the error's place"
assert_eq "$before" "$(cat "$R/policy.toml")" "policy.toml after a refused file"
ok mf log "$R" --json
assert_not_contains "$OUT" "policy.set" "the audit trail after a refused file"
assert_fails 1 "cannot read" mf policy set "$R" "$WORK/missing.toml"

cat >"$WORK/new.toml" <<'TOML'
[defaults]
read = ["user:root", "user:mf-alice"]
admin = ["user:root"]
TOML
check "a non-admin is refused (exit 3); nothing changes"
run as mf-alice "$MODELFS" policy set "$R" "$WORK/new.toml"
assert_eq 3 "$RC" "exit for a non-admin: $ERR"
assert_eq "$before" "$(cat "$R/policy.toml")" "policy.toml after a refusal"

check "an admin sets it: policy.toml replaced, in force, audited with digests"
ok mf policy set "$R" "$WORK/new.toml"
assert_file_eq "$WORK/new.toml" "$R/policy.toml" "policy.toml after policy set"
ok as mf-alice "$MODELFS" show "$R" churn@1
run as mf-carol "$MODELFS" show "$R" churn@1
assert_eq 3 "$RC" "carol's show under the new policy: $ERR"
ok mf log "$R" --json
rec=$(jpy '[r for r in j if r["action"] == "policy.set"]' <<<"$OUT")
assert_eq 1 "$(jpy 'len(j)' <<<"$rec")" "policy.set records"
assert_contains "$(jpy 'j[0]["before"]' <<<"$rec")" "xxh3:" "the old text's digest"
assert_contains "$(jpy 'j[0]["after"]' <<<"$rec")" "xxh3:" "the new text's digest"
assert_ne "$(jpy 'j[0]["before"]' <<<"$rec")" "$(jpy 'j[0]["after"]' <<<"$rec")" "old and new digests"
[ -n "$(jpy 'j[0]["host"]' <<<"$rec")" ] || die "the policy.set record names no host"
left=$(find "$R" -maxdepth 1 -name 'policy.toml.*')
[ -z "$left" ] || die "policy set left temporary files: $left"
pass
