# libFuzzer targets for the decoders that read bytes from the wire. `make fuzz` builds each target with
# -sanitize=fuzzer,address (its module's sources compiled together with Fuzz/<name>/*.swift, one module)
# and runs it for a bounded time from its seed corpus (Fuzz/<name>/corpus, committed); new inputs go to
# Fuzz/corpus-<name>/ and crashes to Fuzz/crash-<name>-* (both git-ignored). Part of `make test`.
#
# To add a target NAME: append it to FUZZ_TARGETS and set FUZZ_SOURCES_NAME below; put the entry
# (`@_cdecl("LLVMFuzzerTestOneInput")`) and a seed corpus under Fuzz/NAME/.
#   make fuzz FUZZ_SECONDS=600      longer runs
#   make fuzz-hdlc                  one target

FUZZ_TARGETS += hdlc
FUZZ_SOURCES_hdlc := $(wildcard Sources/HDLC/*.swift) $(wildcard Fuzz/hdlc/*.swift)
FUZZ_TARGETS += cosem
FUZZ_SOURCES_cosem := $(wildcard Sources/COSEM/*.swift) $(wildcard Fuzz/cosem/*.swift)
# Issue 12: the ciphered APDU decoder and suite 0 receive path, and the IEC 62056-47 wrapper header.
FUZZ_TARGETS += ciphered
FUZZ_SOURCES_ciphered := $(wildcard Sources/COSEM/*.swift) $(wildcard Fuzz/ciphered/*.swift)
FUZZ_TARGETS += wrapper
FUZZ_SOURCES_wrapper := $(wildcard Sources/COSEM/*.swift) $(wildcard Fuzz/wrapper/*.swift)

# ------------------------------------------------------------------------------------------------------
FUZZ_SWIFTC  ?= $(dir $(shell command -v $(SWIFT) 2>/dev/null))swiftc
FUZZ_SECONDS ?= 30
FUZZ_FLAGS   ?= -sanitize=fuzzer,address -parse-as-library -O -g -use-ld=lld
# The Swift runtime's crash backtracer waits on the terminal; libFuzzer reports crashes itself.
FUZZ_ENV     := SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1

.PHONY: fuzz fuzz-deps $(addprefix fuzz-,$(FUZZ_TARGETS))

FUZZ_PACKAGES := lld
TEST_PACKAGES += $(FUZZ_PACKAGES)
fuzz-deps:
	@$(ENSURE_PACKAGES) "make fuzz" $(FUZZ_PACKAGES)

fuzz: $(addprefix fuzz-,$(FUZZ_TARGETS))

define FUZZ_TARGET_RULES
Fuzz/bin/fuzz-$(1): $$(FUZZ_SOURCES_$(1)) mk/fuzz.mk | fuzz-deps
	@mkdir -p Fuzz/bin
	$$(FUZZ_SWIFTC) $$(FUZZ_FLAGS) -module-name Fuzz_$(1) $$(FUZZ_SOURCES_$(1)) -o $$@

fuzz-$(1): Fuzz/bin/fuzz-$(1)
	@mkdir -p Fuzz/corpus-$(1) Fuzz/$(1)/corpus
	@echo "fuzz-$(1): $(FUZZ_SECONDS) s"
	@$$(FUZZ_ENV) Fuzz/bin/fuzz-$(1) -max_total_time=$$(FUZZ_SECONDS) -print_final_stats=1 \
	  -artifact_prefix=Fuzz/crash-$(1)- Fuzz/corpus-$(1) Fuzz/$(1)/corpus > Fuzz/bin/fuzz-$(1).log 2>&1 || { \
	  tail -40 Fuzz/bin/fuzz-$(1).log >&2; \
	  echo "fuzz-$(1): the fuzzer found a failing input (Fuzz/crash-$(1)-*); replay: Fuzz/bin/fuzz-$(1) <file>" >&2; \
	  exit 1; }
	@grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' Fuzz/bin/fuzz-$(1).log | sed 's/^/fuzz-$(1): /'
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_TARGET_RULES,$(t))))

EXTRA_TEST_TARGETS += fuzz
