#!/bin/bash
# Install what cross-building evio for ARCH (arm64 or armhf) and running its
# unit tests under qemu user-mode need: the crossbuild toolchain,
# qemu-user-static, file, and the ARCH packages of evio's libraries; then
# build libopenvswitch for ARCH once into build/ARCH/ovs (cached).
# Idempotent: adds the dpkg architecture and runs apt-get update only when
# something is missing.
# Usage: scripts/cross-deps.sh arm64|armhf   (as root on Debian 12)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:?usage: cross-deps.sh arm64|armhf}
case $arch in
  arm64) triplet=aarch64-linux-gnu ;;
  armhf) triplet=arm-linux-gnueabihf ;;
  *) echo "cross-deps: unknown ARCH $arch (arm64 or armhf)" >&2; exit 2 ;;
esac
build=$top/build/$arch

if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  [ "$(id -u)" = 0 ] || { echo "cross-deps: run as root to add dpkg architecture $arch" >&2; exit 1; }
  echo "cross-deps: dpkg --add-architecture $arch"
  dpkg --add-architecture "$arch"
  # apt-missing.sh runs apt-get update, since the :$arch packages are missing
fi

# libnice-dev:ARCH cannot be installed beside the native packages in Debian
# 12 (libsoup-3.0-dev -> libsysprof-4-dev -> gtk4 -> gobject-introspection:ARCH
# -> python3:ARCH, which conflicts with the native python3). Its headers are
# the native libnice-dev's (Multi-Arch: same, identical files); the library
# is libnice10:ARCH; build/ARCH/pkgconfig/nice.pc below ties them together.
"$top/scripts/apt-missing.sh" cross-deps \
  build-essential pkg-config python3 openvswitch-source libnice-dev \
  "crossbuild-essential-$arch" qemu-user-static file \
  "libnice10:$arch" "libstrophe-dev:$arch" "libjansson-dev:$arch" \
  "libssl-dev:$arch" "libglib2.0-dev:$arch"

nice_ver=$(dpkg-query -W -f='${Version}' "libnice10:$arch")
[ "$nice_ver" = "$(dpkg-query -W -f='${Version}' libnice-dev)" ] || {
  echo "cross-deps: libnice10:$arch $nice_ver differs from libnice-dev $(dpkg-query -W -f='${Version}' libnice-dev)" >&2; exit 1; }
mkdir -p "$build/pkgconfig"
cat >"$build/pkgconfig/nice.pc.tmp" <<PC
# written by scripts/cross-deps.sh: libnice10:$arch $nice_ver with the
# native libnice-dev's headers (libnice-dev:$arch is not co-installable)
prefix=/usr
includedir=\${prefix}/include
libdir=\${prefix}/lib/$triplet

Name: libnice
Description: ICE library
Version: ${nice_ver%%-*}
Requires: gio-2.0 >= 2.54
Libs: -L\${libdir} -l:libnice.so.10
Cflags: -I\${includedir}/nice
PC
mv "$build/pkgconfig/nice.pc.tmp" "$build/pkgconfig/nice.pc"

"$top/scripts/build-libopenvswitch.sh" "$build/ovs-src" "$build/ovs" "$triplet"
