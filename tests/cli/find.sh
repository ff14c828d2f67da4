#!/usr/bin/env bash
# `modelfs find` (SPEC §8): versions by an expression, as JSON lines checked
# by python's json module; --sort on several keys (missing values last),
# --limit, the table on a terminal, exit 1 when nothing matched, malformed
# expressions as usage errors pointing at the column, and the policy: a
# model the caller may not read never appears. Runs as root (test users,
# see tests/users.sh).
. "$TESTS_DIR/cli/common.sh"
. "$TESTS_DIR/users.sh"

ROOT=$WORK/root
SRC=$WORK/src
mkdir -p "$SRC"
printf 'weights\n' >"$SRC/w.bin"
chmod -R a+rX "$SRC"

# refs [FILE]: the MODEL@N of each JSON line of FILE (stdin), space-separated;
# fails unless every line is one JSON object.
refs() {
  "$PY" -c '
import json, sys
out = []
for line in sys.stdin:
    j = json.loads(line)
    assert isinstance(j, dict), line
    out.append("%s@%d" % (j["model"], j["version"]))
print(" ".join(out))
' || die "find printed something that is not JSON lines"
}

check "setup: three models, metrics, tags, params, aliases"
ok mf init "$ROOT"
ok mf gc "$ROOT"  # gc.lock made by root before sharing (as tests/cli/policy.sh)
share_root "$ROOT"
push() { local m=$1; shift; ok mf push "$ROOT" "$m" "$SRC" -q "$@"; }
push churn --metric auc=0.91 --metric loss=0.3 --tag team=growth --param lr=0.05
push churn --metric auc=0.95 --metric loss=0.2 --tag team=growth --param lr=0.01
push churn --metric auc=0.88 --tag team=growth --tag src=s3://lake/a
push fraud-x --metric auc=0.99 --tag team=risk
push fraud-public --metric auc=0.75 --tag team=risk
push ranker --param lr=0.1 --tag team=search
ok mf alias "$ROOT" churn@2 production
ok mf alias "$ROOT" churn@1 staging
ok mf archive "$ROOT" churn@3
printf '[defaults]\nread = ["*"]\ncreate = ["user:root"]\nwrite = ["user:root"]\npromote = ["user:root"]\napprove = ["user:root"]\nadmin = ["user:root"]\n\n[[models]]\nmatch = "fraud-x"\nread = ["user:root", "user:mf-alice"]\n' >"$ROOT/policy.toml"
ok mf policy check "$ROOT/policy.toml"

check "a selective query, JSON lines in show --json's shape"
ok mf find "$ROOT" 'metrics.auc >= 0.9'
assert_eq "churn@1 churn@2 fraud-x@1" "$(printf '%s\n' "$OUT" | refs)" "metrics.auc >= 0.9"
first=$(printf '%s\n' "$OUT" | head -n1)
ok mf show "$ROOT" churn@1 --json
assert_eq "$("$PY" -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True))' "$OUT")" \
  "$("$PY" -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True))' "$first")" \
  "a find line is show --json's object"
ok mf find "$ROOT" 'metrics.auc >= 0.9 and not alias = "production"' --json
assert_eq "churn@1 fraud-x@1" "$(printf '%s\n' "$OUT" | refs)" "not alias = production"
ok mf find "$ROOT" 'alias = "production" or alias = "staging"'
assert_eq "churn@1 churn@2" "$(printf '%s\n' "$OUT" | refs)" "alias or alias"
ok mf find "$ROOT" 'model ~ "fraud*" and tags.team = "risk"'
assert_eq "fraud-public@1 fraud-x@1" "$(printf '%s\n' "$OUT" | refs)" "model glob and tag"
ok mf find "$ROOT" 'params.lr < 0.06 and state = "ready"'
assert_eq "churn@1 churn@2" "$(printf '%s\n' "$OUT" | refs)" "params as numbers"
ok mf find "$ROOT" 'state = "archived"'
assert_eq "churn@3" "$(printf '%s\n' "$OUT" | refs)" "archived"
ok mf find "$ROOT" 'not exists(metrics.auc)'
assert_eq "ranker@1" "$(printf '%s\n' "$OUT" | refs)" "not exists (missing keys: not of false)"
ok mf find "$ROOT" 'metrics.loss != 0.3'
assert_eq "churn@2" "$(printf '%s\n' "$OUT" | refs)" "!= on a missing metric is false"
ok mf find "$ROOT" 'created_at > -1h and size < 1K and tags.team in ("search", "x")'
assert_eq "ranker@1" "$(printf '%s\n' "$OUT" | refs)" "times, sizes, in"
# An expression that holds a '/' is not taken for ROOT.
MODELFS_ROOT=$ROOT ok mf find 'tags.src = "s3://lake/a"'
assert_eq "churn@3" "$(printf '%s\n' "$OUT" | refs)" "a '/' in the expression, ROOT from the env"
ok mf find "$ROOT"
assert_eq "churn@1 churn@2 churn@3 fraud-public@1 fraud-x@1 ranker@1" "$(printf '%s\n' "$OUT" | refs)" "no EXPR: all"

check "--sort on several keys, missing values last; --limit"
ok mf find "$ROOT" --sort -metrics.auc
assert_eq "fraud-x@1 churn@2 churn@1 churn@3 fraud-public@1 ranker@1" "$(printf '%s\n' "$OUT" | refs)" "--sort -metrics.auc"
ok mf find "$ROOT" --sort metrics.auc
assert_eq "fraud-public@1 churn@3 churn@1 churn@2 fraud-x@1 ranker@1" "$(printf '%s\n' "$OUT" | refs)" "--sort metrics.auc"
ok mf find "$ROOT" 'exists(tags.team)' --sort tags.team --sort=-metrics.auc
assert_eq "churn@2 churn@1 churn@3 fraud-x@1 fraud-public@1 ranker@1" "$(printf '%s\n' "$OUT" | refs)" "two sort keys"
ok mf find "$ROOT" 'metrics.auc > 0' --sort -metrics.auc --limit 2
assert_eq "fraud-x@1 churn@2" "$(printf '%s\n' "$OUT" | refs)" "--limit 2"
ok mf find "$ROOT" --limit 1
assert_eq "churn@1" "$(printf '%s\n' "$OUT" | refs)" "--limit without --sort"

check "nothing matched: exit 1, nothing printed (as grep)"
run mf find "$ROOT" 'metrics.auc > 2'
assert_eq 1 "$RC" "exit status with no match"
assert_eq "" "$OUT$ERR" "output with no match"

check "the table on a terminal: MODEL@N, state, aliases, the keys named"
if command -v script >/dev/null; then
  script -qec "$MODELFS find $ROOT 'metrics.auc >= 0.9' --sort -metrics.loss" /dev/null >"$WORK/tty.out" ||
    die "find on a terminal failed: $(cat "$WORK/tty.out")"
  tr -d '\r' <"$WORK/tty.out" >"$WORK/tty.txt"
  head -n1 "$WORK/tty.txt" | grep -Eq '^MODEL@N +STATE +ALIASES +metrics.auc +metrics.loss *$' ||
    die "table header: $(head -n1 "$WORK/tty.txt")"
  grep -Eq '^churn@2 +ready +production +0.95 +0.2 *$' "$WORK/tty.txt" || die "table row of churn@2: $(cat "$WORK/tty.txt")"
  assert_eq "churn@1 churn@2 fraud-x@1" "$(tail -n +2 "$WORK/tty.txt" | awk '{print $1}' | xargs)" "table rows, sorted"
else
  echo "    (no script(1): table not checked)"
fi

check "malformed expressions: exit 2, the column, a caret under it"
for case in 'metrics.auc >|14' 'metrics.auc >= "high"|16' 'model = churn|9' 'metric.auc > 1|1' '(model = "a"|1'; do
  expr=${case%|*} col=${case##*|}
  run mf find "$ROOT" "$expr"
  assert_eq 2 "$RC" "exit status for [$expr]"
  assert_eq "" "$OUT" "stdout for [$expr]"
  line1=$(printf '%s\n' "$ERR" | sed -n 1p)
  assert_contains "$line1" "modelfs: find: bad expression at column $col:" "[$expr]"
  assert_eq "  $expr" "$(printf '%s\n' "$ERR" | sed -n 2p)" "the expression under the message"
  assert_eq "$(printf '%*s^' $((col + 1)) '')" "$(printf '%s\n' "$ERR" | sed -n 3p)" "the caret for [$expr]"
done
assert_usage "bogus" mf find "$ROOT" --sort -bogus
assert_usage "limit" mf find "$ROOT" --limit 0

check "policy: a model the caller may not read never appears"
run as mf-dave "$MODELFS" find "$ROOT" 'metrics.auc > 0.5'
assert_eq 0 "$RC" "find as mf-dave: $ERR"
assert_eq "churn@1 churn@2 churn@3 fraud-public@1" "$(printf '%s\n' "$OUT" | refs)" "as mf-dave"
run as mf-dave "$MODELFS" find "$ROOT" 'model = "fraud-x"'
assert_eq 1 "$RC" "find as mf-dave of a model it may not read: nothing"
assert_eq "" "$OUT" "as mf-dave, fraud-x"
run as mf-dave "$MODELFS" find "$ROOT" 'metrics.auc >= 0.99'
assert_eq 1 "$RC" "find as mf-dave, through the index: nothing"
run as mf-alice "$MODELFS" find "$ROOT" 'metrics.auc >= 0.99'
assert_eq "fraud-x@1" "$(printf '%s\n' "$OUT" | refs)" "as mf-alice"

check "the index stays consistent: fsck"
ok mf set "$ROOT" churn@1 metrics.auc=0.5
ok mf find "$ROOT" 'metrics.auc >= 0.9'
assert_eq "churn@2 fraud-x@1" "$(printf '%s\n' "$OUT" | refs)" "after set"
ok mf fsck "$ROOT"
pass
