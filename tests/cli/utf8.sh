#!/usr/bin/env bash
# Text kept in the registry is UTF-8 (README, "Choices where the contract is
# silent"): a metadata value, an approval comment or a file name that is not
# is refused with exit 1 and one line on stderr, escaped, and nothing
# changes; a file name with a control character is refused too. Records
# written before the rule (made here with damage_record --text) still show:
# --json prints U+FFFD for the stray bytes instead of aborting, and the text
# forms escape them and control characters, one line per item.
. "$TESTS_DIR/cli/common.sh"
: "${DAMAGE_RECORD:?set DAMAGE_RECORD to the damage_record test tool (tests/tools)}"
[ -x "$DAMAGE_RECORD" ] || die "DAMAGE_RECORD=$DAMAGE_RECORD is not an executable"

R=$WORK/reg
S=$WORK/src
mkdir -p "$S"
printf 'weights' >"$S/model.bin"
ok mf init "$R"
ok mf push "$R" churn "$S"

# not_crashed WHAT: the last run ended by exit, not by a signal (134 is the
# SIGABRT of an uncaught exception).
not_crashed() {
  [ "$RC" -lt 128 ] || die "$1 crashed (exit $RC)
stdout: $OUT
stderr: $ERR"
}

# refused WORD CMD...: exit 1, one escaped line naming WORD, no raw byte
# 0xff on stderr, and the audit trail and blob store unchanged.
refused() {
  local word=$1
  shift
  local log_before blobs_before
  log_before=$(mf log "$R" --json | jpy 'len(j)')
  blobs_before=$(blob_count "$R")
  assert_fails 1 "$word" "$@"
  assert_not_contains "$ERR" $'\xff' "stderr (a raw byte)"
  assert_eq "$log_before" "$(mf log "$R" --json | jpy 'len(j)')" "audit records after: $*"
  assert_eq "$blobs_before" "$(blob_count "$R")" "blobs after: $*"
}

check "metadata values that are not UTF-8 are refused (exit 1), escaped in the message"
refused 'not valid UTF-8' mf set "$R" churn@1 tags.x=$'\xff'
assert_contains "$ERR" 'tags.x "\xff"' "message names the key and shows the byte escaped"
refused 'not valid UTF-8' mf set "$R" churn@1 description=$'caf\xe9'
refused 'not valid UTF-8' mf set "$R" churn@1 params.lr=$'0.1\xfe' lineage.run=ok
refused 'not valid UTF-8' mf set "$R" churn@1 lineage.code=$'git+x\xc0\xaf'
refused 'not valid UTF-8' mf approve "$R" churn@1 --comment $'ok\xff'
refused 'not valid UTF-8' mf push "$R" churn "$S" --tag team=$'gr\xffowth'
refused 'tags.x\xff' mf set "$R" churn@1 tags.x$'\xff'=1
assert_eq '{}' "$(mf show "$R" churn@1 --json | jpy 'j["tags"]')" "tags after the refusals"
assert_eq 1 "$(mf list "$R" churn --json | jpy 'len(j)')" "versions after the refusals"

check "UTF-8 text, control characters included, is kept as given"
ok mf set "$R" churn@1 tags.city=$'Z\xc3\xbcrich' description=$'line 1\nline 2'
assert_eq $'Z\xc3\xbcrich' "$(mf show "$R" churn@1 --json | jpy 'j["tags"]["city"]')" "tags.city"
run mf show "$R" churn@1
assert_contains "$OUT" '  description:  line 1\nline 2' "show: the description on one line"
assert_contains "$OUT" $'city = Z\xc3\xbcrich' "show: UTF-8 printed as it is"

check "push refuses a file named with bytes that are not UTF-8, or with a control character"
mkdir -p "$WORK/bad1/sub" "$WORK/bad2"
printf 'w' >"$WORK/bad1/model.bin"
printf 'w' >"$WORK/bad1/sub/x"$'\xff\xfe'
refused 'sub/x\xff\xfe' mf push "$R" churn "$WORK/bad1"
assert_contains "$ERR" "not valid UTF-8" "message for the bad name"
refused 'x\xff\xfe' mf push "$R" churn "$WORK/bad1/sub/x"$'\xff\xfe'
printf 'w' >"$WORK/bad2/two"$'\n'"lines"
refused 'two\nlines' mf push "$R" churn "$WORK/bad2"
assert_contains "$ERR" "control character" "message for the name with a newline"
printf 'w' >"$WORK/bad2/tab"$'\t'
refused 'tab\t' mf push "$R" churn "$WORK/bad2/tab"$'\t'
mkdir -p "$WORK/good"
printf 'w' >"$WORK/good/caf"$'\xc3\xa9'".bin"
ok mf push "$R" churn "$WORK/good"
assert_eq "churn@2" "$OUT" "a UTF-8 file name is pushed"
assert_eq $'caf\xc3\xa9.bin' "$(mf show "$R" churn@2 --json | jpy 'j["files"][0]["path"]')" "its path"

check "records written before the rule: JSON never aborts, text is escaped"
U=$'\xef\xbf\xbd'  # U+FFFD, what --json prints for a stray byte
ok "$DAMAGE_RECORD" "$R" versions churn@1 d --text $'old\xff\xfe\ndesc'
ok "$DAMAGE_RECORD" "$R" versions churn@1 lc --text $'\x1b[31mred'
ok "$DAMAGE_RECORD" "$R" entries churn@1/model.bin n --text $'x\xff\nnext'
seq=$(mf log "$R" --json | jpy 'j[-1]["seq"]')
ok "$DAMAGE_RECORD" "$R" audit "$seq" af --text $'after\xff'
for cmd in "show $R churn@1 --json" "list $R churn --json" "log $R --json" "log $R churn --json" \
           "show $R churn@1" "list $R churn" "log $R" "fsck $R" "fsck $R --json"; do
  # shellcheck disable=SC2086
  run mf $cmd
  not_crashed "modelfs $cmd"
  case "$cmd" in fsck*) ;; *) [ "$RC" -eq 0 ] || die "modelfs $cmd: exit $RC: $ERR" ;; esac
  assert_not_contains "$OUT" $'\xff' "stdout of modelfs $cmd (a raw byte)"
  assert_not_contains "$OUT" $'\x1b' "stdout of modelfs $cmd (a raw escape)"
done
mf show "$R" churn@1 --json >"$WORK/show.json" || die "show --json"
assert_eq "old$U$U"$'\n'desc "$(jpy 'j["description"]' "$WORK/show.json")" \
  "show --json: stray bytes as U+FFFD"
assert_eq "x$U"$'\n'next "$(jpy 'j["files"][0]["path"]' "$WORK/show.json")" "file path"
mf log "$R" --json >"$WORK/log.json" || die "log --json"
assert_eq "after$U" "$(jpy 'j[-1]["after"]' "$WORK/log.json")" "log --json"
mf list "$R" churn --json >"$WORK/list.json" || die "list --json"
assert_eq "old$U$U"$'\n'desc "$(jpy 'j[0]["description"]' "$WORK/list.json")" "list --json"
run mf show "$R" churn@1
assert_contains "$OUT" '  description:  old\xff\xfe\ndesc' "show: description escaped"
assert_contains "$OUT" '    code     = \x1b[31mred' "show: escape sequence escaped"
assert_contains "$OUT" $'\t''x\xff\nnext' "show: the file on one line, escaped"
assert_eq 1 "$(printf '%s\n' "$OUT" | grep -c 'next')" "show: lines naming the file"
run mf log "$R"
assert_contains "$(printf '%s\n' "$OUT" | tail -n1)" 'after\xff' "log: the last record escaped"

pass
