#!/usr/bin/env bash
# The default registry (cli/root.h): ROOT left out everywhere, taken from
# -R/--root, $MODELFS_ROOT, $XDG_CONFIG_HOME/modelfs/config.toml (or
# ~/.config/...), then /etc/modelfs/config.toml; the rule that makes the
# first argument ROOT (a '/' in it, or one argument too many); a bare word
# that names a registry here is ambiguous; a malformed config is an error
# with FILE:LINE:COL; ROOT given twice is a usage error.
. "$TESTS_DIR/cli/common.sh"

R=$WORK/reg
R2=$WORK/reg2
S=$WORK/src
mkdir -p "$S"
printf 'weights' >"$S/model.bin"
ok mf init "$R"
ok mf init "$R2"
ok mf push "$R" churn "$S" --alias production
ok mf push "$R2" other "$S"

# No config or environment of the machine's may leak in: a private HOME
# and XDG_CONFIG_HOME, and MODELFS_ROOT unset. /etc/modelfs/config.toml is
# the machine's: the tests that need it being absent check first.
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/xdg
mkdir -p "$HOME" "$XDG_CONFIG_HOME"
unset MODELFS_ROOT
ETC=/etc/modelfs/config.toml

check "without any ROOT: a usage error that says how to give one"
if [ ! -e "$ETC" ]; then
  assert_usage "no registry ROOT given" mf show churn@production
  assert_contains "$ERR" "MODELFS_ROOT" "the hint"
  assert_contains "$ERR" "$XDG_CONFIG_HOME/modelfs/config.toml" "the hint names the config file"
  assert_usage "ROOT" mf list
fi

check "ROOT as the first argument, as before (a path: it holds a '/')"
ok mf show "$R" churn@production
assert_eq "churn@1" "$(printf '%s\n' "$OUT" | head -n1)" "show with ROOT"

check "-R and --root, before or after the command"
ok mf -R "$R" show churn@production --json
assert_eq churn "$(printf '%s' "$OUT" | jpy 'j["model"]')" "-R before"
ok mf show churn --root "$R" --json
assert_eq 1 "$(printf '%s' "$OUT" | jpy 'j["version"]')" "--root after"
ok mf show --root="$R" churn@1
ok mf list -R "$R2" --json
assert_eq '["other"]' "$(printf '%s' "$OUT" | jpy '[m["model"] for m in j]')" "list -R reg2"

check "\$MODELFS_ROOT"
MODELFS_ROOT=$R ok mf show churn@production --json
assert_eq churn "$(printf '%s' "$OUT" | jpy 'j["model"]')" "show with MODELFS_ROOT"
MODELFS_ROOT=$R ok mf list --json
assert_eq '["churn"]' "$(printf '%s' "$OUT" | jpy '[m["model"] for m in j]')" "list with MODELFS_ROOT"
MODELFS_ROOT=$R ok mf list churn --json
assert_eq '[1]' "$(printf '%s' "$OUT" | jpy '[v["version"] for v in j]')" "list MODEL with MODELFS_ROOT"

check "the command line wins over \$MODELFS_ROOT: a leading path and -R"
MODELFS_ROOT=$R ok mf list "$R2" --json
assert_eq '["other"]' "$(printf '%s' "$OUT" | jpy '[m["model"] for m in j]')" "leading ROOT over env"
MODELFS_ROOT=$R ok mf list -R "$R2" --json
assert_eq '["other"]' "$(printf '%s' "$OUT" | jpy '[m["model"] for m in j]')" "-R over env"

check "push, set, alias, approve, archive, log, gc and fsck with the default registry"
export MODELFS_ROOT=$R
ok mf push churn "$S" --metric auc=0.9
assert_eq churn@2 "$OUT" "push without ROOT"
(cd "$WORK" && mf push churn ./src) >"$WORK/push.out" || die "push churn ./src failed"
assert_eq churn@3 "$(cat "$WORK/push.out")" "a path that is not first is a PATH, not ROOT"
ok mf set churn@2 tags.team=growth
ok mf alias churn@2 staging
ok mf approve churn@2 --comment fine
ok mf show churn@staging --json
assert_eq true "$(printf '%s' "$OUT" | jpy 'j["tags"]["team"] == "growth" and j["approval"]["status"] == "approved"')" "set and approve went to the default registry"
ok mf log churn
assert_contains "$OUT" "staging" "log without ROOT"
ok mf fsck
ok mf gc --dry-run
assert_eq '["other"]' "$(mf list "$R2" --json | jpy '[m["model"] for m in j]')" "reg2 untouched"

check "a command with a fixed number of arguments takes one more as ROOT (a relative name)"
cd "$WORK"
ok mf show reg2 other@1 --json
assert_eq other "$(printf '%s' "$OUT" | jpy 'j["model"]')" "show reg2 other@1"
ok mf list reg2 other --json
assert_eq '[1]' "$(printf '%s' "$OUT" | jpy '[v["version"] for v in j]')" "list reg2 other"
ok mf fsck reg2

check "a bare word that names a registry here, where a name is expected, is ambiguous (usage error, nothing done)"
assert_usage "ambiguous" mf list reg2
assert_contains "$ERR" "./reg2" "the hint"
mkdir -p "$WORK/data"
printf 'x' >"$WORK/data/f"
assert_usage "ambiguous" mf push reg2 churn "$WORK/data"
assert_eq '[1, 2, 3]' "$(mf list churn --json | jpy '[v["version"] for v in j]')" "no push happened"
ok mf list ./reg2 --json
assert_eq '["other"]' "$(printf '%s' "$OUT" | jpy '[m["model"] for m in j]')" "./reg2 is ROOT"
cd - >/dev/null

check "ROOT given twice is a usage error"
assert_usage "twice" mf show "$R2" -R "$R" other@1
assert_usage "twice" mf -R "$R" show "$R2" other@1
assert_usage "twice" mf -R "$R" show --root "$R2" other@1

check "a ROOT from \$MODELFS_ROOT that cannot be opened says where it came from"
MODELFS_ROOT=$WORK/nowhere assert_fails 1 'from $MODELFS_ROOT' mf list
unset MODELFS_ROOT

CONF=$XDG_CONFIG_HOME/modelfs/config.toml
mkdir -p "$(dirname "$CONF")"

check "the config file: root = \"...\""
printf '# my registry\nroot = "%s"\n' "$R2" >"$CONF"
ok mf list --json
assert_eq '["other"]' "$(printf '%s' "$OUT" | jpy '[m["model"] for m in j]')" "list from the config"
ok mf show other@v1 --json
assert_eq 1 "$(printf '%s' "$OUT" | jpy 'j["version"]')" "show from the config"
MODELFS_ROOT=$R ok mf list --json
assert_eq '["churn"]' "$(printf '%s' "$OUT" | jpy '[m["model"] for m in j]')" "MODELFS_ROOT over the config"

check "without XDG_CONFIG_HOME, ~/.config/modelfs/config.toml"
mkdir -p "$HOME/.config/modelfs"
printf 'root = "%s"\n' "$R" >"$HOME/.config/modelfs/config.toml"
(unset XDG_CONFIG_HOME; mf list --json) >"$WORK/home.json" || die "list with ~/.config failed"
assert_eq '["churn"]' "$(jpy '[m["model"] for m in j]' "$WORK/home.json")" "list from ~/.config"

check "a malformed config: FILE:LINE:COL: message, exit 1, nothing done"
printf 'root = "%s"\nroot2 = \n' "$R2" >"$CONF"
assert_fails 1 "$CONF:2:" mf list
printf 'rot = "%s"\n' "$R2" >"$CONF"
assert_fails 1 "$CONF:1:1: unknown key rot" mf list
assert_contains "$ERR" "did you mean root" "unknown key hint"
printf 'root = 42\n' >"$CONF"
assert_fails 1 "$CONF:1:8: root must be an absolute path" mf list
printf 'root = "relative/reg"\n' >"$CONF"
assert_fails 1 "absolute" mf show other@1
printf 'root = "%s"\n' "$WORK/missing" >"$CONF"
assert_fails 1 "(ROOT from $CONF)" mf list

check "an empty config leaves the choice to the next one"
: >"$CONF"
if [ ! -e "$ETC" ]; then assert_usage "no registry ROOT given" mf list; fi

check "init takes its one argument as ROOT, and the default too"
cd "$WORK"
ok mf init reg3
[ -d "$WORK/reg3/index" ] || die "init reg3 did not create ./reg3"
cd - >/dev/null
MODELFS_ROOT=$WORK/reg4 ok mf init
[ -d "$WORK/reg4/index" ] || die "init with MODELFS_ROOT did not create it"

pass
