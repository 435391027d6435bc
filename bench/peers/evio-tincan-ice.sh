# evio-tincan with its fast path off ("ice": {"fast_path": false}): every
# record through libnice, one datagram per call, as before the fast path.
# Kept as a peer so the fast path's gain is measured in the same run.
source "$EVT_TOP/bench/peers/evio-tincan.sh"
peer_version() { echo "evio-tincan $(git -C "$EVT_TOP" describe --always --dirty 2>/dev/null || echo '?') (fast_path off)"; }
peer_up() {
  TINCAN_ICE='"ignore_interfaces": [], "fast_path": false' _evio_tincan_up
}
