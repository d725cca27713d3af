# The spool (Sources/Spool): its unit, property, crash and file-system tests run in `make test-swift`.
# `make spool-wear` prints bytes written per reading and appends/s from a release build (docs/spool.md).
.PHONY: spool-test spool-wear

spool-test:
	$(SWIFT) test $(SWIFT_FLAGS) --filter SpoolTests

spool-wear:
	$(SWIFT) test -c release -Xswiftc -enable-testing $(SWIFT_FLAGS) --filter SpoolWearTests 2>&1 | grep -E "spool (wear|replay)|passed|failed"
