#!/bin/bash
# Direct paths wherever the network allows, TURN only as the last resort:
# two nodes per case, each case behind the routers a user would have.
#
#   site 1  home ----+                        home = masquerade, WAN input drops
#   site 2  home ----+                               the unsolicited (OpenWrt)
#   site 3  public --+                        public = a cloud VM, no NAT
#   site 4  home ----+-- br0 "pub" --- srv 10.99.100.10: prosody + coturn
#   site 5  public --+                        (TURN, and STUN on the same port)
#   site 6  public --+
#   site 7  home ----+   node8 on site 7's LAN (two nodes behind one NAT)
#   site 9  symmetric+                        symmetric = a random port per peer
#   site 10 home ----+
#   site 11 open ----+                        open = masquerade without an
#   site 12 open ----+                               input filter
#
# Each case joins its own overlay with two nodes, waits for the link at both
# ends, and sends 8 MB over TCP through it while counting the bytes that
# cross the server's interface (TURN relaying shows as twice the transfer).
# Asserted: the pair types at both ends where a direct path exists, no
# transfer bytes through the server, the links that need TURN still come up,
# and the cases without a TURN server link. Prints the table.
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init
for t in jq nft python3; do command -v "$t" >/dev/null || fail "needs $t"; done

net_up 12 home home public home public public home lan:7 symmetric home open open
node_servers 12
srv=$(net_srv_ip)
head -c 8M /dev/urandom >"$EVT_TMP/blob"
TABLE=()
RESULTS=0

srv_bytes() {
  local s=/sys/class/net/wan/statistics
  echo $(( $(ns srv cat $s/rx_bytes) + $(ns srv cat $s/tx_bytes) ))
}

_up_at_least() { [ "$(node_link "$1" "$(node_dir "$1")" up_s)" -ge "$2" ]; }

# pair_of I: "local/remote" candidate types of node I's link.
pair_of() { node_link "$1" "$(node_dir "$1")" | jq -r '"\(.local_type)/\(.remote_type)"'; }

# run_case NAME A B EXPECT [node_config settings...]
#   EXPECT: host (host/host at both ends), direct (no relay at either end, no
#   transfer bytes through the server), linked (any pair, e.g. through TURN)
run_case() {
  local name=$1 a=$2 b=$3 expect=$4; shift 4
  local ip_a=10.250.$RESULTS.1 ip_b=10.250.$RESULTS.2 i t0 ms pa pb before after through
  RESULTS=$((RESULTS + 1))
  log "---- $name: node$a ($(net_kind "$a")) and node$b ($(net_kind "$b")), $*"
  NODE_OVERLAY=m$RESULTS
  for i in "$a" "$b"; do
    node_config "$i" "$(node_dir "$i")" "$@"
  done
  # each case's two nodes share an overlay of their own (room and subnet)
  jq --arg a "$ip_a/24" '.overlays[].bridge.ip = $a' "$(node_dir "$a")/config.json" >"$EVT_TMP/c" \
    && mv "$EVT_TMP/c" "$(node_dir "$a")/config.json"
  jq --arg b "$ip_b/24" '.overlays[].bridge.ip = $b' "$(node_dir "$b")/config.json" >"$EVT_TMP/c" \
    && mv "$EVT_TMP/c" "$(node_dir "$b")/config.json"
  node_start "$a" "$(node_dir "$a")"
  t0=$(date +%s%N)
  node_start "$b" "$(node_dir "$b")"
  node_wait_link "$a" "$(node_dir "$a")" connected 60
  node_wait_link "$b" "$(node_dir "$b")" connected 60
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  node_wait_ping "$a" "$ip_b" 20

  net_tcp_listen "node$b" "$ip_b" 5001 "$EVT_TMP/blob.rx"
  before=$(srv_bytes)
  net_tcp_send "node$a" "$ip_b" 5001 "$EVT_TMP/blob" 120 || fail "$name: TCP transfer failed"
  wait "$NET_TCP_PID" || fail "$name: the TCP receiver failed"
  after=$(srv_bytes)
  through=$((after - before))
  cmp -s "$EVT_TMP/blob" "$EVT_TMP/blob.rx" || fail "$name: 8 MB did not arrive intact"

  if [ "$expect" = linked ]; then
    # a relayed link checks its pairs again every 5 s (ICE restarts that
    # keep the relayed pair): they must never cost the link
    wait_until 30 "node$a's link to be up 12 s" _up_at_least "$a" 12
    [ "$(node_link "$a" "$(node_dir "$a")" state)" = connected ] || fail "$name: the link went down"
    ns "node$a" ping -c 2 -i 0.2 -W 2 "$ip_b" >/dev/null || fail "$name: no ping after 12 s"
  fi
  # asked after the transfer: a pair that started relayed has had time to move
  pa=$(pair_of "$a") pb=$(pair_of "$b")
  TABLE+=("$(printf '%-28s %-14s %-14s %7s ms %10s' "$name" "$pa" "$pb" "$ms" "$through")")
  log "$name: node$a $pa, node$b $pb, connected in $ms ms, $through bytes through the server"
  node_stop "$a" "$(node_dir "$a")"
  node_stop "$b" "$(node_dir "$b")"

  case $expect in
    host)
      [ "$pa" = host/host ] && [ "$pb" = host/host ] \
        || fail "$name: expected host/host at both ends, got node$a $pa, node$b $pb" ;;
    direct)
      [[ $pa != *relay* && $pb != *relay* ]] \
        || fail "$name: expected a direct pair, got node$a $pa, node$b $pb" ;;
    linked) ;;
    *) fail "run_case: unknown expectation $expect" ;;
  esac
  if [ "$expect" != linked ]; then
    # signalling, keepalives and TURN refreshes are a few kB; 8 MB relayed is 16 MB
    [ "$through" -lt 1000000 ] || fail "$name: $through bytes crossed the server during an 8 MB transfer"
  fi
}

run_case "home / home"                 1 2 direct
run_case "public / home"               3 4 direct
run_case "public / home, STUN only"    3 4 direct turn=none "stun=$srv:3478"
run_case "public / public"             5 6 host
run_case "public / public, STUN only"  5 6 host turn=none "stun=$srv:3478"
run_case "public / public, no servers" 5 6 host turn=none
run_case "same LAN (one NAT)"          7 8 host
run_case "symmetric / home"            9 10 linked
run_case "open / open (no input filter)" 11 12 linked

printf '\n%-28s %-14s %-14s %10s %10s\n' case "pair (A)" "pair (B)" connect "via server"
printf '%s\n' "${TABLE[@]}"
echo "nat_matrix: ok"
