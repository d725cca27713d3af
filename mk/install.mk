# make install DESTDIR=<dir>: lays out the binary and rootfs-overlay/ under DESTDIR: a staging folder, a
# mounted gateway image, or / on the gateway itself (DESTDIR=/ must be given explicitly).
#
# The binary is dist/dlms-bridge (make static) when it exists, else the release build (built here); set
# INSTALL_BIN to install another one (e.g. dist/aarch64/dlms-bridge from make cross).
# An existing dlms-bridge.env is never overwritten: the example then goes next to it as .env.example.
# When DESTDIR is an OS root (it has etc/passwd), the dlms-bridge user and its state folder are created
# there with systemd-sysusers/systemd-tmpfiles --root; otherwise run `systemd-sysusers` and
# `systemd-tmpfiles --create` on the gateway once (the unit's header says so too).

INSTALL_BIN ?= $(if $(wildcard dist/dlms-bridge),dist/dlms-bridge,)

.PHONY: install
install:
	@if [ -z "$(DESTDIR)" ]; then \
	  echo "make install: set DESTDIR (a staging folder, an image root, or DESTDIR=/ for this machine)" >&2; exit 2; fi
	@set -e; bin="$(INSTALL_BIN)"; \
	if [ -z "$$bin" ]; then \
	  $(SWIFT) build -c release $(SWIFT_FLAGS); \
	  bin="$$($(SWIFT) build -c release $(SWIFT_FLAGS) --show-bin-path)/dlms-bridge"; fi; \
	test -x "$$bin" || { echo "make install: no binary at $$bin" >&2; exit 1; }; \
	dest="$(DESTDIR)"; dest="$${dest%/}"; \
	install -D -m 0755 "$$bin" "$$dest/usr/bin/dlms-bridge"; \
	cd rootfs-overlay; \
	find . \( -type f -o -type l \) ! -name .gitignore | sort | while read -r f; do \
	  f="$${f#./}"; target="$$dest/$$f"; \
	  if [ -L "$$f" ]; then mkdir -p "$$(dirname "$$target")"; ln -sfn "$$(readlink "$$f")" "$$target"; continue; fi; \
	  mode=0644; \
	  case "$$f" in etc/dlms-bridge/*.env) mode=0640; \
	    if [ -e "$$target" ]; then target="$$target.example"; \
	      echo "install: kept the existing $$dest/$$f; the new example is $$target"; fi;; esac; \
	  install -D -m $$mode "$$f" "$$target"; \
	done; \
	if [ -f "$$dest/etc/passwd" ]; then \
	  systemd-sysusers --root="$$dest" "$$dest/usr/lib/sysusers.d/dlms-bridge.conf"; \
	  systemd-tmpfiles --root="$$dest" --create "$$dest/usr/lib/tmpfiles.d/dlms-bridge.conf"; \
	  echo "install: user dlms-bridge and /var/lib/dlms-bridge set up in $$dest"; \
	else \
	  echo "install: $$dest has no etc/passwd: on the gateway run 'systemd-sysusers && systemd-tmpfiles --create'"; \
	fi; \
	echo "install: $$dest/usr/bin/dlms-bridge ($$(stat -c %s "$$dest/usr/bin/dlms-bridge") bytes) and the overlay;" \
	  "edit $$dest/etc/dlms-bridge/dlms-bridge.env, then systemctl daemon-reload && systemctl restart dlms-bridge"
