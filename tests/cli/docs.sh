# The documentation in the repository holds together: the policy.toml that
# init writes points at the policy reference and man page, which exist;
# every file README.md links to exists; the man pages render without
# warnings and modelfs(1) documents every subcommand the binary has.
. "$TESTS_DIR/cli/common.sh"

SRC=$(cd "$TESTS_DIR/.." && pwd)

check "policy.toml written by init points at the reference"
ok mf init "$WORK/reg"
head=$(head -3 "$WORK/reg/policy.toml")
assert_contains "$head" "man 5" "policy.toml's header"
assert_contains "$head" "modelfs-policy" "policy.toml's header"
assert_contains "$head" "docs/policy.md" "policy.toml's header"
[ -f "$SRC/docs/policy.md" ] || die "docs/policy.md does not exist"
[ -f "$SRC/docs/man/modelfs-policy.5" ] || die "docs/man/modelfs-policy.5 does not exist"

check "README's links into the repository lead to files"
links=$(grep -o '](\([A-Za-z0-9_./-]*\))' "$SRC/README.md" | sed 's/^](//; s/)$//' | sort -u)
[ -n "$links" ] || die "README.md links to nothing"
for l in $links; do
  [ -e "$SRC/$l" ] || die "README.md links to $l, which does not exist"
done
for d in docs/policy.md docs/xattrs.md docs/layout.md; do
  printf '%s\n' "$links" | grep -qxF "$d" || die "README.md does not link to $d"
done

check "the man pages render without warnings"
for page in "$SRC/docs/man/modelfs.1" "$SRC/docs/man/modelfs-policy.5"; do
  out=$(LC_ALL=C groff -man -ww -z "$page" 2>&1) || die "groff failed on $page: $out"
  [ -z "$out" ] || die "groff warns about $page: $out"
done

check "modelfs(1) documents every subcommand"
ok "$MODELFS" --help
subs=$(printf '%s\n' "$OUT" | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1}')
[ -n "$subs" ] || die "no subcommands in modelfs --help: $OUT"
for sub in $subs; do
  grep -q "^\.BI\? \"\?$sub[ \"]" "$SRC/docs/man/modelfs.1" ||
    die "docs/man/modelfs.1 does not document the subcommand '$sub'"
done

pass
