#!/usr/bin/env bash
# compare and diff through the command line (SPEC §8): versions side by
# side with the differing rows marked (and highlighted only on a terminal
# without NO_COLOR), --json read back by python's json module; diff's
# files added, removed, changed (digest) and re-moded, and metadata
# before -> after, as text and JSON.
. "$TESTS_DIR/cli/common.sh"

ROOT=$WORK/reg
SRC=$WORK/src
ok mf init "$ROOT"
mkdir -p "$SRC/conf"
echo weights-1 >"$SRC/model.bin"
echo '{}' >"$SRC/conf/params.json"
echo old >"$SRC/gone.txt"
ok mf push "$ROOT" churn "$SRC" --metric auc=0.9 --param lr=0.1 --tag team=growth
ok mf push "$ROOT" churn "$SRC" --metric auc=0.9 --param lr=0.1 --tag team=growth  # the same: churn@2
echo weights-2 >"$SRC/model.bin"
echo new >"$SRC/extra.bin"
rm "$SRC/gone.txt"
chmod +x "$SRC/conf/params.json"
ok mf push "$ROOT" churn "$SRC" --metric auc=0.93 --param lr=0.1 --tag team=growth --parent churn@1
assert_eq churn@3 "$OUT" "third push"
ok mf alias "$ROOT" churn@1 production

check "compare --json: versions and rows with values and differs"
ok mf compare "$ROOT" churn@production churn@2 churn@3 --json
printf '%s\n' "$OUT" >"$WORK/cmp.json"
assert_eq '["churn@1", "churn@2", "churn@3"]' "$(jpy 'j["versions"]' "$WORK/cmp.json")" "versions"
row() { jpy "[r for r in j['rows'] if r['key'] == '$1'][0]" "$WORK/cmp.json"; }
assert_eq '{"differs": true, "key": "metrics.auc", "values": [0.9, 0.9, 0.93]}' "$(row metrics.auc)" "metrics.auc row"
assert_eq '{"differs": false, "key": "tags.team", "values": ["growth", "growth", "growth"]}' "$(row tags.team)" "tags.team row"
assert_eq '{"differs": true, "key": "aliases", "values": ["production", null, null]}' "$(row aliases)" "aliases row"
assert_eq '{"differs": true, "key": "lineage.parents", "values": [null, null, "churn@1"]}' "$(row lineage.parents)" "parents row"
assert_eq true "$(jpy '[r for r in j["rows"] if r["key"] == "digest"][0]["values"][0] == [r for r in j["rows"] if r["key"] == "digest"][0]["values"][1]' "$WORK/cmp.json")" "churn@1 and churn@2 share a digest"
for k in state approval aliases created_at size digest params.lr lineage.datasets lineage.code lineage.run; do
  assert_eq 1 "$(jpy "len([r for r in j['rows'] if r['key'] == '$k'])" "$WORK/cmp.json")" "row $k"
done

check "compare as text: a '*' on the rows that differ, no color when not a terminal"
ok mf compare "$ROOT" churn@1 churn@3
assert_contains "$OUT" "FIELD" "header"
printf '%s\n' "$OUT" | grep -Eq '^\* metrics\.auc +0\.9 +0\.93$' || die "metrics.auc row not marked: $OUT"
printf '%s\n' "$OUT" | grep -Eq '^  tags\.team +growth +growth$' || die "tags.team row marked: $OUT"
printf '%s\n' "$OUT" | grep -Eq '^\* lineage\.parents +- +churn@1$' || die "parents row: $OUT"
assert_not_contains "$OUT" $'\033' "piped output"
if command -v script >/dev/null; then
  out=$(script -qec "$MODELFS compare $ROOT churn@1 churn@3" /dev/null </dev/null)
  assert_contains "$out" $'\033[1;33m0.93' "output on a terminal (differing cell highlighted)"
  out=$(NO_COLOR=1 script -qec "$MODELFS compare $ROOT churn@1 churn@3" /dev/null </dev/null)
  assert_not_contains "$out" $'\033' "output on a terminal with NO_COLOR"
fi

check "compare: bad input"
assert_usage "two versions" mf compare "$ROOT" churn@1
assert_usage "" mf compare "$ROOT" churn@1 'bad name@x'
assert_fails 1 "does not exist" mf compare "$ROOT" churn@1 churn@9

check "diff as text: files added, removed, changed, re-moded; metadata before -> after"
ok mf diff "$ROOT" churn@1 churn@3
printf '%s\n' "$OUT"
printf '%s\n' "$OUT" | grep -Eq '^  \+ extra\.bin ' || die "extra.bin not added: $OUT"
printf '%s\n' "$OUT" | grep -Eq '^  - gone\.txt ' || die "gone.txt not removed: $OUT"
printf '%s\n' "$OUT" | grep -Eq '^  ~ model\.bin ' || die "model.bin not changed: $OUT"
printf '%s\n' "$OUT" | grep -Eq '^  m conf/params\.json  0444 -> 0555$' || die "params.json mode: $OUT"
assert_contains "$OUT" "metrics.auc: 0.9 -> 0.93" "metadata"
assert_contains "$OUT" "lineage.parents: (unset) -> churn@1" "metadata"
assert_contains "$OUT" "aliases: production -> (unset)" "metadata"
assert_not_contains "$OUT" "tags.team" "unchanged metadata"

check "diff --json"
ok mf diff "$ROOT" churn@1 churn@3 --json
printf '%s\n' "$OUT" >"$WORK/diff.json"
assert_eq '{"conf/params.json": "mode", "extra.bin": "added", "gone.txt": "removed", "model.bin": "changed"}' \
  "$(jpy 'dict(sorted((f["path"], f["change"]) for f in j["files"]))' "$WORK/diff.json")" "file changes"
assert_eq null "$(jpy '[f for f in j["files"] if f["path"] == "extra.bin"][0]["before"]' "$WORK/diff.json")" "added file: no before"
assert_eq true "$(jpy '[f for f in j["files"] if f["path"] == "model.bin"][0]["before"]["digest"] != [f for f in j["files"] if f["path"] == "model.bin"][0]["after"]["digest"]' "$WORK/diff.json")" "changed digest"
assert_eq '{"after": "0.93", "before": "0.9", "key": "metrics.auc"}' "$(jpy '[m for m in j["metadata"] if m["key"] == "metrics.auc"][0]' "$WORK/diff.json")" "metrics.auc change"

check "diff of equal versions; bad input"
ok mf diff "$ROOT" churn@1 churn@1
assert_contains "$OUT" "no differences"
ok mf diff "$ROOT" churn@1 churn@2 --json
assert_eq "0 1" "$(printf '%s' "$OUT" | jpy '"%d %d" % (len(j["files"]), len(j["metadata"]))')" "churn@1 vs churn@2 (only the alias differs)"
assert_usage "" mf diff "$ROOT" churn@1
assert_usage "" mf diff "$ROOT" churn@1 churn@2 churn@3
assert_fails 1 "does not exist" mf diff "$ROOT" churn@1 nope@1

pass
