# Power loss, proven (issue 13; docs/spool.md "Power loss"): Tests/powerloss/check.py records the agent's file
# system calls under strace on a tmpfs, replays them into a model of what a power cut may leave at every operation
# boundary, and recovers each crash state with `dlms-bridge spool-recover` (the same opening code as `run`); a
# sample also goes through `run` against mosquitto. Negative controls (test switches that break the commit order
# and the directory fsync) must be caught. Needs root (tmpfs mounts). Part of `make test`; ~4 min on 2 cores.
.PHONY: powerloss-check powerloss-deps

# strace records the agent; mosquitto and mosquitto_sub (in DEB_PACKAGES) carry the sampled `run`s.
POWERLOSS_PACKAGES := strace util-linux
TEST_PACKAGES += $(POWERLOSS_PACKAGES)
POWERLOSS_ARGS ?=

powerloss-deps:
	@$(ENSURE_PACKAGES) "make powerloss-check" $(POWERLOSS_PACKAGES) mosquitto mosquitto-clients

powerloss-check: powerloss-deps build
	$(PYTHON) Tests/powerloss/check.py $(BIN) $(POWERLOSS_ARGS)

EXTRA_TEST_TARGETS += powerloss-check
