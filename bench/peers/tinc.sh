# bench peer: tinc 1.0 (Debian's tincd 1.0.36) as an L2 tunnel (Mode = switch,
# a TAP device "tinc0" on each side). Sourced by the bench; see bench/lib.sh.
#
#   ns a: tincd "a" (tinc0 10.67.0.1/24) --UDP 655 over va/vb-- tincd "b" (tinc0 10.67.0.2/24)
#   a ConnectTo b; the TCP meta connection carries the RSA authentication and
#   key exchange, the data goes over UDP between the two daemons.
#
# Settings, and why (same for both hosts, in both host files):
#   Cipher = aes-256-cbc, Digest = sha256   tinc 1.0.36's own defaults (its
#       legacy crypto: CBC + truncated HMAC, no AEAD); AES uses AES-NI here.
#   MACLength = 16     the default is 4 bytes of HMAC; 16 matches the 128-bit
#       tags of the AEAD peers, so every peer authenticates with similar strength.
#   Compression = 0    (the default) no compression, as for every peer.
#   PMTUDiscovery = no, PMTU = 1514   the path is known (veth MTU 1500) and an
#       inner frame (1400 + 14) plus tinc's overhead (~50 bytes) fits. With
#       discovery on (the default), tinc 1.0 sends frames bigger than the MTU
#       probed so far over its TCP meta connection: here that is the first
#       ~1 s (it converges to 1451 in ~5 s), and again whenever probes are lost
#       under load and discovery restarts, which would mix TCP-in-TCP into
#       the measured seconds. The steady state is the same either way.
#   UDPRcvBuf/UDPSndBuf = 4 MiB   tinc's documented socket knobs (the kernel
#       caps them at net.core.[rw]mem_max, 4 MiB here).
#   ReplayWindow = 64  the documented knob for high bandwidth (512 packets).
#   Not set: ProcessPriority (renicing would favour tinc over the others).
# Inner MTU $BENCH_MTU is set on tinc0 by tinc-up; the daemons run in the
# foreground (tincd -D) under bg, one process per side.

_tinc_dir() { echo "$EVT_TMP/tinc"; }

peer_version() {
  local v
  v=$(tincd --version 2>/dev/null | awk 'NR == 1 { print $3 }') || true
  echo "tinc ${v:-unknown}"
}

# _tinc_conf SIDE ADDR INNER PEER: config dir of one daemon, with its RSA key
_tinc_conf() {
  local side=$1 addr=$2 inner=$3 peer=$4 d
  d=$(_tinc_dir)/$side
  mkdir -p "$d/hosts"
  cat >"$d/tinc.conf" <<CONF
Name = $side
Mode = switch
DeviceType = tap
Interface = tinc0
AddressFamily = ipv4
UDPRcvBuf = 4194304
UDPSndBuf = 4194304
ReplayWindow = 64
CONF
  if [ "$side" = a ]; then echo "ConnectTo = $peer" >>"$d/tinc.conf"; fi
  cat >"$d/hosts/$side" <<HOST
Address = $addr
Port = 655
Cipher = aes-256-cbc
Digest = sha256
MACLength = 16
Compression = 0
PMTUDiscovery = no
PMTU = 1514
HOST
  cat >"$d/tinc-up" <<UP
#!/bin/sh
ip addr add $inner/24 dev "\$INTERFACE"
ip link set "\$INTERFACE" mtu $BENCH_MTU up
UP
  chmod +x "$d/tinc-up"
  tincd -c "$d" -K2048 </dev/null >"$d/keygen.log" 2>&1 || fail "tinc: key generation failed"
}

peer_up() {
  local d
  d=$(_tinc_dir)
  PEER_PIDS_A= PEER_PIDS_B= PEER_DEV_A=tinc0 PEER_DEV_B=tinc0
  rm -rf "$d" && mkdir -p "$d"
  _tinc_conf a "$BENCH_UNDER_A" "$BENCH_INNER_A" b
  _tinc_conf b "$BENCH_UNDER_B" "$BENCH_INNER_B" a
  cp "$d/a/hosts/a" "$d/b/hosts/a"
  cp "$d/b/hosts/b" "$d/a/hosts/b"
  # b first, so a's ConnectTo finds it listening
  bg b "$d/b.log" tincd -D -c "$d/b" --pidfile="$d/b/pid" >/dev/null
  PEER_PIDS_B=${EVT_PIDS[-1]}
  wait_until 10 "tincd b listens on UDP 655" _tinc_listening b
  bg a "$d/a.log" tincd -D -c "$d/a" --pidfile="$d/a/pid" >/dev/null
  PEER_PIDS_A=${EVT_PIDS[-1]}
  bench_wait_inner 30
}

_tinc_listening() { ns "$1" ss -Hlun 'sport = :655' | grep -q .; }

peer_down() {
  local s
  kill_wait ${PEER_PIDS_A:-} ${PEER_PIDS_B:-}
  for s in a b; do
    ns "$s" ip link del tinc0 2>/dev/null || true
  done
  rm -rf "$(_tinc_dir)"
  PEER_PIDS_A= PEER_PIDS_B=
  return 0
}
