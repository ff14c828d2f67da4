#!/usr/bin/env bash
# Everyday shell use of the CLI: --version and `version` (the CMake project
# version), "Usage: modelfs ..." (not the binary's path), an example in
# every --help, --quiet, human-readable sizes in tables with exact bytes in
# --json, did-you-mean for commands, options, models and aliases (never a
# model the caller may not read), and MODEL@vN as well as MODEL@N.
. "$TESTS_DIR/cli/common.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
S=$WORK/src
mkdir -p "$S"
head -c $((3 << 19)) /dev/zero | tr '\0' 'x' >"$S/weights.bin"  # 1.5 MiB
printf 'cfg' >"$S/config.json"
ok mf init "$R"
ok mf push "$R" churn "$S" --alias production
ok mf push "$R" churn "$S/config.json" --parent churn@v1
ok mf alias "$R" churn@2 staging

# ---------------------------------------------------------------- version
check "--version and version print the CMake project version"
want=$(sed -n 's/^project(modelfs VERSION \([0-9.]*\).*/\1/p' "$TESTS_DIR/../CMakeLists.txt")
[ -n "$want" ] || die "no VERSION in project() of CMakeLists.txt"
ok mf --version
assert_eq "modelfs $want" "$OUT" "--version"
ok mf version
assert_eq "modelfs $want" "$OUT" "version"

# ---------------------------------------------------------------- usage and examples
check "help says 'Usage: modelfs ...', never the binary's path"
ok mf --help
assert_contains "$OUT" "Usage: modelfs [OPTIONS] SUBCOMMAND" "modelfs --help"
assert_not_contains "$OUT" "$MODELFS" "modelfs --help"
ok mf show --help
assert_contains "$OUT" "Usage: modelfs show [ROOT] [OPTIONS] REF" "show --help"

check "every command's --help ends with an example (the list of commands from the completion)"
cmds=$(mf __complete 1 modelfs "")
assert_contains "$cmds" "show" "commands offered"
n=0
for c in $cmds "policy check"; do
  # shellcheck disable=SC2086
  run mf $c --help
  [ "$RC" -eq 0 ] || die "modelfs $c --help exited $RC: $ERR"
  assert_contains "$OUT" "Usage: modelfs $c" "modelfs $c --help"
  assert_contains "$OUT" "Example" "modelfs $c --help"
  assert_contains "$(printf '%s\n' "$OUT" | sed -n '/^Example/,$p')" "  modelfs " "the example of $c"
  n=$((n + 1))
done
[ "$n" -ge 16 ] || die "only $n commands checked"

# ---------------------------------------------------------------- did you mean
check "a misspelt command, option, model or alias: did you mean ...?"
assert_usage "did you mean show?" mf shwo "$R" churn
assert_usage "did you mean --json?" mf show "$R" churn --jsno
assert_usage "did you mean --dry-run?" mf gc "$R" --dry-rn
assert_fails 1 "did you mean churn?" mf show "$R" chrun@1
assert_fails 1 "did you mean churn@production?" mf show "$R" churn@prodution
assert_fails 1 "did you mean churn@staging?" mf alias "$R" --delete churn stagin
assert_fails 1 "did you mean churn?" mf set "$R" chur@1 tags.a=b
assert_fails 1 "did you mean churn?" mf list "$R" chrun
assert_fails 1 "does not exist" mf show "$R" zzzzzz
assert_not_contains "$ERR" "did you mean" "nothing near zzzzzz"

check "did-you-mean never names a model the caller may not read"
ok mf push "$R" secretx "$S/config.json"
cat >>"$R/policy.toml" <<'EOF'

[[models]]
match = "secret*"
read  = ["user:root"]
EOF
share_root "$R"
cp "$MODELFS" "$WORK/modelfs" && chmod 755 "$WORK/modelfs"
run as mf-dave "$WORK/modelfs" show "$R" sekretx  # near secretx, but not secret*: read by default
assert_eq 1 "$RC" "exit of mf-dave's show sekretx ($ERR)"
assert_not_contains "$ERR" "secretx" "mf-dave's error"
run as mf-dave "$WORK/modelfs" show "$R" churm
assert_eq 1 "$RC" "exit of mf-dave's show churm"
assert_contains "$ERR" "did you mean churn?" "mf-dave's hint for a model it may read"

# ---------------------------------------------------------------- MODEL@vN
check "MODEL@vN is MODEL@N everywhere a version is named"
ok mf show "$R" churn@v1 --json
assert_eq 1 "$(printf '%s' "$OUT" | jpy 'j["version"]')" "show churn@v1"
ok mf set "$R" churn@v2 tags.via=v
assert_eq v "$(mf show "$R" churn@2 --json | jpy 'j["tags"]["via"]')" "set churn@v2"
assert_eq '["churn@1"]' "$(mf show "$R" churn@2 --json | jpy 'j["lineage"]["parents"]')" "--parent churn@v1 kept as churn@1"
assert_usage "churn@v0" mf show "$R" churn@v0
ok mf alias "$R" churn@1 v1beta  # v, digits, more: an alias name, not a version
assert_eq 1 "$(mf show "$R" churn@v1beta --json | jpy 'j["version"]')" "show churn@v1beta (an alias)"

# ---------------------------------------------------------------- sizes
check "tables show sizes for people, --json exact bytes"
ok mf list "$R" churn
assert_contains "$(printf '%s\n' "$OUT" | grep '^v1 ')" "1.5 MiB" "list: v1's size"
assert_contains "$(printf '%s\n' "$OUT" | grep '^v2 ')" "3 B" "list: v2's size"
ok mf show "$R" churn@1
assert_contains "$OUT" "1.5 MiB (1572867 bytes) in 2 files" "show: the size line"
assert_contains "$(printf '%s\n' "$OUT" | grep 'weights.bin')" "1.5 MiB" "show: a file's size"
assert_eq 1572867 "$(mf show "$R" churn@1 --json | jpy 'j["size"]')" "show --json: exact bytes"
assert_eq 1572864 "$(mf list "$R" churn --json | jpy '[f["size"] for f in j[0]["files"] if f["path"] == "weights.bin"][0]')" "list --json: exact bytes"

# ---------------------------------------------------------------- quiet
check "--quiet: results and errors only"
ok mf init "$WORK/loud"
assert_contains "$OUT" "initialized" "init without --quiet"
ok mf --quiet init "$WORK/quiet"
assert_eq "" "$OUT" "init --quiet"
ok mf policy check "$R/policy.toml" -q
assert_eq "" "$OUT" "policy check -q"
ok mf policy check "$R/policy.toml"
assert_contains "$OUT" ": ok" "policy check without -q"
ok mf fsck "$R" -q
assert_eq "" "$OUT" "fsck -q of a sound registry"
ok mf -q push "$R" churn "$S/config.json"
assert_eq churn@3 "$OUT" "push -q still prints its result"
assert_fails 1 "does not exist" mf -q show "$R" churn@9

pass
