#!/usr/bin/env bash
# Builds the COSEM libFuzzer target (Sources/COSEM + Fuzz/cosem/FuzzCOSEM.swift, with address sanitizer)
# and runs it for a bounded time on a copy of the seed corpus.
#
#   Fuzz/cosem/run.sh [SECONDS]     (default 30; FUZZ_OUT=dir to keep the binary and findings elsewhere)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_TO_RUN=${1:-30}
OUT=${FUZZ_OUT:-$ROOT/Fuzz/bin}
SWIFTC=${SWIFTC:-swiftc}
mkdir -p "$OUT/cosem-corpus" "$OUT/cosem-findings"

"$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -module-name COSEMFuzz \
    "$ROOT"/Sources/COSEM/*.swift "$ROOT"/Fuzz/cosem/FuzzCOSEM.swift -o "$OUT/cosem-fuzz"

# Seeds: the golden vectors (hex, one per line) turned into files the fuzzer can mutate.
while read -r name hex; do
    [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
    printf "$(printf '%s' "$hex" | sed 's/../\\x&/g')" > "$OUT/cosem-corpus/$name"
done < "$ROOT/Fuzz/cosem/seeds.txt"

cd "$OUT/cosem-findings"
"$OUT/cosem-fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=5 -rss_limit_mb=1024 \
    -print_final_stats=1 "$OUT/cosem-corpus"
