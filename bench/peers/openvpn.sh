# bench peer: OpenVPN 2.6 as an L2 tunnel (--dev-type tap, device "ovpn0" on
# each side), point-to-point over UDP. Sourced by the bench; see bench/lib.sh.
#
#   ns a: openvpn --tls-server (ovpn0 10.67.0.1/24) --UDP 1194-- openvpn --tls-client (ovpn0 10.67.0.2/24)
#
# Authentication: TLS with a self-signed EC (P-256) certificate per side,
# generated at run time with openssl; each side pins the other's certificate
# with --peer-fingerprint (OpenVPN 2.6, no CA needed), --dh none (ECDHE).
# Static-key (--secret) mode is not used: 2.6 deprecates it and it cannot do
# an AEAD cipher.
#
# Settings, and why:
#   --data-ciphers AES-256-GCM   AEAD data channel (AES-NI), negotiated by
#       2.6's p2p NCP; checked in the log ("Data Channel: cipher 'AES-256-GCM'").
#   --allow-compression no       no compression, as for every peer (2.6's default).
#   --proto udp, --fast-io       UDP, and the man page's documented write
#       optimisation (skips the poll before each write).
#   --sndbuf/--rcvbuf 4 MiB      documented socket knobs (capped by the kernel
#       at net.core.[rw]mem_max, 4 MiB here).
#   --txqueuelen 1000            documented knob; the tap's default is 500.
#   --tun-mtu $BENCH_MTU         the common inner MTU. The default --mssfix
#       (1492 mtu) does not clamp at this MTU: an encapsulated full frame is
#       1400 + 14 + 24 (opcode/peer-id, packet id, GCM tag) + 28 = 1466 bytes.
#   --disable-dco                DCO (kernel data channel) is tun-only and the
#       ovpn-dco module is not installed; said explicitly so the log is clear.
# The daemons run in the foreground under bg, one process per side.

_openvpn_dir() { echo "$EVT_TMP/openvpn"; }

peer_version() {
  local v
  v=$(openvpn --version 2>/dev/null | awk 'NR == 1 { print $2 }') || true
  echo "openvpn ${v:-unknown}"
}

# _openvpn_cert SIDE: self-signed P-256 certificate + key; prints its SHA256 fingerprint
_openvpn_cert() {
  local d
  d=$(_openvpn_dir)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$d/$1.key" -out "$d/$1.crt" -subj "/CN=bench-$1" -days 7 \
    >"$d/openssl-$1.log" 2>&1 || fail "openvpn: cannot make a certificate (openssl)"
  openssl x509 -in "$d/$1.crt" -noout -fingerprint -sha256 | sed 's/^.*=//'
}

# _openvpn_start SIDE LOCAL REMOTE INNER ROLE PEER_FINGERPRINT
_openvpn_start() {
  local side=$1 local=$2 remote=$3 inner=$4 role=$5 fp=$6 d
  d=$(_openvpn_dir)
  local args=(
    --dev ovpn0 --dev-type tap --proto udp
    --local "$local" --remote "$remote" --port 1194
    --ifconfig "$inner" 255.255.255.0 --tun-mtu "$BENCH_MTU" --txqueuelen 1000
    --cert "$d/$side.crt" --key "$d/$side.key" --peer-fingerprint "$fp"
    --data-ciphers AES-256-GCM --allow-compression no
    --fast-io --sndbuf 4194304 --rcvbuf 4194304
    --disable-dco --verb 3
  )
  if [ "$role" = server ]; then args+=(--tls-server --dh none); else args+=(--tls-client); fi
  bg "$side" "$d/$side.log" openvpn "${args[@]}" >/dev/null
}

peer_up() {
  local d fp_a fp_b
  d=$(_openvpn_dir)
  PEER_PIDS_A= PEER_PIDS_B= PEER_DEV_A=ovpn0 PEER_DEV_B=ovpn0
  command -v openssl >/dev/null || fail "openvpn: the bench needs the openssl command"
  rm -rf "$d" && mkdir -p "$d"
  fp_a=$(_openvpn_cert a) || fail "openvpn: no certificate for a"
  fp_b=$(_openvpn_cert b) || fail "openvpn: no certificate for b"
  _openvpn_start a "$BENCH_UNDER_A" "$BENCH_UNDER_B" "$BENCH_INNER_A" server "$fp_b"
  PEER_PIDS_A=${EVT_PIDS[-1]}
  _openvpn_start b "$BENCH_UNDER_B" "$BENCH_UNDER_A" "$BENCH_INNER_B" client "$fp_a"
  PEER_PIDS_B=${EVT_PIDS[-1]}
  bench_wait_inner 30
  grep -q "Data Channel: cipher 'AES-256-GCM'" "$d/a.log" \
    || fail "openvpn: data channel is not AES-256-GCM (see $d/a.log)"
}

peer_down() {
  local s
  kill_wait ${PEER_PIDS_A:-} ${PEER_PIDS_B:-}
  for s in a b; do
    ns "$s" ip link del ovpn0 2>/dev/null || true
  done
  rm -rf "$(_openvpn_dir)"
  PEER_PIDS_A= PEER_PIDS_B=
  return 0
}
