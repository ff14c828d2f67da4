#!/usr/bin/env bash
# The model card through a real mount (SPEC §8, issue 11 item 5):
# /models/MODEL/README.md is a read-only file generated from the index;
# cat, cp and wc -c agree with stat's size and with `modelfs card`; it is
# fresh within 1 s after a push or an alias move by the CLI; every write is
# EROFS; whoever may not read the model gets EACCES.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
cat >"$R/policy.toml" <<'TOML'
[defaults]
read = ["*"]
admin = ["user:root"]

[[models]]
match = "secret-*"
read = ["user:root"]
TOML
mkdir -p "$WORK/src"
echo weights >"$WORK/src/m.bin"
echo "# churn v1, its own card" >"$WORK/src/README.md"
ok mf push "$R" churn "$WORK/src" --metric auc=0.91 --metric latency_ms=14 --alias production
ok mf push "$R" churn "$WORK/src/m.bin" --metric auc=0.93 --parent churn@1 --code git+https://git/churn@9c1e
ok mf set "$R" churn description="predicts churn" owner=ana
ok mf approve "$R" churn@2 --comment "offline eval ok"
ok mf push "$R" secret-x "$WORK/src/m.bin"
start_mount "$R" "$M" -o allow_other

card_is() { [ "$(cat "$M/churn/README.md")" = "$(mf card "$R" churn)" ]; }

check "ls shows README.md as a read-only regular file"
ok ls -l "$M/churn"
assert_contains "$OUT" "-r--r--r--"
assert_contains "$OUT" "README.md"
assert_eq "regular file 444" "$(stat -c '%F %a' "$M/churn/README.md")" "type and mode"

check "cat shows the description, owner, aliases, versions with metrics, approvals and lineage"
ok cat "$M/churn/README.md"
CARD=$OUT
assert_contains "$CARD" "# churn"
assert_contains "$CARD" "predicts churn"
assert_contains "$CARD" "- **Owner:** ana"
assert_contains "$CARD" '- **Aliases:** `production` → v1'
assert_contains "$CARD" "| version | state | approval | aliases | created_by | created_at | auc | latency_ms | card |"
assert_contains "$CARD" "| v2 | ready | approved |  |"
assert_contains "$CARD" "| 0.93 |  |  |"
assert_contains "$CARD" "| 0.91 | 14 | [v1/README.md](v1/README.md) |"
assert_contains "$CARD" "- v2: approved by root at"
assert_contains "$CARD" "- v2: parents churn@1; code git+https://git/churn@9c1e"
check "the link leads to the version's own README.md through the mount"
assert_eq "# churn v1, its own card" "$(cat "$M/churn/v1/README.md")" "v1/README.md"

check "modelfs card prints the same bytes; cp, wc -c and stat agree with them"
mf card "$R" churn >"$WORK/card.md" || die "modelfs card failed"
ok cp "$M/churn/README.md" "$WORK/copy.md"
assert_file_eq "$WORK/card.md" "$WORK/copy.md" "cp of README.md and modelfs card"
size=$(stat -c %s "$WORK/card.md")
assert_eq "$size" "$(stat -c %s "$M/churn/README.md")" "stat size"
assert_eq "$size" "$(wc -c <"$M/churn/README.md")" "wc -c"
assert_eq "$size" "$(cat "$M/churn/README.md" | wc -c)" "bytes read"
check "two reads of an unchanged index give the same text"
assert_eq "$CARD" "$(cat "$M/churn/README.md")" "second read"

check "a push by the CLI shows in the card within 1 s, with the new size"
# The kernel has the card's name and size cached (a read marks its atime
# stale, so the stat after it asks the daemon: stat last, then no read).
cat "$M/churn/README.md" >/dev/null
stat "$M/churn/README.md" >/dev/null
ok mf push "$R" churn "$WORK/src/m.bin" --metric auc=0.95
want=$(mf card "$R" churn | wc -c)
wait_until 1 eval '[ "$(stat -c %s "$M/churn/README.md")" = "$want" ]' ||
  die "stat of the card still says $(stat -c %s "$M/churn/README.md") bytes 1 s after the push, not $want"
wait_until 1 grep -q '| v3 | ready |' "$M/churn/README.md" ||
  die "v3 not in the card within 1 s: $(cat "$M/churn/README.md")"
wait_until 1 card_is || die "the card differs from modelfs card after the push"
assert_eq "$(mf card "$R" churn | wc -c)" "$(stat -c %s "$M/churn/README.md")" "size after the push"

check "an alias move by the CLI shows in the card within 1 s"
ok mf alias "$R" churn@3 production
wait_until 1 grep -qF '`production` → v3' "$M/churn/README.md" ||
  die "the alias move is not in the card within 1 s: $(cat "$M/churn/README.md")"
wait_until 1 card_is || die "the card differs from modelfs card after the alias move"

check "an open handle keeps its text while the index changes"
exec 7<"$M/churn/README.md"
ok mf set "$R" churn description="a longer description, so that the card grows"
wait_until 1 grep -q 'a longer description' "$M/churn/README.md" || die "description not in the card"
held=$(cat <&7)
exec 7<&-
assert_contains "$held" "predicts churn" "the text read from the handle opened before"
assert_not_contains "$held" "a longer description" "the text read from the handle opened before"

check "writing, truncating, removing, renaming, touching and setfattr of README.md are EROFS"
for cmd in "sh -c 'echo x >$M/churn/README.md'" "sh -c 'echo x >>$M/churn/README.md'" \
           "truncate -s 0 $M/churn/README.md" "rm -f $M/churn/README.md" \
           "mv $M/churn/README.md $M/churn/x.md" "touch $M/churn/README.md" \
           "chmod 644 $M/churn/README.md" "setfattr -n user.x -v 1 $M/churn/README.md"; do
  run eval "$cmd"
  [ "$RC" -ne 0 ] || die "'$cmd' succeeded"
  assert_contains "$ERR" "Read-only file system" "$cmd"
done
check "nothing else can take the name: an alias, a symlink, a rename onto it"
run ln -s v1 "$M/churn/README.md"
assert_contains "$ERR" "exists"  # the card is there; ln refuses before asking
run ln -sfn v1 "$M/churn/README.md"
assert_contains "$ERR" "Read-only file system" "ln -sfn over README.md"
assert_fails 1 "alias" mf alias "$R" churn@1 README.md
assert_eq "regular file 444" "$(stat -c '%F %a' "$M/churn/README.md")" "README.md after the attempts"
wait_until 1 card_is || die "the card changed after refused writes"
check "the refusal's reason is the caller's to read (user.registry.why)"
run getfattr --only-values -n user.registry.why "$M/churn"
assert_contains "$OUT" "the model card is generated from the index"

check "a user who may not read the model gets EACCES on the card; one who may reads it"
run as mf-carol cat "$M/secret-x/README.md"
[ "$RC" -ne 0 ] || die "mf-carol read secret-x's card"
assert_contains "$ERR" "Permission denied"
run as mf-carol stat "$M/secret-x/README.md"
assert_contains "$ERR" "Permission denied"
run as mf-carol cat "$M/churn/README.md"
[ "$RC" = 0 ] || die "mf-carol cannot read churn's card: $ERR"
assert_eq "$(mf card "$R" churn)" "$OUT" "mf-carol's read of churn's card"
ok cat "$M/secret-x/README.md"
assert_contains "$OUT" "# secret-x"

check "modelfs card: a missing model fails, a bad name is a usage error"
assert_fails 1 "nope" mf card "$R" nope
assert_usage "model" mf card "$R" "Bad/Name"

stop_mount "$M" "$MOUNT_PID"
assert_clean_log
pass
