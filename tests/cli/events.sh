#!/usr/bin/env bash
# The event log (SPEC §8 "Events", issue 12 items 1-2): every committed
# change is an event with a strictly increasing sequence number and a type,
# written with its change (a refusal is not one); `events --since` resumes;
# `events --follow` sees a commit made by another process at once (no poll
# interval to wait out) and ends cleanly on SIGINT and when its reader
# goes; a user sees only the events of the models they may read.
. "$TESTS_DIR/lib.sh"  # common.sh and wait_until
. "$TESTS_DIR/users.sh"

R=$WORK/reg
S=$WORK/src
mkdir -p "$S"
chmod 755 "$S"
printf 'weights\n' >"$S/model.bin"
chmod a+r "$S/model.bin"
ok mf init "$R"
ok mf gc "$R"  # creates gc.lock before the sharing, as tests/cli/policy.sh
share_root "$R"
printf '%s\n' '[defaults]
read    = ["*"]
create  = ["*"]
write   = ["*"]
promote = ["user:root"]
approve = ["user:root"]
admin   = ["user:root"]

[[models]]
match = "secret-*"
read  = ["user:root"]' >"$R/policy.toml"
ok mf policy check "$R/policy.toml"

# ---------------------------------------------------------------- types and order
check "each kind of change is one event of its type, in commit order, seq strictly increasing"
ok mf push "$R" churn "$S/model.bin" --metric auc=0.9
ok mf alias "$R" churn@1 production
ok mf set "$R" churn@1 tags.team=growth
ok mf set "$R" churn@1 --remove tags.team
ok mf approve "$R" churn@1
ok mf push "$R" churn "$S/model.bin"
ok mf archive "$R" churn@2
ok mf unarchive "$R" churn@2
ok mf alias "$R" --delete churn production
ok mf archive "$R" churn@2
ok mf gc "$R"
ok mf events "$R" --json
echo "$OUT" >"$WORK/all.jsonl"
got=$("$PY" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
seqs = [e["seq"] for e in evs]
assert seqs == sorted(set(seqs)), seqs
print(" ".join(e["type"] for e in evs))' "$WORK/all.jsonl") || die "events are not JSON lines with increasing seq: $OUT"
assert_eq "model.created version.ready alias.production metadata.set metadata.unset approval version.ready version.archived version.unarchived alias.production version.archived version.removed" \
  "$got" "event types"

check "an event has the fields of SPEC §8: seq, type, model, version, alias, before, after, actor, at"
line=$(sed -n 3p "$WORK/all.jsonl")
assert_eq "churn 1 production None v1 root" \
  "$(echo "$line" | jpy '" ".join(str(x) for x in [j["model"], j["version"], j["alias"], j["before"], j["after"], j["actor"]["user"]])')" "alias event"
echo "$line" | jpy 'j["at"]' | grep -Eq '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z$' ||
  die "at is not RFC 3339 with nanoseconds: $line"
last_delete=$(sed -n 10p "$WORK/all.jsonl")
assert_eq "v1 None" "$(echo "$last_delete" | jpy 'str(j["before"]) + " " + str(j["after"])')" "deleted alias: after is null"

check "--since SEQ resumes after SEQ; a refusal is not an event"
third=$(sed -n 3p "$WORK/all.jsonl" | jpy 'j["seq"]')
ok mf events "$R" --since "$third" --json
assert_eq 9 "$(echo "$OUT" | wc -l)" "events after the third"
assert_eq "metadata.set" "$(echo "$OUT" | head -1 | jpy 'j["type"]')" "first after --since"
last=$(tail -1 "$WORK/all.jsonl" | jpy 'j["seq"]')
assert_fails 3 "denied" as mf-bob "$MODELFS" alias "$R" churn@1 production
ok mf log "$R" --json
assert_eq 1 "$(echo "$OUT" | jpy "len([r for r in j if r['seq'] > $last and not r['allowed']])")" "the refusal is audited"
ok mf events "$R" --since "$last"
assert_eq "" "$OUT" "no event for a refusal"

check "JSON lines when stdout is not a terminal, a line of text each on a terminal (script(1))"
ok mf events "$R" --since "$third"
echo "$OUT" | head -1 | jpy 'j["type"]' >/dev/null || die "not JSON when piped: $OUT"
if command -v script >/dev/null; then
  txt=$(script -qec "$MODELFS events $R --since $third" /dev/null | head -1 | tr -d '\r')
  assert_contains "$txt" "metadata.set  churn@1 tags.team" "text line on a terminal"
fi

# ---------------------------------------------------------------- policy
check "a user sees only events of models they may read, and no registry-wide ones"
ok mf push "$R" secret-x "$S/model.bin"
printf 'only here\n' >"$S/once.bin"
ok mf push "$R" scratch "$S/once.bin"
ok mf archive "$R" scratch@1
ok mf gc "$R"  # removes the version, then its blob: a registry-wide event
ok mf events "$R" --json
assert_contains "$OUT" '"secret-x@1"' "root's events"
assert_contains "$OUT" '"model":null' "root's events (gc of blobs)"
ok as mf-bob "$MODELFS" events "$R" --json
assert_not_contains "$OUT" "secret-x" "mf-bob's events"
assert_not_contains "$OUT" '"model":null' "mf-bob's events"
assert_contains "$OUT" '"churn@1"' "mf-bob's events"

# ---------------------------------------------------------------- follow
check "--follow prints a commit made by another process within a second, and stops on SIGINT with 0"
start=$(mf events "$R" --json | tail -1 | jpy 'j["seq"]')
"$MODELFS" events "$R" --follow --since "$start" >"$WORK/follow.out" 2>"$WORK/follow.err" &  # $! is modelfs itself
fpid=$!
on_exit "kill $fpid 2>/dev/null"
sleep 0.3
ok mf push "$R" churn "$S/model.bin"
t0=$(date +%s%N)
wait_until 5 grep -q '"churn@3"' "$WORK/follow.out" || die "--follow did not print the push: $(cat "$WORK/follow.out" "$WORK/follow.err")"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 1000 ] || die "--follow took $ms ms to see the commit (poll fallback is 2000 ms)"
ok mf alias "$R" churn@3 production
wait_until 5 grep -q '"alias.production"' "$WORK/follow.out" || die "--follow missed the alias move"
kill -INT "$fpid"
rc=0
wait_until 5 eval "! kill -0 $fpid 2>/dev/null" || die "--follow did not stop on SIGINT"
wait "$fpid" || rc=$?
assert_eq 0 "$rc" "exit status after SIGINT"
assert_eq 2 "$(wc -l <"$WORK/follow.out")" "lines printed by --follow"

check "--follow | head -1 ends as soon as head has its line, with status 0"
run timeout 10 bash -c "set -o pipefail; '$MODELFS' events '$R' --follow | head -1"
assert_eq 0 "$RC" "events --follow | head -1 (124 = it hung waiting for the next event)"
echo "$OUT" | jpy 'j["seq"]' >/dev/null || die "head got no event: $OUT"

pass
