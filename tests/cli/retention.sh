#!/usr/bin/env bash
# Retention through `modelfs gc` (SPEC §5, §6): [retention] keep_last keeps
# the newest N ready versions of each model that no alias points at; aliased
# versions are never removed; archived versions go at the next gc; `gc
# --dry-run` lists exactly what `gc` would remove and changes nothing; every
# removal is audited; blobs only removed versions used are deleted, shared
# ones stay; fsck is clean afterwards; version numbers are never reused.
# draft_ttl: drafts only come from the mount, so here we only check that a
# policy with draft_ttl parses and gc runs with it (the index unit tests
# cover draft expiry). audit_keep trims the audit trail.
. "$TESTS_DIR/cli/common.sh"

ROOT=$WORK/root
SRC=$WORK/src
mkdir -p "$SRC"

# mkver NAME: a version directory with a file shared by every version
# (shared.bin, identical bytes) and one unique to NAME (unique.bin).
mkver() {
  mkdir -p "$SRC/$1" || die "mkdir"
  printf 'the same base weights in every version\n' >"$SRC/$1/shared.bin"
  printf 'weights unique to %s\n' "$1" >"$SRC/$1/unique.bin"
  echo "$SRC/$1"
}

# push MODEL: pushes the next version of MODEL; leaves its number in V.
push() {
  local dir
  dir=$(mkver "$1-$(date +%s%N)")
  ok mf push "$ROOT" "$1" "$dir"
  V=${OUT#"$1@"}
  cp -r "$dir" "$SRC/$1@$V"  # keep the sources by version for verify_version
}

# digest_of MODEL@N FILE: the digest of FILE in that version.
digest_of() {
  mf show "$ROOT" "$1" --json >"$WORK/show.json" || die "show $1 failed"
  jpy "[f['digest'] for f in j['files'] if f['path'] == '$2'][0]" "$WORK/show.json"
}

# versions MODEL: the version numbers of MODEL, space separated.
versions() {
  mf list "$ROOT" "$1" --json >"$WORK/list.json" || die "list $1 failed"
  jpy '" ".join(str(v["version"]) for v in j)' "$WORK/list.json"
}

audit_count() { mf log "$ROOT" --json | jpy 'len(j)'; }

# ---------------------------------------------------------------------------
check "setup: keep_last = 2, draft_ttl = 7d; models m (6 versions), a (archived), b (3), n (2)"
ok mf init "$ROOT"
cat >>"$ROOT/policy.toml" <<'EOF'

[retention]
keep_last = 2
draft_ttl = "7d"
EOF
ok mf policy check "$ROOT/policy.toml"
for i in 1 2 3 4 5 6; do push m; assert_eq "$i" "$V" "version number of push $i of m"; done
ok mf alias "$ROOT" m@2 production  # old, but aliased: stays
ok mf alias "$ROOT" m@6 staging     # newest and aliased: not counted in keep_last
# m: ready without alias = 1 3 4 5 -> keep 4 5, remove 1 3
push a; push a
ok mf archive "$ROOT" a@1           # archived, no alias: goes at gc
push b; push b; push b
ok mf archive "$ROOT" b@3           # the highest number goes: must not be reused
# b: ready without alias = 1 2 -> nothing by keep_last; b@3 archived -> removed
push n; push n                      # exactly keep_last: nothing goes

declare -A UNIQ
for r in m@1 m@2 m@3 m@4 m@5 m@6 a@1 a@2 b@1 b@2 b@3 n@1 n@2; do
  UNIQ[$r]=$(digest_of "$r" unique.bin)
done
SHARED=$(digest_of m@1 shared.bin)
for r in a@1 b@3 n@2; do assert_eq "$SHARED" "$(digest_of "$r" shared.bin)" "shared.bin digest of $r"; done
GONE="a@1 b@3 m@1 m@3"
KEPT="a@2 b@1 b@2 m@2 m@4 m@5 m@6 n@1 n@2"
ok mf fsck "$ROOT"

# ---------------------------------------------------------------------------
check "gc --dry-run lists exactly the versions and blobs that would go, and changes nothing"
blobs_before=$(blob_listing "$ROOT")
audit_before=$(audit_count)
lists_before=$(for x in m a b n; do versions "$x"; done)
ok mf gc "$ROOT" --dry-run
DRY_TEXT=$OUT
echo "$DRY_TEXT" | sed 's/^/    /'
got=$(printf '%s\n' "$DRY_TEXT" | sed -n 's/^would remove version \([^ ]*\) .*/\1/p' | sort | tr '\n' ' ')
assert_eq "$GONE " "$got" "versions listed by gc --dry-run"
want_blobs=$(for r in $GONE; do d=${UNIQ[$r]}; echo "blobs/${d:0:2}/${d:2}"; done | sort | tr '\n' ' ')
got_blobs=$(printf '%s\n' "$DRY_TEXT" | sed -n 's/^would remove blob \(.*\)$/\1/p' | sort | tr '\n' ' ')
assert_eq "$want_blobs" "$got_blobs" "blobs listed by gc --dry-run"
assert_not_contains "$DRY_TEXT" "${SHARED:2}" "gc --dry-run output (the shared blob)"
assert_contains "$DRY_TEXT" "would free " "gc --dry-run output"
ok mf gc "$ROOT" --dry-run --json
assert_eq "$(printf '%s\n' "$DRY_TEXT" | grep -c '^would remove ')" \
  "$(printf '%s' "$OUT" | jpy 'len(j["removed"])')" "items in gc --dry-run --json vs text"
assert_eq true "$(printf '%s' "$OUT" | jpy 'j["dry_run"]')" "dry_run in gc --dry-run --json"
assert_eq "$blobs_before" "$(blob_listing "$ROOT")" "blob store after gc --dry-run"
assert_eq "$audit_before" "$(audit_count)" "audit records after gc --dry-run"
assert_eq "$lists_before" "$(for x in m a b n; do versions "$x"; done)" "versions after gc --dry-run"

# ---------------------------------------------------------------------------
check "gc removes them, audits each removal, deletes only their blobs; fsck is clean"
seq_before=$(mf log "$ROOT" --json | jpy 'max(r["seq"] for r in j)')
ok mf gc "$ROOT"
GC_TEXT=$OUT
echo "$GC_TEXT" | sed 's/^/    /'
got=$(printf '%s\n' "$GC_TEXT" | sed -n 's/^removed version \([^ ]*\) .*/\1/p' | sort | tr '\n' ' ')
assert_eq "$GONE " "$got" "versions removed by gc"
assert_eq "$(printf '%s\n' "$DRY_TEXT" | sed 's/^would remove /removed /; s/^would free /freed /')" \
  "$GC_TEXT" "gc output vs its dry run"
assert_eq "2 4 5 6" "$(versions m)" "versions of m after gc"
assert_eq "2" "$(versions a)" "versions of a after gc"
assert_eq "1 2" "$(versions b)" "versions of b after gc"
assert_eq "1 2" "$(versions n)" "versions of n after gc"
assert_eq 2 "$(mf show "$ROOT" m@production --json | jpy 'j["version"]')" "m@production after gc"
assert_eq 6 "$(mf show "$ROOT" m@staging --json | jpy 'j["version"]')" "m@staging after gc"
for r in $GONE; do
  assert_fails 1 "" mf show "$ROOT" "$r"
  b=$(blob_path "$ROOT" "${UNIQ[$r]}")
  [ ! -e "$b" ] || die "blob of $r's unique.bin survived gc: $b"
done
[ -f "$(blob_path "$ROOT" "$SHARED")" ] || die "the shared blob was removed by gc"
for r in $KEPT; do
  [ -f "$(blob_path "$ROOT" "${UNIQ[$r]}")" ] || die "blob of kept version $r was removed"
  verify_version "$ROOT" "$r" "$SRC/$r"
done
mf log "$ROOT" --json >"$WORK/log.json" || die "log failed"
"$PY" - "$WORK/log.json" "$seq_before" "$GONE" <<'EOF' || die "the audit trail does not record each gc removal (see above)"
import json, sys
log = [r for r in json.load(open(sys.argv[1])) if r["seq"] > int(sys.argv[2])]
gone = sys.argv[3].split()
bad = False
for ref in gone:
    model = ref.split("@")[0]
    recs = [r for r in log if r["action"] == "gc" and r["object"] == ref]
    if len(recs) != 1:
        print(f"expected one gc audit record for {ref}, found {len(recs)}: {recs}"); bad = True; continue
    r = recs[0]
    if r["model"] != model or r["allowed"] is not True or r["user"] != "root" or r["after"] != "removed":
        print(f"unexpected gc audit record for {ref}: {r}"); bad = True
others = [r for r in log if r["action"] == "gc" and r["object"] not in gone and r["object"] != "blobs"]
if others:
    print(f"gc audit records for versions it should not have removed: {others}"); bad = True
if not [r for r in log if r["action"] == "gc" and r["object"] == "blobs"]:
    print("no gc audit record for the removed blobs"); bad = True
sys.exit(1 if bad else 0)
EOF
ok mf fsck "$ROOT"
assert_contains "$OUT" "index consistent, 0 garbage item(s)" "fsck after gc"
ok mf fsck "$ROOT" --json
assert_eq '[]' "$(printf '%s' "$OUT" | jpy 'j["problems"] + j["garbage"]')" "fsck --json after gc"

check "a second gc finds nothing"
ok mf gc "$ROOT"
assert_not_contains "$OUT" "removed " "second gc"
assert_contains "$OUT" "freed 0 bytes" "second gc"

check "version numbers are never reused after gc"
push b
assert_eq 4 "$V" "next version of b after gc removed b@3 (its highest)"
push m
assert_eq 7 "$V" "next version of m after gc"
push a
assert_eq 3 "$V" "next version of a after gc"
ok mf show "$ROOT" m --json
assert_eq 7 "$(printf '%s' "$OUT" | jpy 'j["version"]')" "m (latest) after the push"

check "keep_last applies again as versions accumulate"
# m: ready without alias = 4 5 7 -> 4 goes; b: 1 2 4 -> 1 goes
ok mf gc "$ROOT" --dry-run
got=$(printf '%s\n' "$OUT" | sed -n 's/^would remove version \([^ ]*\) .*/\1/p' | sort | tr '\n' ' ')
assert_eq "b@1 m@4 " "$got" "versions listed by the next gc --dry-run"
ok mf gc "$ROOT"
assert_eq "2 5 6 7" "$(versions m)" "versions of m after the second retention gc"
assert_eq "2 4" "$(versions b)" "versions of b after the second retention gc"
ok mf fsck "$ROOT"

check "without [retention] gc removes no ready version"
sed -i '/^\[retention\]/,$d' "$ROOT/policy.toml"
ok mf policy check "$ROOT/policy.toml"
push n
ok mf gc "$ROOT"
assert_not_contains "$OUT" "removed version" "gc without [retention]"
assert_eq "1 2 3" "$(versions n)" "versions of n after gc without retention"

check "draft_ttl = \"1s\" parses and gc runs with it"
cat >>"$ROOT/policy.toml" <<'EOF'

[retention]
keep_last = 2
draft_ttl = "1s"
EOF
ok mf policy check "$ROOT/policy.toml"
ok mf gc "$ROOT" --dry-run
ok mf gc "$ROOT"
assert_eq "2 3" "$(versions n)" "versions of n after gc with keep_last 2"
ok mf fsck "$ROOT"
printf '[retention]\ndraft_ttl = "soon"\n' >"$WORK/bad.toml"
run mf policy check "$WORK/bad.toml"
assert_eq 1 "$RC" "policy check of a bad draft_ttl"
printf '%s\n' "$ERR$OUT" | grep -Eq "^$WORK/bad\.toml:2:[0-9]+: " || die "bad draft_ttl not reported as FILE:2:COL: [$ERR$OUT]"
printf '[retention]\nkeep_last = -1\n' >"$WORK/bad.toml"
run mf policy check "$WORK/bad.toml"
assert_eq 1 "$RC" "policy check of a negative keep_last"
printf '%s\n' "$ERR$OUT" | grep -Eq "^$WORK/bad\.toml:2:[0-9]+: " || die "negative keep_last not reported as FILE:2:COL: [$ERR$OUT]"

check "audit_keep = 5: gc keeps the newest 5 audit records, adds its own, numbers go on"
printf '\naudit_keep = 5\naudit_ttl = "52w"\n' >>"$ROOT/policy.toml"
ok mf policy check "$ROOT/policy.toml"
before=$(audit_count)
[ "$before" -gt 6 ] || die "too few audit records to trim: $before"
last=$(mf log "$ROOT" --json | jpy 'j[-1]["seq"]')
ok mf gc "$ROOT" --dry-run
assert_contains "$OUT" "would remove audit $((before - 5)) records" "gc --dry-run"
assert_eq "$before" "$(audit_count)" "audit records after gc --dry-run"
ok mf gc "$ROOT"
assert_contains "$OUT" "removed audit $((before - 5)) records" "gc"
mf log "$ROOT" --json >"$WORK/trail.json" || die "log failed"
assert_eq 6 "$(jpy 'len(j)' "$WORK/trail.json")" "audit records after gc"
assert_eq "$((last + 1))" "$(jpy 'j[-1]["seq"]' "$WORK/trail.json")" "the gc record's number"
assert_eq "gc audit trail removed" "$(jpy 'j[-1]["action"] + " " + j[-1]["object"] + " " + j[-1]["after"]' "$WORK/trail.json")" "the gc record"
printf '[retention]\naudit_keep = 0\n' >"$WORK/bad.toml"
run mf policy check "$WORK/bad.toml"
assert_eq 1 "$RC" "policy check of audit_keep = 0"
printf '%s\n' "$ERR$OUT" | grep -Eq "^$WORK/bad\.toml:2:14: \[retention\]\.audit_keep must be 1 or more" ||
  die "audit_keep = 0 not reported as FILE:2:14: [$ERR$OUT]"

pass
