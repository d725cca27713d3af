# make embedded-check: the sans-I/O protocol core (Sources/HDLC, Sources/COSEM) compiles in Embedded Swift for
# the host and imports nothing at all (no Foundation, no Glibc). Objects go to out/embedded.
#
# The whole agent is kept Embedded-clean by the builds make test already does: `make static` (x86_64) and
# `make cross` (aarch64, armv7) compile every module of the executable in Embedded Swift through
# cross/embedded-build.sh, so a construct Embedded Swift rejects fails make test there, naming the module.
# `cross/embedded-build.sh x86_64 out/emb --compile-only` is the quick check while developing (~3 min).

EMBEDDED_SWIFTC  ?= $(dir $(shell command -v $(SWIFT) 2>/dev/null))swiftc
EMBEDDED_TARGET  ?= x86_64-unknown-linux-gnu
EMBEDDED_OUT     := out/embedded
EMBEDDED_FLAGS   := -enable-experimental-feature Embedded -wmo -parse-as-library -target $(EMBEDDED_TARGET) -O
# In dependency order: a later module may import an earlier one (found through -I $(EMBEDDED_OUT)).
EMBEDDED_MODULES := HDLC $(if $(wildcard Sources/COSEM/*.swift),COSEM)

.PHONY: embedded-check

embedded-check:
	@mkdir -p $(EMBEDDED_OUT)
	@for m in $(EMBEDDED_MODULES); do \
	  imports=$$(grep -hE '^\s*(@_[a-zA-Z]+ )?import ' Sources/$$m/*.swift | grep -vE 'import (HDLC|COSEM)$$' || true); \
	  if [ -n "$$imports" ]; then \
	    echo "embedded-check: Sources/$$m must import nothing, found: $$imports" >&2; exit 1; fi; \
	  $(EMBEDDED_SWIFTC) $(EMBEDDED_FLAGS) -module-name $$m -I $(EMBEDDED_OUT) \
	    -emit-module -emit-module-path $(EMBEDDED_OUT)/$$m.swiftmodule \
	    -emit-object -o $(EMBEDDED_OUT)/$$m.o Sources/$$m/*.swift || { \
	    echo "embedded-check: Sources/$$m does not compile in Embedded Swift (see the errors above)" >&2; exit 1; }; \
	  echo "embedded-check: $$m compiles in Embedded Swift ($$(stat -c %s $(EMBEDDED_OUT)/$$m.o) bytes of object)"; \
	done

EXTRA_TEST_TARGETS += embedded-check
