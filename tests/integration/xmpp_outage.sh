#!/bin/bash
# The XMPP server goes away and comes back; a server name that does not
# resolve; a wrong password. None of it may cost a link, block the agent, or
# be reported in words that mislead.
#
#   node1..node4 -- nat1..nat4 (home) --+-- br0 "pub" -- srv: prosody + coturn
#   node5 -- nat5 (home) --+   its resolver (10.99.100.99) never answers
#   node6 -- nat6 (home) --+   a wrong XMPP password
#
# Checks:
#  - prosody stopped 20 s (links watched all along: never down) and started
#    again: every node back in its room within 5 s of the restart;
#  - node5, configured with a host name its resolver never answers: every
#    `evioctl status` answers within 100 ms while the lookup hangs, status
#    says "resolving", then names the failure ("name not resolved");
#  - node6: status and log say "authentication failed for node6@... (not-authorized)".
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

N=4
net_up 6
node_servers 6
for i in $(seq 1 $N); do node_config "$i" "$(node_dir "$i")"; done
NODES_T0=$(date +%s%N)
for i in $(seq 1 $N); do node_start "$i" "$(node_dir "$i")"; done

_links_of() {   # "link_id up_s" of node I's connected links
  node_status "$1" "$(node_dir "$1")" \
    | jq -r '.overlays[].links[] | select(.state == "connected") | "\(.link_id) \(.up_s)"'
}
_all_linked() {
  local i
  for i in $(seq 1 $N); do [ "$(_links_of "$i" | wc -l)" -ge 2 ] || return 1; done
}
wait_until 60 "every node to have its links" _all_linked
declare -A BEFORE
for i in $(seq 1 $N); do BEFORE[$i]=$(_links_of "$i" | awk '{print $1}' | sort | tr '\n' ' '); done

_xmpp() { node_status "$1" "$(node_dir "$1")" | jq -r "$2"; }
_all_offline() {
  local i
  for i in $(seq 1 $N); do [ "$(_xmpp "$i" .xmpp.state)" != connected ] || return 1; done
}

log "---- prosody stopped for 20 s"
prosody_stop
wait_until 15 "every node to notice the server is gone" _all_offline
t_down=$(date +%s%N)
# the outage is the scenario's 20 s; every link must stay up through it,
# looked at after each of node1's attempts to reach the server again
_attempts() { _xmpp 1 .xmpp.counters.reconnects; }
_attempted_since() { [ "$(_attempts)" -gt "$1" ]; }
while [ $(( ($(date +%s%N) - t_down) / 1000000 )) -lt 20000 ]; do
  for i in $(seq 1 $N); do
    now=$(_links_of "$i" | awk '{print $1}' | sort | tr '\n' ' ')
    [ "$now" = "${BEFORE[$i]}" ] || fail "node$i's links changed during the outage: was ${BEFORE[$i]}, now $now"
  done
  wait_until 40 "node1 to try the server again" _attempted_since "$(_attempts)"
done
log "links unchanged through the outage; starting prosody again"
prosody_start srv "$EVT_TMP/prosody" "$(net_srv_ip)" "$EVT_TMP/ca"
T0=$(date +%s%N)
declare -A BACK
_in_room() { [ "$(_xmpp "$1" '.xmpp.state + " " + (.xmpp.rooms_joined | tostring)')" = "connected 1" ]; }
_all_back() {
  local i ok=0
  for i in $(seq 1 $N); do
    if [ -z "${BACK[$i]:-}" ] && _in_room "$i"; then
      BACK[$i]=$(( ($(date +%s%N) - T0) / 1000000 ))
    fi
    [ -n "${BACK[$i]:-}" ] || ok=1
  done
  return $ok
}
wait_until 60 "every node back in its room" _all_back
worst=0
for i in $(seq 1 $N); do
  log "node$i back in its room $((BACK[$i])) ms after the server's restart"
  [ "${BACK[$i]}" -gt "$worst" ] && worst=${BACK[$i]}
done
for i in $(seq 1 $N); do
  now=$(_links_of "$i" | awk '{print $1}' | sort | tr '\n' ' ')
  [ "$now" = "${BEFORE[$i]}" ] || fail "node$i's links changed: was ${BEFORE[$i]}, now $now"
done
[ "$worst" -le 5000 ] || fail "a node took $worst ms to be back in its room (limit 5000 ms)"

log "---- node5: a server name its resolver never answers"
ns_etc node5 resolv.conf "nameserver 10.99.100.99
options timeout:3 attempts:2"
d5=$(node_dir 5)
node_config 5 "$d5"
jq '.xmpp.host = "xmpp.evio.example"' "$d5/config.json" >"$d5/c" && mv "$d5/c" "$d5/config.json"
node_start 5 "$d5"
seen_resolving=0 worst_ms=0 calls=0
end=$(( $(date +%s%N) + 20000000000 ))
until [ "$(date +%s%N)" -ge "$end" ]; do
  t=$(date +%s%N)
  st=$(node_status 5 "$d5") || fail "node5: status did not answer"
  ms=$(( ($(date +%s%N) - t) / 1000000 ))
  calls=$((calls + 1))
  [ "$ms" -gt "$worst_ms" ] && worst_ms=$ms
  [ "$(jq -r .xmpp.state <<<"$st")" = resolving ] && seen_resolving=1
  err=$(jq -r .xmpp.last_error <<<"$st")
  [[ $err == *"name not resolved"* ]] && [ "$seen_resolving" = 1 ] && break
  sleep 0.05
done
log "node5: $calls status calls, slowest $worst_ms ms; state seen resolving: $seen_resolving; last_error: $err"
[ "$seen_resolving" = 1 ] || fail "node5's status never said resolving"
[[ $err == "xmpp.evio.example: name not resolved"* ]] || fail "node5's status does not name the failure: $err"
[ "$worst_ms" -le 100 ] || fail "node5's status took $worst_ms ms while the lookup hung (limit 100 ms)"

log "---- node6: a wrong XMPP password"
d6=$(node_dir 6)
node_config 6 "$d6"
jq '.xmpp.password = "not-the-password"' "$d6/config.json" >"$d6/c" && mv "$d6/c" "$d6/config.json"
node_start 6 "$d6"
_auth_reported() { [[ $(_xmpp 6 .xmpp.last_error) == "authentication failed for node6@evio.test"* ]]; }
wait_until 20 "node6's status to say authentication failed" _auth_reported
e6=$(_xmpp 6 .xmpp.last_error)
log "node6: $e6"
[[ $e6 == *"(not-authorized)" ]] || fail "node6: the reason is not the server's condition: $e6"
grep -q "authentication failed for node6@evio.test" "$d6/evio.log" || fail "node6: no log line says authentication failed"
echo "xmpp_outage: ok"
