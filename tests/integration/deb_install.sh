#!/bin/bash
# The Debian package in a clean Debian 12 root (issue 13): a copy of a
# cached `debootstrap --variant=minbase bookworm` tree (build/rootfs/), where,
# in a chroot with no service allowed to start (policy-rc.d):
#  - install: `dpkg -i` fails on the missing dependencies, `apt-get -f
#    install` pulls them from this machine's Debian mirror; then the programs
#    run (--version), the man pages and units are there, /etc/evio exists and
#    holds nothing, /var/lib/evio is 0700 root;
#  - reinstall: `dpkg -i` of the same .deb succeeds;
#  - remove: `dpkg -r` keeps /var/lib/evio and what is in it (the node's
#    identity), removes the programs; the package has no conffiles;
#  - purge: `dpkg -P` removes /var/lib/evio, and the tree holds nothing new
#    since before the install but the dependencies' files (owned by installed
#    packages) and what apt, dpkg and the dependencies' maintainer scripts
#    leave; anything of evio's left fails the test.
# Downloaded dependencies are kept in build/rootfs/apt-archives between runs.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
source "$EVT_TOP/tests/lib/deb.sh"
evt_init
t0=$(date +%s%N)
summary=()
# step NAME: time since the previous step goes into the summary
tprev=$t0
step() {
  local now; now=$(date +%s%N)
  summary+=("$(printf '%-58s %6.1f s' "$1" "$(( (now - tprev) / 1000000 ))e-3")")
  tprev=$now
}

root=$EVT_TMP/root
archives=$EVT_BUILD/rootfs/apt-archives
# unmount before evt_cleanup removes $EVT_TMP (never rm -rf through /proc)
cleanup() {
  local rc=$?
  set +e
  deb_chroot_umount "$root" 2>/dev/null || { EVT_KEEP=1; echo "# $root/proc still mounted: kept $EVT_TMP" >&2; }
  (exit "$rc"); evt_cleanup
}
trap cleanup EXIT

deb=$(deb_path)
# (deb_build rebuilds when any tracked or new file is newer, this test
# included: run it only when there is no .deb at all)
[ -f "$deb" ] || deb_build
log "package: $deb"
step "package present ($(basename "$deb"))"

cached=yes
[ -f "$EVT_BUILD/rootfs/bookworm-minbase/.complete" ] || cached=no
deb_chroot_new "$root"
step "rootfs (cached: $cached) copied, /proc mounted"
log "root: $root (from build/rootfs/bookworm-minbase, cached: $cached); sources: $(tr '\n' ';' <"$root/etc/apt/sources.list")"

# what the tree holds before the package (paths, type, mode, owner)
snapshot() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./tmp \) -prune -o -printf '%p\t%y %m %u:%g\n' | LC_ALL=C sort)
}
snapshot >"$EVT_TMP/before"

deb_chroot "$root" apt-get update -q >"$EVT_TMP/apt-update.log" 2>&1 \
  || { cat "$EVT_TMP/apt-update.log" >&2; fail "apt-get update in the chroot"; }
step "apt-get update"

mkdir -p "$archives" "$root/var/cache/apt/archives"
cp "$deb" "$root/tmp/"
pkg=/tmp/$(basename "$deb")
n=$(find "$archives" -name '*.deb' | wc -l)
[ "$n" -gt 0 ] && cp "$archives"/*.deb "$root/var/cache/apt/archives/"

log "install: dpkg -i (dependencies missing), then apt-get -f install"
if deb_chroot "$root" dpkg -i "$pkg" >"$EVT_TMP/dpkg-i.log" 2>&1; then
  cat "$EVT_TMP/dpkg-i.log"; fail "dpkg -i succeeded in a root without openvswitch-switch"
fi
grep -q 'dependency problems' "$EVT_TMP/dpkg-i.log" \
  || { cat "$EVT_TMP/dpkg-i.log" >&2; fail "dpkg -i failed, but not on dependencies"; }
missing=$(sed -n 's/^ evio depends on \([^;]*\);.*/\1/p' "$EVT_TMP/dpkg-i.log" | tr '\n' ' ')
step "dpkg -i: failed on dependencies as expected"
log "dpkg -i: unconfigured, missing: $missing"
deb_chroot "$root" apt-get -f install -y -q -o Dpkg::Use-Pty=0 >"$EVT_TMP/apt-f.log" 2>&1 \
  || { tail -n 40 "$EVT_TMP/apt-f.log" >&2; fail "apt-get -f install"; }
newpkgs=$(sed -n 's/^[0-9]* upgraded, \([0-9]*\) newly installed.*/\1/p' "$EVT_TMP/apt-f.log")
fetched=$(sed -n 's/^Fetched \(.*\) in .*/\1/p' "$EVT_TMP/apt-f.log")
step "apt-get -f install ($newpkgs new packages, fetched ${fetched:-0 B})"
log "apt-get -f install: $newpkgs new packages, fetched ${fetched:-nothing (all from build/rootfs/apt-archives)}"
cp -u "$root"/var/cache/apt/archives/*.deb "$archives/" 2>/dev/null || true
# policy-rc.d kept every service down: no process runs inside the root
in_root=$(for p in /proc/[0-9]*; do [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}:$(tr '\0' ' ' <"$p/cmdline")"; done || true)
[ -z "$in_root" ] || fail "processes started inside the chroot: $in_root"
denied=$(grep -c 'policy-rc.d denied execution' "$EVT_TMP/apt-f.log" || true)
log "no process runs in the chroot; policy-rc.d denied $denied service actions"
status=$(deb_chroot "$root" dpkg-query -W -f='${db:Status-Status}' evio)
[ "$status" = installed ] || fail "evio is \"$status\" after apt-get -f install, not installed"

log "installed: programs, man pages, units, directories"
check_installed() {
  local v
  v=$(deb_chroot "$root" evio --version) || fail "evio --version in the chroot"
  [[ $v == evio\ * ]] || fail "evio --version printed \"$v\""
  deb_chroot "$root" evioctl --version >/dev/null || fail "evioctl --version in the chroot"
  deb_chroot "$root" /usr/libexec/evio/evio-tincan --version >/dev/null || fail "evio-tincan --version in the chroot"
  deb_chroot "$root" /usr/libexec/evio/evio-switchctl --version >/dev/null || fail "evio-switchctl --version in the chroot"
  local m
  for m in man1/evioctl.1 man5/evio.conf.5 man8/evio.8 man8/evio-tincan.8 man8/evio-switchctl.8; do
    [ -s "$root/usr/share/man/$m.gz" ] || fail "/usr/share/man/$m.gz missing"
    gzip -t "$root/usr/share/man/$m.gz" || fail "/usr/share/man/$m.gz is not gzip"
  done
  [ -f "$root/lib/systemd/system/evio.service" ] || fail "evio.service not installed"
  [ -f "$root/lib/systemd/system/evio@.service" ] || fail "evio@.service not installed"
  [ -d "$root/etc/evio" ] || fail "/etc/evio missing"
  [ -z "$(ls -A "$root/etc/evio")" ] || fail "/etc/evio is not empty: $(ls -A "$root/etc/evio")"
  [ "$(stat -c '%a %U:%G' "$root/var/lib/evio")" = "700 root:root" ] \
    || fail "/var/lib/evio is $(stat -c '%a %U:%G' "$root/var/lib/evio"), expected 700 root:root"
  [ -z "$(deb_chroot "$root" dpkg-query -W -f='${Conffiles}' evio)" ] || fail "evio has conffiles"
  echo "$v"
}
v=$(check_installed)
step "checks after install"
log "$v; evioctl, evio-tincan, evio-switchctl run; 5 man pages; 2 units; /etc/evio empty; /var/lib/evio 0700"
enabled=$(cd "$root/etc/systemd/system" 2>/dev/null && find . -name 'evio*' | tr '\n' ' ')
log "enabled by postinst (deb-systemd-helper): ${enabled:-nothing}"

log "reinstall: dpkg -i"
deb_chroot "$root" dpkg -i "$pkg" >"$EVT_TMP/dpkg-reinstall.log" 2>&1 \
  || { cat "$EVT_TMP/dpkg-reinstall.log" >&2; fail "dpkg -i (reinstall)"; }
check_installed >/dev/null
step "dpkg -i (reinstall) + checks"

log "remove: dpkg -r keeps /var/lib/evio"
echo "test-node-id" >"$root/var/lib/evio/node_id"
chmod 0600 "$root/var/lib/evio/node_id"
deb_chroot "$root" dpkg -r evio >"$EVT_TMP/dpkg-r.log" 2>&1 \
  || { cat "$EVT_TMP/dpkg-r.log" >&2; fail "dpkg -r evio"; }
status=$(deb_chroot "$root" dpkg-query -W -f='${db:Status-Status}' evio)
[ "$status" = config-files ] || fail "evio is \"$status\" after dpkg -r, expected config-files"
[ "$(cat "$root/var/lib/evio/node_id" 2>/dev/null)" = test-node-id ] || fail "dpkg -r lost /var/lib/evio/node_id"
[ "$(stat -c %a "$root/var/lib/evio")" = 700 ] || fail "/var/lib/evio is $(stat -c %a "$root/var/lib/evio") after remove"
for f in usr/sbin/evio usr/bin/evioctl usr/libexec/evio lib/systemd/system/evio.service usr/share/man/man8/evio.8.gz; do
  [ ! -e "$root/$f" ] || fail "/$f is still there after dpkg -r"
done
etc_after_remove=absent
[ -d "$root/etc/evio" ] && etc_after_remove="present ($(ls -A "$root/etc/evio" | wc -l) entries)"
sed 's/^/  dpkg -r: /' "$EVT_TMP/dpkg-r.log"
step "dpkg -r (remove) + checks"
log "after remove: /var/lib/evio/node_id kept, programs gone; /etc/evio $etc_after_remove (no conffiles)"

log "purge: dpkg -P removes /var/lib/evio"
deb_chroot "$root" dpkg -P evio >"$EVT_TMP/dpkg-P.log" 2>&1 \
  || { cat "$EVT_TMP/dpkg-P.log" >&2; fail "dpkg -P evio"; }
sed 's/^/  dpkg -P: /' "$EVT_TMP/dpkg-P.log"
status=$(deb_chroot "$root" dpkg-query -W -f='${db:Status-Status}' evio 2>/dev/null || true)
[ -z "$status" ] || [ "$status" = not-installed ] || fail "evio is \"$status\" after dpkg -P"
[ ! -e "$root/var/lib/evio" ] || fail "/var/lib/evio is still there after purge"
[ ! -e "$root/etc/evio" ] || fail "/etc/evio is still there after purge: $(ls -A "$root/etc/evio")"
if ls "$root"/var/lib/dpkg/info/evio.* 2>/dev/null; then fail "dpkg still holds evio's control files"; fi
step "dpkg -P (purge) + checks"

log "leftovers: the tree after purge against the tree before install"
snapshot >"$EVT_TMP/after"
# paths only: new ones (and changed type/mode/owner of old ones)
LC_ALL=C comm -13 "$EVT_TMP/before" "$EVT_TMP/after" >"$EVT_TMP/diff"
# what apt and dpkg keep by design: package lists, their databases, downloads, logs
grep -vE '^\./var/(lib/(apt|dpkg)|cache/(apt|debconf|ldconfig)|log)(/|	)' "$EVT_TMP/diff" \
  | grep -vE '^\./etc/ld\.so\.cache	' >"$EVT_TMP/diff2" || true
cut -f1 "$EVT_TMP/diff2" | sed 's|^\.||' >"$EVT_TMP/new-paths"
# owned by an installed package (the dependencies' files): dpkg-query -S
# prints "pkg: path" for each owned one
: >"$EVT_TMP/owned"
if [ -s "$EVT_TMP/new-paths" ]; then
  # merged /usr: a package may list /lib/x or /sbin/x where the tree has /usr/lib/x
  { cat "$EVT_TMP/new-paths"; sed -n 's#^/usr\(/\(bin\|sbin\|lib[^/]*\)/.*\)#\1#p' "$EVT_TMP/new-paths"; } \
    | xargs -d '\n' env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$root" dpkg-query -S 2>/dev/null \
    | sed -n 's/^.*: \(\/.*\)$/\1/p' | sed 's#^/\(bin\|sbin\|lib[^/]*\)/#/usr&#' \
    | LC_ALL=C sort -u >"$EVT_TMP/owned" || true
fi
LC_ALL=C sort -u "$EVT_TMP/new-paths" | LC_ALL=C comm -23 - "$EVT_TMP/owned" >"$EVT_TMP/unowned"
# the package's own paths (its file list) and anything named after it
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\.||; s|/$||' | grep . | LC_ALL=C sort -u >"$EVT_TMP/pkg-paths"
LC_ALL=C comm -12 "$EVT_TMP/unowned" "$EVT_TMP/pkg-paths" >"$EVT_TMP/bad"
grep -i 'evio' "$EVT_TMP/unowned" >>"$EVT_TMP/bad" || true
LC_ALL=C sort -u -o "$EVT_TMP/bad" "$EVT_TMP/bad"
LC_ALL=C comm -23 "$EVT_TMP/unowned" "$EVT_TMP/bad" >"$EVT_TMP/deps-left"
log "$(wc -l <"$EVT_TMP/diff") new or changed paths since before install: $(( $(wc -l <"$EVT_TMP/diff") - $(wc -l <"$EVT_TMP/diff2") )) apt/dpkg state and logs, $(LC_ALL=C sort -u "$EVT_TMP/new-paths" | LC_ALL=C comm -12 - "$EVT_TMP/owned" | wc -l) owned by the dependencies, $(wc -l <"$EVT_TMP/deps-left") made by their maintainer scripts, $(wc -l <"$EVT_TMP/bad") of evio's:"
# grouped by their first three path components (the full list is $EVT_TMP/deps-left)
sed 's|^\(/[^/]*/[^/]*/[^/]*\).*|\1|' "$EVT_TMP/deps-left" | sort | uniq -c | sort -rn \
  | awk 'NR <= 15 { printf "  left by a dependency: %5d %s\n", $1, $2; next }
         { n++; s += $1 } END { if (n) printf "  left by a dependency: %5d in %d more places\n", s, n }'
if [ -s "$EVT_TMP/bad" ]; then
  sed 's/^/  LEFT BY EVIO: /' "$EVT_TMP/bad" >&2
  fail "the purged package left files behind"
fi
step "leftover comparison (find before/after)"

total=$(( ($(date +%s%N) - t0) / 1000000 ))
log "summary:"
for s in "${summary[@]}"; do log "  $s"; done
log "  $(printf '%-58s %6.1f s' total "${total}e-3")"
log "ok"
