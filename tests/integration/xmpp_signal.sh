#!/usr/bin/env bash
# XMPP signalling against a real prosody with TLS (overlay/signaling.c driven
# by tests/tools/sigprobe):
#
#   namespace "srv", lo carries 10.98.0.1
#   +----------------------------------------------------------------+
#   |  prosody 10.98.0.1:5222 (STARTTLS required, cert from test CA)  |
#   |     ^            ^               ^                             |
#   |  probe A      probe B        probe C (trusts ANOTHER CA)        |
#   |  nodea@       nodeb@         nodec@                            |
#   +----------------------------------------------------------------+
#
# Checks: A and B see each other join room "lab"; an edge_req from A reaches
# B; a server restart reports "disconnected" but no peer leaving, and both
# come back and rejoin on their own; B's exit makes A see B leave; C refuses
# the server's certificate with one clear "not trusted" line and never
# connects; no password appears in any log.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$EVT_TOP/tests/lib/prosody.sh"

PROBE=$EVT_BUILD/tools/sigprobe
SRV_IP=10.98.0.1
PW_A='pw-A-s3cret' PW_B='pw-B-s3cret' PW_C='pw-C-s3cret'
ID_A=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1
ID_B=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2
ID_C=ccccccccccccccccccccccccccccccc3

[ -x "$PROBE" ] || fail "$PROBE not built (make BUILD=... $PROBE)"
evt_init

# write_cfg NAME USER PASSWORD CA_FILE: a probe's config in $EVT_TMP/NAME.json
write_cfg() {
  local name=$1 user=$2 pw=$3 ca=$4
  mkdir -p "$EVT_TMP/$name/state" "$EVT_TMP/$name/run"
  cat >"$EVT_TMP/$name.json" <<EOF
{"node": {"state_dir": "$EVT_TMP/$name/state", "run_dir": "$EVT_TMP/$name/run",
          "log_level": "debug"},
 "xmpp": {"host": "$SRV_IP", "port": 5222, "user": "$user", "password": "$pw",
          "tls": "required", "ca_file": "$ca"},
 "overlays": {"lab": {"bridge": {"name": "evbr0", "ip": "10.250.0.1/24"}}}}
EOF
}

# start_probe NAME ID: runs sigprobe in srv with stdin from a FIFO held open
# on fd $3 (so the test can send it commands); sets PID_<NAME>.
start_probe() {
  local name=$1 id=$2 fd=$3
  mkfifo "$EVT_TMP/$name.in"
  eval "exec $fd<>\"\$EVT_TMP/\$name.in\""
  # bash gives background jobs /dev/null as stdin: redirect inside the job
  bg srv "$EVT_TMP/$name.log" bash -c 'exec "$1" "$2" "$3" <"$0"' "$EVT_TMP/$name.in" \
    "$PROBE" "$EVT_TMP/$name.json" "$id" >/dev/null
  eval "PID_$name=\${EVT_PIDS[-1]}"
}

# lines FILE REGEX N: FILE has at least N lines matching REGEX
lines() { [ "$(grep -cE "$2" "$1" 2>/dev/null)" -ge "$3" ]; }
no_line() { ! grep -qE "$2" "$1"; }

log "server: prosody with TLS from a test CA"
ns_add srv
ip -n "${EVT_PREFIX}srv" addr add "$SRV_IP/32" dev lo || fail "cannot address srv"
prosody_ca "$EVT_TMP/ca"
prosody_ca "$EVT_TMP/otherca" "some other CA"
prosody_start srv "$EVT_TMP/prosody" "$SRV_IP" "$EVT_TMP/ca"
prosody_user srv "$EVT_TMP/prosody" nodea "$PW_A"
prosody_user srv "$EVT_TMP/prosody" nodeb@evio.test "$PW_B"
prosody_user srv "$EVT_TMP/prosody" nodec "$PW_C"

write_cfg a nodea@evio.test "$PW_A" "$EVT_TMP/ca/ca.crt"
write_cfg b nodeb@evio.test "$PW_B" "$EVT_TMP/ca/ca.crt"
write_cfg c nodec@evio.test "$PW_C" "$EVT_TMP/otherca/ca.crt"

log "A and B connect over verified TLS and see each other in room lab"
start_probe a "$ID_A" 7
start_probe b "$ID_B" 8
wait_until 15 "A connected" lines "$EVT_TMP/a.log" '^connected$' 1
wait_until 15 "B connected" lines "$EVT_TMP/b.log" '^connected$' 1
wait_until 10 "A sees B join" lines "$EVT_TMP/a.log" "^joined lab $ID_B\$" 1
wait_until 10 "B sees A join" lines "$EVT_TMP/b.log" "^joined lab $ID_A\$" 1
grep -q "online: TLS" "$EVT_TMP/a.log" || fail "A's session is not over TLS"

log "A sends an edge_req to B"
echo "send lab $ID_B" >&7
wait_until 10 "A sent" lines "$EVT_TMP/a.log" "^sent lab $ID_B\$" 1
wait_until 10 "B receives A's edge_req" lines "$EVT_TMP/b.log" "^msg lab $ID_A edge_req\$" 1
echo "bulk lab $ID_A" >&8
wait_until 10 "A receives B's 7.7 KB link_cand" lines "$EVT_TMP/a.log" "^msg lab $ID_B link_cand\$" 1

log "C trusts another CA: refuses the server's certificate, never connects"
start_probe c "$ID_C" 9
wait_until 15 "C reports the untrusted certificate" \
  lines "$EVT_TMP/c.log" 'error xmpp: TLS certificate of evio\.test not trusted .*: refusing to connect' 1
wait_until 10 "C reports the disconnect" lines "$EVT_TMP/c.log" '^disconnected: TLS certificate of evio\.test not trusted' 1
no_line "$EVT_TMP/c.log" '^connected$' || fail "C connected to an untrusted server"
[ "$(grep -c 'not trusted .*refusing' "$EVT_TMP/c.log")" -ge 1 ] || fail "no clear line"
no_line "$EVT_TMP/a.log" "^joined lab $ID_C" || fail "A saw C join"

log "server restart: both report it, nobody 'leaves', both come back and rejoin"
prosody_stop
wait_until 10 "A disconnected" lines "$EVT_TMP/a.log" '^disconnected: ' 1
wait_until 10 "B disconnected" lines "$EVT_TMP/b.log" '^disconnected: ' 1
prosody_start srv "$EVT_TMP/prosody" "$SRV_IP" "$EVT_TMP/ca"
wait_until 30 "A reconnected" lines "$EVT_TMP/a.log" '^connected$' 2
wait_until 30 "B reconnected" lines "$EVT_TMP/b.log" '^connected$' 2
wait_until 10 "A sees B again" lines "$EVT_TMP/a.log" "^joined lab $ID_B\$" 2
wait_until 10 "B sees A again" lines "$EVT_TMP/b.log" "^joined lab $ID_A\$" 2
no_line "$EVT_TMP/a.log" '^left ' || fail "A reported a peer leaving when the server went away"
echo "send lab $ID_B" >&7
wait_until 10 "B receives A's second edge_req" lines "$EVT_TMP/b.log" "^msg lab $ID_A edge_req\$" 2

log "A does not spin: under 10% of one CPU over its life so far"
# utime+stime and start time from /proc/PID/stat, in clock ticks
read -r a_cpu a_start < <(awk '{ print $14 + $15, $22 }' "/proc/$PID_a/stat")
hz=$(getconf CLK_TCK)
a_life=$(awk -v hz="$hz" -v st="$a_start" '{ printf "%d", $1 * hz - st }' /proc/uptime)
log "A: $a_cpu CPU ticks in $a_life ticks of life"
[ "$a_life" -gt 0 ] && [ $((a_cpu * 10)) -lt "$a_life" ] || fail "A is busy: $a_cpu of $a_life ticks"

log "B exits: A sees B leave"
kill_wait "$PID_b"
grep -q '^exit$' "$EVT_TMP/b.log" || fail "B did not exit cleanly"
wait_until 10 "A sees B leave" lines "$EVT_TMP/a.log" "^left lab $ID_B\$" 1

log "no password in any log"
for f in "$EVT_TMP"/a.log "$EVT_TMP"/b.log "$EVT_TMP"/c.log; do
  for pw in "$PW_A" "$PW_B" "$PW_C"; do
    ! grep -qF "$pw" "$f" || fail "password found in $f"
  done
done

log "PASS xmpp_signal"
