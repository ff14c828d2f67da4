# A host's replica SIGKILLed mid-apply (SPEC §7: each etcd commit is applied
# as one LMDB transaction, with the position it reaches): B, far behind
# after a burst of commits on A, is killed with SIGKILL again and again
# while it catches up. After each kill its replica, read as it is (a copy
# whose etcd is unreachable), is at a consistent commit: exactly one
# version per commit applied, each with all its files, fsck clean. Then B
# catches up to exactly A's state.
. "$TESTS_DIR/multihost/common.sh"
. "$TESTS_DIR/fixtures/common.sh"
cd "$WORK"

join_host ./A
join_host ./B
N=160
check "a burst of $N commits on A (4 pushers at once)"
pids=()
for p in 0 1 2 3; do
  (
    for i in $(seq 1 $((N / 4))); do
      mkdir -p "in-$p" && echo "$p $i" >"in-$p/f" && echo "g $p $i" >"in-$p/g"
      mf push ./A "m$p" "in-$p" --metric "i=$i" >/dev/null || exit 1
    done
  ) 2>"burst-$p.err" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "a pusher failed: $(cat burst-*.err)"; done
ok mf status ./A --json
assert_eq "$N" "$(jpy 'j["etcd"]["commit"]' <<<"$OUT")" "commits in etcd"

dead=http://127.0.0.1:$(free_ports 1)
# consistent_snapshot: checks a copy of B read offline (its etcd unreachable),
# prints the commit it is at.
consistent_snapshot() {
  rm -rf snap && cp -a B snap || die "cannot copy B"
  sed -i "s|^etcd = .*|etcd = [\"$dead\"]|" snap/registry.toml
  local st seq
  st=$(mf status ./snap --json 2>/dev/null)  # exit 1: etcd is unreachable
  seq=$(jpy 'j["applied"]["commit"]' <<<"$st")
  run mf find ./snap --json
  # find exits 1 when nothing matches: the copy at commit 0 (a kill before
  # the first commit was applied).
  [ "$RC" -eq 0 ] || { [ "$RC" -eq 1 ] && [ -z "$OUT" ]; } || die "find on B's copy at commit $seq: $ERR"
  local got
  got=$(printf '%s\n' "$OUT" | "$PY" -c '
import json, sys
vs = [json.loads(l) for l in sys.stdin if l.strip()]
bad = [v["model"] + "@" + str(v["version"]) for v in vs
       if len(v["files"]) != 2 or v["file_count"] != 2 or v["state"] != "ready"]
print(len(vs), " ".join(bad) or "-")')
  assert_eq "$seq -" "$got" "versions on B's copy at commit $seq (count, incomplete ones)"
  run mf fsck ./snap
  [ "$RC" -eq 0 ] || die "fsck of B's copy at commit $seq: $OUT $ERR"
  assert_contains "$OUT" "index consistent"
  echo "$seq"
}

check "B killed with SIGKILL while it catches up, until it is done"
mid=0
seq=0
# The kill comes DELAY ms after B starts: 5 ms at first (B has not even
# opened its replica), 10 ms more after each round that applied nothing, so
# that on a fast machine and a loaded one alike kills land mid-way.
delay=5
for round in $(seq 1 60); do
  "$MODELFS" list ./B >/dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v d="$delay" 'BEGIN{printf "%.3f", d / 1000}')"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  prev=$seq
  seq=$(consistent_snapshot) || exit 1
  echo "    round $round: killed after $delay ms at commit $seq"
  [ "$seq" -ge "$prev" ] || die "B went back from commit $prev to $seq"
  [ "$seq" -gt 0 ] && [ "$seq" -lt "$N" ] && mid=$((mid + 1))
  [ "$seq" -eq "$N" ] && break
  [ "$seq" -eq "$prev" ] && [ "$delay" -lt 1000 ] && delay=$((delay + 10))
done
[ "$mid" -gt 0 ] || die "no kill landed mid-way through the catch-up (the test proves nothing)"
echo "    $mid kills landed mid-way"

check "B restarted: the same state as A"
ok mf fsck ./B
assert_contains "$OUT" "index consistent"
snap() { mf find "$1" --json | "$PY" -c '
import json, sys
for l in sorted(sys.stdin):
    v = json.loads(l)
    print(v["model"], v["version"], v["digest"], json.dumps(v["metrics"], sort_keys=True))' || die "find on $1"; }
snap ./A >a.txt
snap ./B >b.txt
cmp -s a.txt b.txt || die "B differs from A: $(diff a.txt b.txt | head)"
assert_eq "$N" "$(wc -l <b.txt | tr -d ' ')" "versions on B"
pass
