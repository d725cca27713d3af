#!/usr/bin/env bash
# Installs the Debian packages named after WHO that are not installed yet: as root with apt-get (lists are
# refreshed first, once), otherwise it stops at once with the exact command to run. Prints nothing when all
# are present. Every area of the Makefile (mk/*.mk) names its own packages; `make test` passes the union.
#
#   scripts/ensure-packages.sh WHO PACKAGE...
set -euo pipefail
who=${1:?usage: ensure-packages.sh WHO PACKAGE...}
shift
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "$who: missing Debian packages; run as root, or first:" >&2
    echo "  sudo apt-get update && sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "$who: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || { echo "$who: apt-get update failed (is a Debian mirror reachable?)" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null \
    || { echo "$who: apt-get install ${missing[*]} failed (see above)" >&2; exit 1; }
