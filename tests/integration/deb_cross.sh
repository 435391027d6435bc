#!/bin/bash
# Cross-built packages (issue 13): the .debs `make deb ARCH=arm64` and
# `make deb ARCH=armhf` left under build/ARCH/deb (make check builds them
# before the tests) say Architecture: ARCH, and file shows ARCH's machine for
# every program they install. Their unit tests run under qemu in
# integration/cross_build.
# Usage: tests/integration/deb_cross.sh [ARCH...]   (default: arm64 armhf)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(arm64 armhf)
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
version=$(dpkg-parsechangelog -S Version)

for arch in "${arches[@]}"; do
  case $arch in
    arm64) machine='ELF 64-bit LSB .*ARM aarch64' ;;
    armhf) machine='ELF 32-bit LSB .*ARM, EABI5' ;;
    *) echo "deb_cross: unknown ARCH $arch"; exit 2 ;;
  esac
  deb=build/$arch/deb/evio_${version}_$arch.deb
  [ -f "$deb" ] || { fail "$arch: no $deb (make deb ARCH=$arch)"; continue; }
  a=$(dpkg-deb -f "$deb" Architecture)
  [ "$a" = "$arch" ] && echo "ok   $deb Architecture: $a" || fail "$deb: Architecture: $a"
  echo "     Depends: $(dpkg-deb -f "$deb" Depends)"
  x=$(mktemp -d); dpkg-deb -x "$deb" "$x"
  n=0
  for p in usr/sbin/evio usr/bin/evioctl usr/libexec/evio/evio-tincan usr/libexec/evio/evio-switchctl; do
    [ -f "$x/$p" ] || { fail "$arch: $deb has no /$p"; continue; }
    desc=$(file -b "$x/$p")
    if [[ $desc =~ $machine ]]; then
      echo "ok   $arch /$p: ${desc%%, BuildID*}"; n=$((n + 1))
    else
      fail "$arch: /$p is not $machine: $desc"
    fi
  done
  rm -rf "$x"
done

[ "$fails" = 0 ] || { echo "deb_cross: $fails failures"; exit 1; }
echo "deb_cross: ${arches[*]} packages carry their architecture's programs"
