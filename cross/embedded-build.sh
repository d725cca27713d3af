#!/usr/bin/env bash
# Builds the whole agent (every module the dlms-bridge executable links) in Embedded Swift and links it fully
# static: the route to the Raspberry Pi that needs no Swift SDK, only this toolchain's Embedded standard
# libraries and Debian's packages. Used by `make cross` (aarch64, armv7), `make static-embedded` (x86_64) and
# `make embedded-check` (x86_64, compile only). See cross/README.md for why each flag is there.
#
#   cross/embedded-build.sh ARCH OUTDIR [--compile-only]
#
# ARCH: x86_64 | aarch64 | armv7 (hard-float, Debian armhf = Raspberry Pi OS 32-bit).
# OUTDIR gets obj/ (modules and objects), dlms-bridge (unstripped), dlms-bridge.stripped and link.map.
# The link needs the target's static libmosquitto and OpenSSL: MOSQ_PREFIX and SSL_PREFIX (each with
# include/ and lib/); for x86_64 SSL_PREFIX defaults to Debian's libssl-dev.
set -euo pipefail

ARCH=${1:?usage: embedded-build.sh x86_64|aarch64|armv7 OUTDIR [--compile-only]}
OUT=$(realpath -m "${2:?usage: embedded-build.sh ARCH OUTDIR [--compile-only]}")
COMPILE_ONLY=${3:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SWIFTC=${SWIFTC:-swiftc}
command -v "$SWIFTC" >/dev/null || { echo "embedded-build($ARCH): $SWIFTC not found: put the Swift toolchain's bin on PATH" >&2; exit 1; }
TOOLCHAIN=$(cd "$(dirname "$(command -v "$SWIFTC")")/.." && pwd)
CLANG=${CLANG:-$TOOLCHAIN/bin/clang}

die() { echo "embedded-build($ARCH): $*" >&2; exit 1; }

# The modules in dependency order, as Package.swift declares them (Embedded Swift builds whole modules).
MODULES=(HDLC COSEM DLMSCrypto Platform Log MeterLink MeterSimulator Uplink Spool Agent dlms-bridge)

c_flags=()
case "$ARCH" in
x86_64)
    swift_target=x86_64-unknown-linux-gnu
    cc_target=x86_64-linux-gnu
    sysroot_flags=()
    abi_flags=()
    elf_machine="Advanced Micro Devices X86-64"
    ;;
aarch64)
    swift_target=aarch64-none-none-elf
    cc_target=aarch64-linux-gnu
    elf_machine=AArch64
    ;;
armv7)
    # The Embedded stdlib is serialized SIL compiled into our objects, so the float ABI is ours to pick:
    # hard-float (VFP registers) to match Debian armhf's glibc and libm (without it doubles reach libm in the
    # wrong registers: ceil(2.25) != 3).
    swift_target=armv7-none-none-eabi
    cc_target=arm-linux-gnueabihf
    # 64-bit file offsets, inode numbers and time_t, as on the 64-bit targets: without them readdir() fails
    # with EOVERFLOW on a file system with 64-bit inode numbers (tmpfs, btrfs, a 64-bit Pi kernel's), so the
    # spool could not list its own segments, and the wall clock ends in 2038.
    abi_flags=(-Xcc -mfloat-abi=hard -Xcc -mfpu=vfpv3-d16 -Xcc -D_FILE_OFFSET_BITS=64 -Xcc -D_TIME_BITS=64)
    c_flags=(-mfloat-abi=hard -mfpu=vfpv3-d16 -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64)
    elf_machine=ARM
    ;;
*) die "unknown ARCH '$ARCH': use x86_64, aarch64 or armv7" ;;
esac
if [ "$ARCH" != x86_64 ]; then
    # A bare-metal triple (the one the Embedded stdlib ships for) compiling against Linux's glibc headers.
    include=/usr/$cc_target/include
    [ -f "$include/stdio.h" ] || die "no glibc headers for $cc_target at $include: apt-get install $( \
        [ "$ARCH" = aarch64 ] && echo libc6-dev-arm64-cross || echo libc6-dev-armhf-cross)"
    # No _GNU_SOURCE (as on the host): with it glibc declares sockaddr parameters as a transparent union.
    sysroot_flags=(-Xcc -D__linux__ -Xcc -D__unix__ -Xcc -isystem -Xcc "$include")
    abi_flags=(${abi_flags[@]+"${abi_flags[@]}"})
fi
[ -d "$TOOLCHAIN/lib/swift/embedded/$swift_target" ] \
    || die "this Swift toolchain ships no Embedded stdlib for $swift_target ($TOOLCHAIN/lib/swift/embedded)"

SSL_PREFIX=${SSL_PREFIX:-}
if [ -z "$SSL_PREFIX" ] && [ "$ARCH" = x86_64 ]; then SSL_PREFIX=/usr; fi
MOSQ_PREFIX=${MOSQ_PREFIX:-}
# Compiling needs only the headers: Debian's libmosquitto-dev has them for the host.
if [ -z "$MOSQ_PREFIX" ] && [ "$ARCH" = x86_64 ] && [ "$COMPILE_ONLY" = --compile-only ]; then MOSQ_PREFIX=/usr; fi
[ -n "$MOSQ_PREFIX" ] && [ -f "$MOSQ_PREFIX/include/mosquitto.h" ] \
    || die "MOSQ_PREFIX must name the target's libmosquitto (include/mosquitto.h, lib/libmosquitto.a): '$MOSQ_PREFIX'"
[ "$COMPILE_ONLY" = --compile-only ] || [ -f "$MOSQ_PREFIX/lib/libmosquitto.a" ] \
    || die "no $MOSQ_PREFIX/lib/libmosquitto.a (cross/build-libmosquitto.sh makes it)"
[ -n "$SSL_PREFIX" ] && [ -d "$SSL_PREFIX/include/openssl" ] \
    || die "SSL_PREFIX must name the target's OpenSSL (include/openssl, lib/libssl.a): '$SSL_PREFIX'"

SSL_LIB=$SSL_PREFIX/lib
[ -f "$SSL_LIB/libssl.a" ] || SSL_LIB=$SSL_PREFIX/lib/$cc_target
[ -f "$SSL_LIB/libssl.a" ] || [ "$COMPILE_ONLY" = --compile-only ] \
    || die "no libssl.a under $SSL_PREFIX/lib (for x86_64: apt-get install libssl-dev)"
ssl_include=()
[ "$SSL_PREFIX" = /usr ] || ssl_include=(-Xcc -I -Xcc "$SSL_PREFIX/include")
mosq_include=()
[ "$MOSQ_PREFIX" = /usr ] || mosq_include=(-Xcc -I -Xcc "$MOSQ_PREFIX/include")

mkdir -p "$OUT/obj"
rm -f "$OUT"/obj/*.o "$OUT"/obj/*.swiftmodule
swift_flags=(
    -target "$swift_target" -enable-experimental-feature Embedded -enable-experimental-feature Extern
    -wmo -Osize -parse-as-library -swift-version 6 -enable-upcoming-feature ExistentialAny
    -Xfrontend -function-sections -I "$OUT/obj"
    -I "$ROOT/Sources/CLibc/include" -I "$ROOT/Sources/CMosquitto" -I "$ROOT/Sources/COpenSSL"
    ${mosq_include[@]+"${mosq_include[@]}"} ${ssl_include[@]+"${ssl_include[@]}"} -Xcc -DLIBMOSQUITTO_STATIC
    ${sysroot_flags[@]+"${sysroot_flags[@]}"} ${abi_flags[@]+"${abi_flags[@]}"}
)

objects=()
for module in "${MODULES[@]}"; do
    name=${module//-/_}
    mapfile -t srcs < <(find "$ROOT/Sources/$module" -name '*.swift' | sort)
    "$SWIFTC" "${swift_flags[@]}" -module-name "$name" -emit-module -emit-module-path "$OUT/obj/$name.swiftmodule" \
        -c "${srcs[@]}" -o "$OUT/obj/$name.o" 2>"$OUT/obj/$name.log" \
        || { grep -E "error" "$OUT/obj/$name.log" | head -40 >&2
             die "Sources/$module does not compile in Embedded Swift for $swift_target (full log: $OUT/obj/$name.log)"; }
    objects+=("$OUT/obj/$name.o")
done
if [ "$COMPILE_ONLY" = --compile-only ]; then
    echo "embedded-build($ARCH): ${#MODULES[@]} modules compile in Embedded Swift for $swift_target"
    exit 0
fi

# CLibc's C half, with the runtime function the Embedded stdlib leaves to the platform.
"$CLANG" --target="$cc_target" ${c_flags[@]+"${c_flags[@]}"} -Os -ffunction-sections -fdata-sections \
    -DDLMS_BRIDGE_EMBEDDED -I "$ROOT/Sources/CLibc/include" -c "$ROOT/Sources/CLibc/clibc.c" -o "$OUT/obj/clibc.o"
objects+=("$OUT/obj/clibc.o")

# Fully static, so that qemu-user needs no target sysroot and a Pi needs nothing but the file. The glibc
# warnings about getaddrinfo and dlopen in static programs are explained in mk/static.mk (NSS modules).
"$CLANG" --target="$cc_target" ${c_flags[@]+"${c_flags[@]}"} -fuse-ld=lld -static -Wl,--gc-sections -Wl,--icf=all \
    -Wl,-Map="$OUT/link.map" "${objects[@]}" \
    -L "$TOOLCHAIN/lib/swift/embedded/$swift_target" -lswiftUnicodeDataTables \
    "$MOSQ_PREFIX/lib/libmosquitto.a" "$SSL_LIB/libssl.a" "$SSL_LIB/libcrypto.a" \
    -lpthread -lm -o "$OUT/dlms-bridge" 2>"$OUT/link.log" \
    || { cat "$OUT/link.log" >&2; die "link against Debian's $cc_target glibc failed"; }
grep -v -e "in statically linked applications requires at runtime" "$OUT/link.log" >&2 || true

# The Embedded stdlib's swift_bridgeObjectRetain returns a corrupted String on 64-bit targets (clibc.c says
# why); the fix is clibc.c's strong definition, which a link without it would silently replace.
if [ "$ARCH" != armv7 ] && ! "$TOOLCHAIN/bin/llvm-nm" "$OUT/dlms-bridge" | grep " T swift_bridgeObjectRetain$" >/dev/null; then
    die "swift_bridgeObjectRetain is not clibc.c's (the Embedded stdlib's corrupts small strings on $ARCH)"
fi
"$TOOLCHAIN/bin/llvm-objcopy" --strip-all "$OUT/dlms-bridge" "$OUT/dlms-bridge.stripped"
# A binary for the wrong machine or float ABI is caught here, not at a user's site.
header=$(readelf -h -A "$OUT/dlms-bridge.stripped")
grep -q "Machine:.*$elf_machine" <<<"$header" || die "the binary is not for $elf_machine: $(grep Machine <<<"$header")"
if [ "$ARCH" = armv7 ]; then
    grep -q "hard-float ABI" <<<"$header" || grep -q "Tag_ABI_VFP_args: VFP registers" <<<"$header" \
        || die "the armv7 binary is not hard-float (Raspberry Pi OS armhf needs VFP registers): $(readelf -h "$OUT/dlms-bridge.stripped" | grep Flags)"
fi
if readelf -l "$OUT/dlms-bridge.stripped" | grep -q INTERP; then die "the binary has a program interpreter: not static"; fi
echo "embedded-build($ARCH): $OUT/dlms-bridge.stripped $(stat -c %s "$OUT/dlms-bridge.stripped") bytes stripped, static"
