#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: the ctest test fuzz/NAME.
#   run.sh NAME BINARY FUZZ_SOURCE_DIR WORK_DIR
# It starts from the committed seed corpus (corpus/NAME/, read only: what
# the run finds goes to WORK_DIR/NAME/new) with NAME.dict when there is
# one. A crash, a failed property, a leak or an input slower than 5 s fails
# the test: the input is kept in WORK_DIR/NAME/crashes/ and printed, with
# the command that replays it. MODELFS_FUZZ_SECONDS sets the time (20 s).
set -uo pipefail
name=$1 bin=$2 src=$3 work=$4
seconds=${MODELFS_FUZZ_SECONDS:-20}
run=$work/$name
rm -rf "$run"
mkdir -p "$run/new" "$run/crashes" "$run/tmp"
args=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$run/crashes/")
[ -f "$src/$name.dict" ] && args+=(-dict="$src/$name.dict")

# Stacks of a crash are symbolized when an llvm-symbolizer is installed
# (package llvm-15 or llvm; not needed to run).
for s in llvm-symbolizer-15 llvm-symbolizer; do
  if command -v "$s" >/dev/null; then export ASAN_SYMBOLIZER_PATH=$(command -v "$s"); break; fi
done

# The targets' scratch files (metadata_fuzz's registry) go under the run.
TMPDIR=$run/tmp "$bin" "${args[@]}" "$run/new" "$src/corpus/$name" >"$run/log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$run/crashes")" ]; then
  echo "fuzz/$name FAILED (exit $rc); the end of its log ($run/log):"
  tail -n 60 "$run/log"
  for f in "$run/crashes"/*; do
    [ -e "$f" ] || continue
    echo "== input $f ($(stat -c %s "$f") bytes):"
    od -A d -c "$f" | head -n 40
    echo "replay: $bin $f"
  done
  exit 1
fi
# The figures worth seeing: runs, speed, corpus growth.
grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$run/log"
rm -rf "$run/tmp"
