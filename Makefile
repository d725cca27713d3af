# dlms-bridge: the one entry point. The README's two commands are `make demo` and `make test`.
# Area-specific targets live in mk/*.mk (static, cross, fuzz, embedded, bench, ...), included below.

SHELL        := /bin/bash
SWIFT        ?= swift
PYTHON       ?= python3
VENV         ?= .venv
VPY          := $(VENV)/bin/python
BUILD_CONFIG ?= debug
SWIFT_FLAGS  ?=
BIN_DIR       = $(shell $(SWIFT) build -c $(BUILD_CONFIG) $(SWIFT_FLAGS) --show-bin-path)
BIN           = $(BIN_DIR)/dlms-bridge
# Parallel test workers for pytest; the machines have two cores.
PYTEST_ARGS  ?= -q

export DLMS_BRIDGE_PYTHON := $(abspath $(VPY))

.PHONY: all build test test-deps test-swift test-system venv deps demo clean help

all: build

help:
	@echo "make demo    - simulated meter + local TLS broker + agent; shows the published readings"
	@echo "make test    - the whole test suite (unit, property, interop, system, fuzz, embedded)"
	@echo "make static  - fully static release binary at dist/dlms-bridge"
	@echo "make cross-check - protocol core for aarch64/armv7 under qemu-user"
	@echo "make bench   - benchmarks (package-benchmark + dlms-bridge bench)"

build: deps
	$(SWIFT) build -c $(BUILD_CONFIG) $(SWIFT_FLAGS)

# The Python side of the tests: gurux-dlms (independent DLMS implementation), pytest, paho-mqtt.
$(VPY): Tests/system/requirements.txt | deps
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r Tests/system/requirements.txt
	@touch $(VPY)

venv: $(VPY)

test: test-deps venv build test-swift test-system $(EXTRA_TEST_TARGETS)
	@echo "make test: all suites passed"

test-swift: venv
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)

# The system tests that exercise a dlms-bridge binary; those marked `cross` run ARM builds instead (cross-c-check),
# those marked `deb` install the Debian package (deb-check).
SYSTEM_TESTS := -m "not cross and not deb" Tests/system

test-system: venv build
	DLMS_BRIDGE_BIN=$(BIN) $(VPY) -m pytest $(PYTEST_ARGS) $(SYSTEM_TESTS)

# System packages (Debian names), installed only when missing by scripts/ensure-packages.sh (as root; otherwise
# it stops with the apt-get line to run). DEB_PACKAGES: the build and the demo. TEST_PACKAGES: what a check of
# `make test` needs beyond that; each area adds its own beside its targets (here and in mk/*.mk), so a new check
# brings its packages with it. `make test-deps` installs the union first thing in `make test`.
DEB_PACKAGES  := libmosquitto-dev libssl-dev mosquitto mosquitto-clients openssl python3-venv
# The system tests: the overlay's unit checked by systemd's tools, strace/unshare/gcc for the nsswitch check,
# libseccomp's Python binding for the unit's system-call filter (Tests/system/unit_sandbox.py).
TEST_PACKAGES := systemd strace util-linux gcc python3-seccomp
ENSURE_PACKAGES := scripts/ensure-packages.sh

deps:
	@$(ENSURE_PACKAGES) "make deps" $(DEB_PACKAGES)

test-deps:
	@$(ENSURE_PACKAGES) "make test" $(sort $(DEB_PACKAGES) $(TEST_PACKAGES))

# The README's first command: simulated meter + TLS broker + agent on loopback, readings shown, all stopped.
demo: deps build
	scripts/demo.sh $(BIN)

clean:
	rm -rf .build dist out Fuzz/bin

-include mk/*.mk

# Prerequisites expand when a rule is read, so the areas' checks join `make test` here, after mk/*.mk set them.
test: $(EXTRA_TEST_TARGETS)
