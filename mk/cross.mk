# Raspberry Pi builds. See cross/README.md for the SDKs, the float ABI and why each flag is there.
#
# make cross-check: the protocol core (Sources/HDLC, Sources/COSEM) in Embedded Swift for aarch64 and armv7
#   (hard-float, like Debian armhf), linked with Tests/CrossCheck against Debian's cross glibc and run under
#   qemu-user. Needs no SDK and no network beyond Debian's packages: CI runs it.
# make cross ARCH=aarch64|armv7: the whole agent, fully static, for a Raspberry Pi, with an installed Swift
#   SDK; libmosquitto and OpenSSL are built/taken for the same target. Leaves dist/<arch>/dlms-bridge.

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
CROSS_SWIFT_VERSION := $(shell $(SWIFT) --version 2>/dev/null | sed -n 's/.*Swift version \([0-9.]*\).*/\1/p' | head -1)
ifeq ($(ARCH),aarch64)
CROSS_TRIPLE  := aarch64-unknown-linux-gnu
CROSS_DEBARCH := arm64
CROSS_MULTI   := aarch64-linux-gnu
else ifeq ($(ARCH),armv7)
CROSS_TRIPLE  := armv7-unknown-linux-gnueabihf
CROSS_DEBARCH := armhf
CROSS_MULTI   := arm-linux-gnueabihf
endif
# The SDK id that `swift sdk list` shows for the bundle cross/README.md tells how to make or get.
CROSS_SDK     ?= $(CROSS_SWIFT_VERSION)-RELEASE_debian_bookworm_$(ARCH)
CROSS_QEMU    := qemu-$(if $(filter armv7,$(ARCH)),arm,aarch64)
# GNU strip here knows x86 only; the toolchain's llvm-objcopy strips any ELF.
CROSS_OBJCOPY := $(dir $(shell command -v swiftc 2>/dev/null))llvm-objcopy
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
	@if ! $(SWIFT) sdk list 2>/dev/null | grep -qx '$(CROSS_SDK)'; then \
	  echo "make cross: the Swift SDK '$(CROSS_SDK)' is not installed." >&2; \
	  echo "  It is a Swift $(CROSS_SWIFT_VERSION) SDK for Debian 12 (bookworm, = Raspberry Pi OS) on $(ARCH);" >&2; \
	  echo "  make it with swift-sdk-generator and install it with 'swift sdk install': see cross/README.md." >&2; \
	  echo "  (Another SDK id: make cross ARCH=$(ARCH) CROSS_SDK=<id from 'swift sdk list'>.)" >&2; \
	  exit 1; fi
	@sysroot=$$($(SWIFT) sdk configure --show-configuration $(CROSS_SDK) $(CROSS_TRIPLE) 2>/dev/null \
	    | sed -n 's/^sdkRootPath: //p'); \
	  if [ -z "$$sysroot" ] || [ ! -d "$$sysroot" ]; then \
	    echo "make cross: SDK '$(CROSS_SDK)' has no sysroot for $(CROSS_TRIPLE) (swift sdk configure --show-configuration)" >&2; exit 1; fi; \
	  test -f "$$sysroot/usr/lib/$(CROSS_MULTI)/libc.a" || { \
	    echo "make cross: $$sysroot lacks libc.a (libc6-dev): the fully static link needs it; see cross/README.md" >&2; exit 1; }; \
	  $(call cross_c_deps,$$sysroot)
	PKG_CONFIG_LIBDIR=$(CROSS_MOSQ)/lib/pkgconfig PKG_CONFIG_PATH= \
	  $(SWIFT) build -c release --swift-sdk $(CROSS_SDK) --scratch-path .build-cross-$(ARCH) \
	  --static-swift-stdlib -Xswiftc -static-executable -Xswiftc -use-ld=lld \
	  -Xcc -DLIBMOSQUITTO_STATIC -Xcc -I$(CROSS_MOSQ)/include -Xcc -I$(CROSS_DEPS)/include \
	  -Xlinker -L$(CROSS_MOSQ)/lib -Xlinker -L$(CROSS_DEPS)/lib
	@mkdir -p dist/$(ARCH)
	$(CROSS_OBJCOPY) --strip-all .build-cross-$(ARCH)/release/dlms-bridge dist/$(ARCH)/dlms-bridge
	@# qemu-user (binfmt) runs it here: a binary that cannot start on the Pi fails now, not on site.
	$(CROSS_QEMU) dist/$(ARCH)/dlms-bridge --help >/dev/null
	@file dist/$(ARCH)/dlms-bridge
	@echo "cross: dist/$(ARCH)/dlms-bridge $$(stat -c %s dist/$(ARCH)/dlms-bridge) bytes; copy it to usr/bin/ of the image"

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
