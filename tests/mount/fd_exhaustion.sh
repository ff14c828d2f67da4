# No reader can exhaust the daemon's file descriptors (issue 15): an
# unprivileged user holds 20,000 opens of one file while root and other
# users go on opening, reading, listing and reading xattrs, and the daemon
# keeps a bounded number of descriptors. A daemon with a low RLIMIT_NOFILE
# serves more concurrent opens of distinct files than it has descriptors;
# when it truly runs out, the client gets EMFILE, the log says "out of file
# descriptors" (never "missing", never a denial of the wrong user), and all
# is well again once descriptors are free.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
M=$WORK/mnt
S=$WORK/src
ok mf init "$R"
mkdir -p "$S/many" "$WORK/hold"
chmod 1777 "$WORK/hold"  # the holders (test users) report here
head -c $((3 << 20)) /dev/urandom >"$S/a.bin"
head -c 100000 /dev/urandom >"$S/b.bin"
echo "churn config" >"$S/c.txt"
echo "fraud weights" >"$S/f.bin"
# f400 and f401 are read only once the daemon is out of descriptors: no
# descriptor of theirs can be cached then.
for i in $(seq 0 401); do echo "distinct file $i" >"$S/many/f$i"; done
ok mf push "$R" churn "$S/a.bin" "$S/b.bin" "$S/c.txt"
ok mf push "$R" fraud-eu "$S/f.bin"
ok mf push "$R" many "$S/many"
# Names matter: root resolved as "0" (or a user without its groups) would
# be denied.
cat >"$R/policy.toml" <<'TOML'
[defaults]
read = ["user:root", "user:mf-carol", "user:mf-dave"]
write = ["user:root"]
admin = ["user:root"]

[[models]]
match = "fraud-*"
read = ["user:root", "group:mf-leads"]
TOML

# hold.py PATHS_FILE COUNT REPORT STOP: opens the paths listed in PATHS_FILE
# round robin, COUNT opens in all (raising its own soft RLIMIT_NOFILE to
# the hard limit), reads a little from some, writes "held N" (or "error N
# ERRNO" at the first failed open) to REPORT, then holds them until STOP
# exists (at most 120 s) and reads again.
cat >"$WORK/hold.py" <<'PY'
import os, resource, sys, time
paths = open(sys.argv[1]).read().split()
count, report, stop = int(sys.argv[2]), sys.argv[3], sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
fds = []
def say(text):
    with open(report + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(report + ".tmp", report)
try:
    for i in range(count):
        fds.append(os.open(paths[i % len(paths)], os.O_RDONLY))
except OSError as e:
    say("error %d %d" % (len(fds), e.errno))
    sys.exit(1)
for fd in fds[::997]:
    if len(os.pread(fd, 16, 0)) == 0:
        say("error empty read")
        sys.exit(1)
say("held %d" % len(fds))
deadline = time.time() + 120
while not os.path.exists(stop) and time.time() < deadline:
    time.sleep(0.05)
for fd in fds[::499]:
    os.pread(fd, 16, 0)
PY
chmod 644 "$WORK/hold.py"

errno_of() { "$PY" -c "import errno; print(errno.$1)"; }
daemon_fds() { ls "/proc/$MOUNT_PID/fd" | wc -l; }
held() { grep -q '^held' "$1" 2>/dev/null; }
reported() { [ -s "$1" ]; }

# Reads, listings and xattrs of root and other users (several files each).
others_are_served() {
  local f
  for f in a.bin b.bin c.txt; do
    ok cmp "$S/$f" "$M/churn/v1/$f"
    run as mf-carol cmp "$S/$f" "$M/churn/v1/$f"
    [ "$RC" = 0 ] || die "mf-carol cannot read churn/v1/$f: $ERR"
  done
  run as mf-alice cat "$M/fraud-eu/v1/f.bin"
  [ "$RC" = 0 ] || die "mf-alice (group mf-leads) cannot read fraud-eu: $ERR"
  assert_eq "fraud weights" "$OUT"
  ok cmp "$S/many/f7" "$M/many/v1/f7"
  ok ls "$M" "$M/churn/v1"
  assert_contains "$(ls "$M/churn/v1")" "b.bin"
  ok getfattr -d -m - "$M/churn/v1"
  assert_contains "$OUT" "user.registry.digest"
}

# The daemon's limit is set, whatever this machine's default, so that one
# descriptor per open would exhaust it: 16,384 < 20,000.
start_mount "$R" "$M" -o allow_other
ok prlimit --pid "$MOUNT_PID" --nofile=16384:16384

check "mf-dave holds 20,000 opens of one file"
echo "$M/churn/v1/b.bin" >"$WORK/one.txt"
per=$(( $(ulimit -Hn) - 64 ))
[ "$per" -gt 10000 ] && per=10000
[ "$per" -gt 100 ] || die "the hard RLIMIT_NOFILE ($(ulimit -Hn)) is too low for this test"
n=0
pids=()
reports=()
while [ "$n" -lt 20000 ]; do
  k=$per
  [ $((n + k)) -gt 20000 ] && k=$((20000 - n))
  rep="$WORK/hold/big-${#pids[@]}"
  reports+=("$rep")
  as mf-dave "$PY" "$WORK/hold.py" "$WORK/one.txt" "$k" "$rep" "$WORK/hold/stop-big" &
  pids+=($!)
  n=$((n + k))
done
on_exit "touch '$WORK/hold/stop-big'"
for rep in "${reports[@]}"; do
  wait_until 120 reported "$rep" || die "a holder did not report within 120 s"
  held "$rep" || die "a holder could not open its share: $(cat "$rep"); daemon log:
$(tail -5 "$MOUNT_LOG")"
done

check "while they are held, root and other users open, read, list and getfattr"
others_are_served
fds=$(daemon_fds)
echo "daemon descriptors with 20,000 opens held: $fds"
[ "$fds" -lt 1000 ] || die "the daemon holds $fds descriptors for 20,000 opens of one file"

check "released, everything still works"
touch "$WORK/hold/stop-big"
for p in "${pids[@]}"; do
  wait_pid_exit "$p" 30 || die "a holder did not exit"
  wait "$p" || die "a holder failed after release"
done
others_are_served
fds=$(daemon_fds)
[ "$fds" -lt 1000 ] || die "the daemon holds $fds descriptors after the opens were released"
if grep -E 'missing|denied' "$MOUNT_LOG"; then die "the daemon log reports missing blobs or denials"; fi
stop_mount "$M" "$MOUNT_PID"

# ------------------------------------------------------------- a low limit
# The daemon starts with 200 descriptors (prlimit execs it: the same pid).
cat >"$WORK/low-modelfs" <<SH
#!/bin/sh
exec prlimit --nofile=200:200 "$MODELFS" "\$@"
SH
chmod 755 "$WORK/low-modelfs"
REAL_MODELFS=$MODELFS
MODELFS=$WORK/low-modelfs start_mount "$R" "$M" -o allow_other
MODELFS=$REAL_MODELFS
assert_eq 200 "$(prlimit --pid "$MOUNT_PID" --nofile --noheadings --output SOFT | tr -d ' ')" "daemon limit"

check "with 200 descriptors the daemon serves 400 concurrent opens of distinct files"
for i in $(seq 0 399); do echo "$M/many/v1/f$i"; done >"$WORK/many.txt"
as mf-dave "$PY" "$WORK/hold.py" "$WORK/many.txt" 400 "$WORK/hold/many" "$WORK/hold/stop-many" &
many_pid=$!
on_exit "touch '$WORK/hold/stop-many'"
wait_until 60 reported "$WORK/hold/many" || die "the holder of 400 files did not report"
held "$WORK/hold/many" || die "400 distinct opens failed: $(cat "$WORK/hold/many"); daemon log:
$(tail -5 "$MOUNT_LOG")"
others_are_served
[ "$(daemon_fds)" -lt 200 ] || die "the daemon is at its limit: $(daemon_fds)"
touch "$WORK/hold/stop-many"
wait_pid_exit "$many_pid" 30 || die "the holder of 400 files did not exit"

check "truly out of descriptors: EMFILE and 'out of file descriptors', never 'missing'"
# A daemon that has cached no blob descriptor (it would give idle ones up
# for a new blob: then a read is served, which is right but not this case).
stop_mount "$M" "$MOUNT_PID"
MODELFS=$WORK/low-modelfs start_mount "$R" "$M" -o allow_other
MODELFS=$REAL_MODELFS
# Draft files open for writing each hold one of the daemon's descriptors.
ok mkdir "$M/many/v2"
# fill.py DIR REPORT STOP: creates files in draft DIR, keeping them open,
# until the daemon refuses one; then opens them again, one descriptor of
# the daemon's each, until it refuses five in a row, so that none is left;
# reports "CREATED ERRNO" and holds everything until STOP exists.
cat >"$WORK/fill.py" <<'PY'
import os, sys, time
d, report, stop = sys.argv[1], sys.argv[2], sys.argv[3]
fds, names = [], []
err = 0
for i in range(1000):
    try:
        fds.append(os.open("%s/w%d" % (d, i), os.O_WRONLY | os.O_CREAT, 0o644))
        names.append("%s/w%d" % (d, i))
    except OSError as e:
        err = e.errno
        break
created = len(fds)
refused = 0
while names and refused < 5:
    try:
        fds.append(os.open(names[len(fds) % len(names)], os.O_RDONLY))
        refused = 0
    except OSError:
        refused += 1
with open(report, "w") as f:
    f.write("%d %d\n" % (created, err))
deadline = time.time() + 120
while not os.path.exists(stop) and time.time() < deadline:
    time.sleep(0.05)
PY
"$PY" "$WORK/fill.py" "$M/many/v2" "$WORK/hold/fill" "$WORK/hold/stop-fill" &
fill_pid=$!
on_exit "touch '$WORK/hold/stop-fill'"
wait_until 60 reported "$WORK/hold/fill" || die "the filler did not report"
read -r filled ferr <"$WORK/hold/fill"
echo "draft files held open when the daemon ran out: $filled (errno $ferr)"
assert_eq "$(errno_of EMFILE)" "$ferr" "errno of the create that found the daemon out of descriptors"
# Blobs with no cached descriptor, by mf-carol and by root. libfuse's own
# workers come and go with their descriptors (a pipe pair, a clone of
# /dev/fuse), so one may be free at that moment: a reader is then served
# the right bytes; else it is told EMFILE, and the log says why. Never a
# wrong byte, a "missing" blob or a denial. (blob_fds_test shows the EMFILE
# path without this race.)
refused=0
for who in mf-carol root; do
  f=f400
  [ "$who" = root ] && f=f401
  if [ "$who" = root ]; then run cat "$M/many/v1/$f"; else run as "$who" cat "$M/many/v1/$f"; fi
  if [ "$RC" = 0 ]; then
    assert_eq "$(cat "$S/many/$f")" "$OUT" "$who's read of $f while the daemon was out of descriptors"
  else
    assert_contains "$ERR" "Too many open files"
    refused=$((refused + 1))
  fi
done
echo "reads refused with EMFILE while out of descriptors: $refused of 2"
if [ "$refused" -gt 0 ]; then
  wait_until 5 grep -q 'out of file descriptors' "$MOUNT_LOG" ||
    die "the daemon log does not say it is out of descriptors: $(tail -5 "$MOUNT_LOG")"
  grep -m 2 'out of file descriptors' "$MOUNT_LOG"
fi

check "descriptors free again: the same files read, as the same users"
touch "$WORK/hold/stop-fill"
wait_pid_exit "$fill_pid" 30 || die "the filler did not exit"
ok cmp "$S/many/f123" "$M/many/v1/f123"
run as mf-carol cmp "$S/many/f124" "$M/many/v1/f124"
[ "$RC" = 0 ] || die "mf-carol cannot read once descriptors are free: $ERR"
others_are_served
if grep -E 'missing|denied' "$MOUNT_LOG"; then die "the daemon log reports missing blobs or denials"; fi
assert_clean_log
pass
