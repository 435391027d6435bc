#!/bin/bash
# A hostile member of the overlay's room cannot hurt a node (issue 17).
#
#   node1 [evbr0 10.250.0.1] -- nat1 (home) --+
#                                             |   ping P -> V at 20/s
#   node2 [evbr0 10.250.0.2] -- nat2 (home) --+-- br0 "pub" -- srv: prosody + coturn
#                                             |
#   node3: hostile_peer (no evio) -- nat3 ----+   (XMPP account node3, room "lab")
#
# node1 and node2 are real nodes with a direct link; the victim V is the one
# with the higher id, P pings it. tests/tools/hostile_peer joins room "lab"
# from site 3 as an occupant with a node's identity (a key whose fingerprint's
# first 128 bits are its nickname, the id sorting below V's, so its requests
# win every collision with V's own) and attacks V, one phase after the other,
# a fresh identity each:
#   malformed        bad JSON, wrong version/type/overlay/recipient/sender,
#                    oversized payloads (> 8 KiB, 100 KiB), 3 rounds
#   cand_then_creds  an edge_req, 40 link_cand of 16 long candidates (~300 KB),
#                    then link_creds (once made the agent send evio-tincan one
#                    control line > 256 KiB, and SIGKILL it)
#   edge_req_flood   1000 edge_req with fresh edge ids in 10 s
#   cand_flood       an edge_req, then 1000 link_cand (16 candidates each) in 10 s
#   nicknames        $HOSTILE_NICKS occupants (default 40), an edge_req from each,
#                    their ids between P's and V's on the ring both ways round
# A sampler records every second: V's TAPs (tun devices other than OVS's
# own), evio-tincan's links (link/stats), fds and RSS, both ends' view of the
# real link (state, up_s, pair_changes), helpers' restarts.
#
# Pass (all checked, all figures printed, failures listed together at the end):
#   - no helper restarted on either node (status .helpers[].restarts, PIDs)
#   - the real link never leaves "connected" at either end, its up_s never
#     goes back, its pair_changes do not grow
#   - ping p99 < 100 ms and at most $PING_MAX_LOST lost (default 5)
#   - during the single-nickname phases V holds at most 3 TAPs / links
#     (one per peer, one more while a replaced one is removed); during
#     "nicknames" at most $HOSTILE_MAX_LINKS (default 16)
#   - 30 s after the attack, no TAP or link beyond the one to P
#   - evio-tincan's fds and RSS back within 10% of their values before
#   - every malformed payload counted (.xmpp.counters.dropped +
#     .xmpp.counters.refused_payloads)
#   - refusals counted in status: the refusal counters of .overlays[0].refusals
#     (full, links, not_neighbour, busy, rate_limited, cands_dropped,
#     peers_refused, not_member, impostor) add up to >= 1 and to >= the
#     refused edge_resp the attacker saw (collisions aside)
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

HP=$EVT_BUILD/tools/hostile_peer
[ -x "$HP" ] || fail "$HP not built (make units)"
NICKS=${HOSTILE_NICKS:-40}
PING_MAX_LOST=${PING_MAX_LOST:-5}
SINGLE_MAX=3
FAILS=()
bad() { log "FAIL: $*"; FAILS+=("$*"); }

net_up 3
node_servers 3
for i in 1 2; do node_config "$i" "$(node_dir "$i")"; done
for i in 1 2; do node_start "$i" "$(node_dir "$i")"; done
node_wait_link 1 "$(node_dir 1)" connected 60
node_wait_link 2 "$(node_dir 2)" connected 60
node_assert_direct 1 "$(node_dir 1)"
node_assert_direct 2 "$(node_dir 2)"
# the victim V is the node with the higher id, so the attacker finds keys
# whose ids sort below it quickly (--below-victim); P pings V
ID1=$(node_status 1 "$(node_dir 1)" | jq -r .node_id)
ID2=$(node_status 2 "$(node_dir 2)" | jq -r .node_id)
if [[ $ID1 > $ID2 ]]; then V=1 P=2; else V=2 P=1; fi
DV=$(node_dir $V) DP=$(node_dir $P)
IDV=$(node_status $V "$DV" | jq -r .node_id) IDP=$(node_status $P "$DP" | jq -r .node_id)
log "victim node$V $IDV, pinging it node$P $IDP"
node_wait_ping $P 10.250.0.$V 10

# taps NODE: tun/tap devices in NODE's namespace that are not OVS's own
# (its userspace datapath makes the bridges' internal ports TAPs too)
taps() {
  local b
  ns "$1" sh -c 'for d in /sys/class/net/*; do [ -e "$d/tun_flags" ] && basename "$d"; done' \
    | grep -Ev '^(evbr|ovs-netdev)' | wc -l
}
tincan_links() {
  timeout 5 "$EVT_BUILD/evioctl" --socket "$(node_tincan_sock $V "$DV")" -T 3000 --json link/stats \
    2>/dev/null | jq '.links | length' 2>/dev/null || echo null
}
proc_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
proc_rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
status_of() { timeout 5 "$EVT_BUILD/evioctl" --socket "$(node_sock "$1" "$2")" -T 3000 --json status 2>/dev/null || echo '{}'; }

echo baseline >"$EVT_TMP/phase"
# one JSON line a second into samples.jsonl
sampler() {
  local s1 s2 tp
  while :; do
    s2=$(status_of $V "$DV"); s1=$(status_of $P "$DP")
    tp=$(jq -r '[.helpers[]? | select(.name == "evio-tincan") | .pid][0] // 0' <<<"$s2")
    jq -cn --arg t "$(date +%s.%N)" --arg phase "$(cat "$EVT_TMP/phase")" \
      --argjson taps "$(taps node$V)" --argjson links "$(tincan_links)" \
      --argjson tpid "$tp" --argjson fds "$(proc_fds "$tp")" --argjson rss "$(proc_rss "$tp")" \
      --argjson evio_rss "$(proc_rss "${NODE_PID[$V]}")" \
      --arg id1 "$IDP" --arg id2 "$IDV" --argjson s1 "$s1" --argjson s2 "$s2" '
      def real($s; $peer): [$s.overlays[0].links[]? | select(.peer == $peer)][0]
        | if . == null then {state: "none"} else {state, up_s, pair_changes, link_state} end;
      {t: ($t | tonumber), phase: $phase, taps: $taps, links: $links, tincan_pid: $tpid,
       fds: $fds, rss_kb: $rss, evio_rss_kb: $evio_rss,
       restarts: ([$s1, $s2] | map([.helpers[]?.restarts] | add // 0)),
       v: real($s2; $id1), n1: real($s1; $id2),
       peers: ($s2.xmpp.counters.peers // null)}' >>"$EVT_TMP/samples.jsonl" 2>/dev/null || true
    next_second
  done
}
sampler &
track $!
# (ip netns exec execs ping: $! is ping's PID, which SIGINT makes print its summary)
ip netns exec "${EVT_PREFIX}node$P" ping -D -i 0.05 -W 1 10.250.0.$V >"$EVT_TMP/ping.log" 2>&1 &
PING_PID=$!
track "$PING_PID"
samples() { [ -f "$EVT_TMP/samples.jsonl" ] && [ "$(wc -l <"$EVT_TMP/samples.jsonl")" -ge "$1" ]; }
wait_until 30 "3 baseline samples" samples 3

S2=$(node_status $V "$DV")
TPID0=$(node_helper_pid $V "$DV" evio-tincan)
FDS0=$(proc_fds "$TPID0") RSS0=$(proc_rss "$TPID0") ERSS0=$(proc_rss "${NODE_PID[$V]}")
DROP0=$(jq '.xmpp.counters.dropped + .xmpp.counters.refused_payloads' <<<"$S2")
MAX_LINKS=${HOSTILE_MAX_LINKS:-16}
log "before: evio-tincan pid $TPID0, $FDS0 fds, RSS $RSS0 kB; evio RSS $ERSS0 kB;" \
    "TAPs $(taps node$V), links $(tincan_links); link budget $MAX_LINKS"

# hostile PHASE ARGS...: one attack from site 3, its result line kept in
# $EVT_TMP/PHASE.result
hostile() {
  local phase=$1; shift
  echo "$phase" >"$EVT_TMP/phase"
  echo "$phase $(date +%s.%N)" >>"$EVT_TMP/phases"
  local t0=$(date +%s%N) rc=0
  ns node3 timeout 120 "$HP" --server "$(net_srv_ip)" --jid node3@evio.test --password pw3 \
    --ca "$NODE_CA_FILE" --overlay lab --victim "$IDV" --below-victim --cand-ip "$(net_nat_wan_ip 3)" "$@" \
    >"$EVT_TMP/$phase.out" 2>"$EVT_TMP/$phase.err" || rc=$?
  grep '^result ' "$EVT_TMP/$phase.out" | sed 's/^result //' >"$EVT_TMP/$phase.result" || true
  log "$phase: exit $rc in $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(cat "$EVT_TMP/$phase.result")"
  [ "$rc" = 0 ] || bad "$phase: hostile_peer exited $rc: $(tail -n 3 "$EVT_TMP/$phase.err" | tr '\n' ' ')"
}

hostile malformed --hold 2 malformed 3
N_BAD=$(jq '.sent.total // 0' "$EVT_TMP/malformed.result")
_bad_counted() {
  local d; d=$(node_status $V "$DV" | jq '.xmpp.counters.dropped + .xmpp.counters.refused_payloads')
  echo "dropped + refused_payloads grew by $((d - DROP0)) of $N_BAD"; [ $((d - DROP0)) -ge "$N_BAD" ]
}
if ! poll_until 10 _bad_counted; then
  bad "malformed: not every bad payload counted: $(_bad_counted || true)"
else
  log "malformed: $(_bad_counted)"
fi
# the candidate burst before the floods, so that what it does to evio-tincan
# is not hidden by what they did first
hostile cand_then_creds --hold 10 cand_then_creds 40
hostile edge_req_flood --hold 5 edge_req_flood 1000 10
hostile cand_flood --hold 5 cand_flood 1000 10
# half the nicknames between P and V on the ring and half below P: they
# then come between the two both ways round, each pair's nearest neighbours
# (the worst place for the real pair), unless an arc is too short for keys
# to be found quickly
between=()
if [ $(( 16#${IDV:0:8} - 16#${IDP:0:8} )) -ge $((1 << 20)) ] && [ $(( 16#${IDP:0:8} )) -ge $((1 << 20)) ]; then
  between=(--around "$IDP")
  log "nicknames: ids on both sides of node$P's, below node$V's"
else
  log "nicknames: an arc between node$P and node$V too short; ids below node$V's only"
fi
hostile nicknames "${between[@]}" --hold 15 nicknames "$NICKS"
echo after >"$EVT_TMP/phase"
echo "after $(date +%s.%N)" >>"$EVT_TMP/phases"

log "after the attack: waiting up to 30 s for node$V to hold only its link to node$P"
_clean() {
  local t l; t=$(taps node$V) l=$(tincan_links)
  echo "TAPs $t, evio-tincan links $l"; [ "$t" = 1 ] && [ "$l" = 1 ]
}
if poll_until 30 _clean; then
  log "clean: $(_clean)"
else
  bad "30 s after the attack node$V still holds extra: $(_clean || true) (expected 1 and 1)"
fi
TPID1=$(node_helper_pid $V "$DV" evio-tincan || echo 0)
_settled() {
  local f r; f=$(proc_fds "$TPID1") r=$(proc_rss "$TPID1")
  echo "evio-tincan $f fds (before $FDS0), RSS $r kB (before $RSS0)"
  [ $((f * 10)) -le $((FDS0 * 11)) ] && [ $((r * 10)) -le $((RSS0 * 11)) ]
}
if poll_until 30 _settled; then
  log "settled: $(_settled)"
else
  bad "evio-tincan did not return within 10%: $(_settled || true)"
fi
log "evio (agent) RSS: before $ERSS0 kB, after $(proc_rss "${NODE_PID[$V]}") kB"

kill -INT "$PING_PID" 2>/dev/null || true
wait "$PING_PID" 2>/dev/null || true
S1=$(node_status $P "$DP") S2=$(node_status $V "$DV")

# ---- figures ----
log "per phase (from the samples): max TAPs, max links, link states seen, restarts"
jq -rs 'group_by(.phase) | sort_by(.[0].t) | .[] |
  "#   \(.[0].phase): \(length) samples, TAPs max \(map(.taps) | max), links max \(map(.links // -1) | max), " +
  "fds max \(map(.fds) | max), RSS max \(map(.rss_kb) | max) kB, evio RSS max \(map(.evio_rss_kb) | max) kB, " +
  "real link at the victim \(map(.v.state) | unique | join("/")), at the pinger \(map(.n1.state) | unique | join("/")), " +
  "restarts \(map(.restarts) | last), tincan pids \(map(.tincan_pid) | unique | join(","))"' \
  "$EVT_TMP/samples.jsonl"

python3 - "$EVT_TMP/ping.log" "$EVT_TMP/phases" >"$EVT_TMP/ping.json" <<'PY'
import json, re, sys
rtt, sent_at = {}, {}
first_t = None
for line in open(sys.argv[1]):
    m = re.match(r'\[(\d+\.\d+)\].*icmp_seq=(\d+).*time=([\d.]+) ms', line)
    if m:
        t, seq, ms = float(m.group(1)), int(m.group(2)), float(m.group(3))
        rtt[seq] = ms
        sent_at[seq] = t - ms / 1000
tx = re.search(r'(\d+) packets transmitted', open(sys.argv[1]).read())
tx = int(tx.group(1)) if tx else (max(rtt) if rtt else 0)
phases = [l.split() for l in open(sys.argv[2])]
# a lost probe's send time, between the answered ones around it
got = sorted(sent_at)
def send_time(seq):
    if seq in sent_at:
        return sent_at[seq]
    import bisect
    k = bisect.bisect_left(got, seq)
    if not got:
        return 0
    if k == 0:
        return sent_at[got[0]] - (got[0] - seq) * 0.05
    if k == len(got):
        return sent_at[got[-1]] + (seq - got[-1]) * 0.05
    a, b = got[k - 1], got[k]
    return sent_at[a] + (sent_at[b] - sent_at[a]) * (seq - a) / (b - a)
def phase_of(t):
    name = "baseline"
    for p, start in phases:
        if t >= float(start):
            name = p
    return name
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None
out = {"all": {}, "phases": {}}
groups = {}
for seq in range(1, tx + 1):
    t = send_time(seq)
    groups.setdefault(phase_of(t), []).append(seq)
def summary(seqs):
    got = [rtt[s] for s in seqs if s in rtt]
    return {"sent": len(seqs), "lost": len(seqs) - len(got),
            "p50_ms": pct(got, 0.5), "p99_ms": pct(got, 0.99), "max_ms": max(got) if got else None}
out["all"] = summary(list(range(1, tx + 1)))
for p, seqs in groups.items():
    out["phases"][p] = summary(seqs)
print(json.dumps(out))
PY
log "ping node$P -> node$V (20/s): $(jq -c .all "$EVT_TMP/ping.json")"
jq -r '.phases | to_entries[] | "#   \(.key): \(.value | tostring)"' "$EVT_TMP/ping.json"

# ---- checks ----
for f in malformed cand_then_creds edge_req_flood cand_flood nicknames; do
  [ -s "$EVT_TMP/$f.result" ] || bad "$f: no result from hostile_peer"
done
REFUSED_SEEN=$(cat "$EVT_TMP"/*.result | jq -s '[.[].recv.edge_resp_refused // {} | .[]] | add // 0')
ACCEPTED_SEEN=$(cat "$EVT_TMP"/*.result | jq -s '[.[].recv.edge_resp_accepted // 0] | add')
log "the attacker saw $ACCEPTED_SEEN edge_resp accepted, $REFUSED_SEEN refused"

restarts=$(jq -s '[.[] | .helpers[]? | {name, restarts}]' <<<"$S1 $S2")
log "helpers: $(jq -c . <<<"$restarts")"
jq -e 'all(.[]; .restarts == 0)' <<<"$restarts" >/dev/null || bad "a helper was restarted: $(jq -c . <<<"$restarts")"
[ "$TPID1" = "$TPID0" ] || bad "node$V's evio-tincan changed PID: $TPID0 -> $TPID1"

down=$(jq -s '[.[] | select(.v.state != "connected" or .n1.state != "connected")
                | {phase, victim: .v.state, pinger: .n1.state}] | length' "$EVT_TMP/samples.jsonl")
[ "$down" = 0 ] || bad "the real link was not connected in $down samples: $(jq -sc '[.[] | select(.v.state != "connected" or .n1.state != "connected") | {phase, v: .v.state, n1: .n1.state}] | unique | .[0:6]' "$EVT_TMP/samples.jsonl")"
back=$(jq -s '[.[] | .v.up_s // empty] as $u | [range(1; $u | length) | select($u[.] < $u[. - 1])] | length' "$EVT_TMP/samples.jsonl")
[ "$back" = 0 ] || bad "the real link's up_s went back $back times (it went down and up)"
pc=$(jq -s '[.[] | .v.pair_changes // empty] | (max // 0) - (min // 0)' "$EVT_TMP/samples.jsonl")
[ "$pc" = 0 ] || bad "the real link's pair_changes grew by $pc"

p99=$(jq '.all.p99_ms // 1e9' "$EVT_TMP/ping.json")
lost=$(jq '.all.lost' "$EVT_TMP/ping.json")
awk -v p="$p99" 'BEGIN { exit !(p < 100) }' || bad "ping p99 $p99 ms (limit 100)"
[ "$lost" -le "$PING_MAX_LOST" ] || bad "ping: $lost lost (limit $PING_MAX_LOST)"

over=$(jq -s --argjson m "$SINGLE_MAX" '[.[] | select(.phase != "nicknames" and .phase != "after"
        and .phase != "baseline" and (.taps > $m or (.links // 0) > $m)) | {phase, taps, links}]
        | group_by(.phase) | map(max_by(.taps))' "$EVT_TMP/samples.jsonl")
[ "$(jq length <<<"$over")" = 0 ] || bad "node$V held more than $SINGLE_MAX TAPs/links from one attacker: $(jq -c . <<<"$over")"
nmax=$(jq -s '[.[] | select(.phase == "nicknames") | [.taps, (.links // 0)] | max] | max // 0' "$EVT_TMP/samples.jsonl")
[ "$nmax" -le "$MAX_LINKS" ] || bad "nicknames: node$V held $nmax TAPs/links (budget $MAX_LINKS)"

refusals=$(jq '.overlays[0].refusals // null' <<<"$S2")
log "node$V .overlays[0].refusals: $(jq -c . <<<"$refusals")"
rsum=$(jq '[.overlays[0].refusals // {} | (.full, .links, .not_neighbour, .busy, .rate_limited,
            .cands_dropped, .peers_refused, .not_member, .impostor) // 0] | add' <<<"$S2")
REFUSED_NC=$(cat "$EVT_TMP"/*.result | jq -s '[.[].recv.edge_resp_refused // {} | del(.collision) | .[]] | add // 0')
if [ "$refusals" = null ]; then
  bad "status has no .overlays[0].refusals (refusals not counted)"
elif [ "$rsum" -lt 1 ] || [ "$rsum" -lt "$REFUSED_NC" ]; then
  bad "refusals counted $rsum, the attacker saw $REFUSED_NC refused (collisions aside)"
else
  log "refusals counted: $rsum (the attacker saw $REFUSED_NC refused, collisions aside)"
fi

if [ ${#FAILS[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${FAILS[@]}" >&2
  fail "${#FAILS[@]} check(s) failed"
fi
echo "hostile_member: ok"
