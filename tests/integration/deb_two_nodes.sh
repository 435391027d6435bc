#!/bin/bash
# The binaries from the Debian package form an overlay: integration/two_nodes
# (two nodes behind home-router NATs, a direct link, ping, 10 MB over TCP,
# nothing readable on the internet) run against the files `dpkg -x` unpacks,
# not against the build tree. The test's EVT_BUILD holds only symlinks to
# usr/sbin/evio and usr/bin/evioctl; evio resolves its own path, so it must
# find evio-tincan and evio-switchctl in ../libexec/evio/ as when installed
# (there are no helpers next to it to fall back on).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
source "$EVT_TOP/tests/lib/deb.sh"
evt_init

deb_build
x=$EVT_TMP/root
deb_unpack "$x"
[ ! -e "$x/usr/sbin/evio-tincan" ] && [ -x "$x/usr/libexec/evio/evio-tincan" ] \
  || fail "unexpected layout: helpers must be in usr/libexec/evio only"
bin=$EVT_TMP/bin
mkdir -p "$bin"
ln -s "$x/usr/sbin/evio" "$bin/evio"
ln -s "$x/usr/bin/evioctl" "$bin/evioctl"
log "two_nodes with EVT_BUILD=$bin -> $x (from $(basename "$(deb_path)"))"

# two_nodes makes its own temporary directory and namespaces (same prefix)
EVT_BUILD=$bin EVT_TMP= bash "$EVT_TOP/tests/integration/two_nodes.sh" \
  || fail "two_nodes failed with the package's binaries"

log "ok: the package's evio found its helpers in usr/libexec/evio and formed an overlay"
