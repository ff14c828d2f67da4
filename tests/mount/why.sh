# Each caller reads why the mount refused them (SPEC §4: user.registry.why,
# `modelfs why`): their own latest refusal on a model from the model
# directory or any path in it, all of theirs from the mount root; never
# another user's. Policy denials name every failing gate; the refusals that
# are not the policy's (a bad name, a sealed version) leave their reason
# too. Real users through an `-o allow_other` mount.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
M=$WORK/mnt
S=$WORK/src
ok mf init "$R"
mkdir -p "$S"
echo "weights" >"$S/model.bin"
chmod -R a+rX "$S"
ok mf push "$R" churn "$S/model.bin" --metric auc=0.5
ok mf push "$R" secret-x "$S/model.bin"
cat >"$R/policy.toml" <<'TOML'
[defaults]
read = ["*"]
create = ["group:mf-ml"]
write = ["group:mf-ml"]
promote = ["group:mf-leads"]
approve = ["group:mf-leads"]
admin = ["user:root"]

[[models]]
match = "secret-*"
read = ["user:mf-alice"]

[aliases.production]
require_approval = true
require_metrics = ["auc >= 0.8"]
TOML
start_mount "$R" "$M" -o allow_other

# why_of USER PATH: USER's user.registry.why of PATH (empty when none).
why_of() { as "$1" getfattr --only-values -n user.registry.why "$2" 2>/dev/null; }

check "nothing refused yet: no attribute, and modelfs why says so (exit 1)"
run as mf-bob getfattr -n user.registry.why "$M/churn"
[ "$RC" -ne 0 ] || die "getfattr of an empty why succeeded: $OUT"
assert_contains "$ERR" "No such attribute" "getfattr of an empty why"
assert_fails 1 "no refusal of yours" as mf-bob "$MODELFS" why "$M/churn"

check "a lead refused by the gates reads every failing gate, on the model and any path in it"
run as mf-bob ln -sfn v1 "$M/churn/production"
[ "$RC" -ne 0 ] || die "ln -sfn past two failing gates succeeded"
assert_contains "$ERR" "Permission denied" "ln -sfn refused by the gates"
bob=$(why_of mf-bob "$M/churn")
assert_contains "$bob" "EACCES promote churn/production -> v1" "mf-bob's why"
assert_contains "$bob" "gate [aliases.production].require_approval: churn@1 is pending, not approved" "mf-bob's why"
assert_contains "$bob" 'gate [aliases.production].require_metrics "auc >= 0.8": churn@1 has auc = 0.5' "mf-bob's why"
for p in "$M/churn/v1" "$M/churn/v1/model.bin" "$M/churn/latest"; do
  assert_eq "$bob" "$(why_of mf-bob "$p")" "mf-bob's why on $p"
done
ok as mf-bob "$MODELFS" why "$M/churn/v1/model.bin"
assert_eq "$bob" "$OUT" "modelfs why of a file of churn"
ok as mf-bob "$MODELFS" why "$M/churn" --json
assert_eq "EACCES" "$(echo "$OUT" | jpy 'j[0]["error"]')" "why --json error"
assert_contains "$(echo "$OUT" | jpy 'j[0]["reason"]')" "require_metrics" "why --json reason"
# The daemon log (ROOT's owner's) has the same reason.
grep -q 'denied: .*mf-bob.*require_approval.*require_metrics' "$MOUNT_LOG" ||
  die "the log does not name both gates: $(mount_log)"

check "never another user's: mf-carol and root see nothing of mf-bob's"
run as mf-carol getfattr -n user.registry.why "$M/churn"
[ "$RC" -ne 0 ] || die "mf-carol read a why on churn: $OUT"
assert_fails 1 "no refusal of yours" as mf-carol "$MODELFS" why "$M/churn"
assert_fails 1 "no refusal of yours" mf why "$M/churn"
assert_fails 1 "no refusal of yours" mf why "$M"

check "a writer's own refusals: promote denied, then a bad name and a sealed version (not the policy's)"
run as mf-carol ln -s v1 "$M/churn/canary"
[ "$RC" -ne 0 ] || die "mf-carol made an alias"
assert_contains "$(why_of mf-carol "$M/churn")" "EACCES promote churn: denied: [defaults].promote does not include user mf-carol" "mf-carol's why"
run as mf-carol mkdir "$M/churn/notaversion"
assert_contains "$ERR" "Invalid argument" "mkdir of a non-version in a model"
assert_contains "$(why_of mf-carol "$M/churn")" "EINVAL mkdir churn/notaversion: a model holds version directories v<N>" "mf-carol's why after mkdir"
run as mf-carol sh -c "echo x >'$M/churn/v1/new.bin'"
assert_contains "$ERR" "Read-only file system" "writing into a ready version"
assert_contains "$(why_of mf-carol "$M/churn/v1")" "EROFS churn@1 is sealed" "mf-carol's why after writing into v1"
run as mf-carol mkdir "$M/Bad_Name"
[ "$RC" -ne 0 ] || die "mkdir of a bad model name succeeded"
run as mf-carol setfattr -n user.registry.state -v bogus "$M/churn/v1"
[ "$RC" -ne 0 ] || die "setfattr state=bogus succeeded"
root_why=$(why_of mf-carol "$M")
first=$(printf '%s\n' "$root_why" | head -n1)
second=$(printf '%s\n' "$root_why" | sed -n 2p)
assert_eq 2 "$(printf '%s\n' "$root_why" | grep -c '')" "lines of mf-carol's why on the root (churn, the root)"
assert_contains "$first" "EINVAL user.registry.state takes ready or archived, not bogus" "newest line of the root's why"
assert_contains "$second" "Bad_Name" "the root's refusal in the root's why"
# mf-bob's is untouched by mf-carol's.
assert_eq "$bob" "$(why_of mf-bob "$M/churn")" "mf-bob's why after mf-carol's refusals"
# Not listed: getfattr -d shows the same for everyone.
ok as mf-carol getfattr -d "$M/churn"
assert_not_contains "$OUT" "registry.why" "getfattr -d of churn"

check "a model the caller may not read: modelfs why answers from the mount root"
run as mf-dave ls "$M/secret-x"
assert_contains "$ERR" "Permission denied" "mf-dave ls secret-x"
ok as mf-dave "$MODELFS" why "$M/secret-x"
assert_contains "$OUT" "EACCES read secret-x: denied: [[models]]" "mf-dave's why of secret-x"
assert_contains "$ERR" "your refusals in this mount" "modelfs why falling back to the root"
assert_not_contains "$OUT" "mf-carol" "mf-dave's why"
assert_not_contains "$OUT" "churn" "mf-dave's why"

check "outside a modelfs mount: exit 1, saying so"
assert_fails 1 "not in a modelfs mount" mf why "$WORK"

assert_clean_log
pass
