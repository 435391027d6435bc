#!/bin/bash
# Build a static libopenvswitch.a, its headers and a .pc file from Debian's
# openvswitch-source. Does nothing when PREFIX already holds a finished build.
# Usage: build-libopenvswitch.sh [--host TRIPLET] SRC_DIR PREFIX [TRIPLET]
#   TRIPLET (e.g. aarch64-linux-gnu) cross-builds with TRIPLET-gcc and that
#   architecture's pkg-config files (./configure --host=TRIPLET).
set -euo pipefail
host=
case ${1:-} in
  --host) host=${2:?--host needs a triplet}; shift 2 ;;
  --host=*) host=${1#*=}; shift ;;
esac
src=${1:?source dir}; prefix=${2:?install prefix}; host=${3:-$host}
stamp=$prefix/.built
tarball=/usr/src/openvswitch/openvswitch.tar.gz
[ -f "$stamp" ] && [ "$stamp" -nt "$tarball" ] && exit 0

cross=()
if [ -n "$host" ]; then
  cross=(--host="$host" CC="$host-gcc")
  export PKG_CONFIG_LIBDIR=/usr/lib/$host/pkgconfig:/usr/share/pkgconfig
  unset PKG_CONFIG PKG_CONFIG_PATH
fi
echo "deps: building libopenvswitch${host:+ for $host} (about a minute, once)"
rm -rf "$src" "$prefix"
mkdir -p "$src" "$prefix/lib/pkgconfig"
prefix=$(cd "$prefix" && pwd)
stamp=$prefix/.built
cd "$src"
tar xzf "$tarball"
cd openvswitch
./configure --prefix="$prefix" --enable-static --disable-shared \
  --disable-libcapng "${cross[@]}" >configure.log 2>&1 || { tail -20 configure.log; exit 1; }
# generated headers (BUILT_SOURCES) must exist before lib/ alone compiles
make -j"$(nproc)" ofproto/ipfix-entities.def include/odp-netlink.h \
  include/odp-netlink-macros.h lib/vswitch-idl.h lib/vswitch-idl.c \
  lib/ovsdb-server-idl.h lib/ovsdb-server-idl.c >make.log 2>&1 || { tail -20 make.log; exit 1; }
make -j"$(nproc)" lib/libopenvswitch.la >>make.log 2>&1 || { tail -20 make.log; exit 1; }
./libtool --mode=install install -c lib/libopenvswitch.la "$prefix/lib/" >/dev/null
cp lib/libopenvswitch.pc "$prefix/lib/pkgconfig/"
make install-openvswitchincludeHEADERS install-openflowincludeHEADERS >/dev/null
# the IDL headers the OVSDB client needs are not installed by upstream
mkdir -p "$prefix/include/openvswitch/lib"
cp lib/*.h "$prefix/include/openvswitch/lib/"
mkdir -p "$prefix/include/openvswitch/include"
cp -r include/*.h "$prefix/include/openvswitch/include/" 2>/dev/null || true
cp config.h "$prefix/include/openvswitch/"
touch "$stamp"
