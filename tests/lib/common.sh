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
# whose every file lives in DIR, inside namespace NS.
ovs_start() {
  local n=$1 d=$2
  mkdir -p "$d"
  ns "$n" env OVS_RUNDIR="$d" OVS_LOGDIR="$d" OVS_DBDIR="$d" OVS_SYSCONFDIR="$d" bash -c '
    set -e; d=$0
    ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server "$d/conf.db" --remote=punix:"$d/db.sock" \
      --pidfile="$d/ovsdb-server.pid" --unixctl="$d/ovsdb-server.ctl" \
      --log-file="$d/ovsdb-server.log" -vconsole:off --detach --no-chdir
    ovs-vsctl --db=unix:"$d/db.sock" --no-wait init
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
