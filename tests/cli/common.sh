# Helpers for the command-line tests (tests/cli/*.sh). Source it:
#   . "$TESTS_DIR/cli/common.sh"
# Needs MODELFS (the modelfs binary) and TESTS_DIR in the environment.
# Gives: $WORK (a private temporary directory removed on exit), $PY (the
# system python3), and the helpers below. Every helper that fails calls die,
# which prints "FAIL: ..." and exits 1.

set -u
set -o pipefail

: "${MODELFS:?set MODELFS to the path of the modelfs binary}"
: "${TESTS_DIR:?set TESTS_DIR to the tests directory}"
[ -x "$MODELFS" ] || { echo "FAIL: MODELFS=$MODELFS is not an executable" >&2; exit 1; }

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
export LC_ALL=C

# Longest any single modelfs command may take before the test calls it hung.
MF_TIMEOUT=${MF_TIMEOUT:-120}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/modelfs-cli.XXXXXX") || { echo "FAIL: mktemp" >&2; exit 1; }
chmod 755 "$WORK"  # tests that run as nobody need to reach into it
_cleanup_hooks=()
_cleanup() {
  local rc=$?
  local h
  for h in "${_cleanup_hooks[@]+"${_cleanup_hooks[@]}"}"; do eval "$h" || true; done
  # Blobs are 0444 and may sit in 0555 directories: make everything removable.
  chmod -R u+rwx "$WORK" 2>/dev/null
  rm -rf "$WORK"
  exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT TERM
on_exit() { _cleanup_hooks+=("$1"); }

_T0=$(date +%s.%N)
die() {
  echo "FAIL: $*" >&2
  exit 1
}
check() { echo "--- $*"; }
pass() {
  echo "PASS: $(basename "$0") ($(awk -v a="$_T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s)"
}

# mf ARGS...: runs modelfs with a timeout (exit 124 when it hangs).
mf() { timeout -k 5 "$MF_TIMEOUT" "$MODELFS" "$@"; }

# run CMD...: runs a command, leaving RC, OUT (stdout) and ERR (stderr).
run() {
  local o="$WORK/.run.out" e="$WORK/.run.err"
  RC=0
  "$@" >"$o" 2>"$e" || RC=$?
  OUT=$(cat "$o")
  ERR=$(cat "$e")
}

# ok CMD...: runs a command that must succeed; its stdout is left in OUT.
ok() {
  run "$@"
  [ "$RC" -eq 0 ] || die "expected success (exit 0), got exit $RC from: $*
stdout: $OUT
stderr: $ERR"
}

assert_eq() {  # EXPECTED ACTUAL [WHAT]
  [ "$1" == "$2" ] || die "${3:-value}: expected [$1], got [$2]"
}
assert_ne() {  # UNEXPECTED ACTUAL [WHAT]
  [ "$1" != "$2" ] || die "${3:-value}: expected something other than [$1]"
}
assert_contains() {  # HAYSTACK NEEDLE [WHAT]
  case "$1" in *"$2"*) ;; *) die "${3:-output} does not contain [$2]: [$1]" ;; esac
}
assert_not_contains() {  # HAYSTACK NEEDLE [WHAT]
  case "$1" in *"$2"*) die "${3:-output} contains [$2]: [$1]" ;; *) ;; esac
}
assert_file_eq() {  # FILE_A FILE_B [WHAT]
  cmp -s "$1" "$2" || die "${3:-files} differ: $1 vs $2"
}

_lower() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]'; }

# assert_fails EXIT WORD CMD...: CMD must exit with EXIT, print nothing on
# stdout, and print exactly one line on stderr that starts with "modelfs: "
# and mentions WORD (case-insensitively).
assert_fails() {
  local want=$1 word=$2
  shift 2
  run "$@"
  [ "$RC" -eq "$want" ] || die "expected exit $want, got $RC from: $*
stdout: $OUT
stderr: $ERR"
  [ -z "$OUT" ] || die "expected nothing on stdout from a failing command: $*
stdout: $OUT"
  local n
  n=$(printf '%s\n' "$ERR" | grep -c '')
  [ -n "$ERR" ] && [ "$n" -eq 1 ] || die "expected exactly one line on stderr, got $n from: $*
stderr: $ERR"
  case "$ERR" in "modelfs: "*) ;; *) die "stderr does not start with 'modelfs: ': [$ERR] from: $*" ;; esac
  case "$(_lower "$ERR")" in *"$(_lower "$word")"*) ;;
    *) die "error message does not mention [$word]: [$ERR] from: $*" ;; esac
  echo "    ok (exit $RC): $ERR"
}

# assert_usage WORD CMD...: a usage error: exit 2, nothing on stdout, the
# first stderr line starts with "modelfs: " and mentions WORD; at most one
# more line (a hint to run --help) may follow.
assert_usage() {
  local word=$1
  shift
  run "$@"
  [ "$RC" -eq 2 ] || die "expected usage error (exit 2), got $RC from: $*
stdout: $OUT
stderr: $ERR"
  [ -z "$OUT" ] || die "expected nothing on stdout from a usage error: $*
stdout: $OUT"
  local first n
  first=$(printf '%s\n' "$ERR" | head -n1)
  n=$(printf '%s\n' "$ERR" | grep -c '')
  [ -n "$ERR" ] && [ "$n" -le 2 ] || die "expected one or two lines on stderr, got $n from: $*
stderr: $ERR"
  case "$first" in "modelfs: "*) ;; *) die "stderr does not start with 'modelfs: ': [$ERR] from: $*" ;; esac
  case "$(_lower "$first")" in *"$(_lower "$word")"*) ;;
    *) die "usage error does not mention [$word]: [$first] from: $*" ;; esac
  echo "    ok (exit 2): $first"
}

# jq_py EXPR [FILE]: evaluates a python expression over the JSON document
# `j` read from FILE (or stdin); prints str() of the result, or JSON for
# lists/dicts/bools/None.
jpy() {
  local expr=$1 file=${2:--}
  "$PY" -c '
import json, sys
src = sys.argv[2]
j = json.load(sys.stdin if src == "-" else open(src))
r = eval("(" + sys.argv[1] + "\n)", {"j": j, "json": json})
if isinstance(r, (list, dict, bool)) or r is None:
    print(json.dumps(r, sort_keys=True))
else:
    print(r)
' "$expr" "$file" || die "python could not evaluate [$expr] on JSON from ${file}"
}

# blob_path ROOT DIGEST: where the blob store keeps a digest.
blob_path() { printf '%s/blobs/%s/%s\n' "$1" "${2:0:2}" "${2:2}"; }
# flip_byte FILE OFFSET: damage FILE in place, the byte at OFFSET inverted
# (writing a fixed byte would change nothing 1 time in 256 on random data).
flip_byte() {
  python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xFF]))' "$1" "$2"
}

# blob_count ROOT: number of files under ROOT/blobs.
blob_count() { find "$1/blobs" -type f | wc -l | tr -d ' '; }

# blob_listing ROOT: sorted relative paths, sizes and modes of every blob.
blob_listing() { (cd "$1/blobs" && find . -type f -printf '%p %s %m\n' | sort); }

# verify_version ROOT MODEL@N SRC_DIR: every file of the version (show
# --json) has a blob whose bytes equal SRC_DIR/<path>, blob mode 0444, the
# recorded size; and the version has exactly the regular files of SRC_DIR.
verify_version() {
  local root=$1 ref=$2 src=$3 js="$WORK/.verify.json"
  mf show "$root" "$ref" --json >"$js" || die "show $ref failed"
  local want got
  want=$(cd "$src" && find . -type f | sed 's|^\./||' | sort)
  got=$(jpy '"\n".join(sorted(f["path"] for f in j["files"]))' "$js")
  assert_eq "$want" "$got" "file list of $ref"
  local path size digest b
  while IFS=$'\t' read -r path size digest; do
    b=$(blob_path "$root" "$digest")
    [ -f "$b" ] || die "$ref: blob $b of $path is missing"
    cmp -s "$b" "$src/$path" || die "$ref: blob of $path differs from $src/$path"
    assert_eq "$size" "$(stat -c %s "$src/$path")" "$ref: size of $path"
    assert_eq 444 "$(stat -c %a "$b")" "$ref: mode of blob $b"
  done < <(jpy '"\n".join("%s\t%s\t%s" % (f["path"], f["size"], f["digest"]) for f in j["files"])' "$js")
}
