"""Signals: SIGHUP reloads the TLS certificate and key (a rotation) without dropping a reading; SIGTERM while a
poll is in flight stops within a bound, cleanly (issue 4: "SIGINT/SIGTERM: finish or abandon the poll in flight
within a bound ... SIGHUP reopens certificates")."""
from __future__ import annotations

import shutil
import time

from fixtures.agent import assert_in_order_around, assert_no_gap, meter_env
from fixtures.broker import wait_until


def test_sighup_reloads_a_rotated_client_certificate_without_losing_readings(agent_broker, make_watcher,
                                                                           make_simulator, make_agent, tmp_path,
                                                                           pki):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator()
    certs = tmp_path / "certs"
    certs.mkdir()

    def install(name: str):
        # As an operator rotates: new files in place, then SIGHUP.
        shutil.copy(pki.path(f"{name}.crt"), certs / "gateway.crt")
        shutil.copy(pki.path(f"{name}.key"), certs / "gateway.key")

    install("client")
    env = meter_env(sim, SPOOL_DIR=str(tmp_path / "spool"), **broker.client_env())
    env.update(MQTT_TLS_CERT=str(certs / "gateway.crt"), MQTT_TLS_KEY=str(certs / "gateway.key"))
    agent = make_agent(env)
    watcher.wait_for_seqs("microstar-001", 3)

    # Rotated to a certificate the broker does not trust: after SIGHUP the agent uses it, so it is refused.
    install("evil-client")
    mark = len(agent.log())
    agent.hup()
    agent.wait_for_log(r"SIGHUP: TLS certificates reloaded", 5, start=mark)
    broker.wait_for_log(r"(unknown ca|certificate verify failed)", 10)
    refused_at = time.time() * 1000
    polls = int(sim.counters()["get_requests"])
    wait_until(lambda: int(sim.counters()["get_requests"]) >= polls + 3, 10,
               "polls while the rotated certificate is refused")

    # Rotated to a good certificate: SIGHUP again, and everything taken in between arrives.
    install("client")
    mark = len(agent.log())
    agent.hup()
    agent.wait_for_log(r"SIGHUP: TLS certificates reloaded", 5, start=mark)
    fixed_at = time.time() * 1000
    agent.wait_for_log(r"connected to the MQTT broker", 15, start=mark)
    connected_at = time.time() * 1000
    watcher.wait_for(lambda w: len([m for m in w.telemetry("microstar-001") if m["ts"] > fixed_at]) >= 2, 20,
                     "readings after the second rotation")
    first_live = min(m["seq"] for m in watcher.telemetry("microstar-001") if m["ts"] > fixed_at)
    seqs = watcher.wait_for_seqs("microstar-001", first_live - 1, timeout=10)
    assert_no_gap(seqs, "across two certificate rotations")
    during = {m["seq"] for m in watcher.telemetry("microstar-001") if refused_at < m["ts"] < fixed_at}
    assert len(during) >= 2, sorted(during)
    assert_in_order_around(watcher.telemetry("microstar-001"), connected_at)
    assert agent.running


def test_sigterm_during_a_poll_stops_within_the_meter_timeout(agent_broker, make_watcher, make_simulator,
                                                               make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator()
    timeout_ms = 2000
    env = meter_env(sim, SPOOL_DIR=str(tmp_path / "spool"), DLMS_TIMEOUT_MS=str(timeout_ms), **broker.client_env())
    agent = make_agent(env)
    watcher.wait_for_seqs("microstar-001", 2)

    # The meter stops answering: the next poll's request waits for an answer that never comes.
    sim.set_faults("silent")
    wait_until(lambda: int(sim.counters()["silent_frames"]) >= 1, 5, "a poll in flight to the silent meter")
    sent = time.monotonic()
    status = agent.terminate(timeout=30)
    took = time.monotonic() - sent
    assert status == 0, agent.log()[-3000:]
    # The bound: the poll in flight gives up within DLMS_TIMEOUT_MS, then release/DISC and the broker's clean
    # disconnect take a moment more (the release to a silent meter must not wait whole timeouts again).
    assert took < timeout_ms / 1000 + 2.0, f"SIGTERM took {took:.1f} s to stop the agent:\n{agent.log()[-3000:]}"
    watcher.wait_for_status("microstar-001", "offline")
    assert "stopped cleanly" in agent.log()

    # Nothing taken before the stop is lost, even when the poll in flight was abandoned: the next start goes on
    # from the spool, without a gap in seq.
    sim.clear_faults()
    restarted_at = time.time() * 1000
    make_agent(env)
    watcher.wait_for(lambda w: len([m for m in w.telemetry("microstar-001") if m["ts"] > restarted_at]) >= 2, 15,
                     "readings after the restart")
    assert_no_gap(watcher.seqs("microstar-001"), "across a stop during a poll")
