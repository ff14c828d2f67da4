# The policy on the write side (SPEC §4, §6), with real users through an
# `-o allow_other` mount: a reader cannot create, write or annotate; a
# writer registers but cannot promote; a lead promotes; the production gate
# waits for a lead's approval, and forbids self-approval. Every refusal is
# EACCES, leaves nothing changed, and is logged and audited.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
M=$WORK/mnt
S=$WORK/src
ok mf init "$R"
mkdir -p "$S"
echo "weights" >"$S/model.bin"
chmod -R a+rX "$S"
ok mf push "$R" churn "$S/model.bin" --alias staging
cat >"$R/policy.toml" <<'TOML'
[defaults]
read = ["*"]
create = ["group:mf-ml"]
write = ["group:mf-ml"]
promote = ["group:mf-leads"]
approve = ["group:mf-leads"]
admin = ["user:root"]

[aliases.production]
require_approval = true
forbid_self_approval = true
TOML
start_mount "$R" "$M" -o allow_other
denied() {  # WHAT: the last command was refused with EACCES
  [ "$RC" -ne 0 ] || die "$1 succeeded"
  assert_contains "$ERR" "Permission denied" "$1"
}

check "a reader (mf-dave) cannot mkdir, cp or setfattr: EACCES, nothing changes"
run as mf-dave mkdir "$M/dave-model"
denied "mf-dave mkdir model"
run as mf-dave mkdir "$M/churn/v2"
denied "mf-dave mkdir draft"
run as mf-dave setfattr -n user.metrics.auc -v 0.5 "$M/churn/v1"
denied "mf-dave setfattr"
ok mkdir "$M/churn/v2"
run as mf-dave cp "$S/model.bin" "$M/churn/v2/"
denied "mf-dave cp into a draft"
ok rmdir "$M/churn/v2"
ok mf list "$R" --json
assert_eq '["churn"]' "$(echo "$OUT" | jpy '[m["model"] if "model" in m else m["name"] for m in j]')" "models"
wait_until 3 grep -q "denied: user mf-dave" "$MOUNT_LOG" || die "no denial logged: $(mount_log)"
ok mf log "$R" --json
# One record per user, action and object every 10 s (policy/enforce.h): create
# of dave-model, write of churn.
n=$(echo "$OUT" | jpy 'len(set(r["action"] for r in j if not r["allowed"] and r["user"] == "mf-dave"))')
assert_eq 2 "$n" "kinds of audited denials for mf-dave (create, write)"

check "a writer (mf-carol) registers: mkdir, cp -r, setfattr, seal"
ok as mf-carol mkdir "$M/churn/v3"
ok as mf-carol cp -r "$S/." "$M/churn/v3/"
ok as mf-carol setfattr -n user.metrics.auc -v 0.9 "$M/churn/v3"
ok as mf-carol setfattr -n user.registry.state -v ready "$M/churn/v3"
ok mf show "$R" churn@3 --json
assert_eq "mf-carol ready 0.9" "$(echo "$OUT" | jpy '"%s %s %s" % (j["created_by"], j["state"], j["metrics"]["auc"])')" "v3"

check "the writer cannot promote: ln -s and ln -sfn are EACCES, aliases unchanged"
run as mf-carol ln -s v3 "$M/churn/canary"
denied "mf-carol ln -s"
run as mf-carol ln -sfn v3 "$M/churn/staging"
denied "mf-carol ln -sfn"
run as mf-carol rm "$M/churn/staging"
denied "mf-carol rm alias"
run as mf-carol setfattr -n user.registry.approval -v approved "$M/churn/v3"
denied "mf-carol approve"
assert_eq v1 "$(readlink "$M/churn/staging")" "staging"
[ ! -e "$M/churn/canary" ] || die "canary exists"

check "a lead (mf-alice) promotes"
ok as mf-alice ln -sfn v3 "$M/churn/staging"
assert_eq v3 "$(readlink "$M/churn/staging")" "staging after the lead"

check "the production gate: refused until approved, then passes"
run as mf-alice ln -sfn v3 "$M/churn/production"
denied "ln -sfn production before approval"
[ ! -e "$M/churn/production" ] || die "production exists"
wait_until 3 grep -q "denied: user mf-alice .*promote churn/production" "$MOUNT_LOG" ||
  die "the gate's refusal is not in the daemon log: $(mount_log)"
ok mf log "$R" churn --json
n=$(echo "$OUT" | jpy 'len([r for r in j if not r["allowed"] and r["action"] == "promote" and r["object"].startswith("churn/production")])')
[ "$n" -ge 1 ] || die "the gate's refusal is not audited"
ok as mf-bob setfattr -n user.registry.approval -v approved "$M/churn/v3"
ok as mf-alice ln -sfn v3 "$M/churn/production"
assert_eq v3 "$(readlink "$M/churn/production")" "production"

check "forbid_self_approval: a version its creator approved cannot go to production"
ok as mf-alice mkdir "$M/churn/v4"
ok as mf-alice cp "$S/model.bin" "$M/churn/v4/"
ok as mf-alice setfattr -n user.registry.state -v ready "$M/churn/v4"
ok as mf-alice setfattr -n user.registry.approval -v approved "$M/churn/v4"
run as mf-bob ln -sfn v4 "$M/churn/production"
denied "ln -sfn of a self-approved version"
assert_eq v3 "$(readlink "$M/churn/production")" "production unchanged"

assert_clean_log
stop_mount "$M" "$MOUNT_PID"
pass
