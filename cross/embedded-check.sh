#!/usr/bin/env bash
# Builds the protocol core (Sources/HDLC, Sources/COSEM) in Embedded Swift for a Raspberry Pi CPU, links it
# with the golden-vector program Tests/CrossCheck/main.swift against Debian's cross glibc, and runs it
# under qemu-user. Used by `make cross-check`; see cross/README.md for why each flag is there.
#
#   cross/embedded-check.sh aarch64|armv7 [OUTDIR]
set -euo pipefail

ARCH=${1:?usage: embedded-check.sh aarch64|armv7 [OUTDIR]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${2:-$ROOT/out/cross-check}/$ARCH
SWIFTC=${SWIFTC:-swiftc}
command -v "$SWIFTC" >/dev/null || { echo "cross-check($ARCH): $SWIFTC not found: put the Swift toolchain's bin on PATH" >&2; exit 1; }
TOOLCHAIN=$(cd "$(dirname "$(command -v "$SWIFTC")")/.." && pwd)
CLANG=${CLANG:-$TOOLCHAIN/bin/clang}

die() { echo "cross-check($ARCH): $*" >&2; exit 1; }

case "$ARCH" in
aarch64)
    swift_target=aarch64-none-none-elf
    cc_target=aarch64-linux-gnu
    qemu=qemu-aarch64
    packages=(libc6-dev-arm64-cross libgcc-12-dev-arm64-cross qemu-user)
    abi_flags=()
    elf_class=ELF64
    ;;
armv7)
    # The Embedded stdlib for armv7-none-none-eabi is serialized SIL, compiled into our objects, so the float
    # ABI is ours to pick: hard-float (VFP registers) to match Debian armhf's glibc and libm. Without it
    # doubles passed to libm arrive in the wrong registers (measured: ceil(2.25) != 3).
    swift_target=armv7-none-none-eabi
    cc_target=arm-linux-gnueabihf
    qemu=qemu-arm
    packages=(libc6-dev-armhf-cross libgcc-12-dev-armhf-cross qemu-user)
    abi_flags=(-Xcc -mfloat-abi=hard -Xcc -mfpu=vfpv3-d16)
    elf_class=ELF32
    ;;
*) die "unknown ARCH '$ARCH': use aarch64 or armv7" ;;
esac

"$ROOT/scripts/ensure-packages.sh" "cross-check($ARCH)" "${packages[@]}"
[ -d "$TOOLCHAIN/lib/swift/embedded/$swift_target" ] \
    || die "this Swift toolchain ships no Embedded stdlib for $swift_target ($TOOLCHAIN/lib/swift/embedded)"

rm -rf "$OUT" && mkdir -p "$OUT"
swift_flags=(
    -target "$swift_target" -enable-experimental-feature Embedded -enable-experimental-feature Extern
    -wmo -Osize -parse-as-library -swift-version 6 -enable-upcoming-feature ExistentialAny
    -Xfrontend -function-sections -I "$OUT" "${abi_flags[@]}"
)

# One module per source folder, as in Package.swift (Embedded Swift needs whole-module builds).
objects=()
for module in HDLC COSEM; do
    srcs=("$ROOT"/Sources/$module/*.swift)
    "$SWIFTC" "${swift_flags[@]}" -module-name "$module" -emit-module -emit-module-path "$OUT/$module.swiftmodule" \
        -c "${srcs[@]}" -o "$OUT/$module.o" 2>"$OUT/$module.log" \
        || { cat "$OUT/$module.log" >&2; die "Sources/$module does not compile in Embedded Swift for $swift_target"; }
    objects+=("$OUT/$module.o")
done
"$SWIFTC" "${swift_flags[@]}" -module-name CrossCheck -c "$ROOT"/Tests/CrossCheck/*.swift -o "$OUT/CrossCheck.o" \
    2>"$OUT/CrossCheck.log" || { cat "$OUT/CrossCheck.log" >&2; die "Tests/CrossCheck does not compile"; }
objects+=("$OUT/CrossCheck.o")

# Static, so qemu-user needs no target sysroot at run time. The unicode tables archive is only pulled in
# when String comparison or normalisation needs it.
"$CLANG" --target="$cc_target" -fuse-ld=lld -static -Wl,--gc-sections "${objects[@]}" \
    -L "$TOOLCHAIN/lib/swift/embedded/$swift_target" -lswiftUnicodeDataTables -lm -o "$OUT/golden" \
    2>"$OUT/link.log" || { cat "$OUT/link.log" >&2; die "link against Debian's $cc_target glibc failed"; }

readelf -h "$OUT/golden" | grep -q "Class:.*$elf_class" || die "golden is not $elf_class"
if [ "$ARCH" = armv7 ]; then
    readelf -A "$OUT/golden" | grep -q 'Tag_ABI_VFP_args: VFP registers' \
        || die "golden is not hard-float (Tag_ABI_VFP_args); Debian armhf would misread every double"
fi
echo "cross-check($ARCH): $(file -b "$OUT/golden" | cut -d, -f1-2), $(stat -c %s "$OUT/golden") bytes; running under $qemu"
"$qemu" "$OUT/golden" || die "golden-vector program failed under $qemu (exit $?)"
