#!/bin/bash
# evio's test runner: every unit test binary BUILD_DIR/tests/test_*, then every
# tests/integration/*.sh (sorted), each one test with its own log.
#
# Usage: tests/run.sh [--unit-only] [--filter REGEX] [--timeout SECS] BUILD_DIR
#   --filter   run only the tests whose name matches REGEX (bash =~)
#   --timeout  per-test limit, default 300 s (EVT_TEST_TIMEOUT)
# Logs: BUILD_DIR/test-logs/NAME.log. Last line: "N passed, N failed".
# Exit: 0 all passed, 1 some failed, 2 nothing ran.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

unit_only=0 filter= limit=${EVT_TEST_TIMEOUT:-300} build=
while [ $# -gt 0 ]; do
  case $1 in
    --unit-only) unit_only=1 ;;
    --filter) filter=${2:?--filter needs a pattern}; shift ;;
    --filter=*) filter=${1#*=} ;;
    --timeout) limit=${2:?--timeout needs seconds}; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) build=$1 ;;
  esac
  shift
done
[ -n "$build" ] || { echo "usage: tests/run.sh [--unit-only] [--filter REGEX] BUILD_DIR" >&2; exit 2; }
[ -d "$build" ] || { echo "run.sh: no build directory $build" >&2; exit 2; }
build=$(cd "$build" && pwd)
logs=$build/test-logs
mkdir -p "$logs"

passed=0 failed=0 failures=()

selected() { [ -z "$filter" ] || [[ $1 =~ $filter ]]; }

# run_one NAME CMD...: run CMD as one test, print PASS/FAIL with its time.
run_one() {
  local name=$1; shift
  local logf=$logs/$name.log t0 t1 rc
  t0=$(date +%s%N)
  ( cd "$top" && exec timeout -k 15 "$limit" "$@" ) >"$logf" 2>&1 </dev/null
  rc=$?
  t1=$(date +%s%N)
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1fs", (b - a) / 1e9 }')
  if [ "$rc" = 0 ]; then
    echo "PASS $name ($secs)"
    passed=$((passed + 1))
  else
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && echo "timed out after ${limit}s" >>"$logf"
    echo "FAIL $name ($secs) exit $rc; last 40 lines of $logf:"
    tail -n 40 "$logf" | sed 's/^/    | /'
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

# sweep PREFIX NAME: remove what a killed test left behind (its namespaces
# and the processes in them), and say so.
sweep() {
  local n p left
  left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$1" || true)
  [ -n "$left" ] || return 0
  echo "    $2 left namespaces behind ($(echo $left)); removing them"
  for n in $left; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$n" 2>/dev/null
  done
}
seq=0

# unit tests
for t in "$build"/tests/test_*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  name=$(basename "$t")
  selected "$name" || continue
  run_one "$name" "$t"
done

# integration tests
if [ "$unit_only" = 0 ]; then
  for t in "$top"/tests/integration/*.sh; do
    [ -f "$t" ] || continue
    name=integration/$(basename "$t" .sh)
    selected "$name" || continue
    if [ "$(id -u)" != 0 ]; then
      echo "FAIL $name (0.0s): integration tests need root (network namespaces); not run"
      failed=$((failed + 1)); failures+=("$name")
      continue
    fi
    mkdir -p "$logs/integration"
    prefix=evr$$-$((++seq))-
    run_one "$name" env EVT_BUILD="$build" EVT_PREFIX="$prefix" bash "$t"
    sweep "$prefix" "$name"
  done
fi

if [ "$failed" -gt 0 ]; then
  echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ $((passed + failed)) -gt 0 ] || exit 2
[ "$failed" = 0 ] || exit 1
exit 0
