# evio-tincan alone: one link between two evio-tincan processes driven over
# their control sockets (tests/lib/tincan.sh), TAP to TAP, no OVS. The ICE
# pair is host/host on the veth; the frames are AEAD-encrypted (see
# doc/tincan-control.md for the cipher the link reports).
peer_version() { echo "evio-tincan $(git -C "$EVT_TOP" describe --always --dirty 2>/dev/null || echo '?')"; }

peer_up() { _evio_tincan_up; }

_evio_tincan_up() {
  bench_tincans_up bench bl evt0 "$BENCH_MTU"
  ns a ip addr add "$BENCH_INNER_A/24" dev evt0
  ns b ip addr add "$BENCH_INNER_B/24" dev evt0
  PEER_PIDS_A=$PID_a PEER_PIDS_B=$PID_b PEER_DEV_A=evt0 PEER_DEV_B=evt0
  bench_wait_inner 10
  log "evio-tincan: $(field a bl local_type)/$(field a bl remote_type) pair, $(field a bl path) path, cipher $(field a bl cipher), $(field a bl records) records"
}

peer_down() { bench_tincans_down; }
