# make deb ARCH=amd64|arm64|armhf: a Debian package of the static binary and the rootfs overlay, so that a Pi user
# runs `apt install ./dlms-bridge_<version>_arm64.deb`. amd64 packages dist/dlms-bridge (make static), arm64
# dist/aarch64/dlms-bridge and armhf dist/armv7/dlms-bridge (make cross). Leaves dist/dlms-bridge_<v>_<arch>.deb.
#
# Layout (Debian's places, not the overlay's image-builder ones): the unit in /lib/systemd/system (not enabled:
# it needs its settings first; postinst says how), the udev rule in /lib/udev/rules.d, sysusers/tmpfiles
# entries in /usr/lib, the example configuration /etc/dlms-bridge/dlms-bridge.env as a conffile (an edited one
# survives upgrades). postinst creates the user and /var/lib/dlms-bridge with systemd-sysusers/-tmpfiles.
# make deb-check (in make test): builds the amd64 package, checks it with dpkg-deb and lintian, installs it on
# this machine, checks where every file landed against the unit, and purges it again (Tests/system/test_deb.py).

DEB_VERSION := $(shell sed -n 's/.*static let version = "\(.*\)".*/\1/p' Sources/dlms-bridge/DLMSBridge.swift)
DEB_STAGE   := $(CURDIR)/out/deb
# Who answers for the package: set it to your organisation's address for the packages you ship.
DEB_MAINTAINER ?= dlms-bridge developers <dlms-bridge@example.org>
DEB_PACKAGES_NEEDED := dpkg-dev fakeroot lintian
TEST_PACKAGES += $(DEB_PACKAGES_NEEDED)

.PHONY: deb deb-check deb-deps
deb-deps:
	@$(ENSURE_PACKAGES) "make deb" $(DEB_PACKAGES_NEEDED)

# Which binary each Debian architecture packages, and the make that builds it.
deb_bin_amd64 := dist/dlms-bridge
deb_make_amd64 := static
deb_bin_arm64 := dist/aarch64/dlms-bridge
deb_make_arm64 := cross ARCH=aarch64
deb_bin_armhf := dist/armv7/dlms-bridge
deb_make_armhf := cross ARCH=armv7

deb: deb-deps
	@case "$(ARCH)" in amd64|arm64|armhf) ;; *) \
	  echo "make deb: ARCH must be amd64, arm64 or armhf (Debian's names), not '$(ARCH)'" >&2; exit 2;; esac
	@test -x $(deb_bin_$(ARCH)) || $(MAKE) --no-print-directory $(deb_make_$(ARCH))
	@set -e; root=$(DEB_STAGE)/$(ARCH); rm -rf $$root; mkdir -p $$root/DEBIAN; \
	install -D -m 0755 $(deb_bin_$(ARCH)) $$root/usr/bin/dlms-bridge; \
	o=rootfs-overlay; \
	install -D -m 0644 $$o/etc/systemd/system/dlms-bridge.service $$root/lib/systemd/system/dlms-bridge.service; \
	install -D -m 0644 $$o/etc/udev/rules.d/70-dlms-probe.rules $$root/lib/udev/rules.d/70-dlms-probe.rules; \
	install -D -m 0644 $$o/usr/lib/sysusers.d/dlms-bridge.conf $$root/usr/lib/sysusers.d/dlms-bridge.conf; \
	install -D -m 0644 $$o/usr/lib/tmpfiles.d/dlms-bridge.conf $$root/usr/lib/tmpfiles.d/dlms-bridge.conf; \
	install -D -m 0644 $$o/usr/lib/dlms-bridge/nsswitch.conf $$root/usr/lib/dlms-bridge/nsswitch.conf; \
	install -D -m 0640 $$o/etc/dlms-bridge/dlms-bridge.env $$root/etc/dlms-bridge/dlms-bridge.env; \
	install -D -m 0644 cross/deb/copyright $$root/usr/share/doc/dlms-bridge/copyright; \
	install -D -m 0644 cross/deb/lintian-overrides $$root/usr/share/lintian/overrides/dlms-bridge; \
	printf 'dlms-bridge ($(DEB_VERSION)) unstable; urgency=medium\n\n  * Release $(DEB_VERSION).\n\n -- $(DEB_MAINTAINER)  %s\n' \
	  "$$(date -R -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))" | gzip -9n > $$root/usr/share/doc/dlms-bridge/changelog.gz; \
	chmod 0644 $$root/usr/share/doc/dlms-bridge/changelog.gz; \
	echo /etc/dlms-bridge/dlms-bridge.env > $$root/DEBIAN/conffiles; \
	for s in postinst prerm postrm; do install -m 0755 cross/deb/$$s $$root/DEBIAN/$$s; done; \
	size=$$(du -sk --exclude=DEBIAN $$root | cut -f1); \
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@DEBARCH@/$(ARCH)/' -e "s/@SIZE_KB@/$$size/" \
	  -e 's|@MAINTAINER@|$(DEB_MAINTAINER)|' cross/deb/control.in \
	  > $$root/DEBIAN/control; \
	mkdir -p dist; out=dist/dlms-bridge_$(DEB_VERSION)_$(ARCH).deb; \
	fakeroot dpkg-deb --root-owner-group -Zxz --build $$root $$out >/dev/null; \
	echo "deb: $$out ($$(stat -c %s $$out) bytes)"

deb-check: deb-deps venv static
	@$(MAKE) --no-print-directory deb ARCH=amd64
	DLMS_BRIDGE_DEB=$(abspath dist/dlms-bridge_$(DEB_VERSION)_amd64.deb) $(VPY) -m pytest $(PYTEST_ARGS) Tests/system/test_deb.py

EXTRA_TEST_TARGETS += deb-check
