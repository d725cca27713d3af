# libFuzzer targets, run for a bounded time by `make test` (and alone by `make fuzz`).
# Each target NAME has Fuzz/NAME/run.sh [SECONDS], which builds Fuzz/bin/NAME-fuzz with
# -sanitize=fuzzer,address and runs it on its seed corpus; a crash leaves crash-* in Fuzz/bin/NAME-findings
# and fails the run. Register a target with `FUZZ_TARGETS += NAME` (the list is read when the recipe runs).
FUZZ_SECONDS ?= 30
FUZZ_TARGETS += cosem

.PHONY: fuzz
fuzz:
	@for t in $(FUZZ_TARGETS); do echo "fuzz: $$t for $(FUZZ_SECONDS)s"; Fuzz/$$t/run.sh $(FUZZ_SECONDS) || exit 1; done

EXTRA_TEST_TARGETS += fuzz
