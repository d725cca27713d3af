# Agent benchmarks (issue 4): CPU per reading, idle RSS of `run` with one meter, backlog replay rate at QoS 1
# over TLS, against real processes on loopback. Uses dist/dlms-bridge (make static) when present, else the
# release build. `bench-agent-check` fails when idle RSS exceeds AGENT_MAX_RSS_MB.
AGENT_BENCH_BIN  ?= $(if $(wildcard dist/dlms-bridge),dist/dlms-bridge,$(shell $(SWIFT) build -c release --show-bin-path 2>/dev/null)/dlms-bridge)
AGENT_MAX_RSS_MB ?= 12

.PHONY: bench-agent bench-agent-check
bench-agent: venv
	@test -x "$(AGENT_BENCH_BIN)" || $(SWIFT) build -c release
	$(VPY) scripts/bench_agent.py $(AGENT_BENCH_BIN) --backlog 2000

bench-agent-check: venv
	@test -x "$(AGENT_BENCH_BIN)" || $(SWIFT) build -c release
	$(VPY) scripts/bench_agent.py $(AGENT_BENCH_BIN) --seconds 10 --backlog 400 --check --max-rss-mb $(AGENT_MAX_RSS_MB)

# Gateway benchmark (issue 10): 1, 50, 300 and 1,000 simulated meters against a local mosquitto for
# GATEWAY_SECONDS each: readings delivered over expected, peak RSS, CPU per reading, threads, descriptors,
# and the idle wake-ups of an agent with one meter (scripts/bench_gateway.py). ~4 min. Not part of make test
# (the system test test_gateway_of_1000_meters asserts the behaviour); numbers in docs/performance.md.
GATEWAY_METERS  ?= 1 50 300 1000
GATEWAY_SECONDS ?= 30
.PHONY: bench-gateway
bench-gateway: venv
	@test -x "$(AGENT_BENCH_BIN)" || $(SWIFT) build -c release
	$(VPY) scripts/bench_gateway.py $(AGENT_BENCH_BIN) --meters $(GATEWAY_METERS) --seconds $(GATEWAY_SECONDS)

# Replay benchmark (issue 10): one meter's backlog of 1,000, 10,000 and 100,000 readings (written in the spool's
# format) drains to a local mosquitto at QoS 1 with REPLAY_RATE=10000 (scripts/bench_replay.py). ~1 min.
.PHONY: bench-replay
bench-replay: venv
	@test -x "$(AGENT_BENCH_BIN)" || $(SWIFT) build -c release
	$(VPY) scripts/bench_replay.py $(AGENT_BENCH_BIN)
