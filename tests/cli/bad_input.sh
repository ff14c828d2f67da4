#!/usr/bin/env bash
# Bad input to the command line (SPEC §3 names, §5 commands): each case must
# fail with exit 1 (2 for usage), print exactly one line on stderr that starts
# with "modelfs: " and names the offending thing, print nothing on stdout,
# and change nothing: the audit log, list --json of every model, the blob
# store and staging/ are compared before and after every case.
# A model or version argument that is malformed (MODEL, MODEL@N, MODEL@ALIAS)
# is a usage error, exit 2; one that is well formed but names nothing that
# exists is a failure, exit 1.
. "$TESTS_DIR/cli/common.sh"

R=$WORK/reg
S=$WORK/src
mkdir -p "$S/sub"
printf 'weights' >"$S/model.bin"
printf 'cfg' >"$S/sub/config.json"
ok mf init "$R"
ok mf push "$R" churn "$S" --metric auc=0.9
ok mf push "$R" churn "$S" --alias production
printf 'other' >"$WORK/other.bin"
ok mf push "$R" churn "$WORK/other.bin"
ok mf archive "$R" churn@3
assert_eq archived "$(mf show "$R" churn@3 --json | jpy 'j["state"]')" "setup: churn@3 archived"

# state ROOT: everything a failed command must not change.
state() {
  local root=$1
  echo "== log"
  mf log "$root" --json || echo "log failed"
  echo "== models"
  mf list "$root" --json || echo "list failed"
  local m
  for m in $(mf list "$root" --json | jpy '" ".join(x["model"] for x in j)'); do
    echo "== versions of $m"
    mf list "$root" "$m" --json || echo "list $m failed"
  done
  echo "== blobs"
  (cd "$root/blobs" && find . -printf '%p %s %m\n' | sort)
  echo "== staging"
  (cd "$root/staging" && find . -printf '%p %s\n' | sort)
}

# bad [-u] [-r ROOT] EXIT WORD CMD...: CMD fails as assert_fails says and
# ROOT's state is unchanged. -u: a usage error (exit 2, a hint line allowed).
CASES=0
bad() {
  local usage=0 root=$R
  while :; do
    case "$1" in
      -u) usage=1; shift ;;
      -r) root=$2; shift 2 ;;
      *) break ;;
    esac
  done
  local want=$1 word=$2
  shift 2
  state "$root" >"$WORK/state.before"
  if [ $usage = 1 ]; then assert_usage "$word" "$@"; else assert_fails "$want" "$word" "$@"; fi
  state "$root" >"$WORK/state.after"
  diff -u "$WORK/state.before" "$WORK/state.after" >"$WORK/state.diff" ||
    die "the registry changed after a failed command: $*
$(head -n 40 "$WORK/state.diff")"
  CASES=$((CASES + 1))
}

check "invalid model names (SPEC §3: ^[a-z0-9][a-z0-9._-]{0,127}\$): usage errors"
long=$(printf 'a%.0s' $(seq 129))
bad -u 2 "Upper" mf push "$R" Upper "$S"
bad -u 2 "-lead" mf push "$R" -- -lead "$S"
bad -u 2 "_lead" mf push "$R" _lead "$S"
bad -u 2 "a/b" mf push "$R" a/b "$S"
bad -u 2 '".."' mf push "$R" .. "$S"
bad -u 2 '"."' mf push "$R" . "$S"
bad -u 2 "empty" mf push "$R" "" "$S"
bad -u 2 "128" mf push "$R" "$long" "$S"
bad -u 2 "a b" mf push "$R" "a b" "$S"
bad -u 2 "Upper" mf show "$R" Upper
bad -u 2 "Upper" mf show "$R" Upper@1
bad -u 2 "Upper" mf list "$R" Upper
bad -u 2 "Upper" mf log "$R" Upper
bad -u 2 "a/b" mf set "$R" a/b@1 tags.x=1
bad -u 2 "a/b" mf alias "$R" a/b@1 staging
bad -u 2 "Upper" mf alias "$R" --delete Upper staging
bad -u 2 "Upper" mf approve "$R" Upper@1
bad -u 2 "Upper" mf seal "$R" Upper@1
bad -u 2 "Upper" mf archive "$R" Upper@1
run mf push "$R" "$(printf 'a%.0s' $(seq 128))" "$S"
assert_eq 0 "$RC" "a 128-character model name is valid (exit status)"
ok mf list "$R"
assert_contains "$OUT" "$(printf 'a%.0s' $(seq 128))" "list after pushing a 128-character name"

check "invalid alias names (SPEC §3: ^[a-z][a-z0-9_-]{0,63}\$, not latest, not v<digits>)"
bad 1 "latest" mf alias "$R" churn@1 latest
bad 1 "v3" mf alias "$R" churn@1 v3
bad 1 "Prod" mf alias "$R" churn@1 Prod
bad 1 "1abc" mf alias "$R" churn@1 1abc
bad 1 "a/b" mf alias "$R" churn@1 a/b
bad 1 "a.b" mf alias "$R" churn@1 a.b
bad 1 "64" mf alias "$R" churn@1 "$(printf 'a%.0s' $(seq 65))"
bad 1 "latest" mf push "$R" churn "$S" --alias latest
bad 1 "v12" mf push "$R" churn "$S" --alias v12
bad 1 "Prod" mf push "$R" churn "$S" --alias Prod
bad 1 "latest" mf alias "$R" --delete churn latest
bad -u 2 "churn@v0" mf show "$R" churn@v0
bad -u 2 "churn@v01" mf show "$R" churn@v01

check "paths push cannot read"
bad 1 "$WORK/missing" mf push "$R" churn "$WORK/missing"
bad 1 "$WORK/missing" mf push "$R" churn "$S/model.bin" "$WORK/missing"
bad 1 "$WORK/missing" mf push "$R" newmodel "$WORK/missing"
mkfifo "$WORK/fifo"
bad 1 "neither a regular file nor a directory" mf push "$R" churn "$WORK/fifo"
bad 1 "$WORK/fifo" mf push "$R" churn "$S/model.bin" "$WORK/fifo"
mkdir -p "$WORK/withfifo"
cp "$S/model.bin" "$WORK/withfifo/"
mkfifo "$WORK/withfifo/pipe"
bad 1 "pipe" mf push "$R" churn "$WORK/withfifo"
"$PY" -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$WORK/sock"
bad 1 "neither a regular file nor a directory" mf push "$R" churn "$WORK/sock"
mkdir -p "$WORK/emptydir"
bad 1 "nothing to push" mf push "$R" churn "$WORK/emptydir"
bad 1 "give it by a name" mf push "$R" churn "$S" "$S/."

check "malformed --metric/--param/--tag and metric values that are not finite numbers"
bad 1 '"auc"' mf push "$R" churn "$S" --metric auc
bad 1 "abc" mf push "$R" churn "$S" --metric auc=abc
bad 1 "nan" mf push "$R" churn "$S" --metric auc=nan
bad 1 "inf" mf push "$R" churn "$S" --metric auc=inf
bad 1 "-inf" mf push "$R" churn "$S" --metric auc=-inf
bad 1 "1e999" mf push "$R" churn "$S" --metric auc=1e999
bad 1 "auc" mf push "$R" churn "$S" --metric auc=
bad 1 "0x10" mf push "$R" churn "$S" --metric auc=0x10
bad 1 "=x" mf push "$R" churn "$S" --param =x
bad 1 "=1" mf push "$R" churn "$S" --metric =1
bad 1 "a/b" mf push "$R" churn "$S" --tag a/b=1
bad 1 "key" mf push "$R" churn "$S" --tag "$(printf 'k%.0s' $(seq 129))=1"
bad 1 "abc" mf set "$R" churn@1 metrics.auc=abc
bad 1 "nan" mf set "$R" churn@1 metrics.auc=nan
bad 1 "1e999" mf set "$R" churn@1 metrics.auc=1e999
bad 1 "auc" mf set "$R" churn@1 metrics.auc
bad 1 "a b" mf set "$R" churn@1 "tags.a b=1"
# One bad change among good ones: none of them is applied.
bad 1 "abc" mf set "$R" churn@1 tags.team=growth metrics.auc=abc

check "set with an unknown key family"
bad 1 "foo.bar" mf set "$R" churn@1 foo.bar=1
bad 1 "colour" mf set "$R" churn@1 colour=red
bad 1 "metrics." mf set "$R" churn@1 metrics.=1
bad 1 "lineage.colour" mf set "$R" churn@1 lineage.colour=x

check "lineage parents that do not exist (exit 1) or are not MODEL@N (usage)"
bad 1 "churn@99" mf push "$R" churn "$S" --parent churn@99
bad 1 "nosuch" mf push "$R" churn "$S" --parent nosuch@1
bad -u 2 '"churn"' mf push "$R" churn "$S" --parent churn
bad -u 2 "churn@production" mf push "$R" churn "$S" --parent churn@production
bad -u 2 "churn@0" mf push "$R" churn "$S" --parent churn@0
bad -u 2 "Upper" mf push "$R" churn "$S" --parent Upper@1
bad -u 2 "churn@0" mf push "$R" churn "$S" --parent churn@1 --parent churn@0
bad 1 "churn@99" mf set "$R" churn@1 lineage.parents=churn@99
bad 1 "churn@2" mf set "$R" churn@1 lineage.parents=churn@2
bad 1 "xxh3" mf push "$R" churn "$S" --dataset "s3://d#xxh3:nothex"

check "values over 4096 bytes"
big=$(head -c 4097 /dev/zero | tr '\0' x)
bad 1 "4096" mf push "$R" churn "$S" --description "$big"
bad 1 "4096" mf push "$R" churn "$S" --param "p=$big"
bad 1 "4096" mf set "$R" churn@1 "tags.t=$big"
bad 1 "4096" mf set "$R" churn@1 "description=$big"
ok mf set "$R" churn@1 "tags.t=$(head -c 4096 /dev/zero | tr '\0' x)"
assert_eq 4096 "$(mf show "$R" churn@1 --json | jpy 'len(j["tags"]["t"])')" "a 4096-byte value is accepted"

check "versions and aliases that do not exist (exit 1); alias to an archived version"
bad 1 "churn@9" mf alias "$R" churn@9 staging
bad 1 "nosuch" mf alias "$R" nosuch@1 staging
bad 1 "archived" mf alias "$R" churn@3 staging
bad 1 "archived" mf alias "$R" churn@3 production
bad 1 "staging" mf alias "$R" --delete churn staging
bad 1 "nosuch" mf alias "$R" --delete nosuch staging
bad 1 "churn@9" mf show "$R" churn@9
bad 1 "staging" mf show "$R" churn@staging
bad 1 "abc" mf show "$R" churn@abc
bad 1 "nosuch" mf show "$R" nosuch
bad 1 "nosuch" mf show "$R" nosuch@1
bad 1 "nosuch" mf list "$R" nosuch
bad 1 "churn@9" mf set "$R" churn@9 tags.x=1
bad 1 "churn@9" mf approve "$R" churn@9
bad 1 "churn@9" mf seal "$R" churn@9
bad 1 "churn@9" mf archive "$R" churn@9
bad 1 "production" mf archive "$R" churn@2

check "references that are not MODEL@N where a version is needed, or do not parse: usage errors"
bad -u 2 "MODEL@N" mf alias "$R" churn staging
bad -u 2 "MODEL@N" mf alias "$R" churn@staging production
bad -u 2 "MODEL@N" mf approve "$R" churn
bad -u 2 "MODEL@N" mf seal "$R" churn@latest
bad -u 2 "MODEL@N" mf archive "$R" churn
bad -u 2 "MODEL@N" mf set "$R" churn tags.x=1
bad -u 2 "churn@" mf show "$R" churn@
bad -u 2 "churn@0" mf show "$R" churn@0
bad -u 2 "churn@01" mf show "$R" churn@01
bad -u 2 "churn@1x" mf set "$R" churn@1x tags.x=1
bad -u 2 '"-1"' mf approve "$R" churn@-1
bad -u 2 "model name is empty" mf show "$R" @1
bad -u 2 "churn/x" mf alias "$R" --delete churn/x staging

check "ROOT that is not a registry: an empty directory, a file, a missing path"
mkdir -p "$WORK/notreg"
printf 'x' >"$WORK/afile"
for root in "$WORK/notreg" "$WORK/afile" "$WORK/missing-root"; do
  bad 1 "$root" mf push "$root" churn "$S"
  bad 1 "$root" mf show "$root" churn
  bad 1 "$root" mf list "$root"
  bad 1 "$root" mf log "$root"
  bad 1 "$root" mf gc "$root"
  bad 1 "$root" mf fsck "$root"
  bad 1 "$root" mf set "$root" churn@1 tags.a=b
done
assert_eq "" "$(ls -A "$WORK/notreg")" "an empty non-registry directory stays empty"
assert_eq "x" "$(cat "$WORK/afile")" "a file given as ROOT is untouched"
[ ! -e "$WORK/missing-root" ] || die "a missing ROOT was created"

check "usage errors: exit 2"
bad -u 2 "PATH" mf push "$R" churn
bad -u 2 "--bogus" mf push "$R" churn "$S" --bogus
bad -u 2 "--metric" mf push "$R" churn "$S" --metric

# ---------------------------------------------------------------- as nobody
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
if ! "${NOBODY[@]}" true 2>/dev/null; then
  die "cannot run as nobody with setpriv (this test runs as root)"
fi
# The binary must be reachable by nobody wherever the build tree is.
cp "$MODELFS" "$WORK/modelfs"
chmod 755 "$WORK/modelfs"
nb() { timeout -k 5 "$MF_TIMEOUT" "${NOBODY[@]}" "$WORK/modelfs" "$@"; }

check "ROOT the caller may not open (0700, owned by root) run as nobody: permission denied"
assert_eq 700 "$(stat -c %a "$R")" "mode of ROOT"
bad 1 "permission denied" nb list "$R"
bad 1 "permission denied" nb show "$R" churn
bad 1 "permission denied" nb push "$R" churn "$S"
bad 1 "$R" nb push "$R" churn "$S"

check "unreadable input files (run as nobody against a registry nobody owns)"
NR=$WORK/nreg
ok mf init "$NR"
chown -R nobody:nogroup "$NR"
U=$WORK/unreadable
mkdir -p "$U/in/closed"
printf 'readable' >"$U/in/ok.bin"
printf 'secret' >"$U/secret.bin"
chmod 000 "$U/secret.bin"
printf 'inside' >"$U/in/closed/x"
chmod 755 "$U" "$U/in"
chmod 644 "$U/in/ok.bin"
chmod 700 "$U/in/closed"
ok nb push "$NR" seed "$U/in/ok.bin"
assert_eq "seed@1" "$OUT" "a push as nobody works"
bad -r "$NR" 1 "$U/secret.bin" nb push "$NR" churn "$U/secret.bin"
bad -r "$NR" 1 "permission denied" nb push "$NR" churn "$U/in/ok.bin" "$U/secret.bin"
bad -r "$NR" 1 "$U/in/closed" nb push "$NR" churn "$U/in"
bad -r "$NR" 1 "$U/secret.bin" nb push "$NR" seed "$U/in/ok.bin" "$U/secret.bin"
chmod 755 "$U/in/closed"
chmod 600 "$U/in/closed/x"
bad -r "$NR" 1 "$U/in/closed/x" nb push "$NR" seed "$U/in"

check "init refuses a directory that is not empty (and leaves it as it was)"
mkdir -p "$WORK/home"
printf 'x' >"$WORK/home/notes.txt"
chmod 755 "$WORK/home"
bad -r "$R" 1 "$WORK/home" mf init "$WORK/home"
assert_eq "notes.txt" "$(ls -A "$WORK/home")" "entries of a non-empty directory after init"
assert_eq 755 "$(stat -c %a "$WORK/home")" "mode of a non-empty directory after init"
bad 1 "$WORK/afile" mf init "$WORK/afile"

echo "checked $CASES failing commands"
pass
