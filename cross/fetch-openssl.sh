#!/usr/bin/env bash
# Puts Debian bookworm's OpenSSL static libraries for a foreign architecture in DEST (include/, lib/), for
# `make cross`. The .debs come through APT with a private state folder (own package lists for that
# architecture), so the host's dpkg configuration is not touched and no root is needed. The version is the
# host's libssl-dev version when the archive has it (the same security fixes on both sides).
#
#   cross/fetch-openssl.sh DEBARCH MULTIARCH DEST      e.g. arm64 aarch64-linux-gnu out/cross/aarch64/openssl
set -euo pipefail

DEBARCH=${1:?usage: fetch-openssl.sh DEBARCH MULTIARCH DEST}
MULTI=${2:?usage: fetch-openssl.sh DEBARCH MULTIARCH DEST}
DEST=$(realpath -m "${3:?usage: fetch-openssl.sh DEBARCH MULTIARCH DEST}")

die() { echo "fetch-openssl($DEBARCH): $*" >&2; exit 1; }

if [ -f "$DEST/lib/libssl.a" ] && [ -f "$DEST/lib/libcrypto.a" ] && [ -f "$DEST/include/openssl/configuration.h" ]; then
    exit 0
fi
WORK="$DEST.work"
rm -rf "$WORK" && mkdir -p "$WORK/lists/partial" "$WORK/archives/partial" "$WORK/debs"
: > "$WORK/status"
apt_opts=(
    -o "APT::Architecture=$DEBARCH" -o "APT::Architectures::=$DEBARCH"
    -o "Dir::State=$WORK" -o "Dir::State::Lists=$WORK/lists" -o "Dir::State::status=$WORK/status"
    -o "Dir::Cache=$WORK" -o "Dir::Cache::archives=$WORK/archives"
    -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
)
# A mirror caught mid-sync fails one index (seen here: bookworm-security's armhf Packages.xz, "File has
# unexpected size"): the lists that did come are still usable, and libssl-dev is in the main suite too.
if ! apt-get "${apt_opts[@]}" update -qq >"$WORK/apt.log" 2>&1; then
    ls "$WORK"/lists/*_binary-"${DEBARCH}"_Packages* >/dev/null 2>&1 \
        || { tail -5 "$WORK/apt.log" >&2; die "apt-get update for $DEBARCH failed (log: $WORK/apt.log)"; }
    echo "fetch-openssl($DEBARCH): warning: some package lists did not download, using those that did:" >&2
    grep '^E: Failed to fetch' "$WORK/apt.log" | head -3 >&2 || true
fi
want=$(dpkg-query -W -f='${Version}' libssl-dev 2>/dev/null || true)
spec=libssl-dev
if [ -n "$want" ] && apt-cache "${apt_opts[@]}" madison libssl-dev 2>/dev/null | awk '{print $3}' | grep -qxF "$want"; then
    spec="libssl-dev=$want"
elif [ -n "$want" ]; then
    echo "fetch-openssl($DEBARCH): warning: libssl-dev $want (the host's) is not in the $DEBARCH lists; taking" \
         "$(apt-cache "${apt_opts[@]}" policy libssl-dev | sed -n 's/^ *Candidate: //p'): check it has the" \
         "security fixes you ship with" >&2
fi
(cd "$WORK/debs" && apt-get "${apt_opts[@]}" download "$spec" >>"$WORK/apt.log" 2>&1) \
    || { tail -5 "$WORK/apt.log" >&2; die "apt-get download $spec:$DEBARCH failed (log: $WORK/apt.log)"; }
deb=$(ls "$WORK"/debs/libssl-dev_*_"$DEBARCH".deb 2>/dev/null | head -1)
[ -n "$deb" ] || die "no libssl-dev .deb for $DEBARCH was downloaded"
dpkg-deb -x "$deb" "$WORK/root"

rm -rf "$DEST.tmp" && mkdir -p "$DEST.tmp/include" "$DEST.tmp/lib"
cp -r "$WORK/root/usr/include/openssl" "$DEST.tmp/include/"
# The architecture-specific headers (configuration.h: 32- or 64-bit BN types) live under the multiarch folder.
cp "$WORK/root/usr/include/$MULTI/openssl/"*.h "$DEST.tmp/include/openssl/"
cp "$WORK/root/usr/lib/$MULTI/libssl.a" "$WORK/root/usr/lib/$MULTI/libcrypto.a" "$DEST.tmp/lib/"
rm -rf "$DEST" && mv "$DEST.tmp" "$DEST" && rm -rf "$WORK"
echo "fetch-openssl: $(basename "$deb") -> $DEST"
