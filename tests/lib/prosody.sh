# prosody for evio's integration tests and demo (source after common.sh): an
# XMPP server for domain evio.test with mandatory STARTTLS from a test CA,
# MUC on conference.evio.test, and accounts made with prosody_user.

PROSODY_DOMAIN=evio.test
PROSODY_MUC=conference.evio.test
PROSODY_PORT=5222
PROSODY_TLS_PORT=5223   # direct TLS (tls "direct")

# prosody_ca DIR [NAME]: a fresh test CA (DIR/ca.key, DIR/ca.crt) and a
# server key and certificate signed by it (DIR/server.key, DIR/server.crt)
# for evio.test and conference.evio.test. NAME goes into the CA's subject,
# so two CAs made for a test are told apart in logs.
prosody_ca() {
  local d=$1 name=${2:-evio test CA}
  mkdir -p "$d"
  (
    set -e
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout ca.key -out ca.crt -days 30 -subj "/CN=$name" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout server.key -out server.csr -subj "/CN=$PROSODY_DOMAIN"
    printf '%s\n' "subjectAltName=DNS:$PROSODY_DOMAIN,DNS:$PROSODY_MUC" \
      "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 30 -extfile server.ext -out server.crt
    rm -f server.csr server.ext ca.srl
    chmod 600 ca.key server.key
  ) >"$d/openssl.log" 2>&1 || fail "prosody_ca: openssl failed: $(tail -n 5 "$d/openssl.log")"
}

# prosody_start NS DIR IP CERT_DIR: write DIR/prosody.cfg.lua and run prosody
# in the foreground inside NS, listening on IP:5222 (STARTTLS required) and
# IP:5223 (direct TLS), with CERT_DIR/server.{key,crt}. Returns once 5222 is
# listening. Data, pidfile and log (DIR/prosody.log) live in DIR.
prosody_start() {
  local n=$1 d=$2 ip=$3 certs=$4
  command -v prosody >/dev/null || fail "prosody_start: prosody not installed (apt-get install prosody lua-sec)"
  [ -r "$certs/server.key" ] && [ -r "$certs/server.crt" ] \
    || fail "prosody_start: no server.key/server.crt in $certs (run prosody_ca)"
  mkdir -p "$d/data"
  cat >"$d/prosody.cfg.lua" <<EOF
-- written by tests/lib/prosody.sh for one test run
daemonize = false
run_as_root = true
pidfile = "$d/prosody.pid"
data_path = "$d/data"
certificates = "$certs"
log = { info = "$d/prosody.log"; error = "*console" }

interfaces = { "$ip" }
c2s_ports = { $PROSODY_PORT }
c2s_direct_tls_ports = { $PROSODY_TLS_PORT }
c2s_direct_tls_ssl = { key = "$certs/server.key"; certificate = "$certs/server.crt" }
s2s_ports = {}

modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix" }
modules_disabled = { "s2s"; "offline"; "admin_shell"; "admin_socket" }
authentication = "internal_hashed"
c2s_require_encryption = true
allow_unencrypted_plain_auth = false

VirtualHost "$PROSODY_DOMAIN"
  ssl = { key = "$certs/server.key"; certificate = "$certs/server.crt" }

Component "$PROSODY_MUC" "muc"
  muc_room_locking = false
  muc_room_default_history_length = 0
EOF
  bg "$n" "$d/prosody.out" prosody --config "$d/prosody.cfg.lua" >/dev/null
  PROSODY_PID=${EVT_PIDS[-1]}
  PROSODY_NS=$n
  PROSODY_DIR=$d
  wait_until 10 "prosody listening on $ip:$PROSODY_PORT in $n" _prosody_listening "$n" "$ip"
  kill -0 "$PROSODY_PID" 2>/dev/null \
    || fail "prosody exited: $(tail -n 5 "$d/prosody.out" "$d/prosody.log" 2>/dev/null)"
  log "prosody up on $ip:$PROSODY_PORT (pid $PROSODY_PID)"
}

_prosody_listening() {
  ns "$1" ss -Hltn "src $2:$PROSODY_PORT" | grep -q .
}

# prosody_user NS DIR USER PASSWORD: register USER@evio.test (USER may
# already carry "@evio.test").
prosody_user() {
  local n=$1 d=$2 user=${3%@"$PROSODY_DOMAIN"} pw=$4
  ns "$n" prosodyctl --config "$d/prosody.cfg.lua" register "$user" "$PROSODY_DOMAIN" "$pw" \
    >"$d/register-$user.log" 2>&1 \
    || fail "prosody_user: cannot register $user@$PROSODY_DOMAIN: $(tail -n 3 "$d/register-$user.log")"
}

# prosody_stop: stop the server started by prosody_start.
prosody_stop() {
  [ -n "${PROSODY_PID:-}" ] && { kill_wait "$PROSODY_PID" || true; }
  PROSODY_PID=
}
