# evio-tincan as it was before issue 5's changes: the fast path off ("ice":
# {"fast_path": false}: every record through libnice, one datagram per
# call) and DTLS application records ("link": {"data_records": false})
# instead of evio's data records. Kept as a peer so the gain is measured in
# the same run.
source "$EVT_TOP/bench/peers/evio-tincan.sh"
peer_version() { echo "evio-tincan $(git -C "$EVT_TOP" describe --always --dirty 2>/dev/null || echo '?') (fast_path off, DTLS records)"; }
peer_up() {
  TINCAN_ICE='"ignore_interfaces": [], "fast_path": false' \
    TINCAN_EXTRA='"link": {"data_records": false}' _evio_tincan_up
}
