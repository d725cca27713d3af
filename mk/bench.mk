# Benchmarks: `dlms-bridge bench` (time per operation on this machine), callgrind instruction targets for the
# codec's hot paths, and the package-benchmark suite under Benchmarks/ with malloc counters.
#
#   make bench               dlms-bridge bench (release) + the package-benchmark suite
#   make bench-check         callgrind instructions per operation; fails above the issue's targets
#   make bench-malloc-check  package-benchmark run checked against Benchmarks/Thresholds (0 mallocs)
#
# BENCH_SWIFT_FLAGS passes e.g. --scratch-path to the release build of dlms-bridge.
BENCH_SWIFT_FLAGS ?= $(SWIFT_FLAGS)
BENCH_BIN = $(shell $(SWIFT) build -c release $(BENCH_SWIFT_FLAGS) --show-bin-path)/dlms-bridge

.PHONY: bench bench-release bench-check bench-malloc-check

bench-release:
	$(SWIFT) build -c release $(BENCH_SWIFT_FLAGS) --product dlms-bridge

bench: bench-release
	$(BENCH_BIN) bench
	$(SWIFT) package --package-path Benchmarks benchmark --no-progress

bench-check: bench-release
	Benchmarks/callgrind-check.sh $(BENCH_BIN)

# Runs from Benchmarks/ so the static thresholds are read from Benchmarks/Thresholds.
bench-malloc-check:
	cd Benchmarks && $(SWIFT) package benchmark thresholds check --no-progress

# bench-malloc-check took 2 min 39 s from a clean Benchmarks/.build on a shared 2-core machine (limit: 4 min), so
# it runs in `make test`. bench-check needs a release build of the whole package first (2.5 to 5.5 min from
# clean here, over its 2-minute budget), so it stays a separate target; run it after touching HDLC or COSEM.
EXTRA_TEST_TARGETS += bench-malloc-check
