#!/bin/bash
# evio's benchmarks (make bench): every figure measured in one run on one
# namespace topology, beside references measured the same way.
#
# Usage: bench/run.sh [--sections LIST] [--peers LIST] [--runs N] [--secs S]
#                     [--out DIR] [--smoke] [BUILD_DIR]
#   --sections  comma list of link,node,relay,scale (default: all)
#   --peers     link benchmark peers, comma list of bench/peers/*.sh names
#               (default: veth,evio-tincan,evio-tincan-ice,tinc,openvpn,n2n,
#               wireguard-go; evio-tincan-ice is evio-tincan without its fast path)
#   --runs      runs per figure; the tables show medians (default 3)
#   --secs      seconds per iperf3 test (default 10)
#   --out       where results go (default bench/results)
#   --smoke     one run, one second, evio-tincan only, every section small:
#               proves the harness works (make check runs it); its figures
#               mean nothing
# Results: OUT/<stamp>.tsv (raw: section, subject, run, metric, value),
# OUT/<stamp>.csv and OUT/<stamp>.json (medians), and the tables on stdout.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export EVT_TOP=$top

sections=link,node,relay,scale peers=veth,evio-tincan,evio-tincan-ice,tinc,openvpn,n2n,wireguard-go
runs=3 secs=10 out=$top/bench/results smoke=0 build=$top/build
while [ $# -gt 0 ]; do
  case $1 in
    --sections) sections=${2:?}; shift ;;
    --peers) peers=${2:?}; shift ;;
    --runs) runs=${2:?}; shift ;;
    --secs) secs=${2:?}; shift ;;
    --out) out=${2:?}; shift ;;
    --smoke) smoke=1 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) build=$1 ;;
  esac
  shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: --runs: expected a positive integer" >&2; exit 2; }
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "bench: --secs: expected a positive integer" >&2; exit 2; }
if [ "$smoke" = 1 ]; then
  runs=1 secs=1 peers=evio-tincan
  BENCH_SCALE_LINKS=${BENCH_SCALE_LINKS:-2} BENCH_SCALE_SETTLE=${BENCH_SCALE_SETTLE:-0}
fi
export EVT_BUILD=$(cd "$build" && pwd)
export EVT_PREFIX=${EVT_PREFIX:-evb$$-}

source "$top/tests/lib/common.sh"
source "$top/tests/lib/coturn.sh"
source "$top/bench/lib.sh"
source "$top/bench/sections.sh"
evt_init

for p in ${peers//,/ }; do
  [ -f "$top/bench/peers/$p.sh" ] || fail "no peer $p (bench/peers/$p.sh)"
done
for t in iperf3 jq ping; do command -v $t >/dev/null || fail "$t is not installed (bench/deps.sh)"; done

mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ "$smoke" = 1 ] && stamp=smoke-$stamp
BENCH_RAW=$out/$stamp.tsv
: >"$BENCH_RAW"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
log "machine: ${cpu:-unknown CPU}, $(nproc) cores, kernel $(uname -r)"
log "absolute figures are this machine's; compare the ratios, measured in one run"
log "runs $runs, ${secs}s per test, sections $sections"
bench_record meta machine 0 cpu "\"${cpu:-unknown}\""
bench_record meta machine 0 cores "$(nproc)"

for s in ${sections//,/ }; do
  case $s in
    link)  bench_section_link "${peers//,/ }" ;;
    node)  bench_section_node ;;
    relay) bench_section_relay ;;
    scale) bench_section_scale ;;
    *) fail "unknown section $s" ;;
  esac
done

bench_summarize "$BENCH_RAW" "$out/$stamp"
log "results: $out/$stamp.{tsv,csv,json}"
