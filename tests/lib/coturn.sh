# coturn for evio's integration tests (source after common.sh): a TURN server
# with one long-term credential, test:testpw, plain UDP/TCP only.

COTURN_USER=test
COTURN_PASSWORD=testpw
COTURN_REALM=evio.test
COTURN_PORT=3478
# coturn's own default relay range: a node killed with -9 leaves its
# allocations for their 10 min lifetime, and a test that restarts nodes
# often would exhaust a small range (real servers use this one)
COTURN_MIN_PORT=49152
COTURN_MAX_PORT=65535

# coturn_start NS DIR IP: turnserver in NS listening and relaying on IP, its
# pidfile, log and user database in DIR; returns once 3478/udp is listening.
coturn_start() {
  local n=$1 d=$2 ip=$3
  mkdir -p "$d"
  command -v turnserver >/dev/null || fail "coturn_start: turnserver not installed (apt-get install coturn)"
  bg "$n" "$d/turnserver.out" turnserver -n \
    --listening-ip="$ip" --relay-ip="$ip" --listening-port="$COTURN_PORT" \
    --lt-cred-mech --user="$COTURN_USER:$COTURN_PASSWORD" --realm="$COTURN_REALM" \
    --no-tls --no-dtls --no-cli --min-port=$COTURN_MIN_PORT --max-port=$COTURN_MAX_PORT \
    --pidfile="$d/turnserver.pid" --log-file="$d/turnserver.log" --simple-log \
    --no-stdout-log --userdb="$d/turndb" >/dev/null
  COTURN_PID=${EVT_PIDS[-1]}
  COTURN_NS=$n
  wait_until 10 "coturn listening on $ip:$COTURN_PORT/udp in $n" _coturn_listening "$n" "$ip"
  kill -0 "$COTURN_PID" 2>/dev/null || fail "coturn exited: $(tail -n 5 "$d/turnserver.out")"
  log "coturn up on $ip:$COTURN_PORT (pid $COTURN_PID)"
}

# _coturn_listening NS IP [PORT]
_coturn_listening() {
  ns "$1" ss -Hun state unconnected "src $2:${3:-$COTURN_PORT}" | grep -q .
}

# coturn_stun_start NS DIR IP PORT: a second turnserver that only answers
# STUN Binding requests (no relay, no credentials) on IP:PORT, files in DIR;
# its PID in COTURN_STUN_PID.
coturn_stun_start() {
  local n=$1 d=$2 ip=$3 port=$4
  mkdir -p "$d"
  bg "$n" "$d/turnserver.out" turnserver -n --stun-only \
    --listening-ip="$ip" --listening-port="$port" --no-tls --no-dtls --no-cli \
    --pidfile="$d/turnserver.pid" --log-file="$d/turnserver.log" --simple-log \
    --no-stdout-log --userdb="$d/turndb" >/dev/null
  COTURN_STUN_PID=${EVT_PIDS[-1]}
  wait_until 10 "STUN server listening on $ip:$port/udp in $n" _coturn_listening "$n" "$ip" "$port"
  log "STUN-only coturn up on $ip:$port (pid $COTURN_STUN_PID)"
}

# coturn_stop: stop the server started by coturn_start.
coturn_stop() {
  [ -n "${COTURN_PID:-}" ] && { kill_wait "$COTURN_PID" || true; }
  COTURN_PID=
}
