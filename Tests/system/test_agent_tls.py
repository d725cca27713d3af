"""`dlms-bridge run` against a real mosquitto with mutual TLS: the seed's payload arrives, the retained status says
online/offline, health publishes counters; and each broken TLS or login setting is refused with an operator-facing
error while the readings wait in the spool and all arrive once the setting is fixed (issue 4, "What it must show").
"""
from __future__ import annotations

import re
import time

import pytest

from fixtures.agent import (assert_in_order_around, assert_no_gap, first_arrivals_in_order, meter_env,
                            swap_server_certificate)

SEED_KEYS = {"obis", "value", "unit_code", "unit", "raw_value", "description"}


def agent_env(sim, broker, tmp_path, **extra):
    env = meter_env(sim, SPOOL_DIR=str(tmp_path / "spool"), HEALTH_INTERVAL_S="1", **broker.client_env())
    env.update(extra)
    return env


def test_mutual_tls_delivers_the_seed_payload_status_and_health(agent_broker, make_watcher, make_simulator,
                                                                make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator()
    agent = make_agent(agent_env(sim, broker, tmp_path, DLMS_MEASUREMENTS='["voltage_l1", "current_l1", "frequency"]'))

    seqs = watcher.wait_for_seqs("microstar-001", 3)
    assert first_arrivals_in_order(seqs)
    msg = watcher.telemetry("microstar-001")[0]
    assert set(msg) == {"device_id", "ts", "seq", "measurements"}, msg
    assert msg["device_id"] == "microstar-001"
    assert isinstance(msg["ts"], int) and msg["ts"] > 1_600_000_000_000  # wall-clock milliseconds
    assert set(msg["measurements"]) == {"voltage_l1", "current_l1", "frequency"}
    for key, m in msg["measurements"].items():
        assert set(m) == SEED_KEYS, (key, m)
    v = msg["measurements"]["voltage_l1"]
    assert v["obis"] == "1-1:32.7.0" and v["unit_code"] == 35 and v["unit"] == "V"
    # The scaler is applied: value = raw_value x 10^scaler, with the simulated meter's scalers (its object
    # model: voltage -1 around 230 V, current -3 around 5 A, frequency -2 around 50 Hz).
    for key, scaler, unit, low, high in (("voltage_l1", -1, "V", 200, 260), ("current_l1", -3, "A", 0, 20),
                                         ("frequency", -2, "Hz", 45, 55)):
        m = msg["measurements"][key]
        assert isinstance(m["raw_value"], int), m
        assert m["value"] == pytest.approx(m["raw_value"] * 10 ** scaler), m
        assert m["unit"] == unit and low <= m["value"] <= high, m
    # Mutual TLS, by the broker's own account: the client certificate was required and the login accepted.
    broker.wait_for_log(r"New client connected from 127\.0\.0\.1:\d+ as dlms-bridge-microstar-001 .*u'gateway'")

    watcher.wait_for_status("microstar-001", "online")
    # Retained: a subscriber that arrives later is told at once.
    late = make_watcher(broker)
    late.wait_for(lambda w: ("meters/microstar-001/status", b"online", True) in w.snapshot(), 5, "retained online")
    health = watcher.wait_for(lambda w: [h for h in w.health("microstar-001") if h["polls"] >= 2], 10,
                              "a health message counting 2 polls")[-1]
    assert health["device_id"] == "microstar-001"
    assert health["state"] == "up"
    for counter in ("polls", "failed_polls", "consecutive_errors", "crc_errors", "retransmissions",
                    "association_failures", "security_faults", "last_rtt_ms", "uptime_s"):
        assert counter in health, (counter, health)
    assert set(health["spool"]) >= {"pending", "bytes", "dropped"}
    assert health["failed_polls"] == 0 and health["last_rtt_ms"] > 0

    assert agent.terminate(timeout=10) == 0
    watcher.wait_for_status("microstar-001", "offline")
    assert re.search(r"stopped cleanly", agent.log()), agent.log()[-2000:]
    later = make_watcher(broker)
    later.wait_for(lambda w: ("meters/microstar-001/status", b"offline", True) in w.snapshot(), 5, "retained offline")
    # A clean disconnect, not the last will: the broker saw DISCONNECT.
    broker.wait_for_log(r"Received DISCONNECT from dlms-bridge-microstar-001")


# Each refusal: how the agent is misconfigured (or the broker), what its log must say, and how it is fixed.
REFUSALS = {
    "wrong CA": dict(
        agent=lambda pki: {"MQTT_TLS_CA": str(pki.evil_ca)},
        log=r"TLS handshake with localhost:\d+ failed: certificate verify failed.*not signed by MQTT_TLS_CA=.*evil-ca\.crt.*check the CA file"),
    "no client certificate": dict(
        agent=lambda pki: {"MQTT_TLS_CERT": None, "MQTT_TLS_KEY": None},
        log=r"TLS handshake with localhost:\d+ failed: .*(requires a client certificate; set MQTT_TLS_CERT and MQTT_TLS_KEY|connection to the broker .* lost)"),
    "server name mismatch": dict(
        broker="wrongname",
        log=r"TLS handshake with localhost:\d+ failed: certificate verify failed: .*does not name 'localhost'; set MQTT_HOST to a name in the certificate's subjectAltName"),
    "expired server certificate": dict(
        broker="expired",
        log=r"TLS handshake with localhost:\d+ failed: certificate verify failed: certificate has expired.*renew it on the broker"),
    "wrong password": dict(
        agent=lambda pki: {"MQTT_PASSWORD": "not-the-password"},
        log=r"refused the connection: not authorised.*check MQTT_USERNAME/MQTT_PASSWORD"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_connection_is_explained_and_loses_no_reading(case, agent_broker, make_watcher, make_simulator,
                                                              make_agent, tmp_path, pki):
    spec = REFUSALS[case]
    broker = agent_broker(server_cert=spec.get("broker", "server"))
    watcher = make_watcher(broker)
    sim = make_simulator()
    good = agent_env(sim, broker, tmp_path)
    bad = dict(good)
    for k, v in spec.get("agent", lambda _: {})(pki).items():
        if v is None:
            bad.pop(k)
        else:
            bad[k] = v

    agent = make_agent(bad)
    agent.wait_for_log(spec["log"], timeout=10)
    # Readings keep being taken and kept while the broker refuses us: a few polls on the meter's side (the
    # association also reads the scalers and the meter's clock, so 6 GETs are at least 3 polls).
    _wait(lambda: _polls(sim) >= 6, 15, "polls while refused")
    assert watcher.telemetry("microstar-001") == [], "a refused agent cannot have published"
    # Once per problem, not once per retry (nor twice per failure).
    assert len(re.findall(spec["log"], agent.log())) == 1, agent.log()
    assert agent.terminate(timeout=10) == 0
    stopped_at_ms = time.time() * 1000
    # The secret never shows, whatever went wrong.
    assert pki.password not in agent.log() and "not-the-password" not in agent.log()

    if "broker" in spec:  # the broker's certificate was the problem: fix the broker, same agent settings
        broker.stop()
        swap_server_certificate(broker, "server")
        broker.start()
        fixed = bad
    else:
        fixed = good
    fixed_agent = make_agent(fixed)
    # Wait for two live readings of the fixed agent: seq goes on from the refused run's last one, so every
    # seq below them is a reading taken while refused, and all of them must arrive.
    watcher.wait_for(lambda w: len([m for m in w.telemetry("microstar-001") if m["ts"] > stopped_at_ms]) >= 2,
                     20, "live readings of the fixed agent")
    seqs = watcher.seqs("microstar-001")
    top = assert_no_gap(seqs, f"after fixing '{case}'")
    refused = {m["seq"] for m in watcher.telemetry("microstar-001") if m["ts"] < stopped_at_ms}
    assert len(refused) >= 3, refused
    assert refused == set(range(1, len(refused) + 1)), sorted(refused)
    live = sorted({m["seq"] for m in watcher.telemetry("microstar-001") if m["ts"] > stopped_at_ms})
    assert live[0] == len(refused) + 1, (live, sorted(refused))
    fixed_agent.wait_for_log(r"connected to the MQTT broker", 1)
    connected = fixed_agent.log()
    assert_in_order_around(watcher.telemetry("microstar-001"), _log_time_ms(connected, r"connected to the MQTT broker"))


def _polls(sim) -> int:
    """Successful GET exchanges the simulated meter answered so far (one per poll at least)."""
    return int(sim.counters()["get_requests"])


def _wait(predicate, timeout, what):
    from fixtures.broker import wait_until
    return wait_until(predicate, timeout, what, interval=0.05)


def _log_time_ms(log: str, pattern: str) -> float:
    """Wall-clock milliseconds of the agent's first log line matching `pattern` (lines start with UTC ISO 8601)."""
    import datetime
    line = next(ln for ln in log.splitlines() if re.search(pattern, ln))
    stamp = datetime.datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
