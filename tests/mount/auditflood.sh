# A flood of denials through the mount (issue 15): an unprivileged user who
# stats thousands of distinct missing names under a model it may not read
# gets EACCES for every one, while the audit trail and the daemon log get a
# bounded number of records plus a summary counting the rest.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
M=$WORK/mnt
N=5000
BURST=20  # policy::Enforcer::Limits: a burst of 20, then one per 10 s
ok mf init "$R"
echo "fraud weights" >"$WORK/fraud.bin"
ok mf push "$R" fraud-eu "$WORK/fraud.bin"
cat >"$R/policy.toml" <<'TOML'
[defaults]
read = ["*"]
admin = ["user:root"]

[[models]]
match = "fraud-*"
read = ["group:mf-leads"]
TOML
start_mount "$R" "$M" -o allow_other

check "root stats fraud-eu (the kernel keeps its name), mf-carol may not read it"
run stat "$M/fraud-eu"
[ "$RC" = 0 ] || die "root cannot stat fraud-eu: $ERR"
run as mf-carol cat "$M/fraud-eu/v1/fraud.bin"
case "$ERR" in *"Permission denied"*) ;; *) die "mf-carol: expected EACCES, got: $RC $ERR" ;; esac
start=$(date +%s)

check "mf-carol stats $N distinct missing names under fraud-eu: EACCES every time"
run as mf-carol "$PY" -c '
import errno, os, sys
base, n = sys.argv[1], int(sys.argv[2])
eacces = other = 0
for i in range(n):
    try:
        os.stat("%s/missing-%d" % (base, i))
        other += 1
    except OSError as e:
        if e.errno == errno.EACCES:
            eacces += 1
        else:
            other += 1
print(eacces, other)
' "$M/fraud-eu" "$N"
assert_eq "$N 0" "$OUT" "EACCES and other outcomes"
elapsed=$(($(date +%s) - start + 1))
bound=$((BURST + elapsed / 10 + 2))
echo "    $N stats in about ${elapsed}s: at most $bound individual records"

check "the daemon log holds a bounded number of denial lines"
n_log=$(grep -c 'denied: user mf-carol' "$MOUNT_LOG")
[ "$n_log" -ge 1 ] || die "no denial of mf-carol in the daemon log: $(mount_log | tail -5)"
[ "$n_log" -le "$bound" ] || die "$n_log denial lines in the daemon log, more than $bound"

check "after the mount stops, the trail holds a bounded number of DENIED records and a summary"
stop_mount "$M" "$MOUNT_PID"  # the daemon writes the pending summary as it goes
grep -q 'denied-summary: [0-9]* further denials of uid [0-9]* (mf-carol) suppressed' "$MOUNT_LOG" ||
  die "no summary in the daemon log: $(mount_log | tail -5)"
ok mf log "$R" --json
echo "$OUT" >"$WORK/log.json"
individual=$(jpy 'len([r for r in j if not r["allowed"] and r["user"] == "mf-carol" and r["action"] != "denied-summary"])' "$WORK/log.json")
missing=$(jpy 'len([r for r in j if not r["allowed"] and r["user"] == "mf-carol" and r["object"].startswith("fraud-eu/missing-")])' "$WORK/log.json")
summaries=$(jpy 'len([r for r in j if r["action"] == "denied-summary" and r["user"] == "mf-carol"])' "$WORK/log.json")
summarized=$(jpy 'sum(int(r["reason"].split()[0]) for r in j if r["action"] == "denied-summary" and r["user"] == "mf-carol")' "$WORK/log.json")
echo "    $individual individual records ($missing of missing names), $summaries summary, $summarized summarized"
[ "$missing" -ge 1 ] || die "no record names a missing name: the flood did not reach the model"
[ "$individual" -le "$bound" ] || die "$individual DENIED records of mf-carol, more than $bound"
[ "$summaries" -ge 1 ] || die "no denied-summary record"
# Every stat was one denial: recorded, or counted in a summary.
assert_eq "$N" "$((missing + summarized))" "denials recorded or summarized"
ok mf log "$R"
case "$OUT" in *"denied-summary"*"suppressed in the last"*) ;;
  *) die "modelfs log does not show the summary: $(echo "$OUT" | tail -3)" ;; esac
assert_clean_log
pass
