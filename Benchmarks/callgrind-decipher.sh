#!/usr/bin/env bash
# Instructions and allocations to decipher, verify and decode a ciphered GET-Response of one register
# (Benchmarks/Decipher/main.swift), OpenSSL's AES-GCM included. Same method as callgrind-check.sh: callgrind
# counts inside the op's function for two iteration counts; the difference per iteration is one call.
# Allocations: memcheck's heap summary for the same two counts (equal totals = no allocation per call).
#
#   Benchmarks/callgrind-decipher.sh [OUTDIR]     (release flags: -O -wmo, cross-module optimisation on)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/out/decipher-bench}
mkdir -p "$OUT"
flags=(-O -wmo -parse-as-library -cross-module-optimization -I "$OUT" -I "$ROOT/Sources/COpenSSL")
swiftc "${flags[@]}" -module-name COSEM -emit-module -emit-module-path "$OUT/COSEM.swiftmodule" \
    -c "$ROOT"/Sources/COSEM/*.swift -o "$OUT/COSEM.o"
swiftc "${flags[@]}" -module-name DLMSCrypto -emit-module -emit-module-path "$OUT/DLMSCrypto.swiftmodule" \
    -c "$ROOT"/Sources/DLMSCrypto/*.swift -o "$OUT/DLMSCrypto.o"
swiftc -O -I "$OUT" -I "$ROOT/Sources/COpenSSL" -module-name GcmProbe "$ROOT/Benchmarks/Decipher/main.swift" \
    "$OUT/COSEM.o" "$OUT/DLMSCrypto.o" -lcrypto -o "$OUT/decipher-bench"

n1=200; n2=1200
count() {
  valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" --toggle-collect='*benchDecipherGetResponseOnce*F' \
    "$OUT/decipher-bench" "$1" >/dev/null 2>"$OUT/cg.err"
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$OUT/cg.err"
}
allocs() {
  valgrind --tool=memcheck "$OUT/decipher-bench" "$1" 2>&1 >/dev/null | sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p'
}
a=$(count $n1); b=$(count $n2)
echo "decipher+verify+decode GET-Response (1 register, SC 0x30): $(( (b - a + (n2 - n1) / 2) / (n2 - n1) )) instructions per call"
echo "heap allocations for $n1 and $n2 calls: $(allocs $n1) / $(allocs $n2) (equal: none per call)"
