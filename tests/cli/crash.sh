#!/usr/bin/env bash
# Crash safety of push (SPEC §2): SIGKILL `modelfs push` of a multi-file model
# at many instants (before, while and after it stores blobs and commits).
# Afterwards every version that exists is complete and byte-identical to
# what was pushed, version numbers are 1..K without gaps, fsck finds the
# index consistent, gc removes what the killed pushes left behind, and the
# next push gets number K+1.
. "$TESTS_DIR/cli/common.sh"

KILLS=${CRASH_KILLS:-36}
R=$WORK/reg
ok mf init "$R"

# Sources. Every push i has its own directory: seven shared big files
# (1..7 MiB, hard links, stored once), small shared files, a big file unique
# to the push (8 MiB, so every push really writes blobs) and iter.txt = i,
# which tells which push a stored version came from.
check "preparing sources: 7 shared files of 1..7 MiB, per push an 8 MiB unique file"
BASE=$WORK/base
mkdir -p "$BASE/small/deeper"
for m in 1 2 3 4 5 6 7; do head -c $((m * 1048576)) /dev/urandom >"$BASE/big$m.bin"; done
for k in 1 2 3 4 5; do printf 'small file %s\n' "$k" >"$BASE/small/s$k.txt"; done
printf '{"layers": 12}' >"$BASE/small/deeper/config.json"
: >"$BASE/small/empty"
chmod 755 "$BASE/small/s1.txt"
mksrc() {  # mksrc I: $WORK/src/I
  local d=$WORK/src/$1
  mkdir -p "$WORK/src"
  cp -al "$BASE" "$d"
  head -c $((8 * 1048576)) /dev/urandom >"$d/unique.bin"
  printf '%s\n' "$1" >"$d/iter.txt"
}

# Calibration: how long does a push take here once the shared files are
# stored (the first push stores them all)? Mean of two.
mksrc 0
ok mf push "$R" crashy "$WORK/src/0"
assert_eq "crashy@1" "$OUT" "first push"
declare -A RC_OF OUT_OF
RC_OF[0]=0
OUT_OF[0]=$OUT
ORDER=(0)
total_ms=0
for c in c1 c2; do
  mksrc $c
  t0=$(date +%s%N)
  ok mf push "$R" crashy "$WORK/src/$c"
  total_ms=$(( total_ms + ($(date +%s%N) - t0) / 1000000 ))
  RC_OF[$c]=0
  OUT_OF[$c]=$OUT
  ORDER+=("$c")
done
T_MS=$(( total_ms / 2 ))
[ "$T_MS" -ge 1 ] || T_MS=1
echo "one push of $(du -sm "$WORK/src/0" | cut -f1) MiB (8 MiB new) takes ${T_MS} ms"

# Deterministic kill instants: fractions 0..1.5 of a push's duration,
# spread over the sequence, plus a few fixed short and long delays.
check "SIGKILL $KILLS pushes at different instants"
killed=0
finished=0
for i in $(seq 1 "$KILLS"); do
  mksrc "$i"
  ORDER+=("$i")
  case $((i % 6)) in
    0) delay_ms=$(( (i * 7) % 10 + 1 )) ;;                        # 1..10 ms: early
    *) delay_ms=$(( T_MS * ((i * 37) % 150) / 100 )) ;;              # 0..1.5 x T
  esac
  late=0
  if [ $((i % 11)) -eq 0 ]; then                                       # long after the end
    delay_ms=$(( T_MS * 5 + 500 ))
    late=1
  fi
  delay=$(awk -v ms="$delay_ms" 'BEGIN{printf "%.3f", ms/1000}')
  "$MODELFS" push "$R" crashy "$WORK/src/$i" >"$WORK/push.$i.out" 2>"$WORK/push.$i.err" &
  pid=$!
  sleep "$delay"
  kill -KILL "$pid" 2>/dev/null || true
  rc=0
  { wait "$pid"; } 2>/dev/null || rc=$?
  RC_OF[$i]=$rc
  OUT_OF[$i]=$(cat "$WORK/push.$i.out")
  if [ "$rc" -eq 0 ]; then
    finished=$((finished + 1))
  elif [ "$rc" -eq 137 ]; then
    killed=$((killed + 1))
  else
    die "push $i (killed after ${delay}s) failed on its own, exit $rc: $(cat "$WORK/push.$i.err")"
  fi
  echo "    push $i: kill after ${delay}s -> exit $rc ${OUT_OF[$i]}"
  # A push given 5x the time it needs must finish: killed pushes before it
  # must not leave a lock behind that makes the next one wait.
  [ "$late" = 0 ] || [ "$rc" -eq 0 ] || die "push $i was still running after ${delay}s (one push takes ${T_MS} ms): stuck behind an earlier killed push?"
done
echo "$killed pushes killed, $finished finished before the kill"
[ "$killed" -ge 10 ] || die "only $killed of $KILLS pushes were killed: the test did not exercise crashes"
[ "$finished" -ge 2 ] || die "only $finished of $KILLS pushes finished: the test did not exercise kills after the commit"

check "version numbers are 1..K, consecutive, all ready"
mf list "$R" crashy --json >"$WORK/list.json" || die "list crashy --json failed after the crashes"
K=$(jpy 'len(j)' "$WORK/list.json")
assert_eq "$(seq -s ' ' 1 "$K")" "$(jpy '" ".join(str(v["version"]) for v in j)' "$WORK/list.json")" "version numbers"
assert_eq '["ready"]' "$(jpy 'sorted(set(v["state"] for v in j))' "$WORK/list.json")" "states"
echo "$K versions exist"

check "every version is complete and byte-identical to the push it came from"
declare -A SEEN
for n in $(seq 1 "$K"); do
  mf show "$R" "crashy@$n" --json >"$WORK/v.json" || die "show crashy@$n failed"
  dig=$(jpy '[f["digest"] for f in j["files"] if f["path"] == "iter.txt"]' "$WORK/v.json")
  [ "$dig" != "[]" ] || die "crashy@$n has no iter.txt: it is incomplete"
  dig=$(jpy '[f["digest"] for f in j["files"] if f["path"] == "iter.txt"][0]' "$WORK/v.json")
  it=$(cat "$(blob_path "$R" "$dig")") || die "crashy@$n: the blob of iter.txt is missing"
  [ -d "$WORK/src/$it" ] || die "crashy@$n: iter.txt says [$it], which is no push of this test"
  [ -z "${SEEN[$it]:-}" ] || die "push $it is stored twice: as crashy@${SEEN[$it]} and crashy@$n"
  SEEN[$it]=$n
  verify_version "$R" "crashy@$n" "$WORK/src/$it"
  assert_eq "$(jpy 'j["size"]' "$WORK/v.json")" "$(find "$WORK/src/$it" -type f -printf '%s\n' | awk '{s+=$1} END{print s}')" "crashy@$n size"
done

check "every push that reported success is there, as the version it printed"
for i in "${ORDER[@]}"; do
  [ "${RC_OF[$i]}" -eq 0 ] || continue
  n=${OUT_OF[$i]#crashy@}
  [ -n "${SEEN[$i]:-}" ] || die "push $i printed ${OUT_OF[$i]} and exited 0, but no version holds it"
  assert_eq "$n" "${SEEN[$i]}" "version of push $i"
done
# Versions are numbered in commit order: the pushes ran one after another.
prev=0
for i in "${ORDER[@]}"; do
  [ -n "${SEEN[$i]:-}" ] || continue
  [ "${SEEN[$i]}" -gt "$prev" ] || die "push $i got crashy@${SEEN[$i]}, not above crashy@$prev of an earlier push"
  prev=${SEEN[$i]}
done

check "fsck: index consistent (leftovers are garbage, not problems)"
ok mf fsck "$R"
assert_contains "$OUT" "index consistent" "fsck after the crashes"
mf fsck "$R" --json >"$WORK/fsck.json" || die "fsck --json failed"
assert_eq "[]" "$(jpy 'j["problems"]' "$WORK/fsck.json")" "fsck problems"
garbage=$(jpy 'len(j["garbage"])' "$WORK/fsck.json")
echo "fsck lists $garbage garbage item(s); staging/ holds $(ls -A "$R/staging" | wc -l) file(s)"
[ "$garbage" -gt 0 ] || die "$killed killed pushes left no garbage at all: the kills missed the blob writes"

check "gc removes what the killed pushes left: fsck garbage empty, staging/ empty"
ok mf gc "$R"
mf fsck "$R" --json >"$WORK/fsck.json" || die "fsck --json failed after gc"
assert_eq "[]" "$(jpy 'j["problems"]' "$WORK/fsck.json")" "fsck problems after gc"
assert_eq "[]" "$(jpy 'j["garbage"]' "$WORK/fsck.json")" "fsck garbage after gc"
assert_eq "" "$(ls -A "$R/staging")" "staging/ after gc"
refs=$(for n in $(seq 1 "$K"); do mf show "$R" "crashy@$n" --json | jpy '"\n".join(f["digest"] for f in j["files"])'; done | sort -u | wc -l)
assert_eq "$refs" "$(blob_count "$R")" "blobs after gc = distinct digests of the versions"

check "versions still intact after gc"
for i in "${!SEEN[@]}"; do verify_version "$R" "crashy@${SEEN[$i]}" "$WORK/src/$i"; done

check "a new push succeeds with the next number"
mksrc next
ok mf push "$R" crashy "$WORK/src/next"
assert_eq "crashy@$((K + 1))" "$OUT" "push after the crashes"
verify_version "$R" "crashy@$((K + 1))" "$WORK/src/next"
ok mf fsck "$R"
assert_contains "$OUT" "index consistent, 0 garbage" "final fsck"

pass
