#!/usr/bin/env bash
# Builds libmosquitto as a static library from Debian's source package, for the host or for a cross target.
#
#   cross/build-libmosquitto.sh PREFIX [TRIPLE SYSROOT DEPS]
#
# PREFIX gets include/, lib/libmosquitto.a and lib/pkgconfig/libmosquitto.pc. The .pc file is ours, not
# upstream's: it names the static archive and the libraries it needs (-lssl -lcrypto), so putting PREFIX's
# pkgconfig folder first on PKG_CONFIG_PATH switches the `CMosquitto` system-library target (pkgConfig:
# "libmosquitto") from Debian's shared library to this one without touching Package.swift; builds that do
# not set PKG_CONFIG_PATH keep using Debian's libmosquitto.so. The archive is called libmosquitto.a (not
# upstream's libmosquitto_static.a) because the module map autolinks `-lmosquitto`.
#
# Cross (used by `make cross`): TRIPLE is e.g. aarch64-unknown-linux-gnu, SYSROOT the Swift SDK's sysroot,
# DEPS a folder holding the target's OpenSSL (include/ and lib/ with libssl.a, libcrypto.a). An empty SYSROOT
# means Debian's cross glibc (libc6-dev-arm64-cross / -armhf-cross), which clang finds by itself
# (`make cross-c-check`).
#
# The source version is the one of the installed libmosquitto-dev, so headers and library match. On a fresh
# machine (root) it adds a deb-src entry mirroring the existing deb entries and installs cmake and dpkg-dev.
set -euo pipefail

PREFIX=$(realpath -m "${1:?usage: build-libmosquitto.sh PREFIX [TRIPLE SYSROOT DEPS]}")
TRIPLE=${2:-}
SYSROOT=${3:-}
DEPS=${4:+$(realpath -m "$4")}
WORK=$(dirname "$PREFIX")/libmosquitto-work${TRIPLE:+-$TRIPLE}
SRC_LIST=/etc/apt/sources.list.d/dlms-bridge-src.sources

die() { echo "build-libmosquitto: $*" >&2; exit 1; }
as_root() { [ "$(id -u)" = 0 ] || die "$1 (run as root, or do it by hand)"; }

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
dpkg-query -W -f='${Status}' libmosquitto-dev 2>/dev/null | grep -q 'ok installed' || need+=(libmosquitto-dev)
[ -n "$TRIPLE" ] || [ -f /usr/lib/x86_64-linux-gnu/libssl.a ] || [ -n "$(ls /usr/lib/*/libssl.a 2>/dev/null)" ] \
    || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
    as_root "missing packages: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

VERSION=$(dpkg-query -W -f='${Version}' libmosquitto-dev)
mkdir -p "$WORK"
cd "$WORK"

if [ ! -d src ]; then
    if ! apt-get source --print-uris -qq "mosquitto=$VERSION" 2>/dev/null | grep -q "\.dsc"; then
        # No deb-src entry: mirror the deb entries (same URIs, suites, components, keys) as deb-src.
        as_root "no deb-src entry for mosquitto=$VERSION in APT's sources"
        {
            for f in /etc/apt/sources.list.d/*.sources; do
                [ "$f" = "$SRC_LIST" ] && continue
                grep -q '^URIs:.*debian' "$f" || continue
                sed -e 's/^Types:.*/Types: deb-src/' "$f"; echo
            done
        } > "$SRC_LIST.tmp"
        if [ ! -s "$SRC_LIST.tmp" ] && [ -f /etc/apt/sources.list ]; then
            sed -n 's/^deb \(.*debian.*\)/deb-src \1/p' /etc/apt/sources.list > "${SRC_LIST%.sources}.list"
            rm -f "$SRC_LIST.tmp"
        else
            mv "$SRC_LIST.tmp" "$SRC_LIST"
        fi
        apt-get update -qq
    fi
    rm -rf dl && mkdir dl
    (cd dl && apt-get source -qq --download-only "mosquitto=$VERSION" 2>&1 | grep -v 'unsandboxed' || true)
    dsc=$(ls dl/*.dsc 2>/dev/null | head -1)
    [ -n "$dsc" ] || die "apt-get source mosquitto=$VERSION downloaded nothing: check network and deb-src entries"
    # Debian's patches (security fixes) are applied by dpkg-source; the signature key is not installed.
    dpkg-source --no-check -x "$dsc" src.tmp >/dev/null
    mv src.tmp src
fi

cmake_args=(
    -DCMAKE_BUILD_TYPE=MinSizeRel
    -DWITH_STATIC_LIBRARIES=ON -DWITH_PIC=ON
    -DWITH_BROKER=OFF -DWITH_APPS=OFF -DWITH_CLIENTS=OFF -DWITH_PLUGINS=OFF -DWITH_LIB_CPP=OFF
    -DWITH_CJSON=OFF -DDOCUMENTATION=OFF -DWITH_TLS=ON -DWITH_TLS_PSK=ON -DWITH_SRV=OFF -DWITH_THREADING=ON
)
if [ -n "$TRIPLE" ]; then
    cmake_args+=(
        -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR="${TRIPLE%%-*}"
        -DCMAKE_C_COMPILER=clang -DCMAKE_C_COMPILER_TARGET="$TRIPLE"
        -DCMAKE_SYSROOT="$SYSROOT" -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld
        -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY
        -DOPENSSL_ROOT_DIR="$DEPS" -DOPENSSL_USE_STATIC_LIBS=ON
        -DCMAKE_FIND_ROOT_PATH="$DEPS" -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER
        -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY
    )
fi
rm -rf build && mkdir build
cmake -S src -B build "${cmake_args[@]}" >build.log 2>&1 || { tail -20 build.log; die "cmake configure failed (log: $WORK/build.log)"; }
# Only the static archive: the shared one (always on in 2.0.11's CMakeLists) is not needed, and for a cross
# target it would have to link against the target's shared OpenSSL.
cmake --build build --target libmosquitto_static -j "$(nproc)" >>build.log 2>&1 \
    || { tail -20 build.log; die "build failed (log: $WORK/build.log)"; }

rm -rf "$PREFIX" && mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"
cp src/include/mosquitto.h src/include/mqtt_protocol.h "$PREFIX/include/"
cp build/lib/libmosquitto_static.a "$PREFIX/lib/libmosquitto.a"
ssl_libdir=${DEPS:+$DEPS/lib}
cat > "$PREFIX/lib/pkgconfig/libmosquitto.pc" <<PC
# Generated by cross/build-libmosquitto.sh: the static libmosquitto $VERSION${TRIPLE:+ for $TRIPLE}.
# SwiftPM drops -D from pkg-config Cflags, so -DLIBMOSQUITTO_STATIC is passed by the make recipe (-Xcc).
prefix=$PREFIX
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: mosquitto
Description: mosquitto MQTT client library, static, with OpenSSL
Version: ${VERSION%%-*}
Cflags: -I\${includedir}
Libs: -L\${libdir} ${ssl_libdir:+-L$ssl_libdir }-lmosquitto -lssl -lcrypto -lpthread -ldl
PC
echo "build-libmosquitto: $PREFIX/lib/libmosquitto.a ($(stat -c %s "$PREFIX/lib/libmosquitto.a") bytes, mosquitto $VERSION${TRIPLE:+, $TRIPLE})"
