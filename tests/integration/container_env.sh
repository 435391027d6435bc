#!/bin/bash
# The evio container refuses a bad environment (issue 14): each case runs
# the image with the least privileges it needs, in a namespace of its own,
# and must exit 2 at once with exactly one line that names the variable
# (the checker's own message after it, where the checker found it), and
# start nothing: no interface in the namespace, no process, nothing in the
# state volume. Cases: EVIO_OVERLAY missing or malformed, EVIO_ADDRESS
# malformed, EVIO_POOL not a network, EVIO_MTU out of range, the password
# file unreadable (mode 0600, another owner: root without
# CAP_DAC_OVERRIDE cannot read it) or missing, both password variables,
# EVIO_XMPP_USER not a JID, EVIO_TURN_SERVER without a port number,
# EVIO_OVS unknown, EVIO_KEEP_BRIDGE not true/false. Then the same environment with the mistake fixed
# passes the check (the container gets as far as running evio).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
source "$EVT_TOP/tests/lib/deb.sh"
source "$EVT_TOP/tests/lib/container.sh"
evt_init
ctr_cleanup_trap

ctr_image
ns_add env
mkdir -p "$EVT_TMP/secrets"
printf 'pw' >"$EVT_TMP/secrets/good"
printf 'pw' >"$EVT_TMP/secrets/locked"
chown 1234:1234 "$EVT_TMP/secrets/locked"
chmod 0600 "$EVT_TMP/secrets/good" "$EVT_TMP/secrets/locked"

GOOD=(-e EVIO_OVERLAY=lab -e EVIO_XMPP_HOST=xmpp.example.org -e EVIO_XMPP_USER=n1@example.org
      -e EVIO_XMPP_PASSWORD_FILE=/run/secrets/good)
n=0

# try VARIABLE ENV...: the container with ENV (podman -e/-v options) must
# exit 2 with one line starting "evio-entrypoint: VARIABLE: "
try() {
  local var=$1 name out rc lines; shift
  name=${EVT_PREFIX}env$((++n))
  CTR_NAMES+=("$name")
  mkdir -p "$EVT_TMP/state$n"
  # detached, then its exit status and its output alone (podman's own
  # complaints, e.g. about no systemd for health checks, stay out of it)
  ctr run -d --name "$name" --network "ns:/run/netns/${EVT_PREFIX}env" \
    --cap-drop ALL --cap-add NET_ADMIN --cap-add NET_RAW --device /dev/net/tun \
    -v "$EVT_TMP/secrets:/run/secrets:ro" -v "$EVT_TMP/state$n:/var/lib/evio" \
    "$@" "$CTR_IMAGE" >/dev/null 2>"$EVT_TMP/run$n.err" || fail "$var: podman run: $(cat "$EVT_TMP/run$n.err")"
  rc=$(ctr wait "$name" 2>/dev/null)
  out=$(ctr logs "$name" 2>&1)
  lines=$(printf '%s\n' "$out" | grep -c .)
  log "  $var: exit $rc: $out"
  [ "$rc" = 2 ] || fail "$var: exit $rc, expected 2: $out"
  [ "$lines" = 1 ] || fail "$var: $lines lines, expected 1"
  [[ $out == "evio-entrypoint: $var: "* ]] || fail "$var: the line does not name it: $out"
  ctr rm "$name" >/dev/null 2>&1
  local links pids
  links=$(ip -n "${EVT_PREFIX}env" -o link show | grep -vc ': lo:' || true)
  pids=$(ip netns pids "${EVT_PREFIX}env" | wc -l)
  [ "$links" = 0 ] && [ "$pids" = 0 ] || fail "$var: left $links interfaces, $pids processes"
  [ -z "$(ls -A "$EVT_TMP/state$n")" ] || fail "$var: wrote $(ls -A "$EVT_TMP/state$n") to the state volume"
}

log "bad environments: exit 2, one line naming the variable, nothing started"
try EVIO_OVERLAY -e EVIO_XMPP_HOST=x.example.org -e EVIO_XMPP_USER=n1@example.org \
    -e EVIO_XMPP_PASSWORD=pw
try EVIO_OVERLAY "${GOOD[@]}" -e EVIO_OVERLAY='Lab!'
try EVIO_ADDRESS "${GOOD[@]}" -e EVIO_ADDRESS=10.1.2
try EVIO_ADDRESS "${GOOD[@]}" -e EVIO_ADDRESS=10.1.2.3/33
try EVIO_POOL "${GOOD[@]}" -e EVIO_ADDRESS=auto -e EVIO_POOL=10.10.0.1/16
try EVIO_MTU "${GOOD[@]}" -e EVIO_MTU=100
try EVIO_MTU "${GOOD[@]}" -e EVIO_MTU=big
try EVIO_XMPP_PASSWORD_FILE "${GOOD[@]}" -e EVIO_XMPP_PASSWORD_FILE=/run/secrets/locked
try EVIO_XMPP_PASSWORD_FILE "${GOOD[@]}" -e EVIO_XMPP_PASSWORD_FILE=/run/secrets/none
try EVIO_XMPP_PASSWORD "${GOOD[@]}" -e EVIO_XMPP_PASSWORD=pw
try EVIO_XMPP_PASSWORD -e EVIO_OVERLAY=lab -e EVIO_XMPP_HOST=x.example.org -e EVIO_XMPP_USER=n1@example.org
try EVIO_XMPP_USER "${GOOD[@]}" -e EVIO_XMPP_USER=node1
try EVIO_XMPP_HOST -e EVIO_OVERLAY=lab -e EVIO_XMPP_USER=n1@example.org -e EVIO_XMPP_PASSWORD=pw
try EVIO_TURN_SERVER "${GOOD[@]}" -e EVIO_TURN_SERVER=turn.example.org:x -e EVIO_TURN_USER=u \
    -e EVIO_TURN_PASSWORD=p
try EVIO_TURN_USER "${GOOD[@]}" -e EVIO_TURN_SERVER=turn.example.org:3478 -e EVIO_TURN_PASSWORD=p
try EVIO_LOG_LEVEL "${GOOD[@]}" -e EVIO_LOG_LEVEL=loud
try EVIO_OVS "${GOOD[@]}" -e EVIO_OVS=guest
try EVIO_KEEP_BRIDGE "${GOOD[@]}" -e EVIO_KEEP_BRIDGE=yes
log "$n bad environments refused"

log "the good environment passes the check: the container runs evio"
name=${EVT_PREFIX}good
mkdir -p "$EVT_TMP/good-state"
CTR_NAMES+=("$name")
ctr run -d --name "$name" --network "ns:/run/netns/${EVT_PREFIX}env" \
  --cap-drop ALL --cap-add NET_ADMIN --cap-add NET_RAW --device /dev/net/tun \
  -v "$EVT_TMP/secrets:/run/secrets:ro" -v "$EVT_TMP/good-state:/var/lib/evio" \
  "${GOOD[@]}" "$CTR_IMAGE" >/dev/null
_evio_runs() { ip netns pids "${EVT_PREFIX}env" | while read -r p; do cat "/proc/$p/comm"; done | grep -c '^evio$'; }
wait_until 30 "evio running in the container" _evio_runs
ctr stop -t 10 "$name" >/dev/null
[ "$(ctr inspect -f '{{.State.ExitCode}}' "$name")" = 0 ] || fail "the good container exited $(ctr inspect -f '{{.State.ExitCode}}' "$name")"
log "ok"
