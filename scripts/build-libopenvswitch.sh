#!/bin/bash
# Build a static libopenvswitch.a, its headers and a .pc file from Debian's
# openvswitch-source. Does nothing when PREFIX already holds a finished build.
# Usage: build-libopenvswitch.sh SRC_DIR PREFIX
set -euo pipefail
src=${1:?source dir}; prefix=${2:?install prefix}
stamp=$prefix/.built
tarball=/usr/src/openvswitch/openvswitch.tar.gz
[ -f "$stamp" ] && [ "$stamp" -nt "$tarball" ] && exit 0

echo "deps: building libopenvswitch (about a minute, once)"
rm -rf "$src" "$prefix"
mkdir -p "$src" "$prefix/lib/pkgconfig"
prefix=$(cd "$prefix" && pwd)
cd "$src"
tar xzf "$tarball"
cd openvswitch
./configure --prefix="$prefix" --enable-static --disable-shared \
  --disable-libcapng >configure.log 2>&1 || { tail -20 configure.log; exit 1; }
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
