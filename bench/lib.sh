# The benchmark's two hosts (source it from bash, after tests/lib/common.sh):
#
#   ns a                                             ns b
#   va 10.66.0.1/24  ======== veth, MTU 1500 ======= vb 10.66.0.2/24   underlay
#   <tunnel dev> 10.67.0.1/24  <--- the peer under test ---> 10.67.0.2/24
#
# Every peer (bench/peers/NAME.sh) is sourced and defines:
#   peer_up      bring the tunnel up between a and b with the inner addresses
#                above and inner MTU $BENCH_MTU; return once a ping crosses.
#                Sets PEER_PIDS_A / PEER_PIDS_B (space-separated PIDs of the
#                processes doing the work on each side: their CPU time and
#                resident memory are what the bench reports) and PEER_DEV_A /
#                PEER_DEV_B (the tunnel interface on each side).
#   peer_down    stop what peer_up started, remove its devices, so the next
#                peer starts from a bare veth.
#   peer_version print one line: the peer's name and version.
# Processes go through bg (tests/lib/common.sh), so cleanup finds them.

BENCH_UNDER_A=10.66.0.1 BENCH_UNDER_B=10.66.0.2
BENCH_INNER_A=10.67.0.1 BENCH_INNER_B=10.67.0.2
BENCH_MTU=${BENCH_MTU:-1400}

bench_topology() {
  ns_add a b
  ip -n "${EVT_PREFIX}a" link add va type veth peer name vb netns "${EVT_PREFIX}b" \
    || fail "cannot create the veth pair"
  ns a ip addr add "$BENCH_UNDER_A/24" dev va && ns a ip link set va up
  ns b ip addr add "$BENCH_UNDER_B/24" dev vb && ns b ip link set vb up
  wait_until 5 "the veth carries a ping" ns a ping -c 1 -W 1 "$BENCH_UNDER_B"
}

# bench_wait_inner: the peer's inner addresses answer both ways
bench_wait_inner() {
  wait_until "${1:-20}" "a ping a -> b across the tunnel" ns a ping -c 1 -W 1 "${BENCH_DST:-$BENCH_INNER_B}"
  wait_until 5 "a ping b -> a across the tunnel" ns b ping -c 1 -W 1 "$BENCH_INNER_A"
}

# ---- measuring ----------------------------------------------------------

BENCH_HZ=$(getconf CLK_TCK)

# bench_cpu_ticks PID...: user + system clock ticks of the processes, summed
bench_cpu_ticks() {
  local t=0 p s
  for p in "$@"; do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }   # past "pid (comm) ", which may hold spaces
    t=$((t + $(awk '{ print $12 + $13 }' <<<"$s")))
  done
  echo "$t"
}

# bench_rss_kb PID...: resident memory of the processes, summed, in KiB
bench_rss_kb() {
  local t=0 p r
  for p in "$@"; do
    r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
    t=$((t + ${r:-0}))
  done
  echo "$t"
}

# bench_wakeups PID: the times the process went to sleep and was woken
# (voluntary context switches, all its threads)
bench_wakeups() {
  local t=0 f r
  for f in /proc/"$1"/task/*/status; do
    r=$(awk '/^voluntary_ctxt_switches:/ { print $2 }' "$f" 2>/dev/null) || continue
    t=$((t + ${r:-0}))
  done
  echo "$t"
}

# bench_smaps_kb FIELD PID...: a smaps_rollup field (Pss, Anonymous) summed:
# VmRSS counts every shared library page a process touched in full, Pss
# divides them among the processes mapping them, Anonymous is its own
bench_smaps_kb() {
  local f=$1 t=0 p r; shift
  for p in "$@"; do
    r=$(awk -v f="$f:" '$1 == f { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    t=$((t + ${r:-0}))
  done
  echo "$t"
}

# bench_iperf_server: one iperf3 server in b on the inner address (it serves
# one test at a time, which is what the bench does)
bench_iperf_server() {
  bg b "$EVT_TMP/iperf3-server.log" iperf3 -s -B "${BENCH_DST:-$BENCH_INNER_B}" -p 5201 >/dev/null
  BENCH_IPERF_PID=${EVT_PIDS[-1]}
  wait_until 5 "iperf3 listening in b" _bench_listening
}
_bench_listening() { ns b ss -Hltn "src ${BENCH_DST:-$BENCH_INNER_B}:5201" | grep -q .; }
bench_iperf_server_stop() { [ -n "${BENCH_IPERF_PID:-}" ] && kill_wait "$BENCH_IPERF_PID"; BENCH_IPERF_PID=; }

# bench_iperf SECS ARGS...: one iperf3 client run a -> b, JSON on stdout.
# A test that cannot connect (the server is still busy with the last) is
# retried for a few seconds.
bench_iperf() {
  local secs=$1 i; shift
  for i in 1 2 3 4 5 6 7 8 9 10; do
    if ns a iperf3 -c "${BENCH_DST:-$BENCH_INNER_B}" -p 5201 -t "$secs" -J "$@" >"$EVT_TMP/iperf.json" 2>"$EVT_TMP/iperf.err" \
       && jq -e '.end.sum_received // .end.sum' "$EVT_TMP/iperf.json" >/dev/null 2>&1; then
      cat "$EVT_TMP/iperf.json"
      return 0
    fi
    sleep 0.5   # the server is finishing the previous test
  done
  echo "bench_iperf $*: $(jq -r ".error // empty" "$EVT_TMP/iperf.json" 2>/dev/null) $(tail -n 2 "$EVT_TMP/iperf.err")" >&2
  return 1
}

# bench_ping COUNT INTERVAL: per-packet RTTs a -> b in ms, one per line
bench_ping() {
  ns a ping -n -c "$1" -i "$2" -W 1 "${BENCH_DST:-$BENCH_INNER_B}" 2>/dev/null \
    | sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p'
}

# bench_pct P: the P-th percentile (nearest rank) of the numbers on stdin
bench_pct() {
  sort -g | awk -v p="$1" '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR; print v[r] }'
}

# bench_median: the median of the numbers on stdin ("nan" if none)
bench_median() {
  grep -v '^nan$' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_record SECTION NAME RUN METRIC VALUE: one raw figure
bench_record() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_RAW"
}

# ---- the link benchmark: one peer, one run --------------------------------

# The figures every section shares; REC is "bench_record SECTION NAME RUN".

# bench_rtt REC PREFIX COUNT [INTERVAL]: COUNT pings INTERVAL seconds apart
# (default 0.01), PREFIX_p50_ms and PREFIX_p99_ms
bench_rtt() {
  local rec=$1 prefix=$2 rtts
  rtts=$(bench_ping "$3" "${4:-0.01}")
  $rec "${prefix}_p50_ms" "$(bench_pct 50 <<<"$rtts")"
  $rec "${prefix}_p99_ms" "$(bench_pct 99 <<<"$rtts")"
}

# bench_tcp1 REC SECS PIDS...: one TCP stream, tcp1_mbps, and cpu_s_per_gbit
# of PIDS (user + system time) over the same interval. With BENCH_CPU_PARTS
# (an associative array NAME -> "PID..."), also cpu_s_per_gbit_NAME for each
# part, so a figure shows whose CPU the path spends.
declare -A BENCH_CPU_PARTS=()
bench_tcp1() {
  local rec=$1 secs=$2 j bits part; shift 2
  local -A t0=() t1=()
  t0[all]=$(bench_cpu_ticks "$@")
  for part in "${!BENCH_CPU_PARTS[@]}"; do t0[$part]=$(bench_cpu_ticks ${BENCH_CPU_PARTS[$part]}); done
  j=$(bench_iperf "$secs") || return 1
  t1[all]=$(bench_cpu_ticks "$@")
  for part in "${!BENCH_CPU_PARTS[@]}"; do t1[$part]=$(bench_cpu_ticks ${BENCH_CPU_PARTS[$part]}); done
  bits=$(jq '.end.sum_received.bytes * 8' <<<"$j")
  $rec tcp1_mbps "$(jq '.end.sum_received.bits_per_second / 1e6' <<<"$j")"
  $rec cpu_s_per_gbit "$(_bench_s_per_gbit $((t1[all] - t0[all])) "$bits")"
  for part in "${!BENCH_CPU_PARTS[@]}"; do
    $rec "cpu_s_per_gbit_$part" "$(_bench_s_per_gbit $((t1[$part] - t0[$part])) "$bits")"
  done
}
# _bench_s_per_gbit TICKS BITS
_bench_s_per_gbit() {
  awk -v t="$1" -v hz="$BENCH_HZ" -v b="$2" \
    'BEGIN { if (b > 0 && t > 0) printf "%.3f", (t / hz) / (b / 1e9); else print "nan" }'
}

# bench_tcp4 REC SECS: four TCP streams, tcp4_mbps
bench_tcp4() {
  local j
  j=$(bench_iperf "$2" -P 4) || return 1
  $1 tcp4_mbps "$(jq '.end.sum_received.bits_per_second / 1e6' <<<"$j")"
}

# bench_link_measure NAME RUN SECS: every link figure of the peer that is up
bench_link_measure() {
  local name=$1 run=$2 secs=$3 j n
  local rec="bench_record link $name $run"
  n=$(( secs * 100 )); [ "$n" -lt 50 ] && n=50

  bench_rtt "$rec" rtt_idle "$n"   # first, on a quiet link
  # every 0.5 ms the CPUs never settle into idle between pings: the
  # datapath's own latency, without the cost of waking from idle
  bench_rtt "$rec" rtt_warm $((n * 2)) 0.0005
  bench_tcp1 "$rec" "$secs" $PEER_PIDS_A $PEER_PIDS_B || return 1
  $rec rss_kb "$(bench_rss_kb $PEER_PIDS_A)"
  $rec pss_kb "$(bench_smaps_kb Pss $PEER_PIDS_A)"
  bench_tcp4 "$rec" "$secs" || return 1

  # UDP packet rate as received: everything iperf3 sent minus what was lost
  local len
  for len in 64 $((BENCH_MTU - 28)); do
    j=$(bench_iperf "$secs" -u -b 0 -l "$len") || return 1
    $rec "udp${len}_kpps" "$(jq '(.end.sum.packets - .end.sum.lost_packets) / .end.sum.seconds / 1000' <<<"$j")"
  done

  # RTT under load: a TCP stream runs while ping measures
  bench_iperf $((secs + 1)) >/dev/null &
  local load=$!
  wait_until 5 "the load stream to start" _bench_established
  bench_rtt "$rec" rtt_load "$n"
  wait "$load" 2>/dev/null
  return 0
}
_bench_established() { ns b ss -Htn state established "src ${BENCH_DST:-$BENCH_INNER_B}:5201" | grep -q .; }

# bench_reset: back to the bare veth whatever a peer left behind: every
# process in a and b killed, every other device deleted, inner addresses gone
bench_reset() {
  local n p d
  for n in a b; do
    for p in $(ip netns pids "$EVT_PREFIX$n" 2>/dev/null); do kill_wait "$p"; done
    for d in $(ns "$n" ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
      case $d in lo|va|vb) ;; *) ns "$n" ip link del "$d" 2>/dev/null ;; esac
    done
  done
  ns a ip addr del "$BENCH_INNER_A/24" dev va 2>/dev/null
  ns b ip addr del "$BENCH_INNER_B/24" dev vb 2>/dev/null
  return 0
}

# bench_tincans_up SUFFIX [LINK TAP MTU]: evio-tincan in a and in b (PID_a,
# PID_b), and with LINK a link between them up on TAP on both sides.
# TINCAN_ICE and TINCAN_EXTRA (tests/lib/tincan.sh) shape their config.
bench_tincans_up() {
  source "$EVT_TOP/tests/lib/tincan.sh"
  TINCAN_LOG_LEVEL=warn tincan_start a "-$1"
  TINCAN_LOG_LEVEL=warn tincan_start b "-$1"
  [ -z "${2:-}" ] || tincan_pair "$2" "$3" "$3" "$4"
}

bench_tincans_down() {
  [ -n "${PID_a:-}" ] && kill_wait "$PID_a"
  [ -n "${PID_b:-}" ] && kill_wait "$PID_b"
  PID_a= PID_b=
  rm -rf "$EVT_TMP/a" "$EVT_TMP/b"
  return 0
}

bench_topology_down() {
  bench_reset
  local n
  for n in a b; do ip netns del "$EVT_PREFIX$n" 2>/dev/null; done
  EVT_NETNS=()
}
