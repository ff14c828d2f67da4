# The policy through the mount (SPEC §6), with real users on an
# `-o allow_other` mount: every request is checked, reads included; a
# denial is EACCES with its reason in the daemon log and the audit log; the
# policy reloads when it changes, a broken file keeps the old one in force,
# and a policy that does not parse refuses the mount.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
echo "churn weights" >"$WORK/churn.bin"
echo "fraud weights" >"$WORK/fraud.bin"
ok mf push "$R" churn "$WORK/churn.bin" --metric auc=0.9
ok mf push "$R" fraud-eu "$WORK/fraud.bin" --alias production

write_policy() {  # the fraud-* models readable by mf-leads only ($1: extra)
  cat >"$R/policy.toml.new" <<TOML
[defaults]
read = ["*"]
write = ["group:mf-ml"]
promote = ["group:mf-leads"]
approve = ["group:mf-leads"]
admin = ["user:root"]

[[models]]
match = "fraud-*"
read = [${1:-\"group:mf-leads\"}]
TOML
  mv "$R/policy.toml.new" "$R/policy.toml"
}
write_policy
start_mount "$R" "$M" -o allow_other

check "a reader of churn lists and reads it"
run as mf-carol ls "$M/churn/v1"
[ "$RC" = 0 ] || die "mf-carol cannot ls churn: $ERR"
run as mf-carol cat "$M/churn/v1/churn.bin"
assert_eq "churn weights" "$OUT"

check "a user without read gets EACCES on ls, cat, stat and getfattr of fraud-eu"
for cmd in "ls $M/fraud-eu" "cat $M/fraud-eu/v1/fraud.bin" "stat $M/fraud-eu/production" \
           "getfattr -d -m - $M/fraud-eu"; do
  # shellcheck disable=SC2086
  run as mf-carol $cmd
  [ "$RC" -ne 0 ] || die "mf-carol: '$cmd' succeeded"
  case "$ERR" in *"Permission denied"*) ;; *) die "mf-carol: '$cmd': expected EACCES, got: $ERR" ;; esac
done
check "ls of the root shows mf-carol only the models she may read, as modelfs list does"
run as mf-carol ls "$M"
assert_eq "churn" "$OUT"
run ls "$M"
assert_eq "churn
fraud-eu" "$OUT"

check "the denial names the rule in the daemon log and in the audit log"
wait_until 5 grep -q 'denied: user mf-carol' "$MOUNT_LOG" || die "no denial in the daemon log: $(mount_log)"
grep 'denied: user mf-carol' "$MOUNT_LOG" | grep -q 'fraud-\*' ||
  die "the daemon log does not name the [[models]] rule: $(grep denied "$MOUNT_LOG")"
ok mf log "$R" --json
echo "$OUT" >"$WORK/log.json"
n=$(jpy 'len([r for r in j if not r["allowed"] and r["user"] == "mf-carol" and r["model"] == "fraud-eu" and "fraud-*" in r["reason"]])' "$WORK/log.json")
[ "$n" -ge 1 ] || die "no audited denial for mf-carol on fraud-eu: $OUT"

check "a lead reads fraud-eu through its alias"
run as mf-alice cat "$M/fraud-eu/production/fraud.bin"
[ "$RC" = 0 ] || die "mf-alice cannot read fraud-eu: $ERR"
assert_eq "fraud weights" "$OUT"

check "the policy reloads: granting mf-carol read takes effect without remounting"
write_policy '"group:mf-leads", "user:mf-carol"'
wait_until 3 as mf-carol cat "$M/fraud-eu/v1/fraud.bin" || die "the new policy did not take effect within 3 s"

check "a policy that does not parse keeps the last good one in force"
echo 'read = [oops' >>"$R/policy.toml"
sleep 0.5
run as mf-carol cat "$M/fraud-eu/v1/fraud.bin"
[ "$RC" = 0 ] || die "a broken policy file changed the policy in force: $ERR"
wait_until 3 grep -q 'policy.toml:' "$MOUNT_LOG" || die "the parse error is not in the daemon log: $(mount_log)"

check "fixing it applies the fixed file: revoking mf-carol again"
write_policy
wait_until 3 eval "! as mf-carol cat '$M/fraud-eu/v1/fraud.bin'" ||
  die "revoking read did not take effect within 3 s"

check "root, the admin, reads everything"
run cat "$M/fraud-eu/v1/fraud.bin"
assert_eq "fraud weights" "$OUT"

check "the root is readable by anyone: ls shows exactly the models each may read"
# mf-dave may read churn alone, mf-svc nothing: neither is in [defaults].read.
cat >"$R/policy.toml.new" <<TOML
[defaults]
read = ["user:root", "user:mf-carol"]
create = ["user:mf-svc"]
admin = ["user:root"]

[[models]]
match = "churn"
read = ["user:root", "user:mf-dave"]
TOML
mv "$R/policy.toml.new" "$R/policy.toml"
wait_until 3 eval "! as mf-carol cat '$M/churn/v1/churn.bin' >/dev/null 2>&1" ||
  die "the policy reading churn to mf-dave only did not take effect within 3 s"
run as mf-dave ls "$M"
[ "$RC" = 0 ] || die "mf-dave: ls of the root: $ERR"
assert_eq "churn" "$OUT" "ls of the root by mf-dave"
run as mf-dave ls -a "$M/churn"
[ "$RC" = 0 ] || die "mf-dave: ls of churn: $ERR"
run as mf-svc ls -la "$M"
[ "$RC" = 0 ] || die "mf-svc: ls -la of the root: $ERR"
assert_not_contains "$OUT" "churn" "ls of the root by mf-svc"
assert_not_contains "$OUT" "fraud" "ls of the root by mf-svc"
for cmd in "stat $M" "df $M" "getfattr -d $M"; do
  # shellcheck disable=SC2086
  run as mf-svc $cmd
  [ "$RC" = 0 ] || die "mf-svc: '$cmd' on the root: $ERR"
done
run as mf-svc ls "$M/churn"
case "$ERR" in *"Permission denied"*) ;; *) die "mf-svc: ls churn: expected EACCES, got: $ERR" ;; esac

check "mkdir of a model by a user who may create but not read: made; an existing one stays hidden"
run as mf-svc stat "$M/svc-model"
case "$ERR" in *"No such file"*) ;; *) die "mf-svc: stat of an absent model: expected ENOENT, got: $ERR" ;; esac
run as mf-svc mkdir "$M/svc-model"
[ "$RC" = 0 ] || die "mf-svc (create, not read): mkdir svc-model: $ERR"
ok mf list "$R"
assert_contains "$OUT" "svc-model" "models after mf-svc's mkdir"
ok mf log "$R" svc-model --json
assert_eq "mf-svc" "$(jpy '[r["user"] for r in j if r["action"] == "create"][0]' <<<"$OUT")" "creator of svc-model"
for m in churn fraud-eu svc-model; do  # exist, unreadable to mf-svc: not EEXIST
  run as mf-svc mkdir "$M/$m"
  case "$ERR" in *"Permission denied"*) ;; *) die "mf-svc: mkdir of existing $m: expected EACCES, got: $ERR" ;; esac
done
# Who may neither read nor create learns nothing: absent and present alike.
for m in dave-model fraud-eu; do
  run as mf-dave stat "$M/$m"
  case "$ERR" in *"Permission denied"*) ;; *) die "mf-dave: stat $m: expected EACCES, got: $ERR" ;; esac
  run as mf-dave mkdir "$M/$m"
  case "$ERR" in *"Permission denied"*) ;; *) die "mf-dave: mkdir $m: expected EACCES, got: $ERR" ;; esac
done
write_policy

check "a user with no access to ROOT itself still reads through the mount"
run as mf-dave cat "$R/policy.toml"
[ "$RC" -ne 0 ] || die "mf-dave can read ROOT directly (it should be private)"
run as mf-dave cat "$M/churn/v1/churn.bin"
assert_eq "churn weights" "$OUT"
stop_mount "$M" "$MOUNT_PID"

check "a policy that does not parse refuses the mount, naming line and column"
echo 'read = [oops' >>"$R/policy.toml"
mkdir -p "$WORK/mnt2"
run timeout 20 "$MODELFS" mount "$R" "$WORK/mnt2" -f
[ "$RC" = 1 ] || die "mount with a broken policy: exit $RC, want 1"
case "$ERR" in *"policy.toml:"*) ;; *) die "no FILE:LINE:COL in: $ERR" ;; esac
is_mounted "$WORK/mnt2" && die "mounted anyway"
pass
