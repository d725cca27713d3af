# Raspberry Pi builds. See cross/README.md for the SDKs, the float ABI and why each flag is there.
#
# make cross-check: the protocol core (Sources/HDLC, Sources/COSEM) in Embedded Swift for aarch64 and armv7
#   (hard-float, like Debian armhf), linked with Tests/CrossCheck against Debian's cross glibc and run under
#   qemu-user. Needs no SDK and no network beyond Debian's packages: CI runs it.
# make cross ARCH=aarch64|armv7: the whole agent in Embedded Swift, fully static, for a Raspberry Pi
#   (cross/embedded-build.sh): the toolchain's Embedded stdlib for the CPU, Debian's cross glibc, the target's
#   OpenSSL and libmosquitto as cross-c-check makes them. No SDK. Leaves dist/<arch>/dlms-bridge.

CROSS_CHECK_ARCHS ?= aarch64 armv7

.PHONY: cross-check cross cross-openssl cross-deps

# Debian's cross glibc and libgcc for both Pi architectures, qemu-user to run what is built, lld to link it,
# cmake and dpkg-dev to build the target's libmosquitto from Debian's source.
CROSS_PACKAGES := qemu-user lld file cmake dpkg-dev libmosquitto-dev \
	libc6-dev-arm64-cross libgcc-12-dev-arm64-cross libc6-dev-armhf-cross libgcc-12-dev-armhf-cross
TEST_PACKAGES  += $(CROSS_PACKAGES)
cross-deps:
	@$(ENSURE_PACKAGES) "make cross" $(CROSS_PACKAGES)

cross-check: cross-deps
	@for arch in $(CROSS_CHECK_ARCHS); do cross/embedded-check.sh $$arch || exit 1; done
	@echo "cross-check: golden vectors pass on $(CROSS_CHECK_ARCHS) under qemu-user"

EXTRA_TEST_TARGETS += cross-check

# --- make cross -------------------------------------------------------------------------------------------
ARCH ?= aarch64
ifeq ($(ARCH),aarch64)
CROSS_TRIPLE  := aarch64-unknown-linux-gnu
CROSS_DEBARCH := arm64
CROSS_MULTI   := aarch64-linux-gnu
else ifeq ($(ARCH),armv7)
CROSS_TRIPLE  := armv7-unknown-linux-gnueabihf
CROSS_DEBARCH := armhf
CROSS_MULTI   := arm-linux-gnueabihf
endif
CROSS_QEMU    := qemu-$(if $(filter armv7,$(ARCH)),arm,aarch64)
CROSS_OUT     := $(CURDIR)/out/cross/$(ARCH)
CROSS_DEPS    := $(CROSS_OUT)/openssl
CROSS_MOSQ    := $(CROSS_OUT)/libmosquitto

# The target's C dependencies: Debian's OpenSSL archives for it and libmosquitto.a built from Debian's source.
# $(1): the sysroot (the SDK's for `make cross`; empty for Debian's cross glibc, which clang finds itself).
# Both are cached under out/cross/$(ARCH)/ (libmosquitto rebuilt when its recipe changes).
define cross_c_deps
cross/fetch-openssl.sh $(CROSS_DEBARCH) $(CROSS_MULTI) $(CROSS_DEPS) && \
	  { test -f $(CROSS_MOSQ)/lib/libmosquitto.a -a $(CROSS_MOSQ)/lib/libmosquitto.a -nt cross/build-libmosquitto.sh || \
	    cross/build-libmosquitto.sh $(CROSS_MOSQ) $(CROSS_TRIPLE) "$(1)" $(CROSS_DEPS); }
endef

cross: cross-deps
	@case "$(ARCH)" in aarch64|armv7) ;; *) echo "make cross: ARCH must be aarch64 or armv7, not '$(ARCH)'" >&2; exit 2;; esac
	@$(call cross_c_deps,)
	MOSQ_PREFIX=$(CROSS_MOSQ) SSL_PREFIX=$(CROSS_DEPS) cross/embedded-build.sh $(ARCH) $(CROSS_OUT)/agent
	@mkdir -p dist/$(ARCH)
	cp $(CROSS_OUT)/agent/dlms-bridge.stripped dist/$(ARCH)/dlms-bridge
	@# qemu-user runs it here: a binary that cannot start on the Pi fails now, not on site.
	$(CROSS_QEMU) dist/$(ARCH)/dlms-bridge --version >/dev/null
	@file dist/$(ARCH)/dlms-bridge
	@size=$$(stat -c %s dist/$(ARCH)/dlms-bridge); if [ $$size -gt $(STATIC_MAX_BYTES) ]; then \
	  echo "cross: FAIL: dist/$(ARCH)/dlms-bridge is $$size bytes > $(STATIC_MAX_BYTES) (STATIC_MAX_BYTES); by archive:" >&2; \
	  $(PYTHON) cross/map-sizes.py $(CROSS_OUT)/agent/link.map | head -12 >&2; exit 1; fi
	@echo "cross: dist/$(ARCH)/dlms-bridge $$(stat -c %s dist/$(ARCH)/dlms-bridge) bytes; copy it to /usr/bin/ on the Pi, or make deb ARCH=$(CROSS_DEBARCH)"

# --- make cross-system-check: the ARM binary against real peers, under qemu-user --------------------------------
# The system suite (Tests/system) with DLMS_BRIDGE_BIN pointing at a wrapper that execs the ARM binary under
# qemu-user (exec: the test's signals reach qemu, which hands them to the program). Every test runs except those
# marked `native` (the unit's seccomp sandbox: qemu's code generator needs writable+executable memory, which the
# unit's MemoryDenyWriteExecute= forbids) and `cross` (the C probe, run by cross-c-check). The wrapper first
# proves the binary is the ARM one for this ARCH (a host binary under test would prove nothing).
CROSS_SYSTEM_ARCHS ?= aarch64 armv7
CROSS_WRAPPER      := $(CROSS_OUT)/dlms-bridge-qemu
CROSS_ELF_MACHINE  := $(if $(filter armv7,$(ARCH)),ARM,AArch64)

.PHONY: cross-system-check cross-system-checks
EXTRA_TEST_TARGETS += cross-system-checks

cross-system-check: venv cross
	@readelf -h dist/$(ARCH)/dlms-bridge | grep -q "Machine:.*$(CROSS_ELF_MACHINE)" || \
	  { echo "cross-system-check: dist/$(ARCH)/dlms-bridge is not an $(CROSS_ELF_MACHINE) binary" >&2; exit 1; }
	@printf '#!/bin/sh\n# dlms-bridge for $(ARCH) under qemu-user (made by make cross-system-check)\nexec $(CROSS_QEMU) %s "$$@"\n' \
	  "$(abspath dist/$(ARCH)/dlms-bridge)" > $(CROSS_WRAPPER) && chmod +x $(CROSS_WRAPPER)
	DLMS_BRIDGE_BIN=$(CROSS_WRAPPER) DLMS_BRIDGE_ARCH=$(ARCH) $(VPY) -m pytest $(PYTEST_ARGS) -m "not cross and not native and not deb" Tests/system

cross-system-checks:
	@for arch in $(CROSS_SYSTEM_ARCHS); do $(MAKE) --no-print-directory cross-system-check ARCH=$$arch || exit 1; done

# --- make cross-c-check: the C half of `make cross`, without a Swift SDK -------------------------------------
# For each ARCH: the C dependencies as `make cross` makes them (against Debian's cross glibc instead of an SDK's
# sysroot), and cross/mqtt-probe.c linked fully static with them the way the agent links them. The system test
# marked `cross` (Tests/system/test_cross_uplink.py) runs each probe under qemu-user against a real mosquitto
# with mutual TLS: libmosquitto, OpenSSL and static glibc for aarch64 and armhf, working. ~1 min from clean
# (two package lists and two libmosquitto builds), seconds when cached.
CROSS_C_ARCHS ?= aarch64 armv7

.PHONY: cross-c-check cross-probe
EXTRA_TEST_TARGETS += cross-c-check

cross-c-check: cross-deps venv
	@for arch in $(CROSS_C_ARCHS); do $(MAKE) --no-print-directory cross-probe ARCH=$$arch || exit 1; done
	$(VPY) -m pytest $(PYTEST_ARGS) -m cross Tests/system

cross-probe:
	@case "$(ARCH)" in aarch64|armv7) ;; *) echo "make cross-probe: ARCH must be aarch64 or armv7, not '$(ARCH)'" >&2; exit 2;; esac
	@$(call cross_c_deps,)
	@clang --target=$(CROSS_TRIPLE) -static -fuse-ld=lld -Os -DLIBMOSQUITTO_STATIC -I$(CROSS_MOSQ)/include \
	  cross/mqtt-probe.c -o $(CROSS_OUT)/mqtt-probe $(CROSS_MOSQ)/lib/libmosquitto.a \
	  $(CROSS_DEPS)/lib/libssl.a $(CROSS_DEPS)/lib/libcrypto.a -lpthread 2>&1 \
	  | { grep -v -e "in statically linked applications requires at runtime" -e "^clang: warning: argument unused" || true; }; \
	  exit $${PIPESTATUS[0]}
	@echo "cross-probe: $(CROSS_OUT)/mqtt-probe: $$(file -b $(CROSS_OUT)/mqtt-probe | cut -d, -f1-2,5)"
