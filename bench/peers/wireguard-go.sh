# bench peer: wireguard-go, the userspace WireGuard (Debian's 0.0.20220316),
# configured with wg (wireguard-tools). The L3 reference: a TUN device "wg0"
# on each side, so it carries IP only (no Ethernet header, no ARP).
# Sourced by the bench; see bench/lib.sh.
#
#   ns a: wireguard-go (wg0 10.67.0.1/24) --UDP 51820 over va/vb-- wireguard-go (wg0 10.67.0.2/24)
#
# Userspace, not the kernel module: nothing here creates a "wireguard" link;
# wireguard-go makes a plain TUN device and serves its UAPI socket
# /run/wireguard/wg0.sock, and wg talks to a userspace socket when one exists
# for the interface (it prefers it to the kernel's netlink). That socket
# directory is not per network namespace, so each side bind-mounts its own
# directory under $EVT_TMP on /run/wireguard inside the private mount
# namespace that "ip netns exec" gives every command: the two daemons (and
# any other run) never share a socket, and the host's /run/wireguard stays
# untouched. (wireguard-go only prints a warning on a kernel with WireGuard;
# WG_PROCESS_FOREGROUND=1 silences it, -f keeps it in the foreground.)
#
# Settings, and why:
#   ChaCha20-Poly1305 AEAD, Curve25519: WireGuard's only crypto, no choice.
#   UDP is its only transport; it has no compression.
#   MTU $BENCH_MTU set with ip (wireguard-go follows it; its default is 1420).
#   LOG_LEVEL=error: no per-packet logging. wireguard-go has no documented
#   performance knobs (Go uses both cores: GOMAXPROCS defaults to the CPU
#   count). This Debian build predates wireguard-go's 2023 TUN offloads
#   (GSO/GRO), so it is the plain one-packet-per-syscall datapath.
# One process per side, started in the foreground under bg.

_wireguard_go_dir() { echo "$EVT_TMP/wireguard-go"; }

peer_version() {
  local v t
  v=$(wireguard-go --version 2>/dev/null | awk 'NR == 1 { sub(/^v/, "", $2); print $2 }') || true
  t=$(wg --version 2>/dev/null | awk 'NR == 1 { print $2 }') || true
  echo "wireguard-go ${v:-unknown} (wg ${t:-unknown})"
}

# _wireguard_go_in SIDE CMD...: CMD in ns SIDE, with that side's socket
# directory mounted on /run/wireguard (the mount ends with the process)
_wireguard_go_in() {
  local side=$1; shift
  ns "$side" sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' \
    "$(_wireguard_go_dir)/$side/run" "$@"
}

_wireguard_go_sock() { [ -S "$(_wireguard_go_dir)/$1/run/wg0.sock" ]; }

# _wireguard_go_side SIDE INNER PEER_INNER PEER_UNDER: start and configure one side
_wireguard_go_side() {
  local side=$1 inner=$2 peer_inner=$3 peer_under=$4 d peer
  d=$(_wireguard_go_dir)
  peer=a; [ "$side" = a ] && peer=b
  bg "$side" "$d/$side.log" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error \
    sh -c 'mount --bind "$0" /run/wireguard && exec wireguard-go -f wg0' "$d/$side/run" >/dev/null
  if [ "$side" = a ]; then PEER_PIDS_A=${EVT_PIDS[-1]}; else PEER_PIDS_B=${EVT_PIDS[-1]}; fi
  wait_until 10 "wireguard-go: UAPI socket of $side" _wireguard_go_sock "$side"
  _wireguard_go_in "$side" wg set wg0 listen-port 51820 private-key "$d/$side/key" \
    peer "$(cat "$d/$peer/pub")" endpoint "$peer_under:51820" allowed-ips "$peer_inner/32" \
    || fail "wireguard-go: wg set on $side failed"
  ns "$side" ip addr add "$inner/24" dev wg0
  ns "$side" ip link set wg0 mtu "$BENCH_MTU" up
}

peer_up() {
  local d s
  d=$(_wireguard_go_dir)
  PEER_PIDS_A= PEER_PIDS_B= PEER_DEV_A=wg0 PEER_DEV_B=wg0
  rm -rf "$d"
  mkdir -p /run/wireguard   # the mount point (wireguard-go would make it too)
  for s in a b; do
    mkdir -p "$d/$s/run"
    (umask 077; wg genkey >"$d/$s/key")
    wg pubkey <"$d/$s/key" >"$d/$s/pub"
  done
  _wireguard_go_side a "$BENCH_INNER_A" "$BENCH_INNER_B" "$BENCH_UNDER_B"
  _wireguard_go_side b "$BENCH_INNER_B" "$BENCH_INNER_A" "$BENCH_UNDER_A"
  bench_wait_inner 30
}

peer_down() {
  local s
  kill_wait ${PEER_PIDS_A:-} ${PEER_PIDS_B:-}
  for s in a b; do
    ns "$s" ip link del wg0 2>/dev/null || true
  done
  rm -rf "$(_wireguard_go_dir)"
  PEER_PIDS_A= PEER_PIDS_B=
  return 0
}
