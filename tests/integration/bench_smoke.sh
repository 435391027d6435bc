#!/bin/bash
# The benchmark harness, run small (bench/run.sh --smoke: evio-tincan only,
# one run of one second per figure, 2 links for scale) so it cannot rot.
# Checks that every section produced its figures, not what they are.
set -u
source "$(dirname "$0")/../lib/common.sh"
evt_init
out=$EVT_TMP/results
mkdir -p "$out" "$EVT_TMP/bench"

EVT_PREFIX=${EVT_PREFIX}s- EVT_TMP=$EVT_TMP/bench EVT_KEEP= \
  "$EVT_TOP/bench/run.sh" --smoke --out "$out" "$EVT_BUILD" >"$EVT_TMP/bench.out" 2>&1 \
  || { cat "$EVT_TMP/bench.out"; fail "bench/run.sh --smoke exited $?"; }
cat "$EVT_TMP/bench.out"
csv=$(ls "$out"/smoke-*.csv 2>/dev/null | head -n 1)
[ -n "$csv" ] || fail "no CSV written"
json=${csv%.csv}.json
jq -e '.machine.cores > 0 and (.medians | length > 0)' "$json" >/dev/null || fail "bad JSON: $json"

# positive SECTION SUBJECT METRIC: the median exists and is > 0
positive() {
  awk -F, -v k="$1,$2,$3" '$1 "," $2 "," $3 == k && $4 + 0 > 0 { ok = 1 } END { exit !ok }' "$csv" \
    || fail "no positive $3 for $1/$2 in $csv"
}
for m in tcp1_mbps tcp4_mbps udp64_kpps rtt_idle_p50_ms rtt_warm_p50_ms rtt_load_p50_ms rss_kb cpu_s_per_gbit; do
  positive link evio-tincan "$m"
done
positive node ovs+veth tcp1_mbps
positive node ovs+tincan tcp1_mbps
positive node ovs+tincan cpu_s_per_gbit_ovs
positive node ovs+tincan cpu_s_per_gbit_tincan
positive relay direct tcp1_mbps
positive relay relay tcp1_mbps
positive relay relay cpu_s_per_gbit_coturn
positive scale links=2 rss_kb
positive scale links=2 uss_kb
for m in idle_cpu_pct wakeups_per_s; do
  grep -q "^scale,links=2,$m," "$csv" || fail "no $m figure for scale"
done
for n in $(ip netns list | awk '{ print $1 }'); do
  [[ $n == ${EVT_PREFIX}s-* ]] && fail "the bench left namespace $n behind"
done
echo "PASS: bench_smoke"
