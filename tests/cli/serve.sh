#!/usr/bin/env bash
# `modelfs serve` (SPEC §9, issue 13): each page answers 200 with the DOM
# ids and data- attributes the browser tests rely on; each /api/v1 endpoint
# has the CLI's --json fields; server-sent events follow a push; the policy
# applies to the identity of each request (--auth-header from loopback
# only); a taken port is a clear error; SIGTERM stops it cleanly.
. "$TESTS_DIR/lib.sh"  # common.sh and wait_until
. "$TESTS_DIR/users.sh"

R=$WORK/reg
S=$WORK/src
mkdir -p "$S"
printf 'weights\n' >"$S/model.bin"
ok mf init "$R"
printf '%s\n' '[defaults]
read    = ["*"]
create  = ["*"]
write   = ["*"]
promote = ["user:root"]
approve = ["user:root"]
admin   = ["user:root"]

[[models]]
match = "secret"
read  = ["user:root"]' >"$R/policy.toml"
ok mf policy check "$R/policy.toml"
ok mf push "$R" churn "$S/model.bin" --metric auc=0.91 --metric loss=0.3
ok mf push "$R" churn "$S/model.bin" --metric auc=0.95 --metric loss=0.2
ok mf push "$R" churn "$S/model.bin" --metric auc=0.93
ok mf alias "$R" churn@2 production
ok mf approve "$R" churn@2
ok mf push "$R" fraud "$S/model.bin" --metric auc=0.7
ok mf set "$R" fraud@1 lineage.parents=churn@2
ok mf push "$R" secret "$S/model.bin" --metric auc=0.99

# start_serve NAME ARGS...: runs `modelfs serve ARGS...` in the background
# (stderr in $WORK/NAME.log), killed at exit; waits (bounded) for its
# "serving ... on http://HOST:PORT/" line and sets SPID and SURL.
start_serve() {
  local name=$1
  shift
  "$MODELFS" serve "$@" 2>"$WORK/$name.log" &
  SPID=$!
  on_exit "kill -KILL $SPID 2>/dev/null; wait $SPID 2>/dev/null"
  wait_until 10 grep -q 'on http://' "$WORK/$name.log" ||
    die "serve did not start: $(cat "$WORK/$name.log")"
  SURL=$(grep -o 'http://[^ ]*[0-9]/' "$WORK/$name.log" | head -1)
  SURL=${SURL%/}
}
# stop_serve PID: SIGTERM, then waits at most 5 s (SIGKILL past that);
# STOP_RC is its exit status, STOP_MS how long it took.
stop_serve() {
  local pid=$1 t0 watchdog
  t0=$(date +%s%N)
  kill -TERM "$pid"
  (sleep 5; kill -KILL "$pid" 2>/dev/null) &
  watchdog=$!
  STOP_RC=0
  wait "$pid" || STOP_RC=$?
  kill "$watchdog" 2>/dev/null
  STOP_MS=$((($(date +%s%N) - t0) / 1000000))
}
# get PATH [CURL ARGS...]: GET $SURL/PATH, bounded; CODE, BODY (and TYPE).
get() {
  local path=$1
  shift
  local meta
  meta=$(curl -s --max-time 10 -o "$WORK/body" -w '%{http_code} %{content_type}' "$@" "$SURL$path") || true
  CODE=${meta%% *}
  TYPE=${meta#* }
  BODY=$(cat "$WORK/body")
}
page_ok() {  # PATH NEEDLE...: 200, HTML, and each NEEDLE in the body
  local path=$1
  shift
  get "$path"
  assert_eq 200 "$CODE" "status of $path"
  assert_contains "$TYPE" "text/html" "content type of $path"
  local n
  for n in "$@"; do assert_contains "$BODY" "$n" "$path"; done
}
count() { grep -o -- "$1" <<<"$BODY" | wc -l; }  # NEEDLE: occurrences in BODY

start_serve main "$R" --listen 127.0.0.1:0 --auth-header X-User
MAIN_PID=$SPID
MAIN_URL=$SURL

# ---------------------------------------------------------------- pages
check "/: table#models, a row per model with owner, latest, aliases, last used"
page_ok / '<table id="models">' '<tr data-model="churn">' '<tr data-model="fraud">' \
  '<tr data-model="secret">' '<meta name="viewport"' '/static/style.css'
assert_contains "$BODY" 'production → <a href="/m/churn/v2">' "churn's aliases"

check "/m/churn: table#versions with metric columns, one chart per metric, alias markers, the card"
page_ok /m/churn '<table id="versions">' '<th data-key="version">' '<th data-key="metrics.auc">' \
  '<th data-key="metrics.loss">' '<tr data-version="3">' '<td class="num" data-value="0.95">' \
  '<svg class="chart" data-metric="metrics.auc"' '<svg class="chart" data-metric="metrics.loss"' \
  '<g class="alias" data-alias="production" data-version="2">' 'id="card"'
# Points per chart: auc on 3 versions, loss on 2 (v3 has none).
auc_pts=$(sed 's/<svg /\n<svg /g' <<<"$BODY" | grep 'data-metric="metrics.auc"' | grep -o 'class="pt"' | wc -l)
loss_pts=$(sed 's/<svg /\n<svg /g' <<<"$BODY" | grep 'data-metric="metrics.loss"' | grep -o 'class="pt"' | wc -l)
assert_eq "3 2" "$auc_pts $loss_pts" "chart points (auc loss)"
assert_eq 3 "$(count '<tr data-version=')" "version rows"
# Newest first by default.
assert_eq "3 2 1" "$(grep -o '<tr data-version="[0-9]*"' <<<"$BODY" | grep -o '[0-9]*' | xargs)" "row order"
# Sent as is, whatever the client accepts: the library's brotli took
# seconds on a large page (see web/server.cc).
enc=$(curl -s --max-time 10 -o /dev/null -D - -H 'Accept-Encoding: br, gzip, deflate' "$SURL/m/churn" |
  tr -d '\r' | grep -i '^content-encoding:' || true)
assert_eq "" "$enc" "Content-Encoding of a page asked with Accept-Encoding: br, gzip"

check "/m/churn?per=2: pages of 2 rows, newest first, with a link to the next page"
page_ok '/m/churn?per=2' 'rel="next"'
assert_eq "3 2" "$(grep -o '<tr data-version="[0-9]*"' <<<"$BODY" | grep -o '[0-9]*' | xargs)" "page 1"
page_ok '/m/churn?per=2&page=2' 'rel="prev"'
assert_eq "1" "$(grep -o '<tr data-version="[0-9]*"' <<<"$BODY" | grep -o '[0-9]*' | xargs)" "page 2"
check "?sort=-metrics.auc orders every version on the server, missing values last"
page_ok '/m/churn?sort=-metrics.loss'
assert_eq "1 2 3" "$(grep -o '<tr data-version="[0-9]*"' <<<"$BODY" | grep -o '[0-9]*' | xargs)" "by -loss"
page_ok '/m/churn?sort=metrics.auc'
assert_eq "1 3 2" "$(grep -o '<tr data-version="[0-9]*"' <<<"$BODY" | grep -o '[0-9]*' | xargs)" "by auc"
get '/m/churn?sort=metrics.nope'
assert_eq 400 "$CODE" "unknown sort key"

check "/m/churn/v2 and /m/churn/production: files, metadata, approvals, lineage, audit"
for p in /m/churn/v2 /m/churn/production /m/churn/2; do
  page_ok "$p" '<table id="files">' '<tr data-path="model.bin">' '<dl id="metadata">' \
    '<dd data-key="metrics.auc">0.95</dd>' '<table id="approvals">' '<svg id="lineage"' \
    '<g class="node root" data-id="churn@2"' '<g class="node" data-id="fraud@1"' '<table id="audit">'
done
# Its audit trail: push, alias, approve (in that order), and only its own.
assert_eq "push alias approve" \
  "$(sed -n '/<table id="audit">/,/<\/table>/p' <<<"$BODY" | grep -o '<tr data-seq="[0-9]*"><td>[0-9]*</td><td>[^<]*</td><td>[^<]*</td><td>[a-z]*' | sed 's/.*<td>//' | xargs)" \
  "audit actions of churn@2"
assert_eq 1 "$(sed -n '/<table id="approvals">/,/<\/table>/p' <<<"$BODY" | grep -c '<tr data-seq=')" "approval rows"
page_ok /m/fraud/v1 '<g class="node root" data-id="fraud@1"' '<g class="node" data-id="churn@2"'

check "/find: the §8 language, table#results; a bad expression is a 400 with the caret"
page_ok '/find?q=metrics.auc+%3E%3D+0.93+and+model+%3D+%22churn%22' '<table id="results">'
assert_eq 'churn 2,churn 3' \
  "$(grep -o '<tr data-model="[^"]*" data-version="[0-9]*"' <<<"$BODY" | sed 's/.*model="\([^"]*\)" data-version="\([0-9]*\)"/\1 \2/' | paste -sd,)" \
  "find results"
get '/find?q=metrics.auc+%3E%3E+1'
assert_eq 400 "$CODE" "bad expression"
assert_contains "$BODY" "bad expression at column 14" "bad expression"
assert_contains "$BODY" '<pre class="error">metrics.auc &gt;&gt; 1' "the caret's line"

check "/compare: table#compare, the rows that differ marked .diff"
page_ok '/compare?v=churn@1&v=churn@production' '<table id="compare">' '<th data-ref="churn@2">' \
  '<tr data-key="metrics.auc" class="diff">'
assert_not_contains "$BODY" '<tr data-key="state" class="diff">' "compare (same state)"

check "static files are served by modelfs itself; unknown pages are 404"
get /static/style.css && assert_eq "200 text/css; charset=utf-8" "$CODE $TYPE" "style.css"
assert_contains "$BODY" "@media print" "style.css"
get /static/sort.js && assert_eq 200 "$CODE" "sort.js"
assert_contains "$BODY" "aria-sort" "sort.js"
for p in /m/nope /m/churn/v9 /m/churn/nosuchalias /nope /static/nope.css; do
  get "$p"
  assert_eq 404 "$CODE" "status of $p"
done

# ---------------------------------------------------------------- API
check "/api/v1/models: the list --json shape"
get /api/v1/models
assert_eq "200 application/json" "$CODE $TYPE" "models"
ok mf list "$R" --json
echo "$OUT" >"$WORK/list.json"
echo "$BODY" >"$WORK/api_models.json"
"$PY" - "$WORK/list.json" "$WORK/api_models.json" <<'PY' || die "/api/v1/models differs from list --json"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a == b, (a, b)
assert [m["model"] for m in b] == ["churn", "fraud", "secret"]
for k in ("model", "versions", "latest", "aliases", "owner", "description", "created_at"):
    assert k in b[0], k
assert b[0]["aliases"] == {"production": 2} and b[0]["latest"] == 3
PY
check "/api/v1/models/churn: its versions, as list churn --json"
get /api/v1/models/churn
ok mf list "$R" churn --json
assert_eq "$(echo "$OUT" | jpy 'json.dumps(j, sort_keys=True)')" "$(echo "$BODY" | jpy 'json.dumps(j, sort_keys=True)')" "versions"
check "/api/v1/models/churn/versions/N|vN|ALIAS: show --json"
ok mf show "$R" churn@2 --json
want=$(echo "$OUT" | jpy 'json.dumps(j, sort_keys=True)')
for ref in 2 v2 production; do
  get /api/v1/models/churn/versions/$ref
  assert_eq "200" "$CODE" "versions/$ref"
  assert_eq "$want" "$(echo "$BODY" | jpy 'json.dumps(j, sort_keys=True)')" "versions/$ref"
done
check "/api/v1/find: an array of show --json objects; errors are {error, status}"
get '/api/v1/find?q=metrics.auc+%3E%3D+0.93&sort=-metrics.auc'
assert_eq "secret@1 churn@2 churn@3" "$(echo "$BODY" | jpy '" ".join("%s@%d" % (v["model"], v["version"]) for v in j)')" "find"
get '/api/v1/find?q=metrics.auc+%3E%3E'
assert_eq "400 400 14" "$CODE $(echo "$BODY" | jpy '"%d %d" % (j["status"], j["column"])')" "bad find"
get /api/v1/models/nope
assert_eq "404 404" "$CODE $(echo "$BODY" | jpy 'j["status"]')" "unknown model"
assert_contains "$(echo "$BODY" | jpy 'j["error"]')" "nope" "error message"
get /api/v1/nope
assert_eq "404 application/json" "$CODE $TYPE" "unknown endpoint"

check "/api/v1/events: the event log as JSON (events --json), or server-sent events"
get '/api/v1/events?since=2'
ok mf events "$R" --since 2 --json
assert_eq "$(echo "$OUT" | "$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin], sort_keys=True))')" \
  "$(echo "$BODY" | jpy 'json.dumps(j, sort_keys=True)')" "events since 2"
last=$(echo "$BODY" | jpy 'j[-1]["seq"]')
curl -sN --max-time 30 -H 'Accept: text/event-stream' "$SURL/api/v1/events?since=$last" >"$WORK/sse.out" &
CURL_PID=$!
on_exit "kill $CURL_PID 2>/dev/null"
# The stream opens with a comment once it is subscribed.
wait_until 10 grep -q '^: events after' "$WORK/sse.out" || die "the event stream did not start"
ok mf push "$R" churn "$S/model.bin" --metric auc=0.97
wait_until 10 grep -q '"object":"churn@4"' "$WORK/sse.out" ||
  die "no event for the push within 10 s: $(cat "$WORK/sse.out")"
ev=$(grep -B1 '"object":"churn@4"' "$WORK/sse.out")
assert_contains "$ev" "id: $((last + 1))" "event id"
assert_eq "version.ready" "$(grep '^data: ' <<<"$ev" | sed 's/^data: //' | jpy 'j["type"]')" "event type"
assert_eq 0 "$(grep -c "^id: $last\$" "$WORK/sse.out")" "events at or before since"
check "the model page shows the new version at once (its cached view is per change)"
page_ok /m/churn '<tr data-version="4">'
assert_eq 4 "$(sed 's/<svg /\n<svg /g' <<<"$BODY" | grep 'data-metric="metrics.auc"' | grep -o 'class="pt"' | wc -l)" "auc points after the push"
check "Last-Event-ID resumes after that event"
curl -sN --max-time 2 -H 'Accept: text/event-stream' -H "Last-Event-ID: $last" "$SURL/api/v1/events?since=0" >"$WORK/sse2.out"
assert_eq "id: $((last + 1))" "$(grep '^id:' "$WORK/sse2.out" | head -1)" "first event after Last-Event-ID"

# ---------------------------------------------------------------- policy
check "--auth-header from loopback: mf-dave does not see secret, its pages and API are 403"
get / -H 'X-User: mf-dave'
assert_eq 200 "$CODE" "index as mf-dave"
assert_contains "$BODY" '<tr data-model="churn">' "index as mf-dave"
assert_not_contains "$BODY" 'data-model="secret"' "index as mf-dave"
for p in /m/secret /m/secret/v1 /m/secret/latest '/compare?v=secret@1&v=churn@1'; do
  get "$p" -H 'X-User: mf-dave'
  assert_eq 403 "$CODE" "$p as mf-dave"
done
get /api/v1/models -H 'X-User: mf-dave'
assert_eq "churn fraud" "$(echo "$BODY" | jpy '" ".join(m["model"] for m in j)')" "models as mf-dave"
for p in /api/v1/models/secret /api/v1/models/secret/versions/1; do
  get "$p" -H 'X-User: mf-dave'
  assert_eq "403 403" "$CODE $(echo "$BODY" | jpy 'j["status"]')" "$p as mf-dave"
  assert_contains "$(echo "$BODY" | jpy 'j["error"]')" "denied" "$p as mf-dave"
done
get '/api/v1/find?q=metrics.auc+%3E%3D+0.93' -H 'X-User: mf-dave'
assert_not_contains "$BODY" '"secret"' "find as mf-dave"
get '/find?q=' -H 'X-User: mf-dave'
assert_not_contains "$BODY" 'data-model="secret"' "find page as mf-dave"
get /api/v1/events -H 'X-User: mf-dave'
assert_eq "0" "$(echo "$BODY" | jpy 'sum(e["model"] == "secret" for e in j)')" "secret's events for mf-dave"
assert_ne "0" "$(echo "$BODY" | jpy 'len(j)')" "events for mf-dave"
curl -sN --max-time 2 -H 'Accept: text/event-stream' -H 'X-User: mf-dave' "$SURL/api/v1/events" >"$WORK/sse3.out"
assert_not_contains "$(cat "$WORK/sse3.out")" '"model":"secret"' "secret's events streamed to mf-dave"
assert_contains "$(cat "$WORK/sse3.out")" '"model":"churn"' "events streamed to mf-dave"
grep -q '^GET /m/secret 403 [0-9]* [0-9.]*ms mf-dave$' "$WORK/main.log" ||
  die "no request log line 'GET /m/secret 403 BYTES MSms mf-dave': $(tail -5 "$WORK/main.log")"
check "the serve user (root, no header) sees secret; a header naming no user is 403"
get /m/secret
assert_eq 200 "$CODE" "/m/secret as root"
get / -H 'X-User: mf-nosuchuser'
assert_eq 403 "$CODE" "an unknown user"

check "--auth-header from a non-loopback peer is ignored: the request is the serve user's"
ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.' | grep -v '^127\.' | head -1)
if [ -z "$ip" ]; then
  echo "SKIP: this host has no non-loopback IPv4 address (hostname -I): header-from-afar case not run"
else
  start_serve far "$R" --listen "$ip:0" --auth-header X-User
  get / -H 'X-User: mf-dave'
  assert_eq 200 "$CODE" "index from $ip"
  assert_contains "$BODY" 'data-model="secret"' "index from $ip with X-User: mf-dave"
  get /api/v1/models/secret -H 'X-User: mf-dave'
  assert_eq 200 "$CODE" "secret from $ip with X-User: mf-dave"
  grep -q "X-User ignored from $ip" "$WORK/far.log" || die "the log does not say the header was ignored"
  stop_serve "$SPID"
  assert_eq 0 "$STOP_RC" "exit status of the second server after SIGTERM"
  SURL=$MAIN_URL
fi

# ---------------------------------------------------------------- limits
check "bounded requests: a header line over 8 KiB and a body over 64 KiB are refused"
get / -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)"
[ "$CODE" -ge 400 ] && [ "$CODE" -lt 500 ] || die "a 9,000-byte header: status $CODE"
head -c 100000 /dev/zero >"$WORK/big"
get / -X POST --data-binary @"$WORK/big"
assert_eq 413 "$CODE" "a 100 KB body"

check "a taken port: exit 1 and 'HOST:PORT is in use'"
port=${MAIN_URL##*:}
run timeout 10 "$MODELFS" serve "$R" --listen "127.0.0.1:$port"
assert_eq 1 "$RC" "exit status on a taken port"
assert_contains "$ERR" "127.0.0.1:$port is in use" "message"
run timeout 10 "$MODELFS" serve "$R" --listen "127.0.0.1:http"
assert_eq 2 "$RC" "a bad --listen"

check "SIGTERM: in-flight streams end, exit 0 within 5 s"
curl -sN --max-time 30 -H 'Accept: text/event-stream' "$MAIN_URL/api/v1/events" >/dev/null &
CURL2=$!
on_exit "kill $CURL2 2>/dev/null"
sleep 0.3
stop_serve "$MAIN_PID"
assert_eq 0 "$STOP_RC" "exit status after SIGTERM (took $STOP_MS ms)"
[ "$STOP_MS" -lt 5000 ] || die "SIGTERM took $STOP_MS ms"
wait_until 5 bash -c "! kill -0 $CURL2 2>/dev/null" || die "the event stream did not end with the server"
grep -q 'stopping (SIGTERM)' "$WORK/main.log" || die "no stop line in the log"

pass
