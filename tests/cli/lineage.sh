#!/usr/bin/env bash
# lineage through the command line (SPEC §8): up, down and both ways over a
# DAG with a diamond, each version once ("(see above)" in the tree), depth
# limits, a cycle, a parent removed by gc shown as missing; --format json
# (read back by python's json), dot (nodes and edges counted) and svg
# (Graphviz's dot: valid XML with one node group per node; a clear error
# without it); a version of a model the caller may not read is a
# "(hidden)" node, its name and metadata left out. Runs as root (creates
# the test users, see tests/users.sh).
. "$TESTS_DIR/cli/common.sh"
. "$TESTS_DIR/users.sh"

ROOT=$WORK/reg
SRC=$WORK/src
ok mf init "$ROOT"
mkdir -p "$SRC"
chmod 755 "$SRC"
# push MODEL ARGS...: a version whose bytes are unique to this call.
n=0
push() {
  n=$((n + 1))
  echo "weights $n" >"$SRC/model.bin"
  ok mf push "$ROOT" "$@" "$SRC"
}
push raw --dataset s3://lake/raw
push a --parent raw@1
push b --parent raw@1 --dataset s3://lake/extra
push top --parent a@1 --parent b@1 --code git+https://git/top@9c1e --run run-7
assert_eq top@1 "$OUT" "fourth push"

check "tree, up: the diamond's shared ancestor once, then (see above)"
ok mf lineage "$ROOT" top@1
printf '%s\n' "$OUT"
assert_eq "top@1 (ready)" "$(printf '%s\n' "$OUT" | head -n1)" "root line"
assert_eq 2 "$(printf '%s\n' "$OUT" | grep -c 'raw@1 (ready)')" "raw@1 lines"
assert_eq 1 "$(printf '%s\n' "$OUT" | grep -c 'raw@1 (ready) (see above)')" "raw@1 repeated"
assert_eq 1 "$(printf '%s\n' "$OUT" | grep -c 'dataset s3://lake/raw')" "raw's dataset, under its first showing only"
assert_contains "$OUT" "code git+https://git/top@9c1e"

check "json: nodes and edges"
ok mf lineage "$ROOT" top@1 --format json
printf '%s\n' "$OUT" >"$WORK/up.json"
assert_eq top@1 "$(jpy 'j["root"]' "$WORK/up.json")" "root"
assert_eq '["a@1", "b@1", "code:git+https://git/top@9c1e", "dataset:s3://lake/extra", "dataset:s3://lake/raw", "raw@1", "top@1"]' \
  "$(jpy 'sorted(n["id"] for n in j["nodes"])' "$WORK/up.json")" "node ids"
assert_eq 7 "$(jpy 'len(j["edges"])' "$WORK/up.json")" "edges (raw->a, raw->b, a->top, b->top, 2 datasets, code)"
assert_eq true "$(jpy '{"from": "raw@1", "to": "a@1"} in j["edges"]' "$WORK/up.json")" "edge raw@1 -> a@1"
assert_eq -2 "$(jpy '[n["depth"] for n in j["nodes"] if n["id"] == "raw@1"][0]' "$WORK/up.json")" "raw@1's depth"

check "down from the shared ancestor, and depth limits"
ok mf lineage "$ROOT" raw@1 --down --format json
assert_eq '["a@1", "b@1", "raw@1", "top@1"]' "$(printf '%s' "$OUT" | jpy 'sorted(n["id"] for n in j["nodes"] if n["kind"] == "version")')" "down"
ok mf lineage "$ROOT" raw@1 --down --depth 1 --format json
assert_eq '["a@1", "b@1", "raw@1"]' "$(printf '%s' "$OUT" | jpy 'sorted(n["id"] for n in j["nodes"] if n["kind"] == "version")')" "down, depth 1"
ok mf lineage "$ROOT" top@1 --depth 1 --format json
assert_eq '["a@1", "b@1", "top@1"]' "$(printf '%s' "$OUT" | jpy 'sorted(n["id"] for n in j["nodes"] if n["kind"] == "version")')" "up, depth 1"
ok mf lineage "$ROOT" raw@1 --down
printf '%s\n' "$OUT"
assert_eq 1 "$(printf '%s\n' "$OUT" | grep -c 'top@1 (ready) (see above)')" "top@1 repeated downwards"
ok mf lineage "$ROOT" a@1 --both
printf '%s\n' "$OUT"
assert_contains "$OUT" "├── up"
assert_contains "$OUT" "└── down"
assert_contains "$OUT" "raw@1"
assert_contains "$OUT" "top@1"

check "dot: one node statement per node, one edge per edge"
ok mf lineage "$ROOT" top@1 --format dot
printf '%s\n' "$OUT" >"$WORK/top.dot"
assert_eq "digraph lineage {" "$(head -n1 "$WORK/top.dot")" "dot header"
assert_eq 7 "$(grep -Ec '^  n[0-9]+ \[label=' "$WORK/top.dot")" "dot nodes"
assert_eq 7 "$(grep -Ec '^  n[0-9]+ -> n[0-9]+;$' "$WORK/top.dot")" "dot edges"

check "svg through Graphviz's dot"
if command -v dot >/dev/null; then
  ok mf lineage "$ROOT" top@1 --format svg
  printf '%s\n' "$OUT" >"$WORK/top.svg"
  assert_eq 7 "$("$PY" -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
print(sum(1 for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"))
' "$WORK/top.svg")" "svg node groups"
else
  echo "    (dot is not installed: only the error is checked)"
fi
mkdir -p "$WORK/nodot"
assert_fails 1 "graphviz" env PATH="$WORK/nodot" "$MODELFS" lineage "$ROOT" top@1 --format svg

check "a parent removed by gc is shown as missing, not an error"
push gone
push child --parent gone@1 --parent raw@1
ok mf archive "$ROOT" gone@1
ok mf gc "$ROOT"
assert_fails 1 "does not exist" mf show "$ROOT" gone@1
ok mf lineage "$ROOT" child@1
assert_contains "$OUT" "gone@1 (missing)"
ok mf lineage "$ROOT" child@1 --format json
assert_eq '["missing"]' "$(printf '%s' "$OUT" | jpy '[n["kind"] for n in j["nodes"] if n["id"] == "gone@1"]')" "gone@1's kind"
ok mf fsck "$ROOT"  # gc's doing, not damage
assert_not_contains "$OUT" "gone@1"

check "a cycle (set can make one) ends, each version once"
ok mf set "$ROOT" raw@1 lineage.parents=top@1
ok mf lineage "$ROOT" top@1 --both --format json
assert_eq '["a@1", "b@1", "child@1", "raw@1", "top@1"]' "$(printf '%s' "$OUT" | jpy 'sorted(n["id"] for n in j["nodes"] if n["kind"] == "version")')" "cycle"
ok mf lineage "$ROOT" top@1 --both
assert_contains "$OUT" "(see above)"
ok mf set "$ROOT" raw@1 --remove lineage.parents
run mf fsck "$ROOT"  # child@1's dangling parent is a problem of its own
assert_not_contains "$OUT" "children index" "fsck"

check "bad input"
assert_usage "one of" mf lineage "$ROOT" top@1 --up --down
assert_usage "format" mf lineage "$ROOT" top@1 --format png
assert_usage "depth" mf lineage "$ROOT" top@1 --depth -1
assert_usage "" mf lineage "$ROOT" 'top@'
assert_fails 1 "does not exist" mf lineage "$ROOT" top@7

check "policy: a model the caller may not read is a (hidden) node"
printf '%s\n' '[defaults]
read = ["*"]
admin = ["user:root"]

[[models]]
match = "a"
read = ["group:mf-leads"]' >"$ROOT/policy.toml"
share_root "$ROOT"
ok as mf-dave "$MODELFS" lineage "$ROOT" top@1
printf '%s\n' "$OUT"
assert_contains "$OUT" "(hidden)"
assert_not_contains "$OUT" "a@1" "lineage as mf-dave"
ok as mf-dave "$MODELFS" lineage "$ROOT" top@1 --format json
printf '%s\n' "$OUT" >"$WORK/hidden.json"
assert_eq '[{"depth": -1, "id": "hidden:1", "kind": "hidden", "label": "(hidden)"}]' \
  "$(jpy '[n for n in j["nodes"] if n["kind"] == "hidden"]' "$WORK/hidden.json")" "hidden node"
assert_not_contains "$OUT" '"a@1"' "json as mf-dave"
# raw@1 is still reached through b@1, which mf-dave may read.
assert_eq true "$(jpy 'any(n["id"] == "raw@1" for n in j["nodes"])' "$WORK/hidden.json")" "raw@1 through b@1"
ok as mf-alice "$MODELFS" lineage "$ROOT" top@1 --format json
assert_eq true "$(printf '%s' "$OUT" | jpy 'any(n["id"] == "a@1" for n in j["nodes"])')" "a@1 for a lead"
assert_fails 3 "denied" as mf-dave "$MODELFS" lineage "$ROOT" a@1

pass
