#!/bin/bash
# The Debian package (issue 13): `make deb` builds it (make check does before
# the tests; here only when the tree is newer than the .deb); lintian finds
# no error or warning; systemd-analyze verifies both units and scores their hardening
# at most 3.0 (--offline=yes, no systemd needed); the file list holds the
# programs where evio looks for them, the man pages, the units, the
# NetworkManager drop-in, the example config, and no config in /etc/evio.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
source "$EVT_TOP/tests/lib/deb.sh"
evt_init
max_exposure=3.0

deb_build
deb=$(deb_path)
log "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

log "lintian --fail-on error,warning"
lintian --fail-on error,warning --info "$deb" >"$EVT_TMP/lintian.log" 2>&1 \
  || { cat "$EVT_TMP/lintian.log" >&2; fail "lintian reports errors or warnings"; }
sed 's/^/  lintian: /' "$EVT_TMP/lintian.log"

log "control fields"
depends=$(dpkg-deb -f "$deb" Depends)
[[ $depends == *openvswitch-switch* ]] || fail "Depends lacks openvswitch-switch: $depends"
built_using=$(dpkg-deb -f "$deb" Built-Using)
ovs=$(dpkg-query -W -f='${source:Version}' openvswitch-source)
[ "$built_using" = "openvswitch (= $ovs)" ] || fail "Built-Using is \"$built_using\", expected openvswitch (= $ovs)"
log "Depends: $depends; Built-Using: $built_using"

log "file list"
dpkg -c "$deb" >"$EVT_TMP/files"
has() { grep -qE "$1" "$EVT_TMP/files" || fail "the package lacks $2 (pattern $1)"; }
for f in usr/sbin/evio usr/bin/evioctl usr/libexec/evio/evio-tincan usr/libexec/evio/evio-switchctl; do
  has "^-rwxr-xr-x root/root .* \./$f\$" "$f (0755)"
done
for m in man1/evioctl.1 man5/evio.conf.5 man8/evio.8 man8/evio-tincan.8 man8/evio-switchctl.8; do
  has " \./usr/share/man/$m\.gz\$" "$m"
done
has " \./lib/systemd/system/evio\.service\$" evio.service
has " \./lib/systemd/system/evio@\.service\$" evio@.service
has " \./usr/lib/NetworkManager/conf\.d/90-evio\.conf\$" "the NetworkManager drop-in"
has " \./usr/share/doc/evio/examples/config\.example\.json\$" "the example config"
has " \./usr/share/doc/evio/README\.Debian(\.gz)?\$" README.Debian
has "^drwxr-xr-x root/root .* \./etc/evio/\$" "/etc/evio (empty)"
has "^drwx------ root/root .* \./var/lib/evio/\$" "/var/lib/evio (0700)"
if grep -E " \./etc/evio/." "$EVT_TMP/files"; then fail "the package ships files in /etc/evio"; fi
if grep -E " \./(usr/local|home|root|tmp|run)/" "$EVT_TMP/files"; then fail "files in odd places"; fi
log "$(grep -c '^-' "$EVT_TMP/files") files, all expected ones present"

log "the unpacked programs run"
x=$EVT_TMP/root
deb_unpack "$x"
"$x/usr/sbin/evio" --version | grep -q '^evio ' || fail "evio --version"
"$x/usr/bin/evioctl" --version >/dev/null || fail "evioctl --version"
"$x/usr/libexec/evio/evio-tincan" --version >/dev/null || fail "evio-tincan --version"
"$x/usr/libexec/evio/evio-switchctl" --version >/dev/null || fail "evio-switchctl --version"
# README.Debian's steps: copy the example, keep it root's alone, check it
install -m 600 "$x/usr/share/doc/evio/examples/config.example.json" "$EVT_TMP/config.json"
"$x/usr/sbin/evio" --check-config "$EVT_TMP/config.json" >/dev/null \
  || fail "the shipped example config does not validate"

log "systemd-analyze verify and security (offline)"
for u in evio.service evio@.service; do
  # verify checks that ExecStart's programs exist: point it at the unpacked tree
  mkdir -p "$EVT_TMP/units"
  sed "s|/usr/sbin/evio|$x/usr/sbin/evio|g" "$x/lib/systemd/system/$u" >"$EVT_TMP/units/$u"
done
cp "$EVT_TMP/units/evio@.service" "$EVT_TMP/units/evio@test.service"
for u in evio.service evio@test.service; do
  # (MANPATH: verify also checks that the Documentation= man pages exist)
  out=$(MANPATH=$x/usr/share/man systemd-analyze verify "$EVT_TMP/units/$u" 2>&1) || true
  [ -z "$out" ] || fail "systemd-analyze verify $u: $out"
  score=$(cd "$x/lib/systemd/system" && systemd-analyze security --offline=yes "./${u/test/}" 2>&1 \
          | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  [ -n "$score" ] || fail "systemd-analyze security gave no score for $u"
  awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' \
    || fail "$u: exposure $score, expected <= $max_exposure"
  log "$u: verify clean, exposure $score (<= $max_exposure)"
done
log "ok"
