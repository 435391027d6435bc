#!/bin/bash
# The agent refuses an XMPP server whose certificate its CA does not vouch for.
#
#   node1 10.99.1.10 -- nat1 (MASQ) -- br0 "pub" -- srv 10.99.100.10: prosody
#   ca_file = CA "other"                                cert signed by CA "test"
#
# Checks: evio never reaches xmpp state "connected", logs "not trusted", keeps
# running and tries again (prosody sees a second connection).
set -euo pipefail
source "$(dirname "$0")/../lib/e2e.sh"
evt_init

d1=$EVT_TMP/node1
net_up 1
node_servers 1
prosody_ca "$EVT_TMP/otherca"
cmp -s "$EVT_TMP/otherca/ca.crt" "$NODE_CA_FILE" && fail "the two test CAs are the same"
node_config 1 "$d1" ca_file="$EVT_TMP/otherca/ca.crt"
node_start 1 "$d1"

states=()
# Records every state seen; succeeds once evio logged "not trusted" and the
# server saw at least two connections from it (it came back after backoff).
xmpp_watch() {
  local s
  s=$(node_status 1 "$d1" | jq -r .xmpp.state) || return 1
  # (${states[-1]} on an empty array is a fatal expansion error in bash)
  local n=${#states[@]}
  if [ "$n" = 0 ] || [ "${states[$((n - 1))]}" != "$s" ]; then states+=("$s"); fi
  grep -q "not trusted" "$d1/evio.log" \
    && [ "$(grep -c "Client connected" "$EVT_TMP/prosody/prosody.log")" -ge 2 ]
}
# wait_until runs its command in this shell, so states[] accumulates here.
wait_until 60 '"not trusted" in the log and a second attempt at the server' xmpp_watch
log "xmpp states seen: ${states[*]}"
log "connections seen by prosody: $(grep -c "Client connected" "$EVT_TMP/prosody/prosody.log")," \
    "refused by the client: $(grep -c "unknown ca" "$EVT_TMP/prosody/prosody.log")"
grep -m 3 "not trusted" "$d1/evio.log" | sed 's/^/#   /'
for s in "${states[@]}"; do
  [ "$s" != connected ] || fail "xmpp reached connected with an untrusted server certificate"
done
kill -0 "${NODE_PID[1]}" 2>/dev/null || fail "evio exited instead of retrying"
node_status 1 "$d1" | jq -e '.xmpp.state != "connected"' >/dev/null || fail "xmpp connected"
echo "xmpp_bad_ca: ok"
