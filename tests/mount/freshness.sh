# Changes made by another process (the CLI) while mounted show within 1 s
# (SPEC §3): a new version, a moved alias, a new alias, a deleted alias,
# latest, a new model. A file held open across an alias move keeps reading
# the old version's bytes.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
printf 'bytes-of-v1' >"$WORK/model.bin"
ok mf push "$R" churn "$WORK/model.bin" --alias production
start_mount "$R" "$M"

# Warm the kernel's caches first, so that freshness is about invalidation.
ls -l "$M" "$M/churn" >/dev/null
assert_eq "bytes-of-v1" "$(cat "$M/churn/production/model.bin")" "before"
assert_eq "v1" "$(readlink "$M/churn/latest")" "latest before"

# within_1s WHAT CMD...: CMD must succeed within one second.
within_1s() {
  local what=$1
  shift
  local t0=$(date +%s%N)
  wait_until 1 "$@" || die "$what: not visible within 1 s"
  echo "    $what: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

check "a reader holds production/model.bin open across the move"
exec 3<"$M/churn/production/model.bin"
read -r -n 5 first <&3
assert_eq "bytes" "$first" "first read of the open file"

check "push v2 and move production: visible within 1 s"
printf 'bytes-of-v2' >"$WORK/model.bin"
ok mf push "$R" churn "$WORK/model.bin" --alias production
within_1s "new version v2" test -d "$M/churn/v2"
within_1s "latest -> v2" sh -c "[ \"\$(readlink '$M/churn/latest')\" = v2 ]"
within_1s "production -> v2" sh -c "[ \"\$(readlink '$M/churn/production')\" = v2 ]"
assert_eq "bytes-of-v2" "$(cat "$M/churn/production/model.bin")" "reading through the moved alias"
assert_eq "bytes-of-v2" "$(cat "$M/churn/latest/model.bin")" "reading through latest"
assert_contains "$(ls "$M/churn")" "v2"

check "the open file still reads the old version"
rest=$(cat <&3)
assert_eq "-of-v1" "$rest" "rest of the file opened before the move"
exec 3<&-

check "a new alias appears, a deleted one disappears, a moved one follows"
ok mf alias "$R" churn@1 staging
within_1s "staging appears" test -L "$M/churn/staging"
assert_eq "v1" "$(readlink "$M/churn/staging")" "staging target"
ok mf alias "$R" churn@2 staging
within_1s "staging -> v2" sh -c "[ \"\$(readlink '$M/churn/staging')\" = v2 ]"
assert_eq 2 "$(stat -c %s "$M/churn/staging")" "symlink size"
ok mf alias "$R" --delete churn staging
within_1s "staging is gone" sh -c "! test -e '$M/churn/staging' && ! test -L '$M/churn/staging'"
assert_not_contains "$(ls "$M/churn")" "staging"

check "a new model appears in the root and its listing"
ok mf push "$R" fraud "$WORK/model.bin"
within_1s "fraud in ls" sh -c "ls '$M' | grep -qx fraud"
within_1s "root nlink counts fraud" sh -c "[ \"\$(stat -c %h '$M')\" = 4 ]"
assert_eq "bytes-of-v2" "$(cat "$M/fraud/v1/model.bin")" "new model's file"

check "latest moves back when its version is archived"
ok mf alias "$R" churn@1 production
within_1s "production -> v1" sh -c "[ \"\$(readlink '$M/churn/production')\" = v1 ]"
ok mf archive "$R" churn@2
within_1s "latest -> v1" sh -c "[ \"\$(readlink '$M/churn/latest')\" = v1 ]"
within_1s "state archived" sh -c "[ \"\$(getfattr --only-values -n user.registry.state '$M/churn/v2')\" = archived ]"

check "gc of an archived version removes its cached directory within 1 s"
ls "$M/churn/v2" >/dev/null  # the kernel now caches v2 (a stable name: long timeout)
ok mf gc "$R"
within_1s "v2 gone" sh -c "! test -e '$M/churn/v2'"
assert_not_contains "$(ls "$M/churn")" "v2"

check "a model nlink follows its versions"
ok mf push "$R" churn "$WORK/model.bin"
within_1s "nlink of churn = 4 (v1 and the new v3)" sh -c "[ \"\$(stat -c %h '$M/churn')\" = 4 ]"

assert_clean_log
pass
