#!/bin/bash
# Runs libFuzzer targets built by `make fuzz` (doc/fuzzing.md), one process
# each, one after the other (the machine is shared).
#
# Usage: tests/fuzz/run.sh [--time SECS] FUZZ_DIR NAME...
#          each FUZZ_DIR/fuzz_NAME for SECS (default 30) over a scratch
#          directory and tests/fuzz/corpus/NAME, then merges the inputs that
#          add coverage into the corpus (-merge=1); prints a table of
#          executions per target. Crashes land in FUZZ_DIR/crashes/.
#        tests/fuzz/run.sh --minimize FUZZ_DIR NAME...
#          rewrites each corpus as its minimal subset with the same coverage
#          (files named regress-*, inputs that once failed, are always kept).
# Exit: 0, or 1 when a target crashed or broke an invariant.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=30 minimize=0
while [ $# -gt 0 ]; do
  case $1 in
    --time) secs=${2:?--time needs seconds}; shift ;;
    --minimize) minimize=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
  shift
done
dir=${1:?usage: run.sh [--time SECS|--minimize] FUZZ_DIR NAME...}; shift
[ $# -gt 0 ] || { echo "run.sh: no target named" >&2; exit 2; }
cd "$top" || exit 2

# the longest input worth trying, per target (libFuzzer's default is 4096)
max_len() {
  case $1 in
    sigmsg) echo 9000 ;;      # past SIGMSG_MAX_LEN (8192)
    config) echo 8192 ;;
    negotiate) echo 1024 ;;  # a script of up to 64 steps
    *) echo 4096 ;;
  esac
}

# merging: coverage with hit counts, but edges only for negotiate, whose
# slow whole-world scripts would otherwise keep many hundreds of files
merge_flags() {
  case $1 in
    negotiate) echo -use_counters=0 ;;
  esac
}

# common flags: one process; inputs that reach no code path stay out
flags() {
  local f=(-max_len="$(max_len "$1")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [ -f "tests/fuzz/$1.dict" ] && f+=(-dict="tests/fuzz/$1.dict")
  echo "${f[@]}"
}

# a corpus's size in KiB: its bytes, not its disk blocks
kib() { cat "$1"/* 2>/dev/null | wc -c | awk '{ printf "%d", ($1 + 1023) / 1024 }'; }

rc=0 table=()
for name in "$@"; do
  bin=$dir/fuzz_$name corpus=tests/fuzz/corpus/$name
  [ -x "$bin" ] || { echo "run.sh: no $bin (make fuzz builds it)" >&2; rc=1; continue; }
  mkdir -p "$corpus" "$dir/crashes" "$dir/logs"
  if [ "$minimize" = 1 ]; then
    min=$(mktemp -d "$dir/min-$name.XXXXXX")
    before=$(ls "$corpus" | wc -l)
    # shellcheck disable=SC2046
    "$bin" $(flags "$name") $(merge_flags "$name") -merge=1 "$min" "$corpus" </dev/null >"$dir/logs/$name.minimize" 2>&1 \
      || { echo "run.sh: $name: minimize failed, see $dir/logs/$name.minimize" >&2; rc=1; rm -rf "$min"; continue; }
    # regress-* inputs (crashes once found) stay under their names
    find "$corpus" -maxdepth 1 -type f ! -name 'regress-*' -delete
    for f in "$min"/*; do
      [ -f "$f" ] || continue
      s=$(sha1sum <"$f" | cut -c1-40)
      grep -qx "$s" <(for r in "$corpus"/regress-*; do [ -f "$r" ] && sha1sum <"$r" | cut -c1-40; done) \
        || cp "$f" "$corpus/"
    done
    rm -rf "$min"
    echo "$name: $before -> $(ls "$corpus" | wc -l) inputs, $(kib "$corpus") KiB"
    continue
  fi
  new=$dir/new/$name
  rm -rf "$new" && mkdir -p "$new"
  log=$dir/logs/$name.log
  echo "fuzz_$name: $secs s over $corpus ($(ls "$corpus" | wc -l) inputs)"
  # shellcheck disable=SC2046
  "$bin" $(flags "$name") -max_total_time="$secs" -artifact_prefix="$dir/crashes/$name-" \
    "$new" "$corpus" </dev/null >"$log" 2>&1
  status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ "$status" != 0 ]; then
    echo "fuzz_$name FAILED (exit $status); last lines of $log:"
    grep -E 'invariant failed|ERROR: |SUMMARY|Test unit written' "$log" | tail -8 | sed 's/^/    | /'
    rc=1
  fi
  # shellcheck disable=SC2046
  "$bin" $(flags "$name") $(merge_flags "$name") -merge=1 "$corpus" "$new" </dev/null >>"$log" 2>&1
  table+=("$(printf '%-12s %12s %10s %7s %8s' "$name" "${runs:-?}" "${speed:-?}" \
    "$(ls "$corpus" | wc -l)" "$(kib "$corpus")")")
done
if [ ${#table[@]} -gt 0 ]; then
  printf '%-12s %12s %10s %7s %8s\n' target executions exec/s inputs KiB
  printf '%s\n' "${table[@]}"
fi
exit $rc
