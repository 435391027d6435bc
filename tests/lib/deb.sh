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
