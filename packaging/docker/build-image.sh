#!/bin/sh
# Builds the evio image from packaging/docker/Dockerfile and a .deb.
#   build-image.sh DEB [TAG]     (TAG default evio:latest)
# Environment: ENGINE (podman or docker; default: podman if installed, else
# docker), BASE (the Dockerfile's base, default debian:bookworm-slim),
# CONTEXT (the build context directory, default build/image), ENGINE_ARGS
# (global options before the engine's subcommand, e.g. podman's --root).
# The build runs on the host's network (--network host): no bridge, NAT
# or firewall rule is needed for apt to reach Debian's archive.
set -eu
deb=${1:?usage: build-image.sh DEB [TAG]}
tag=${2:-evio:latest}
here=$(cd "$(dirname "$0")" && pwd)
engine=${ENGINE:-}
if [ -z "$engine" ]; then
    if command -v podman >/dev/null; then engine=podman; else engine=docker; fi
fi
ctx=${CONTEXT:-build/image}
mkdir -p "$ctx"
# the same bytes as the last time keep the engine's layer cache valid
cmp -s "$deb" "$ctx/evio.deb" || cp "$deb" "$ctx/evio.deb"
cmp -s "$here/evio-entrypoint" "$ctx/evio-entrypoint" || cp "$here/evio-entrypoint" "$ctx/"
# podman's default OCI format has no HEALTHCHECK: build Docker's
fmt=
[ "$engine" = podman ] && fmt="--format docker"
# shellcheck disable=SC2086
exec $engine ${ENGINE_ARGS:-} build $fmt --network host -f "$here/Dockerfile" \
    --build-arg "BASE=${BASE:-debian:bookworm-slim}" -t "$tag" "$ctx"
