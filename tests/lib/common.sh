# Shared helpers for evio's integration tests and demo (source it from bash).
# Every namespace a test makes is named "$EVT_PREFIX<name>" and every process
# it starts is recorded, so cleanup removes exactly what this run created.

EVT_TOP=${EVT_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
EVT_BUILD=${EVT_BUILD:-$EVT_TOP/build}
EVT_PREFIX=${EVT_PREFIX:-evt$$-}
EVT_TMP=${EVT_TMP:-$(mktemp -d /tmp/evio-test.XXXXXX)}
EVT_PIDS=()
EVT_NETNS=()

log()  { printf '# %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# ns NAME CMD...: run CMD inside this run's namespace NAME
ns() { local n=$1; shift; ip netns exec "$EVT_PREFIX$n" "$@"; }

ns_add() {
  local n
  for n in "$@"; do
    ip netns add "$EVT_PREFIX$n" || fail "cannot create namespace $EVT_PREFIX$n"
    EVT_NETNS+=("$EVT_PREFIX$n")
    ip -n "$EVT_PREFIX$n" link set lo up
  done
}

# ns_etc NAME FILE CONTENT: FILE (e.g. resolv.conf) as processes in namespace
# NAME see it under /etc (ip netns exec mounts /etc/netns/NS/FILE there);
# removed with the namespace.
ns_etc() {
  mkdir -p "/etc/netns/$EVT_PREFIX$1" && printf '%s\n' "$3" >"/etc/netns/$EVT_PREFIX$1/$2" \
    || fail "ns_etc: cannot write /etc/netns/$EVT_PREFIX$1/$2"
}

# bg NAME LOGFILE CMD...: start CMD in namespace NAME in the background and
# record its PID for cleanup; the PID is also printed, and is ${EVT_PIDS[-1]}
# afterwards (do not call it as $(bg ...): a subshell's record is lost).
bg() {
  local n=$1 logf=$2; shift 2
  ip netns exec "$EVT_PREFIX$n" "$@" >"$logf" 2>&1 &
  local pid=$!
  EVT_PIDS+=("$pid")
  echo "$pid"
}
# track PID: add a process started elsewhere to the cleanup list
track() { EVT_PIDS+=("$@"); }

# wait_until SECONDS DESCRIPTION CMD...: poll CMD (every 0.1 s) until it
# succeeds; fail with DESCRIPTION when SECONDS pass first, showing what the
# last attempt printed (so a CMD can say why it is not there yet). CMD runs
# in this shell: a function may set variables.
wait_until() {
  local limit=$1 what=$2; shift 2
  local end=$(( $(date +%s%N) + limit * 1000000000 )) out=${EVT_TMP:-/tmp}/.wait_until.$$
  until "$@" >"$out" 2>&1; do
    if [ "$(date +%s%N)" -ge "$end" ]; then
      tail -n 20 "$out" | sed 's/^/    last attempt: /' >&2
      rm -f "$out"
      fail "timed out after ${limit}s waiting for: $what"
    fi
    sleep 0.1
  done
  rm -f "$out"
}

# poll_until SECONDS CMD...: like wait_until, but returns 1 instead of failing
poll_until() {
  local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.1
  done
}

# next_second: returns at the next whole second of the clock. The period of
# tests that sample a rate (messages a second, resources each second); not a
# way to wait for a state (wait_until does that).
next_second() {
  local ns
  ns=$(date +%N)
  sleep "0.$(printf '%09d' $(( 1000000000 - 10#$ns )) | cut -c1-6)"
}

# kill_wait PID...: SIGTERM, then SIGKILL after 5 s, and reap
# (every step tolerates a process that is already gone: callers use set -e)
kill_wait() {
  local p i
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  return 0
}

# ovs_start NS DIR / ovs_stop NS DIR: a private ovsdb-server + ovs-vswitchd
# whose every file lives in DIR, inside namespace NS. userspace-tso-enable
# makes the netdev datapath carry the kernel's checksum offload state (a
# virtio-net header) instead of bare bytes, so hosts on veths with their
# default offloads work. It must be set before ovs-vswitchd starts: turned
# on under a running one, it breaks the ports already open.
ovs_start() {
  local n=$1 d=$2
  mkdir -p "$d"
  ns "$n" env OVS_RUNDIR="$d" OVS_LOGDIR="$d" OVS_DBDIR="$d" OVS_SYSCONFDIR="$d" bash -c '
    set -e; d=$0
    ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server "$d/conf.db" --remote=punix:"$d/db.sock" \
      --pidfile="$d/ovsdb-server.pid" --unixctl="$d/ovsdb-server.ctl" \
      --log-file="$d/ovsdb-server.log" -vconsole:off --detach --no-chdir
    ovs-vsctl --db=unix:"$d/db.sock" --no-wait init -- \
      set Open_vSwitch . other_config:userspace-tso-enable=true
    ovs-vswitchd unix:"$d/db.sock" --pidfile="$d/ovs-vswitchd.pid" \
      --unixctl="$d/ovs-vswitchd.ctl" --log-file="$d/ovs-vswitchd.log" \
      -vconsole:off --detach --no-chdir' "$d" || fail "cannot start OVS in $n"
  EVT_PIDS+=("$(cat "$d/ovsdb-server.pid")" "$(cat "$d/ovs-vswitchd.pid")")
}
ovs_stop() {
  local n=$1 d=$2
  [ -S "$d/ovs-vswitchd.ctl" ] && ns "$n" ovs-appctl -t "$d/ovs-vswitchd.ctl" exit --cleanup 2>/dev/null
  local p
  for p in ovs-vswitchd ovsdb-server; do
    [ -f "$d/$p.pid" ] && kill_wait "$(cat "$d/$p.pid")"
  done
  return 0
}

# tx_csum_on NS IF: IF in NS has tx checksum offload on (the kernel's
# default for a veth), so a test cannot pass by hiding partial checksums.
tx_csum_on() {
  ns "$1" ethtool -k "$2" | grep -qx 'tx-checksumming: on' \
    || fail "$2 in $1: tx checksum offload is off; hosts must keep their defaults"
}

# l4_echo_start NS IP PORT: a TCP and a UDP echo server on IP:PORT in NS;
# returns once both listen.
l4_echo_start() {
  local n=$1 ip=$2 port=$3
  bg "$n" "$EVT_TMP/echo-$n-$port.log" python3 -c '
import select, socket, sys
addr = (sys.argv[1], int(sys.argv[2]))
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(addr)
t.listen(4)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(addr)
while True:
    r, _, _ = select.select([t, u], [], [])
    if u in r:
        d, peer = u.recvfrom(65535)
        u.sendto(d, peer)
    if t in r:
        c, peer = t.accept()
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
        c.close()
' "$ip" "$port" >/dev/null
  wait_until 10 "echo server on $ip:$port in $n" _l4_echo_listening "$n" "$ip" "$port"
}
_l4_echo_listening() {
  ns "$1" ss -Hltn "src $2:$3" | grep -q . && ns "$1" ss -Hlun "src $2:$3" | grep -q .
}
# l4_echo_check NS IP PORT: from NS, a UDP datagram and 1 MB over TCP to the
# echo server at IP:PORT, each back intact within 10 s; says which failed,
# and how far it got (bytes sent and echoed, time taken).
l4_echo_check() {
  ns "$1" timeout 60 python3 -c '
import os, socket, sys, threading, time
addr = (sys.argv[1], int(sys.argv[2]))
t0 = time.monotonic()
def took():
    return "%.1f s" % (time.monotonic() - t0)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(1)
d = os.urandom(1000)
for attempt in range(10):
    u.sendto(d, addr)
    try:
        if u.recvfrom(2048)[0] == d:
            break
    except socket.timeout:
        pass
else:
    sys.exit("UDP: no echo from %s:%d in 10 tries" % addr)
t0 = time.monotonic()
d = os.urandom(1 << 20)
got = bytearray()
sent = [0]
try:
    c = socket.create_connection(addr, timeout=10)
    # the echo comes back while we send: read it in a thread, or both
    # ends could block with full buffers
    def send():
        for off in range(0, len(d), 65536):
            c.sendall(d[off:off + 65536])
            sent[0] = off + 65536
        c.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send, daemon=True)
    t.start()
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += b
except OSError as e:
    sys.exit("TCP to %s:%d: %s after %d bytes sent, %d echoed, %s" % (addr + (e, sent[0], len(got), took())))
if got != d:
    sys.exit("TCP: %d bytes echoed, expected the %d sent (%s)" % (len(got), len(d), took()))
' "$2" "$3"
}

# cleanup: kill every recorded process, delete every recorded namespace.
# Installed as an EXIT trap by evt_init.
evt_cleanup() {
  local rc=$?
  set +e
  local n p
  # also whatever runs in our namespaces without being recorded (helpers a
  # daemon restarted by itself), so nothing outlives its namespace
  for n in "${EVT_NETNS[@]}"; do
    for p in $(ip netns pids "$n" 2>/dev/null); do EVT_PIDS+=("$p"); done
  done
  [ ${#EVT_PIDS[@]} -gt 0 ] && kill_wait "${EVT_PIDS[@]}"
  for n in "${EVT_NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
  # per-namespace resolv.conf and the like (ns_etc)
  for n in "${EVT_NETNS[@]}"; do rm -rf "/etc/netns/$n"; done
  if [ "$rc" != 0 ] && [ -z "${EVT_KEEP:-}" ]; then
    log "logs of the failed run:"
    for f in "$EVT_TMP"/*.log "$EVT_TMP"/*/*.log; do
      [ -f "$f" ] || continue
      printf '#### %s (last 30 lines)\n' "$f"; tail -n 30 "$f"
    done
  fi
  [ -z "${EVT_KEEP:-}" ] && rm -rf "$EVT_TMP"
  exit "$rc"
}

evt_init() {
  [ "$(id -u)" = 0 ] || fail "integration tests need root (network namespaces)"
  trap evt_cleanup EXIT
  trap 'exit 130' INT TERM
}

# evioctl wrapper: evctl SOCKET CMD [JSON]
evctl() { "$EVT_BUILD/evioctl" --socket "$@"; }
