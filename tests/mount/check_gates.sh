#!/usr/bin/env bash
# Check gates (SPEC §8, issue 12 item 4): [aliases.A] require_check runs a
# command as check_user on a read-only directory of the candidate version
# before the alias moves, from the CLI and from `ln -sfn` through the mount
# alike; a failure refuses the move with the command's last lines, a hang
# is killed at check_timeout, passes and failures are audited, and the
# mount keeps serving others while a check runs (even with one worker
# thread): the move is finished off the request threads.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
MARK=$WORK/mark
mkdir -p "$MARK"
chmod 1777 "$MARK"
ok mf init "$R"
chmod 755 "$R"  # the checks run as nobody: ROOT/scripts must be reachable
mkdir -p "$R/scripts" "$WORK/good" "$WORK/bad"
cat >"$R/scripts/smoke.sh" <<SH
#!/bin/sh
d=\$1
echo "checking \$(basename "\$d") as \$(id -un) in \$(pwd)"
id -u >$MARK/uid
test -f "\$d/model.bin" || { echo "no model.bin"; exit 1; }
touch "\$d/written" 2>/dev/null && { echo "the candidate's directory is writable"; exit 3; }
echo hacked 2>/dev/null >>"\$d/model.bin" && { echo "the candidate's file is writable"; exit 3; }
if grep -q bad "\$d/model.bin"; then echo "smoke test failed: the model predicts nonsense"; exit 2; fi
echo "smoke test passed"
SH
cat >"$R/scripts/slow.sh" <<SH
#!/bin/sh
echo started >$MARK/slow-started
i=0
while [ ! -e $MARK/release ] && [ \$i -lt 600 ]; do sleep 0.05; i=\$((i + 1)); done
echo released
SH
chmod 755 "$R/scripts" "$R/scripts/"*.sh
echo good >"$WORK/good/model.bin"
echo bad >"$WORK/bad/model.bin"
ok mf push "$R" churn "$WORK/good"
ok mf push "$R" churn "$WORK/bad"
ok mf push "$R" fraud "$WORK/good"
cat >>"$R/policy.toml" <<'TOML'

check_timeout = "4s"

[aliases.production]
require_check = ["scripts/smoke.sh"]

[aliases.staging]
require_check = ["scripts/slow.sh"]
TOML
# check_timeout is a top-level key: it must come before the tables.
"$PY" - "$R/policy.toml" <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
lines = [l for l in lines if not l.startswith("check_timeout")]
open(p, "w").write('check_timeout = "4s"\n' + "\n".join(lines))
PY
ok mf policy check "$R/policy.toml"

# ---------------------------------------------------------------- CLI
check "CLI: a passing check lets the alias move; it ran as nobody on the version's files; audited"
ok mf alias "$R" churn@1 production
assert_eq 1 "$(mf show "$R" churn@production --json | jpy 'j["version"]')" "production"
assert_eq "$(id -u nobody)" "$(cat "$MARK/uid")" "the check's uid"
ok mf log "$R" churn --json
assert_contains "$(echo "$OUT" | jpy '[r["reason"] for r in j if r["action"] == "alias"][-1]')" \
  "gate [aliases.production].require_check passed: scripts/smoke.sh (" "the move's audit note"
ls /tmp/modelfs-check-* >/dev/null 2>&1 && die "the check's directory was left behind: $(ls -d /tmp/modelfs-check-*)"

check "CLI: a failing check refuses the move (exit 3) with the command's last lines; audited as denied"
assert_fails 3 "smoke test failed: the model predicts nonsense" mf alias "$R" churn@2 production
assert_contains "$ERR" "gate [aliases.production].require_check failed on churn@2: scripts/smoke.sh: exit 2"
assert_contains "$ERR" "checking churn-v2 as nobody"
assert_eq 1 "$(mf show "$R" churn@production --json | jpy 'j["version"]')" "production after the refusal"
ok mf log "$R" churn --json
assert_contains "$(echo "$OUT" | jpy '[r["reason"] for r in j if not r["allowed"]][-1]')" "the model predicts nonsense" "the denial's audit"

check "CLI: a check that hangs is killed at check_timeout and refuses the move"
t0=$(date +%s)
assert_fails 3 "timed out after 4 s" mf alias "$R" churn@1 staging
[ $(($(date +%s) - t0)) -lt 15 ] || die "the hanging check took $(($(date +%s) - t0)) s to refuse"
rm -f "$MARK/slow-started"

check "CLI: --force skips the check (admin), and says so in the audit"
ok mf alias "$R" churn@2 production --force
ok mf log "$R" churn --json
assert_contains "$(echo "$OUT" | jpy '[r["reason"] for r in j if r["action"] == "alias"][-1]')" "forced past gate [aliases.production].require_check (not run)"
ok mf alias "$R" churn@1 production

# ---------------------------------------------------------------- mount
check "mount: ln -sfn runs the same check: the bad version is refused, the good one moves"
start_mount "$R" "$M" --threads 1
run ln -sfn v2 "$M/churn/production"
[ "$RC" -ne 0 ] || die "ln -sfn to the bad version succeeded"
assert_contains "$ERR" "Permission denied" "ln's error"
assert_eq "v1" "$(readlink "$M/churn/production")" "production through the mount"
ok getfattr --only-values -n user.registry.why "$M/churn"
assert_contains "$OUT" "the model predicts nonsense" "why"
ok mf alias "$R" churn@2 production --force
ok ln -sfn v1 "$M/churn/production"
wait_until 5 link_is "$M/churn/production" v1 || die "production did not move back to v1"

# The kernel holds churn/'s directory lock for the rename ln waits on, so
# "others" are the requests outside churn/.
check "mount: while a check runs, the mount (one worker thread) keeps serving others"
ln -sfn v1 "$M/churn/staging" 2>"$WORK/ln.err" &
lnpid=$!
on_exit "kill $lnpid 2>/dev/null"
wait_until 10 test -e "$MARK/slow-started" || die "the slow check did not start: $(mount_log)"
for i in 1 2 3 4 5; do
  ok timeout 3 cat "$M/fraud/v1/model.bin"
  ok timeout 3 ls "$M" "$M/fraud/v1"
  ok timeout 3 getfattr -d "$M/fraud/v1"
done
pid_alive "$lnpid" || die "ln finished before the check was released"
touch "$MARK/release"
wait_pid_exit "$lnpid" 10 || die "ln did not finish after the check passed"
wait "$lnpid" || die "ln -sfn failed after its check passed: $(cat "$WORK/ln.err")"
wait_until 5 link_is "$M/churn/staging" v1 || die "staging was not created"
rm -f "$MARK/release" "$MARK/slow-started"

check "mount: unmounting while a check runs kills it; the daemon exits promptly"
ln -sfn v2 "$M/churn/staging" 2>/dev/null &
lnpid2=$!
on_exit "kill $lnpid2 2>/dev/null"
wait_until 10 test -e "$MARK/slow-started" || die "the second slow check did not start"
kill -TERM "$MOUNT_PID"
wait_pid_exit "$MOUNT_PID" 10 || die "the daemon did not exit within 10 s while a check ran"
wait_pid_exit "$lnpid2" 10 || die "ln hung after the daemon exited"
assert_eq 1 "$(mf show "$R" churn@staging --json | jpy 'j["version"]')" "staging after the cancelled check"
pgrep -f "$R/scripts/slow.sh" >/dev/null && die "the cancelled check is still running"
assert_clean_log

pass
