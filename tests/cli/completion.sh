#!/usr/bin/env bash
# `modelfs completion bash|zsh|fish`: the bash script registers itself
# (complete -p modelfs) and, driven as bash drives it (COMP_WORDS,
# COMP_CWORD -> COMPREPLY), completes subcommands, options, model names,
# MODEL@ aliases and versions (from the default registry, a leading ROOT or
# -R), alias names, option values and file names; models the caller may not
# read are never offered. The zsh script is checked by zsh -n and driven
# with compadd stubbed; fish's by fish -n when fish is installed.
. "$TESTS_DIR/cli/common.sh"
. "$TESTS_DIR/users.sh"

R=$WORK/reg
S=$WORK/src
mkdir -p "$S"
printf 'weights' >"$S/weights.bin"
ok mf init "$R"
ok mf push "$R" churn "$S" --alias production
ok mf push "$R" churn "$S" --alias staging
ok mf push "$R" fraud "$S"
ok mf push "$R" secretx "$S"

export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/xdg
unset MODELFS_ROOT
mf completion bash >"$WORK/modelfs.bash" || die "completion bash failed"

check "the bash script registers a completion for modelfs"
out=$(bash -c 'source "$1" && complete -p modelfs' _ "$WORK/modelfs.bash") || die "complete -p modelfs failed"
assert_eq "complete -F _modelfs modelfs" "$out" "complete -p modelfs"

# comp CWORD WORD...: COMPREPLY, one per line, sorted, after bash's
# completion function ran on COMP_WORDS=(WORD...) and COMP_CWORD=CWORD.
# WORD 0 is the binary, as bash gives the command as typed.
comp() {
  local cword=$1
  shift
  bash -c '
    source "$1"
    COMP_CWORD=$2
    shift 2
    COMP_WORDS=("$@")
    _modelfs
    printf "%s\n" "${COMPREPLY[@]}"
  ' _ "$WORK/modelfs.bash" "$cword" "$MODELFS" "$@" | sed '/^$/d' | sort
}
lines() { printf '%s\n' "$@"; }

check "subcommands, without the hidden __complete"
assert_eq "$(lines seal serve set show status)" "$(comp 1 s)" "modelfs s<TAB>"
got=$(comp 1 "")
assert_contains "$got" "completion" "all commands"
assert_contains "$got" "version" "all commands"
assert_not_contains "$got" "__complete" "all commands"
assert_eq "check" "$(comp 2 policy c)" "modelfs policy c<TAB>"

check "options of the command, and the global ones"
assert_eq "--json" "$(comp 3 show churn --j)" "show churn --j<TAB>"
assert_eq "$(lines --metric)" "$(comp 2 push --me)" "push --me<TAB>"
assert_contains "$(comp 2 gc --)" "--dry-run" "gc --<TAB>"
assert_contains "$(comp 2 gc --)" "--root" "gc --<TAB> offers -R/--root"
assert_contains "$(comp 2 gc --)" "--quiet" "gc --<TAB> offers the global --quiet"

check "model names and MODEL@ from the default registry"
assert_eq "" "$(comp 2 show ch)" "nothing without a registry"
export MODELFS_ROOT=$R
assert_eq "$(lines churn churn@)" "$(comp 2 show ch)" "show ch<TAB>"
assert_eq "$(lines churn churn@ fraud fraud@ secretx secretx@)" "$(comp 2 show "")" "show <TAB>"
assert_eq "$(lines churn)" "$(comp 2 list ch)" "list ch<TAB>: a MODEL, no @"

check "MODEL@ completes aliases, latest and versions"
assert_eq "$(lines churn@1 churn@2 churn@latest churn@production churn@staging)" "$(comp 2 show churn@)" "show churn@<TAB>"
assert_eq "churn@production" "$(comp 2 show churn@p)" "show churn@p<TAB>"
assert_eq "churn@2" "$(comp 2 approve churn@2)" "approve churn@2<TAB>"

check "no space after MODEL@ (the next TAB lists its aliases), a space after a whole reference"
# nospace WORD...: what the script asks of compopt for show WORD<TAB>.
nospace() {
  bash -c '
    source "$1"; COMP_CWORD=2; COMP_WORDS=("$2" show "$3")
    compopt() { echo "compopt $*"; }
    _modelfs' _ "$WORK/modelfs.bash" "$MODELFS" "$1"
}
assert_eq "compopt -o nospace" "$(nospace fr)" "show fr<TAB>"
assert_eq "" "$(nospace churn@p)" "show churn@p<TAB>"

check "a leading ROOT or -R names the registry"
unset MODELFS_ROOT
assert_eq "churn@staging" "$(comp 3 show "$R" churn@s)" "show ROOT churn@s<TAB>"
assert_eq "churn@staging" "$(comp 4 show -R "$R" churn@s)" "show -R ROOT churn@s<TAB>"
assert_eq "$(lines fraud fraud@)" "$(comp 4 -R "$R" show f)" "-R before the command"
(cd "$WORK" && comp 3 show reg churn@s) >"$WORK/rel.out"
assert_eq "churn@staging" "$(cat "$WORK/rel.out")" "show reg churn@s<TAB>: one argument too many makes reg ROOT"
assert_eq "$(lines production staging)" "$(comp 6 push "$R" churn x --alias "")" "push ROOT MODEL PATH --alias <TAB>"
export MODELFS_ROOT=$R

check "an ALIAS argument completes the model's aliases; --parent completes references"
assert_eq "$(lines production staging)" "$(comp 3 alias churn@2 "")" "alias churn@2 <TAB>"
assert_eq "staging" "$(comp 4 alias --delete churn st)" "alias --delete churn st<TAB>"
assert_eq "$(lines churn churn@)" "$(comp 5 push churn x --parent ch)" "push --parent ch<TAB>"
assert_eq "$(lines production staging)" "$(comp 5 push churn x --alias "")" "push --alias <TAB>"

check "paths: PATH arguments and ROOT complete file names"
assert_eq "$S/weights.bin" "$(comp 3 push churn "$S/w")" "push churn PATH<TAB>"
assert_eq "$R" "$(comp 2 show "$WORK/re")" "show ROOT<TAB> (a directory)"
assert_eq "$R" "$(comp 3 show -R "$WORK/re")" "-R <TAB> (a directory)"
assert_eq "$R" "$(comp 2 init "$WORK/re")" "init <TAB>: its one argument is ROOT"
assert_eq "$R" "$(comp 2 mount "$WORK/re")" "mount <TAB>: MOUNTPOINT (a directory)"

check "models the caller may not read are not offered"
cat >>"$R/policy.toml" <<'EOF'

[[models]]
match = "secret*"
read  = ["user:root"]
EOF
share_root "$R"
cp "$MODELFS" "$WORK/modelfs" && chmod 755 "$WORK/modelfs"
got=$(as mf-dave env MODELFS_ROOT="$R" "$WORK/modelfs" __complete 2 modelfs show "") ||
  die "__complete as mf-dave failed"
assert_eq "$(lines churn churn@ fraud fraud@)" "$got" "mf-dave's models"
assert_eq "$(lines churn churn@ fraud fraud@ secretx secretx@)" "$(comp 2 show "")" "root's models"
assert_eq "" "$(as mf-dave env MODELFS_ROOT="$R" "$WORK/modelfs" __complete 2 modelfs show secretx@)" \
  "mf-dave: no aliases or versions of secretx"

check "an unknown shell is a usage error"
assert_usage "bash, zsh or fish" mf completion tcsh

check "zsh: the script parses, and driven with compadd stubbed offers the same"
if command -v zsh >/dev/null; then
  mf completion zsh >"$WORK/_modelfs" || die "completion zsh failed"
  zsh -n "$WORK/_modelfs" || die "zsh -n rejects the zsh script"
  zcomp() {  # CURRENT WORD...: what the zsh function adds, sorted
    local current=$1
    shift
    zsh -f -c '
      source "$1"; shift
      compadd() { while [[ $1 == -* ]]; do [[ $1 == -- ]] && { shift; break }; [[ $1 == -S ]] && shift; shift; done; print -l -- "$@"; }
      _files() { print -r -- ":files$*"; }
      CURRENT=$1; shift; words=("$@")
      _modelfs' _ "$WORK/_modelfs" "$current" "$MODELFS" "$@" | sort
  }
  assert_eq "$(lines seal serve set show status)" "$(zcomp 2 s)" "zsh: modelfs s<TAB>"
  assert_eq "$(lines churn@1 churn@2 churn@latest churn@production churn@staging)" "$(zcomp 3 show churn@)" "zsh: show churn@<TAB>"
  assert_eq ":files" "$(zcomp 4 push churn "$S/w")" "zsh: file names"
  assert_eq ":files-/" "$(zcomp 3 show "$WORK/re")" "zsh: directories for ROOT"
else
  die "zsh is not installed (scripts/setup installs it)"
fi

check "fish: the script is generated (and parses, where fish is installed)"
mf completion fish >"$WORK/modelfs.fish" || die "completion fish failed"
assert_contains "$(cat "$WORK/modelfs.fish")" "complete -c modelfs" "fish script"
if command -v fish >/dev/null; then
  fish -n "$WORK/modelfs.fish" || die "fish -n rejects the fish script"
  # fish asks for completions itself (complete -C) of the modelfs on PATH.
  mkdir -p "$WORK/bin" && ln -sf "$MODELFS" "$WORK/bin/modelfs"
  fcomp() { PATH=$WORK/bin:$PATH fish -c 'source $argv[1]; complete -C $argv[2]' "$WORK/modelfs.fish" "$1" | sort; }
  assert_eq "$(lines seal serve set show status)" "$(fcomp "modelfs s")" "fish: modelfs s<TAB>"
  assert_eq "$(lines churn@1 churn@2 churn@latest churn@production churn@staging)" "$(fcomp "modelfs show churn@")" "fish: show churn@<TAB>"
  assert_eq "$S/weights.bin" "$(fcomp "modelfs push churn $S/w")" "fish: file names"
else
  echo "    (fish not installed: syntax not checked)"
fi

pass
