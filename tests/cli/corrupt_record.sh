#!/usr/bin/env bash
# A damaged record in the index (a field of the wrong type, or a value that
# is not CBOR at all, as a bad disk or a buggy older writer could leave) is
# an error that names the record, never a crash: show of it fails with
# exit 1, the rest of the registry is still served, fsck reports it and
# checks everything else, --repair says it cannot rebuild it and keeps it,
# gc removes nothing, and log and list do not crash.
. "$TESTS_DIR/cli/common.sh"
: "${DAMAGE_RECORD:?set DAMAGE_RECORD to the damage_record test tool (tests/tools)}"
[ -x "$DAMAGE_RECORD" ] || die "DAMAGE_RECORD=$DAMAGE_RECORD is not an executable"

R=$WORK/reg
ok mf init "$R"
for i in 1 2 3; do
  printf 'churn weights %s' "$i" >"$WORK/model.onnx"
  ok mf push "$R" churn "$WORK/model.onnx"
done
printf 'fraud weights' >"$WORK/model.onnx"
ok mf push "$R" fraud "$WORK/model.onnx"
ok mf alias "$R" churn@3 production

# not_crashed WHAT: the last run ended by exit, not by a signal (134 is the
# SIGABRT of an uncaught exception).
not_crashed() {
  [ "$RC" -lt 128 ] || die "$1 crashed (exit $RC)
stdout: $OUT
stderr: $ERR"
}

check "log --json names the version and alias of each change as fields"
ok mf log "$R" --json
assert_eq '[3, "production"]' \
  "$(printf '%s' "$OUT" | jpy '[[r["version"], r["alias"]] for r in j if r["action"] == "alias"][0]')" \
  "version and alias of the alias record"
assert_eq '[2, ""]' \
  "$(printf '%s' "$OUT" | jpy '[[r["version"], r["alias"]] for r in j if r["object"] == "churn@2"][0]')" \
  "version and alias of the push of churn@2"
assert_eq null "$(printf '%s' "$OUT" | jpy 'j[0]["version"]')" "version of the create record"

check "damage churn@2: its lineage parents become a number"
ok "$DAMAGE_RECORD" "$R" versions churn@2 lp 3
# And a problem fsck must find elsewhere: a blob of fraud@1 rots.
d=$(mf show "$R" fraud@1 --json | jpy 'j["files"][0]["digest"]')
b=$(blob_path "$R" "$d")
chmod u+w "$b" && printf 'fraud weightz' >"$b" && chmod 0444 "$b"

check "show of the damaged version: exit 1, one line naming the record and the field"
assert_fails 1 "versions record churn@2 is damaged" mf show "$R" churn@2
assert_contains "$ERR" 'field "lp" should be an array of strings, not a number (3)'
assert_fails 1 "versions record churn@2" mf show "$R" churn@2 --json
assert_fails 1 "versions record churn@2" mf set "$R" churn@2 tags.x=1
assert_fails 1 "versions record churn@2" mf approve "$R" churn@2

check "the other versions and models are served"
ok mf show "$R" churn@1
assert_contains "$OUT" "churn@1"
assert_eq 3 "$(mf show "$R" churn@production --json | jpy 'j["version"]')" "churn@production"
assert_eq 3 "$(mf show "$R" churn --json | jpy 'j["version"]')" "latest of churn"
ok mf show "$R" fraud@1 --json
ok mf set "$R" churn@3 tags.team=growth

check "list does not crash; list churn shows the others, then fails naming the record"
run mf list "$R"
not_crashed "list"
assert_contains "$OUT" "churn"
assert_contains "$OUT" "fraud"
run mf list "$R" churn
not_crashed "list churn"
assert_eq 1 "$RC" "exit status of list churn"
assert_contains "$OUT" "v1 "
assert_contains "$OUT" "v3 "
assert_not_contains "$OUT" "v2 "
assert_contains "$ERR" "versions record churn@2 is damaged"
run mf list "$R" churn --json
not_crashed "list churn --json"

check "log and log --json do not crash"
ok mf log "$R"
ok mf log "$R" --json
printf '%s' "$OUT" | jpy 'len(j)' >/dev/null

check "fsck reports the damaged record and the rotten blob: exit 1, no crash"
run mf fsck "$R"
not_crashed "fsck"
assert_eq 1 "$RC" "exit status of fsck"
assert_contains "$OUT" 'problem: versions record churn@2 is damaged: field "lp"'
assert_contains "$OUT" "(fsck --repair cannot rebuild it)"
assert_contains "$OUT" "problem: fraud@1 model.onnx: blob $d is corrupt"
assert_contains "$OUT" "index INCONSISTENT"
run mf fsck "$R" --json
not_crashed "fsck --json"
assert_eq 1 "$RC" "exit status of fsck --json"
assert_eq true "$(printf '%s' "$OUT" | jpy 'any("versions record churn@2" in p for p in j["problems"])')" \
  "fsck --json lists the damaged record"

check "fsck --repair keeps the record and says it cannot rebuild it; gc removes nothing"
before=$(blob_listing "$R")
run mf fsck "$R" --repair
not_crashed "fsck --repair"
assert_eq 1 "$RC" "exit status of fsck --repair"
assert_contains "$OUT" "problem: versions record churn@2 is damaged"
assert_not_contains "$OUT" "repaired: "
assert_fails 1 "versions record churn@2 is damaged" mf show "$R" churn@2
run mf gc "$R"
not_crashed "gc"
assert_eq 1 "$RC" "exit status of gc"
assert_contains "$ERR" "gc removes nothing while the index has damaged records"
assert_eq "$before" "$(blob_listing "$R")" "blobs after fsck --repair and gc"

check "a damaged audit record: log prints the others, then fails naming it"
ok "$DAMAGE_RECORD" "$R" audit 2 a 5
run mf log "$R"
not_crashed "log"
assert_eq 1 "$RC" "exit status of log"
assert_contains "$ERR" "audit record #2 is damaged"
assert_not_contains "$OUT" "push churn@1"  # #2, the damaged one
assert_contains "$OUT" "create churn"
assert_contains "$OUT" "push churn@2"
assert_contains "$OUT" "alias churn/production"
run mf log "$R" --json
not_crashed "log --json"
assert_eq 1 "$RC" "exit status of log --json"

check "a model record that is not CBOR at all"
ok "$DAMAGE_RECORD" "$R" models fraud --bytes $'\xff not CBOR'
assert_fails 1 'models record "fraud" is damaged: not a CBOR value' mf show "$R" fraud@1
ok mf show "$R" churn@3
run mf list "$R"
not_crashed "list with a damaged model"
run mf fsck "$R"
not_crashed "fsck with a damaged model"
assert_contains "$OUT" 'problem: models record "fraud" is damaged'
assert_contains "$OUT" "problem: audit record #2 is damaged"

pass
