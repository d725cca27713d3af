# make static: a fully static release binary at dist/dlms-bridge (glibc, Swift runtime, libmosquitto, OpenSSL).
# make static-check: builds it and asserts it is static and small enough. make footprint: size and RSS.
#
# How the static libmosquitto is chosen (and the normal build is left alone): cross/build-libmosquitto.sh
# builds Debian's mosquitto source as libmosquitto.a under out/static/ and writes a libmosquitto.pc of its
# own that names it plus -lssl -lcrypto. Only this recipe puts that folder first on PKG_CONFIG_PATH, so the
# `CMosquitto` system-library target (pkgConfig: "libmosquitto") resolves to it here, while `make build`
# and `swift build` keep Debian's libmosquitto.so. With -static-executable the linker takes archives only,
# so a missing libmosquitto.a fails the link instead of silently picking the shared library. The static
# build has its own scratch folder (.build-static), so SwiftPM never mixes the two pkg-config answers.
#
# -DLIBMOSQUITTO_STATIC goes through -Xcc because SwiftPM drops -D from pkg-config Cflags (it only changes
# symbol visibility on Windows, but it is the library's documented contract for static users).
# lld: archive order does not matter to it (the libraries come both from the module map's autolink entries
# and from pkg-config, in an order SwiftPM decides), and --icf=all folds identical functions (-0.3 MB).
#
# Static glibc: the link warns that getaddrinfo/getpwuid/dlopen "require at runtime the shared libraries
# from the glibc version used for linking". That concerns NSS modules only: with `hosts: files dns` in
# /etc/nsswitch.conf (Raspberry Pi OS default is `files mdns4_minimal [NOTFOUND=return] dns`), name lookups
# use the built-in files and dns backends and nothing is dlopen'ed. With mdns4_minimal listed, a static
# binary cannot load libnss_mdns and falls through to dns: give MQTT_HOST as a DNS name or an address, not
# a .local name. On a system with libnss-mdns installed it would dlopen that shared module, so the unit
# bind-mounts rootfs-overlay/usr/lib/dlms-bridge/nsswitch.conf (files + dns only) over /etc/nsswitch.conf
# for the agent (Tests/system/test_overlay.py checks it with strace). The agent looks up no users or groups.

STATIC_OUT       := $(CURDIR)/out/static
STATIC_PREFIX    := $(STATIC_OUT)/libmosquitto
STATIC_SCRATCH   ?= .build-static
STATIC_MAX_BYTES ?= 12582912
STATIC_MAX_RSS_KIB ?= 12288
STATIC_SWIFT_FLAGS := -c release --scratch-path $(STATIC_SCRATCH) \
	--static-swift-stdlib -Xswiftc -static-executable \
	-Xcc -DLIBMOSQUITTO_STATIC \
	-Xswiftc -use-ld=lld -Xlinker --icf=all

.PHONY: static static-check static-libs footprint

static-libs: $(STATIC_PREFIX)/lib/libmosquitto.a

# Cached: rebuilt only when the recipe changes or `make clean` removed out/.
$(STATIC_PREFIX)/lib/libmosquitto.a: cross/build-libmosquitto.sh
	cross/build-libmosquitto.sh $(STATIC_PREFIX)

static: $(STATIC_PREFIX)/lib/libmosquitto.a
	PKG_CONFIG_PATH=$(STATIC_PREFIX)/lib/pkgconfig $(SWIFT) build $(STATIC_SWIFT_FLAGS) 2>&1 \
	  | grep -v -e "in statically linked applications requires at runtime" -e "use of \`mktemp'"; \
	  exit $${PIPESTATUS[0]}
	@mkdir -p dist
	strip --strip-all -o dist/dlms-bridge.tmp $(STATIC_SCRATCH)/release/dlms-bridge
	@mv -f dist/dlms-bridge.tmp dist/dlms-bridge
	@echo "static: dist/dlms-bridge $$(stat -c %s dist/dlms-bridge) bytes stripped" \
	  "($$(( $$(stat -c %s dist/dlms-bridge) / 1024 )) KiB)"

static-check: static
	@$(MAKE) --no-print-directory footprint FOOTPRINT_BIN=dist/dlms-bridge
	@set -e; b=dist/dlms-bridge; fail=0; \
	desc=$$(file -b $$b); echo "file: $$desc"; \
	case "$$desc" in *"statically linked"*) ;; \
	  *) echo "static-check: FAIL: file does not say statically linked: $$desc" >&2; fail=1;; esac; \
	l=$$(ldd $$b 2>&1 || true); echo "ldd: $$l"; \
	case "$$l" in *"not a dynamic executable"*) ;; \
	  *) echo "static-check: FAIL: ldd lists shared libraries: $$l" >&2; fail=1;; esac; \
	if readelf -l $$b | grep -q INTERP; then \
	  echo "static-check: FAIL: the binary has a program interpreter (dynamic loader)" >&2; fail=1; fi; \
	env -i $$b --help >/dev/null || { echo "static-check: FAIL: $$b --help failed in an empty environment" >&2; fail=1; }; \
	size=$$(stat -c %s $$b); rss=$$(cat $(STATIC_OUT)/rss-kib); \
	if [ $$size -gt $(STATIC_MAX_BYTES) ]; then \
	  echo "static-check: FAIL: $$size bytes stripped > $(STATIC_MAX_BYTES) (12 MiB); by archive:" >&2; \
	  $(MAKE) --no-print-directory static-size-report 2>/dev/null | head -12 >&2 || true; fail=1; fi; \
	if [ $$rss -gt $(STATIC_MAX_RSS_KIB) ]; then \
	  echo "static-check: FAIL: max RSS $$rss KiB > $(STATIC_MAX_RSS_KIB) KiB" >&2; fail=1; fi; \
	test $$fail = 0; \
	echo "static-check: ok: $$size bytes stripped (limit $(STATIC_MAX_BYTES)), max RSS $$rss KiB" \
	  "(limit $(STATIC_MAX_RSS_KIB)), static, runs"

# Where the bytes come from, by archive (from a linker map of the unstripped link).
.PHONY: static-size-report
static-size-report: $(STATIC_PREFIX)/lib/libmosquitto.a
	@mkdir -p $(STATIC_OUT)
	@PKG_CONFIG_PATH=$(STATIC_PREFIX)/lib/pkgconfig $(SWIFT) build $(STATIC_SWIFT_FLAGS) \
	  -Xlinker -Map=$(STATIC_OUT)/dlms-bridge.map >/dev/null 2>&1
	@$(PYTHON) cross/map-sizes.py $(STATIC_OUT)/dlms-bridge.map | tee $(STATIC_OUT)/size.txt

# Stripped size and resident memory. Idle RSS is measured on `run` when the binary has it (5 s against the
# example configuration's unreachable meter and broker: the agent idles in its retry loop), else on --help.
FOOTPRINT_BIN ?= dist/dlms-bridge
footprint:
	@test -x $(FOOTPRINT_BIN) || $(MAKE) --no-print-directory static
	@echo "size: $$(stat -c %s $(FOOTPRINT_BIN)) bytes ($(FOOTPRINT_BIN), stripped)"
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	if $(FOOTPRINT_BIN) run --help 2>&1 | grep -q -- --env-file; then \
	  sed -e "s|^SPOOL_DIR=.*|SPOOL_DIR=$$tmp/spool|" -e 's|^DLMS_HOST=.*|DLMS_HOST=127.0.0.1|' \
	      -e 's|^MQTT_HOST=.*|MQTT_HOST=127.0.0.1|' -e 's|^MQTT_PORT=.*|MQTT_PORT=1883|' -e '/^MQTT_TLS_/d' \
	      rootfs-overlay/etc/dlms-bridge/dlms-bridge.env > $$tmp/env; \
	  what="run, idle 5 s, meter and broker unreachable"; \
	  /usr/bin/time -v -o $$tmp/time timeout -s INT 5 $(FOOTPRINT_BIN) run --env-file $$tmp/env \
	    >$$tmp/out 2>&1 || true; \
	else \
	  what="--help (no run command yet)"; \
	  /usr/bin/time -v -o $$tmp/time $(FOOTPRINT_BIN) --help >/dev/null 2>&1 || true; \
	fi; \
	rss=$$(sed -n 's/.*Maximum resident set size (kbytes): //p' $$tmp/time); \
	test -n "$$rss" || { echo "footprint: /usr/bin/time gave no RSS" >&2; exit 1; }; \
	mkdir -p $(STATIC_OUT) && echo $$rss > $(STATIC_OUT)/rss-kib; \
	echo "max RSS: $$rss KiB ($$what)"
