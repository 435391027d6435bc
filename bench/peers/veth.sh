# The ceiling: no tunnel at all. The inner addresses sit on the veth itself,
# so every figure is the kernel's own path between the two namespaces.
peer_version() { echo "raw veth (kernel $(uname -r))"; }

peer_up() {
  ns a ip addr add "$BENCH_INNER_A/24" dev va
  ns b ip addr add "$BENCH_INNER_B/24" dev vb
  PEER_PIDS_A= PEER_PIDS_B= PEER_DEV_A=va PEER_DEV_B=vb
  bench_wait_inner 5
}

peer_down() {
  ns a ip addr del "$BENCH_INNER_A/24" dev va 2>/dev/null
  ns b ip addr del "$BENCH_INNER_B/24" dev vb 2>/dev/null
  return 0
}
