#!/usr/bin/env bash
# `modelfs serve`'s pages in a real browser (SPEC §9): builds a registry with
# the CLI (three models, twelve versions, three metrics, aliases, lineage,
# an approval, a model only root may read), asks the CLI what each page
# must show (EXPECT.json), fills a second registry of one model of 2,000
# versions (find_bench), serves both with `modelfs serve` on free loopback
# ports (the first with --auth-header), and runs browser.mjs: Debian's
# chromium, headless, one launch for every page, as mf-carol (who may not
# read `secret`) and as root. Screenshots of each page (desktop and phone)
# go to $SCREENSHOTS_DIR.
#
#   browser.sh             against `modelfs serve`
#   browser.sh --fixture   the harness alone, against tests/web/fixture/
#
# Exit 77 (skipped) only when chromium or node is not installed
# (scripts/setup installs both), or not run as root (the test users).
. "$TESTS_DIR/lib.sh"

WEB=$TESTS_DIR/web
SCREENSHOTS_DIR=${SCREENSHOTS_DIR:-$PWD/web/screenshots}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM

[ -x "$CHROMIUM" ] || { echo "SKIP: $CHROMIUM is not installed (scripts/setup installs Debian's chromium)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node is not installed (scripts/setup installs it)"; exit 77; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
  die "node $(node --version) is older than playwright-core needs (18)"
[ -d "$WEB/node_modules/playwright-core" ] ||
  die "playwright-core is not installed in $WEB/node_modules: run scripts/setup"

# browser.mjs is bounded by its own page timeouts; this bounds it whole.
browser() { timeout -k 5 120 node "$WEB/browser.mjs" "$@"; }

if [ "${1:-}" = --fixture ]; then
  check "the harness against the static fixture"
  browser check "$WEB/fixture/expect.json" "$SCREENSHOTS_DIR/fixture" || die "browser checks failed (above)"
  pass
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (a second identity: tests/users.sh)"; exit 77; }
: "${FIND_BENCH:?set FIND_BENCH to bench/find_bench (it fills the large registry)}"
[ -x "$FIND_BENCH" ] || die "FIND_BENCH=$FIND_BENCH is not built (cmake --build build --target find_bench)"
# More versions than a chart draws one by one (serve: past 1,000 it keeps
# each stretch's extremes and every aliased version); the alias on an odd one.
LARGE=2000 LARGE_ALIAS=777
. "$TESTS_DIR/users.sh"

check "a registry: churn (8 versions), features (3), secret (1, root only)"
ROOT=$WORK/registry
ok mf init "$ROOT"
cat >>"$ROOT/policy.toml" <<'EOF'

[[models]]
match = "secret"
read  = ["user:root"]
EOF
ok mf policy check "$ROOT/policy.toml"

# push MODEL N [ARGS...]: a version with files of its own.
push() {
  local model=$1 n=$2 d=$WORK/files/$1-$2
  shift 2
  mkdir -p "$d/conf"
  printf 'weights of %s v%s\n' "$model" "$n" >"$d/model.bin"
  printf '{"model": "%s", "version": %s}\n' "$model" "$n" >"$d/conf/config.json"
  ok mf push "$ROOT" "$model" "$d" "$@"
  assert_eq "$model@$n" "$OUT" "push"
}
push features 1 --metric coverage=0.91
push features 2 --metric coverage=0.95
push features 3 --metric coverage=0.97
# churn: auc on every version, f1 on all but v2, latency_ms on v5..v8 (of
# more than one digit: sorted as text, 9.5 would come last).
push churn 1 --metric auc=0.80 --metric f1=0.70 --param lr=0.1
push churn 2 --metric auc=0.83 --param lr=0.05
push churn 3 --metric auc=0.78 --metric f1=0.72 --param lr=0.1
push churn 4 --metric auc=0.86 --metric f1=0.75 --param lr=0.1
push churn 5 --metric auc=0.91 --metric f1=0.79 --metric latency_ms=140 --param lr=0.1 --parent features@1
push churn 6 --metric auc=0.89 --metric f1=0.81 --metric latency_ms=9.5 --param lr=0.03 \
  --parent churn@5 --parent features@2
push churn 7 --metric auc=0.93 --metric f1=0.80 --metric latency_ms=15 --param lr=0.03
push churn 8 --metric auc=0.90 --metric f1=0.83 --metric latency_ms=11 --param lr=0.03
push secret 1 --metric auc=0.99
ok mf approve "$ROOT" churn@6 --comment "offline eval ok"
ok mf alias "$ROOT" churn@6 production
ok mf alias "$ROOT" churn@8 staging

check "what each page must show, from the CLI's --json"
J=$WORK/json
mkdir -p "$J"
FIND_Q='metrics.auc >= 0.9'
mf list "$ROOT" --json >"$J/models.json" || die "list --json"
for v in $(seq 8); do mf show "$ROOT" "churn@$v" --json >"$J/churn-$v.json" || die "show churn@$v"; done
mf lineage "$ROOT" churn@6 --both --format json >"$J/lineage.json" || die "lineage"
mf log "$ROOT" churn --json >"$J/log.json" || die "log"
mf find "$ROOT" "$FIND_Q" --json >"$J/find.json" || die "find"
mf compare "$ROOT" churn@3 churn@5 --json >"$J/compare.json" || die "compare"
"$PY" - "$J" "$FIND_Q" "$WORK/expect.json" <<'EOF' || die "writing the expectations"
import json, sys
j, q, out = sys.argv[1:]
load = lambda n: json.load(open(f"{j}/{n}"))
def lines(n):  # JSON lines, or one array
    t = open(f"{j}/{n}").read().strip()
    return json.loads(t) if t.startswith("[") else [json.loads(l) for l in t.splitlines() if l]
models = [m["model"] for m in load("models.json")]
assert "secret" in models, models
vs = [load(f"churn-{v}.json") for v in range(1, 9)]
metrics = {}
for s in vs:
    for k in s["metrics"]:
        metrics.setdefault(k, []).append(s["version"])
aliases = {a: s["version"] for s in vs for a in s["aliases"]}
v6 = vs[5]
audit = [r for r in lines("log.json") if r["model"] == "churn" and r["version"] == 6]
found = [f'{r["model"]}@{r["version"]}' for r in lines("find.json")]
assert "secret@1" in found, found  # the page must leave it out for mf-carol
cmp = load("compare.json")["rows"]
E = {
    "authHeader": "X-Remote-User", "user": "mf-carol", "admin": "root",
    "models": [m for m in models if m != "secret"], "adminModels": models, "denied": "secret",
    "aliases": {m["model"]: sorted(m["aliases"]) for m in load("models.json")},
    "model": {
        "name": "churn", "versions": [s["version"] for s in vs], "metrics": metrics,
        "aliases": aliases, "per": 3,
        "sortKeys": ["version"] + [f"metrics.{k}" for k in metrics],
        "values": dict({"version": {s["version"]: s["version"] for s in vs}},
                       **{f"metrics.{k}": {s["version"]: s["metrics"][k] for s in vs if k in s["metrics"]}
                          for k in metrics}),
    },
    "version": {
        "model": "churn", "version": 6, "alias": "production",
        "files": [f["path"] for f in v6["files"]],
        "metadata": ["auc", str(v6["metrics"]["auc"]), "lr", v6["params"]["lr"]],
        "approval": {k: v6["approval"][k] for k in ("by", "status", "comment")},
        "lineage": [n["id"] for n in load("lineage.json")["nodes"]],
        "audit": len(audit),
    },
    "find": {"q": q, "results": [f for f in found if not f.startswith("secret@")], "bad": "metrics.auc >="},
    "compare": {"a": "churn@3", "b": "churn@5",
                "diff": [r["key"] for r in cmp if r["differs"] and r["key"].startswith("metrics.")],
                "same": [r["key"] for r in cmp if not r["differs"] and r["key"] in ("state", "params.lr")]},
}
json.dump(E, open(out, "w"), indent=1)
EOF
"$PY" -c 'import json, sys; e = json.load(open(sys.argv[1])); print("    models", e["adminModels"], "| churn@6 lineage", e["version"]["lineage"], "| find", e["find"]["results"])' "$WORK/expect.json"

check "a second registry: one model of $LARGE versions (find_bench fill), production at v$LARGE_ALIAS"
LROOT=$WORK/large
ok "$FIND_BENCH" fill "$LROOT" 1 "$LARGE"
ok mf alias "$LROOT" "model-0001@$LARGE_ALIAS" production

check "modelfs serve on free loopback ports: the registry (--auth-header X-Remote-User), the large one"
SERVE_PIDS=() SERVE_LOGS=()
# stop_serves: SIGTERM to each serve; fails (after stopping all) unless each
# stopped in 10 s with status 0 (also what a sanitizer's report would change).
stop_serves() {
  local i p rc bad=0
  for i in "${!SERVE_PIDS[@]}"; do
    p=${SERVE_PIDS[$i]}
    kill -TERM "$p" 2>/dev/null
    wait_pid_exit "$p" 10 || { kill -9 "$p" 2>/dev/null; echo "modelfs serve (pid $p) ignored SIGTERM for 10 s"; }
    rc=0
    wait "$p" 2>/dev/null || rc=$?
    if [ "$rc" -ne 0 ]; then
      echo "modelfs serve (pid $p) exited $rc after SIGTERM; its log ends:"
      tail -n 30 "${SERVE_LOGS[$i]}"
      bad=1
    fi
  done
  SERVE_PIDS=() SERVE_LOGS=()
  return $bad
}
on_exit stop_serves
# start_serve LOG ARGS...: `modelfs serve ARGS` on port 0 (the kernel picks a
# free one and serve says which: "serving ROOT on URL"); sets URL.
start_serve() {
  local log=$1 pid
  shift
  "$MODELFS" serve "$@" --listen 127.0.0.1:0 >"$log" 2>&1 &
  pid=$!
  SERVE_PIDS+=("$pid") SERVE_LOGS+=("$log")
  wait_until 15 eval "grep -q ' on http://127\\.0\\.0\\.1:[0-9]*/' '$log' || ! pid_alive $pid" ||
    die "modelfs serve did not say where it listens in 15 s: $(cat "$log")"
  pid_alive "$pid" || die "modelfs serve exited: $(cat "$log")"
  URL=$(grep -o ' on http://127\.0\.0\.1:[0-9]*' "$log" | head -n1 | sed 's/^ on //')
  curl -s -o /dev/null --max-time 5 "$URL/" || die "modelfs serve does not answer on $URL: $(cat "$log")"
  echo "    serving $URL (pid $pid)"
}
SERVE_LOG=$WORK/serve.log
start_serve "$SERVE_LOG" "$ROOT" --auth-header X-Remote-User
BASE=$URL
start_serve "$WORK/serve-large.log" "$LROOT"
"$PY" - "$WORK/expect.json" "$BASE" "$URL" "$LARGE" "$LARGE_ALIAS" <<'EOF'
import json, sys
f, base, lbase, n, alias = sys.argv[1:]
e = json.load(open(f))
e["base"] = base
e["large"] = {"base": lbase, "model": "model-0001", "versions": int(n), "metric": "m0",
              "aliases": {"production": int(alias)}, "maxFirstByteMs": 1000}
json.dump(e, open(f, "w"), indent=1)
EOF

check "the pages in chromium (headless), as mf-carol and as root"
rc=0
browser check "$WORK/expect.json" "$SCREENSHOTS_DIR" || rc=$?
check "each modelfs serve stops on SIGTERM, status 0"
stop_serves || die "modelfs serve did not stop cleanly (above)"
echo "    ok"
[ "$rc" -eq 0 ] || {
  echo "serve's log (last lines):"
  tail -n 20 "$SERVE_LOG"
  die "browser checks failed (above)"
}
pass
