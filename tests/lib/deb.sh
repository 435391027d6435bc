# The Debian package for the deb_* tests: built by `make deb` into
# $EVT_BUILD/deb once per tree state (rebuilt when a tracked file is newer).
# Source after common.sh.

# deb_path: the .deb of this tree's version for this machine's architecture.
deb_path() {
  local ver arch
  ver=$(cd "$EVT_TOP" && dpkg-parsechangelog -S Version) || fail "deb: cannot read debian/changelog"
  arch=$(dpkg --print-architecture)
  echo "$EVT_BUILD/deb/evio_${ver}_${arch}.deb"
}

# deb_build [force]: make deb unless the .deb is newer than every tracked file.
deb_build() {
  local deb newer
  deb=$(deb_path)
  if [ "${1:-}" != force ] && [ -f "$deb" ]; then
    # tracked files and new ones not yet tracked (build products are ignored)
    newer=$(cd "$EVT_TOP" && git ls-files -z --cached --others --exclude-standard \
            | xargs -0 -r sh -c 'for f; do [ "$f" -nt "$0" ] && { echo "$f"; break; }; done' "$deb" || true)
    [ -z "$newer" ] && { log "deb: $deb is up to date"; return 0; }
    log "deb: $newer is newer than $deb"
  fi
  "$EVT_TOP/scripts/apt-missing.sh" deb debhelper dpkg-dev fakeroot lintian systemd man-db openvswitch-source \
    || fail "deb: cannot install the packaging tools"
  log "deb: make deb (log: $EVT_TMP/make-deb.log)"
  make -C "$EVT_TOP" deb DEB_OUT="$EVT_BUILD/deb" >"$EVT_TMP/make-deb.log" 2>&1 \
    || { tail -n 40 "$EVT_TMP/make-deb.log" >&2; fail "make deb failed"; }
  [ -f "$deb" ] || fail "make deb did not leave $deb"
}

# deb_unpack DIR: the package's files under DIR (dpkg -x).
deb_unpack() {
  rm -rf "$1" && mkdir -p "$1" && dpkg -x "$(deb_path)" "$1" || fail "dpkg -x $(deb_path) failed"
}

# --- a clean Debian 12 root for install tests (issue 13) --------------------

# deb_mirror: the Debian archive this machine's apt uses (first deb URI of a
# bookworm suite in /etc/apt/sources.list or /etc/apt/sources.list.d/*.list,
# *.sources); fails when there is none.
deb_mirror() {
  local m f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 stanzas: Types with deb, Suites with bookworm (not -security)
    m=$(awk 'function flush() { if (!done && deb && suite && uri != "") { print uri; done = 1; exit } deb = suite = 0; uri = "" }
             /^[ \t]*$/ { flush(); next }
             /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
             /^URIs:/ { uri = $2 }
             /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
             END { flush() }' "$f")
    [ -n "$m" ] && { echo "$m"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    m=$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++;
                           if ($(i + 1) == "bookworm") { print $i; exit } }' "$f")
    [ -n "$m" ] && { echo "$m"; return 0; }
  done
  fail "deb: no Debian bookworm mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/"
}

# deb_rootfs: a `debootstrap --variant=minbase bookworm` tree cached in
# $EVT_BUILD/rootfs/bookworm-minbase (made once; never modified afterwards:
# tests work on a copy). Prints its path. Its apt sources name the same
# mirror as this machine's (bookworm, bookworm-updates).
deb_rootfs() {
  local cache=$EVT_BUILD/rootfs/bookworm-minbase mirror
  if [ ! -f "$cache/.complete" ]; then
    mirror=$(deb_mirror) || exit 1
    "$EVT_TOP/scripts/apt-missing.sh" deb debootstrap >&2 || fail "deb: cannot install debootstrap"
    rm -rf "$cache" "$cache.tmp" && mkdir -p "$(dirname "$cache")"
    log "deb: debootstrap --variant=minbase bookworm from $mirror (log: $EVT_TMP/debootstrap.log)" >&2
    debootstrap --variant=minbase bookworm "$cache.tmp" "$mirror" >"$EVT_TMP/debootstrap.log" 2>&1 \
      || { tail -n 30 "$EVT_TMP/debootstrap.log" >&2; rm -rf "$cache.tmp"; fail "deb: debootstrap failed"; }
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" \
      >"$cache.tmp/etc/apt/sources.list"
    rm -rf "$cache.tmp/var/cache/apt/archives/"*.deb
    touch "$cache.tmp/.complete" && mv "$cache.tmp" "$cache"
  fi
  echo "$cache"
}

# deb_chroot_new DIR: a working copy of deb_rootfs in DIR with /proc mounted
# and a policy-rc.d that forbids starting services; undo with
# deb_chroot_umount DIR (safe to call twice). /dev is debootstrap's own
# static nodes (null, zero, random, urandom, tty...): no bind of the host's.
deb_chroot_new() {
  local root=$1 cache
  cache=$(deb_rootfs) || exit 1
  rm -rf "$root" && mkdir -p "$(dirname "$root")"
  cp -a "$cache" "$root" && rm -f "$root/.complete" || fail "deb: cannot copy $cache"
  mount -t proc proc "$root/proc" || fail "deb: cannot mount proc in $root"
  printf '#!/bin/sh\n# no service starts in a test chroot\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
}
deb_chroot_umount() {
  local root=$1
  if mountpoint -q "$root/proc"; then umount "$root/proc" || umount -l "$root/proc"; fi
  ! mountpoint -q "$root/proc"
}

# deb_chroot DIR CMD...: CMD inside DIR (a root from deb_chroot_new) with a
# plain environment, apt and debconf non-interactive.
deb_chroot() {
  local root=$1; shift
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
    chroot "$root" "$@"
}
