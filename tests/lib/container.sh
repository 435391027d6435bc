# The evio container image for the container_* tests (source after
# common.sh and deb.sh). podman (Debian's, with runc) keeps its images under
# $EVT_BUILD/containers, so the base and the image's layers are built once
# and reused; a test container joins a test namespace with
# `--network ns:/run/netns/NAME`.
#
#   ctr ARGS...            podman with this tree's storage and settings
#   ctr_image              builds (or reuses) evio:test; prints its ID
#   ctr_base               imports the cached debootstrap root as
#                          evio-base:bookworm (once)
#   ctr_rm NAME...         removes containers by name, however they are

CTR_STATE=${CTR_STATE:-$EVT_BUILD/containers}
CTR_RUN=/run/evio-test-podman
CTR_IMAGE=evio:test
CTR_BASE=evio-base:bookworm

# podman on these machines: crun refuses the hybrid cgroup layout and root
# lacks CAP_SYS_RESOURCE (podman's default rlimits fail): runc, fixed
# ulimits, cgroupfs, events to a file (no systemd, no journald)
_ctr_conf() {
  local f=$CTR_STATE/containers.conf
  [ -f "$f" ] && return 0
  mkdir -p "$CTR_STATE" && cat >"$f" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
}

ctr() {
  CONTAINERS_CONF=$CTR_STATE/containers.conf podman --root "$CTR_STATE/storage" \
    --runroot "$CTR_RUN/run" --tmpdir "$CTR_RUN/tmp" "$@"
}

ctr_deps() {
  "$EVT_TOP/scripts/apt-missing.sh" container podman runc >&2 || fail "cannot install podman"
  _ctr_conf
}

# ctr_base: the base image from build/rootfs/bookworm-minbase (deb_rootfs),
# with no registry; imported once (a new import would be a new ID and
# invalidate every cached layer above it)
ctr_base() {
  ctr_deps
  ctr image exists "$CTR_BASE" && return 0
  local root
  root=$(deb_rootfs) || exit 1
  log "container: importing $root as $CTR_BASE" >&2
  tar -C "$root" --exclude=./.complete -c . | ctr import - "$CTR_BASE" >/dev/null \
    || fail "container: podman import of $root failed"
}

# ctr_image: evio:test from packaging/docker/Dockerfile on the local base and
# this tree's .deb (deb_build rebuilds it when a tracked file is newer;
# CTR_DEB=PATH takes that .deb as it is, for working on the image itself)
ctr_image() {
  ctr_base
  local deb=${CTR_DEB:-}
  if [ -z "$deb" ]; then
    deb_build >&2
    deb=$(deb_path)
  fi
  log "container: building $CTR_IMAGE (log: $EVT_TMP/image-build.log)" >&2
  local t0=$(date +%s%N)
  ENGINE_ARGS="--root $CTR_STATE/storage --runroot $CTR_RUN/run --tmpdir $CTR_RUN/tmp" \
  CONTAINERS_CONF=$CTR_STATE/containers.conf ENGINE=podman BASE=$CTR_BASE \
  CONTEXT=$CTR_STATE/context \
    "$EVT_TOP/packaging/docker/build-image.sh" "$deb" "$CTR_IMAGE" \
    >"$EVT_TMP/image-build.log" 2>&1 \
    || { tail -n 30 "$EVT_TMP/image-build.log" >&2; fail "container: image build failed"; }
  log "container: $CTR_IMAGE built in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
  # the previous build's layers, untagged now, would pile up under build/
  ctr image prune -f >/dev/null 2>&1 || true
}

# ctr_rm NAME...: containers gone, running or not
# ctr_cleanup_trap: on exit, save the logs of every container named in
# CTR_NAMES into $EVT_TMP/ctr-NAME.log (shown with a failed run's logs),
# remove them, then evt_cleanup.
CTR_NAMES=()
_ctr_cleanup() {
  local rc=$?
  set +e
  local n
  for n in "${CTR_NAMES[@]}"; do ctr logs "$n" >"$EVT_TMP/ctr-${n#"$EVT_PREFIX"}.log" 2>&1; done
  [ ${#CTR_NAMES[@]} -gt 0 ] && ctr_rm "${CTR_NAMES[@]}"
  (exit "$rc"); evt_cleanup
}
ctr_cleanup_trap() { trap _ctr_cleanup EXIT; }

ctr_rm() {
  local n
  for n in "$@"; do ctr rm -f -t 0 "$n" >/dev/null 2>&1 || true; done
}
