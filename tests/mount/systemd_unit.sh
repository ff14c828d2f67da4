# The systemd unit template modelfs@.service: `systemd-analyze verify`
# accepts it (when systemd-analyze exists), and its own command lines, run
# as systemd would run them (instance = the escaped mountpoint, variables
# from its EnvironmentFile, NOTIFY_SOCKET set), mount the registry, report
# READY=1 only once the mount serves, and stop cleanly: ExecStop unmounts,
# the daemon says STOPPING=1 and exits 0.
. "$TESTS_DIR/lib.sh"

UNIT=$(dirname "$MODELFS")/modelfs@.service  # the build tree's copy names $MODELFS
[ -f "$UNIT" ] || die "no unit file at $UNIT"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
printf 'x' >"$WORK/a.bin"
ok mf push "$R" churn "$WORK/a.bin"

INSTANCE=$(systemd-escape --path "$M")
F=$(systemd-escape --unescape --path "$INSTANCE")
assert_eq "$M" "$F" "%f of instance $INSTANCE"

# unit_value KEY: the value of KEY= in the unit (exactly one line).
unit_value() {
  local n
  n=$(grep -c "^$1=" "$UNIT")
  [ "$n" -eq 1 ] || die "expected one $1= line in $UNIT, found $n"
  sed -n "s/^$1=//p" "$UNIT"
}

check "the unit's shape: notify, an environment file per instance, a stop that unmounts"
assert_eq "notify" "$(unit_value Type)" "Type"
assert_eq "/etc/modelfs/mounts/%i.env" "$(unit_value EnvironmentFile)" "EnvironmentFile"
assert_contains "$(unit_value ExecStart)" " mount -f " "ExecStart"
assert_contains "$(unit_value ExecStop)" "fusermount3 -u %f" "ExecStop"

check "systemd-analyze verify"
if command -v systemd-analyze >/dev/null; then
  # verify loads the template through an instance of it, from a directory
  # of its own (the unit's ExecStart binary is this build's).
  mkdir -p "$WORK/units"
  cp "$UNIT" "$WORK/units/modelfs@.service"
  run timeout 60 systemd-analyze verify --man=no "$WORK/units/modelfs@$INSTANCE.service"
  [ "$RC" -eq 0 ] || die "systemd-analyze verify failed ($RC): $ERR $OUT"
  # Anything it says about our unit is a finding (it may also talk about
  # the host's own units, in a container without systemd running).
  if printf '%s\n%s\n' "$OUT" "$ERR" | grep -i "modelfs@" | grep -v "^$"; then
    die "systemd-analyze verify has findings about the unit: $ERR $OUT"
  fi
else
  echo "    skipped: systemd-analyze is not installed"
fi

# expand LINE: the command line as systemd runs it, one argument per line:
# %f and %i replaced, ${VAR} a single argument (empty when VAR is empty).
expand() {
  local w out=()
  # shellcheck disable=SC2206  # split on blanks, as systemd does (no quotes in the unit)
  local words=($1)
  for w in "${words[@]}"; do
    w=${w//%f/$F}
    w=${w//%i/$INSTANCE}
    while [[ $w =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
      local name=${BASH_REMATCH[1]}
      w=${w//"\${$name}"/${!name:-}}
    done
    out+=("$w")
  done
  printf '%s\n' "${out[@]}"
}

# The instance's environment file, read as systemd would.
cat >"$WORK/instance.env" <<ENV
MODELFS_ROOT=$R
MODELFS_OPTIONS=allow_other
ENV
set -a
. "$WORK/instance.env"
set +a

# A stand-in for systemd's notify socket: records each datagram, one line
# per message ("|" for the newlines inside one).
SOCK=$WORK/notify.sock
"$PY" - "$SOCK" "$WORK/notify.log" <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1.0)
end = time.time() + 120
with open(sys.argv[2], "a", buffering=1) as log:
    while time.time() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        log.write(msg.replace("\n", "|") + "\n")
        if "STOPPING=1" in msg:
            break
PYEOF
LISTENER=$!
on_exit "kill $LISTENER 2>/dev/null"
wait_until 10 test -S "$SOCK" || die "the notify listener did not start"

check "ExecStartPre makes the mountpoint; ExecStart mounts and reports READY=1 once serving"
mapfile -t pre < <(expand "$(unit_value ExecStartPre)")
mapfile -t start < <(expand "$(unit_value ExecStart)")
mapfile -t stop < <(expand "$(unit_value ExecStop)")
assert_eq "$MODELFS" "${start[0]}" "ExecStart's binary (the build tree's unit)"
ok "${pre[@]}"
[ -d "$M" ] || die "ExecStartPre did not make $M"
NOTIFY_SOCKET=$SOCK "${start[@]}" >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
on_exit "stop_mount '$M' $DAEMON"
wait_until 20 grep -qE '(^|[|])READY=1([|]|$)' "$WORK/notify.log" ||
  die "no READY=1 within 20 s; daemon log: $(cat "$WORK/daemon.log")"
# Ready means serving: no wait here.
is_mounted "$M" || die "READY=1 was sent before the mount was up"
assert_eq "x" "$(cat "$M/churn/v1/a.bin")" "read right after READY=1"
assert_contains "$(grep -E '(^|[|])READY=1([|]|$)' "$WORK/notify.log")" "STATUS=serving $R at $M" "the STATUS sent"
grep -q " $M fuse.modelfs .*allow_other" /proc/mounts || die "MODELFS_OPTIONS (allow_other) not applied"
pid_alive "$DAEMON" || die "the ExecStart process exited: Type=notify needs it in the foreground"

check "ExecStop unmounts; the daemon says STOPPING=1 and exits 0"
ok timeout 20 "${stop[@]}"
wait_pid_exit "$DAEMON" 10 || die "daemon still running 10 s after ExecStop"
wait "$DAEMON"
assert_eq 0 $? "the daemon's exit status"
is_mounted "$M" && die "still mounted after ExecStop"
wait_until 5 grep -qE '(^|[|])STOPPING=1([|]|$)' "$WORK/notify.log" || die "no STOPPING=1: $(cat "$WORK/notify.log")"

check "a busy mount: ExecStop fails, systemd's SIGTERM detaches it and the daemon exits 0"
"${start[@]}" >"$WORK/daemon-busy.log" 2>&1 &
DAEMON=$!
on_exit "stop_mount '$M' $DAEMON"
wait_until 20 is_mounted "$M" || die "not mounted: $(cat "$WORK/daemon-busy.log")"
# Busy with a working directory in it. (Not an open file: a daemon that
# exits leaves the handles of files still open unreleased, which LSan
# reports under ASan; that is the daemon's shutdown, not the unit's.)
(cd "$M/churn" && exec sleep 60) &
BUSY=$!
on_exit "kill $BUSY 2>/dev/null"
cwd_is() { [ "$(readlink "/proc/$1/cwd")" = "$2" ]; }
wait_until 5 cwd_is "$BUSY" "$M/churn" || die "no process in the mount"
run timeout 20 "${stop[@]}"
[ "$RC" -ne 0 ] || die "ExecStop unmounted a busy mount (expected EBUSY)"
is_mounted "$M" || die "the busy mount went away on a failed ExecStop"
kill -TERM "$DAEMON"
wait_pid_exit "$DAEMON" 10 || die "daemon still running 10 s after SIGTERM"
wait "$DAEMON"
assert_eq 0 $? "the daemon's exit status after SIGTERM"
wait_until 5 eval "! grep -qs ' $M fuse' /proc/mounts" || die "the mount remains after SIGTERM"
kill "$BUSY" 2>/dev/null
wait "$BUSY" 2>/dev/null

check "without MODELFS_OPTIONS in the file, ExecStart still runs"
MODELFS_OPTIONS=
mapfile -t start < <(expand "$(unit_value ExecStart)")
"${start[@]}" >"$WORK/daemon2.log" 2>&1 &
DAEMON=$!
on_exit "stop_mount '$M' $DAEMON"
wait_until 20 is_mounted "$M" || die "not mounted without options: $(cat "$WORK/daemon2.log")"
ok timeout 20 "${stop[@]}"
wait_pid_exit "$DAEMON" 10 || die "daemon still running after ExecStop"

pass
