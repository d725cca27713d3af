#!/usr/bin/env bash
# Instruction counts per operation of `dlms-bridge bench`, with valgrind's callgrind, against the targets of
# issue 2. Fails (exit 1) when an operation needs more instructions than its target.
#
#   Benchmarks/callgrind-check.sh path/to/release/dlms-bridge
#
# How: callgrind counts only inside the op's @inline(never) function (--toggle-collect), once for each of
# two iteration counts; the difference divided by the difference of iterations is the cost of one call, free
# of start-up, lazy initialisation and first-call effects. The pattern ends in F, the end of the function's
# mangled name: a closure inside it carries the function's name too and, if matched, would toggle counting
# OFF while it runs. Instruction counts do not depend on machine load.
set -euo pipefail

bin=${1:?usage: callgrind-check.sh path/to/dlms-bridge (release build)}
command -v valgrind >/dev/null || { echo "bench-check: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
n1=${BENCH_N1:-200}
n2=${BENCH_N2:-1200}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# op  function-name  target (instructions per call; 0 = report only)
ops=(
  "parse-frame benchParseFrameOnce 300"
  "decode-get-response benchDecodeGetResponseOnce 600"
  "build-get-request benchBuildGetRequestOnce 400"
  "crc benchCRCOnce 0"
)

count() {  # op function iterations -> instructions collected inside the function
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --toggle-collect="*$2*F" \
    "$bin" bench --op "$1" --iterations "$3" --runs 1 >/dev/null 2>"$tmp/cg.err" \
    || { cat "$tmp/cg.err" >&2; echo "bench-check: valgrind failed for $1" >&2; exit 1; }
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/cg.err"
}

failed=0
printf '%-22s %14s %10s  %s\n' op instructions/op target verdict
for entry in "${ops[@]}"; do
  read -r op fn target <<<"$entry"
  a=$(count "$op" "$fn" "$n1")
  b=$(count "$op" "$fn" "$n2")
  if [[ -z "$a" || -z "$b" || "$b" -le "$a" ]]; then
    echo "bench-check: no instructions counted in $fn for $op (renamed? inlined?)" >&2
    exit 1
  fi
  per=$(( (b - a + (n2 - n1) / 2) / (n2 - n1) ))
  if [[ "$target" -eq 0 ]]; then
    verdict="(64 KiB: $(awk -v p="$per" 'BEGIN { printf "%.2f", p / 65536 }') instructions/byte)"
  elif [[ "$per" -le "$target" ]]; then
    verdict=ok
  else
    verdict="OVER TARGET"
    failed=1
  fi
  printf '%-22s %14d %10s  %s\n' "$op" "$per" "$([[ $target -eq 0 ]] && echo - || echo "$target")" "$verdict"
done
if [[ $failed -ne 0 ]]; then
  echo "bench-check: an operation exceeds its instruction target (see docs/performance.md for how to investigate)" >&2
  exit 1
fi
