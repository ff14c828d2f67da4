# push shows a progress bar on a terminal for large inputs, and nothing
# extra when its output is not a terminal (pipelines parse stdout).
. "$TESTS_DIR/cli/common.sh"
command -v script >/dev/null || die "script(1) from bsdutils is needed to give push a terminal"

ok mf init "$WORK/reg"
head -c $((96 << 20)) /dev/urandom > "$WORK/big.bin"

check "on a terminal: a bar that reaches 100%, then the usual MODEL@N"
timeout 120 script -qec "$MODELFS push $WORK/reg big $WORK/big.bin" "$WORK/tty.log" >/dev/null ||
  die "push under script(1) failed: $(cat "$WORK/tty.log")"
grep -q 'pushing \[' "$WORK/tty.log" || die "no progress bar on a terminal: $(cat -v "$WORK/tty.log")"
grep -q '100%' "$WORK/tty.log" || die "the bar never reached 100%: $(cat -v "$WORK/tty.log")"
grep -q 'big@1' "$WORK/tty.log" || die "push did not print big@1"

check "not a terminal: stdout is exactly MODEL@N and stderr is empty"
run mf push "$WORK/reg" big "$WORK/big.bin"
[ "$RC" = 0 ] || die "push failed: $ERR"
assert_eq "big@2" "$OUT"
assert_eq "" "$ERR"

check "small pushes show no bar even on a terminal"
echo small > "$WORK/small.txt"
timeout 60 script -qec "$MODELFS push $WORK/reg small $WORK/small.txt" "$WORK/tty2.log" >/dev/null ||
  die "small push under script(1) failed: $(cat -v "$WORK/tty2.log")"
grep -q 'small@1' "$WORK/tty2.log" || die "push did not print small@1: $(cat -v "$WORK/tty2.log")"
if grep -q 'pushing \[' "$WORK/tty2.log"; then die "a bar for a 6-byte push: $(cat -v "$WORK/tty2.log")"; fi
pass
