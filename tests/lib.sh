# Shared helpers for the shell tests. Source it:
#   . "$TESTS_DIR/lib.sh"
# The generic helpers (die, check, pass, run, ok, assert_eq, assert_fails,
# mf, on_exit, $WORK, $PY, ...) are those of tests/cli/common.sh, sourced
# here so there is one implementation of each. This file adds what the
# mounted tests need: starting a mount that is always taken down again,
# and bounded waits. Nothing here waits without a bound.

. "$TESTS_DIR/cli/common.sh"

# Longest a mount may take to come up or go away.
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-10}

# wait_until SECS CMD...: polls CMD every 50 ms until it succeeds; fails
# (returns 1) after SECS seconds.
wait_until() {
  local secs=$1
  shift
  local deadline=$(($(date +%s%N) + secs * 1000000000))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# mode_is PATH MODE: PATH's permission bits are MODE (octal, as stat %a),
# asked afresh on each call (for wait_until).
mode_is() { [ "$(stat -c %a "$1")" = "$2" ]; }
# link_is PATH TARGET: PATH is a symlink to TARGET, asked afresh each call.
link_is() { [ "$(readlink "$1")" = "$2" ]; }

# is_mounted MNT: a FUSE mount of ours is up at MNT (bounded: a hung
# daemon must not hang the test).
is_mounted() {
  grep -qs " $(realpath -m "$1") fuse.modelfs " /proc/mounts &&
    timeout 5 mountpoint -q "$1"
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# wait_pid_exit PID SECS: waits for PID (a child or not) to exit.
wait_pid_exit() { wait_until "$2" eval "! pid_alive $1"; }

# stop_mount MNT [PID]: unmounts MNT (lazily if it stays busy) and waits for
# the daemon PID to exit, killing it when it will not. Never fails.
stop_mount() {
  local mnt=$1 pid=${2:-}
  if grep -qs " $(realpath -m "$mnt") fuse" /proc/mounts; then
    timeout 10 fusermount3 -u "$mnt" 2>/dev/null ||
      timeout 10 fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
  fi
  if [ -n "$pid" ]; then
    if ! wait_pid_exit "$pid" "$MOUNT_TIMEOUT"; then
      echo "stop_mount: the daemon $pid did not exit; killing it" >&2
      kill -9 "$pid" 2>/dev/null
      # A process stuck in the kernel outlives SIGKILL: reap it only once
      # it is gone, so that a test's cleanup never hangs.
      wait_pid_exit "$pid" 5 || { echo "stop_mount: $pid survives SIGKILL" >&2; return 0; }
    fi
    wait "$pid" 2>/dev/null
  fi
  return 0
}

# start_mount ROOT MNT [MOUNT ARGS...]: runs `modelfs mount ROOT MNT -f ARGS`
# in the background, waits (bounded) until MNT is served, and arranges for
# it to be unmounted and the daemon reaped when the test exits, however it
# exits. Sets MOUNT_PID and MOUNT_LOG (the daemon's stderr). MOUNT_WRAP, if
# set, is a command that execs the rest (e.g. `prlimit --nofile=1024:1024`).
# MODELFS_PASSTHROUGH=0|1, if set, is passed as `-o passthrough=` (ctest
# runs the read tests in both modes: tests/CMakeLists.txt).
start_mount() {
  local root=$1 mnt=$2
  shift 2
  mkdir -p "$mnt"
  MOUNT_LOG="$WORK/mount-$(basename "$mnt")-$RANDOM.log"
  local pt=()
  [ -n "${MODELFS_PASSTHROUGH:-}" ] && pt=(-o "passthrough=$MODELFS_PASSTHROUGH")
  # shellcheck disable=SC2086  # MOUNT_WRAP is a command line: split it
  ${MOUNT_WRAP:-} "$MODELFS" mount "$root" "$mnt" -f "${pt[@]}" "$@" >"$MOUNT_LOG" 2>&1 &
  MOUNT_PID=$!
  on_exit "stop_mount '$mnt' $MOUNT_PID"
  if ! wait_until "$MOUNT_TIMEOUT" is_mounted "$mnt"; then
    die "mount of $root at $mnt did not come up within ${MOUNT_TIMEOUT}s; daemon log:
$(cat "$MOUNT_LOG")"
  fi
}

# counts: the request counts of the mount started last (MOUNT_PID) now, as
# "total=N lookup=N ..." (the line it logs on SIGUSR1; bounded wait for it).
counts() {
  local before
  before=$(grep -c 'requests: total=' "$MOUNT_LOG")
  kill -USR1 "$MOUNT_PID"
  wait_until 5 sh -c "[ \$(grep -c 'requests: total=' '$MOUNT_LOG') -gt $before ]" ||
    die "no request counts in the log within 5 s:
$(mount_log)"
  grep 'requests: total=' "$MOUNT_LOG" | tail -1 | sed 's/.*requests: //'
}
# count KIND LINE: the count of KIND in a counts line (0 when absent).
count() { printf '%s\n' "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2; f=1} END {if (!f) print 0}'; }
# delta KIND BEFORE AFTER
delta() { echo $(($(count "$1" "$3") - $(count "$1" "$2"))); }

# mount_log: the daemon log so far (for failure messages).
mount_log() { cat "$MOUNT_LOG" 2>/dev/null; }

# assert_no_sanitizer_report: the daemon log has no ASan/UBSan report.
assert_clean_log() {
  if grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$MOUNT_LOG" 2>/dev/null; then
    die "sanitizer report in the daemon log:
$(mount_log)"
  fi
}
