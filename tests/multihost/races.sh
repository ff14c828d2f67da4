# Two hosts committing at once (SPEC §7): every commit is decided on the
# state it commits on, so version numbers stay consecutive across hosts
# (2 x 10 pushes at once: 1..20, no duplicate, no gap) and of two alias
# moves at once neither is lost (the second's "before" is the first's
# "after", and both replicas agree on where the alias points).
. "$TESTS_DIR/multihost/common.sh"
cd "$WORK"

join_host ./A
join_host ./B
mkdir -p in
echo base >in/f

check "2 x 10 concurrent pushes from two hosts: numbers 1..20"
pids=()
for i in $(seq 1 10); do
  for h in A B; do
    mkdir -p "in-$h-$i" && echo "$h $i" >"in-$h-$i/f"
    mf push "./$h" churn "in-$h-$i" >"push-$h-$i.out" 2>"push-$h-$i.err" &
    pids+=($!)
  done
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
[ "$failed" -eq 0 ] || die "$failed pushes failed: $(cat push-*.err)"
got=$(cat push-*.out | sed 's/^churn@//' | sort -n | tr '\n' ' ')
assert_eq "$(seq 1 20 | tr '\n' ' ')" "$got" "version numbers the pushes printed"
for h in A B; do
  ok mf list "./$h" churn --json
  assert_eq 20 "$(jpy 'len(j["versions"]) if isinstance(j, dict) else len(j)' <<<"$OUT")" "versions on $h"
done
# Each version holds what its own push sent.
for i in 1 7 20; do
  ok mf show ./A "churn@$i" --json
  da=$(jpy 'j["digest"]' <<<"$OUT")
  ok mf show ./B "churn@$i" --json
  assert_eq "$da" "$(jpy 'j["digest"]' <<<"$OUT")" "churn@$i's digest on A and B"
done

check "two alias moves at once: both recorded in order, none lost"
for round in 1 2 3; do
  mf alias ./A churn@3 production >/dev/null 2>alias-a.err &
  pa=$!
  mf alias ./B churn@4 production >/dev/null 2>alias-b.err &
  pb=$!
  wait "$pa" || die "alias on A failed: $(cat alias-a.err)"
  wait "$pb" || die "alias on B failed: $(cat alias-b.err)"
  ok mf show ./A churn@production --json
  va=$(jpy 'j["version"]' <<<"$OUT")
  ok mf show ./B churn@production --json
  assert_eq "$va" "$(jpy 'j["version"]' <<<"$OUT")" "production on A and B (round $round)"
done
ok mf log ./A churn --json
# Each alias record's "before" is the previous record's "after".
chain=$(jpy '" ".join("%s>%s" % (r["before"] or "-", r["after"]) for r in j if r["action"] == "alias")' <<<"$OUT")
prev="-"
for step in $chain; do
  assert_eq "$prev" "${step%%>*}" "a move's before (chain: $chain)"
  prev=${step#*>}
done
assert_eq "v$va" "$prev" "the last move is where production points"
pass
