# Benchmarks: `dlms-bridge bench` (time per operation on this machine), callgrind instruction targets for the
# codec's hot paths, and the package-benchmark suite under Benchmarks/ with malloc counters.
#
#   make bench               dlms-bridge bench (release) + the package-benchmark suite
#   make bench-check         callgrind instructions per operation; fails above the issue's targets
#   make bench-check-cli     the same count on the release dlms-bridge binary itself
#   make bench-malloc-check  package-benchmark run checked against Benchmarks/Thresholds (0 mallocs)
#
# BENCH_SWIFT_FLAGS passes e.g. --scratch-path to the release build of dlms-bridge.
BENCH_SWIFT_FLAGS ?= $(SWIFT_FLAGS)
BENCH_BIN = $(shell $(SWIFT) build -c release $(BENCH_SWIFT_FLAGS) --show-bin-path)/dlms-bridge

# The ops of `dlms-bridge bench` (Sources/dlms-bridge/BenchOps.swift, symlinked into Benchmarks/Tools/CallgrindOps)
# built alone by the benchmark package: the release build of HDLC and COSEM there is the one
# bench-malloc-check makes anyway, so bench-check adds one small target and a link, not a release build of
# the whole agent. bench-check-cli counts the same functions in the real binary (they agree to the instruction).
BENCH_OPS_BIN = $(shell $(SWIFT) build -c release --package-path Benchmarks --show-bin-path)/CallgrindOps

.PHONY: bench bench-release bench-ops bench-check bench-check-cli bench-malloc-check bench-deps

# callgrind counts the instructions.
BENCH_PACKAGES := valgrind
TEST_PACKAGES  += $(BENCH_PACKAGES)
bench-deps:
	@$(ENSURE_PACKAGES) "make bench-check" $(BENCH_PACKAGES)

bench-release:
	$(SWIFT) build -c release $(BENCH_SWIFT_FLAGS) --product dlms-bridge

bench: bench-release
	$(BENCH_BIN) bench
	$(SWIFT) package --package-path Benchmarks benchmark --no-progress

bench-ops:
	$(SWIFT) build -c release --package-path Benchmarks --product CallgrindOps

bench-check: bench-deps bench-ops
	Benchmarks/callgrind-check.sh $(BENCH_OPS_BIN)

bench-check-cli: bench-deps bench-release
	Benchmarks/callgrind-check.sh $(BENCH_BIN)

# Runs from Benchmarks/ so the static thresholds are read from Benchmarks/Thresholds.
bench-malloc-check:
	cd Benchmarks && $(SWIFT) package benchmark thresholds check --no-progress

# bench-malloc-check took 2 min 39 s from a clean Benchmarks/.build on a shared 2-core machine (limit: 4 min).
# bench-check after it: the CallgrindOps target and link plus eight callgrind runs (see docs/performance.md).
EXTRA_TEST_TARGETS += bench-malloc-check bench-check
