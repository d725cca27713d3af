"""Store-and-forward through a broker outage, a SIGKILL of the agent during it, and two meters: every reading
taken in that time arrives, in order per meter, none missing (issue 4, "What it must show")."""
from __future__ import annotations

import os
import time

import pytest

from fixtures.agent import assert_in_order_around, assert_no_gap, meter_env
from fixtures.broker import wait_until


def two_meter_config(broker, sims, spool_dir) -> str:
    """A multi-meter configuration file as a gateway user writes it: broker on top, one [meter] per meter."""
    top = {**broker.client_env(), "SPOOL_DIR": str(spool_dir), "HEALTH_INTERVAL_S": "1",
           "DLMS_PASSWORD": "22222222", "DLMS_MEASUREMENTS": '["voltage_l1", "current_l1"]',
           "POLL_PERIOD_S": "0.5", "DLMS_TIMEOUT_MS": "1000"}
    lines = [f"{k}={v}" for k, v in top.items()]
    for i, sim in enumerate(sims, 1):
        lines += ["", f"[meter m{i}]", f"DLMS_HOST={sim.host}", f"DLMS_PORT={sim.port}"]
    return "\n".join(lines) + "\n"


def gets(sim) -> int:
    return int(sim.counters()["get_requests"])


def test_outage_and_sigkill_lose_no_reading_of_either_meter(agent_broker, make_watcher, make_simulator,
                                                           make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sims = [make_simulator(), make_simulator()]
    config = two_meter_config(broker, sims, tmp_path / "spool")
    make_agent({}, config_text=config)
    for m in ("m1", "m2"):
        watcher.wait_for_seqs(m, 2)

    # Outage: the broker goes away for several polls.
    broker.stop()
    outage_start_ms = time.time() * 1000
    marks = [gets(s) for s in sims]
    wait_until(lambda: all(gets(s) >= k + 3 for s, k in zip(sims, marks)), 10, "3 polls of each meter in the outage")

    # SIGKILL during the outage (no shutdown: what was in memory is gone), then the agent is started again.
    first = make_agent.agents[-1]
    first.kill()
    second = make_agent({}, config_text=config)
    marks = [gets(s) for s in sims]
    # (+4: the new association reads the scalers first)
    wait_until(lambda: all(gets(s) >= k + 4 for s, k in zip(sims, marks)), 10, "3 polls of each meter after restart")

    mark = len(second.log())
    broker.start()
    back_ms = time.time() * 1000
    # Two live readings per meter after the broker's return: every earlier seq is a reading taken before it.
    for m in ("m1", "m2"):
        watcher.wait_for(lambda w, m=m: len([x for x in w.telemetry(m) if x["ts"] > back_ms]) >= 2, 25,
                         f"live readings of {m} after the broker's return")

    second.wait_for_log(r"connected to the MQTT broker", 15, start=mark)
    connected_ms = time.time() * 1000
    # The backlog replays at REPLAY_RATE between live readings: wait (bounded) for all of it, up to the newest
    # reading seen (a reading taken after the broker's return but before the agent saw the connection is
    # backlog too, and may arrive after a newer live one).
    for m in ("m1", "m2"):
        def caught_up(w, m=m):
            got = set(w.seqs(m))
            return got >= set(range(1, max(got) + 1))
        try:
            watcher.wait_for(caught_up, 15, f"the backlog of {m}")
        except AssertionError:
            pass  # assert_no_gap below says which
    for m in ("m1", "m2"):
        msgs = watcher.telemetry(m)
        seqs = [x["seq"] for x in msgs]
        top = assert_no_gap(seqs, f"of meter {m}")
        in_outage = {x["seq"] for x in msgs if outage_start_ms < x["ts"] < back_ms}
        # 3 polls before the kill and 3 after (one may have been cut by the SIGKILL before it was stored)
        assert len(in_outage) >= 5, (m, sorted(in_outage))
        live = sorted({x["seq"] for x in msgs if x["ts"] > back_ms})
        assert live[0] == max(x["seq"] for x in msgs if x["ts"] < back_ms) + 1, (m, live)
        # In order per meter: the backlog replays oldest first, and live readings follow their own order
        # (they may interleave with the replay, as designed); duplicates are allowed (at least once).
        assert_in_order_around(msgs, connected_ms, what=f"of meter {m}")
        assert all(x["device_id"] == m for x in msgs)
    assert second.running


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_agent_started_while_broker_down_connects_soon_after_and_idles(agent_broker, make_watcher, make_simulator,
                                                                       make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator()
    broker.stop()
    env = meter_env(sim, SPOOL_DIR=str(tmp_path / "spool"), **broker.client_env())  # default keepalive, 60 s
    agent = make_agent(env)
    agent.wait_for_log(r"cannot reach the broker at localhost:\d+: .*check MQTT_HOST/MQTT_PORT", 5)
    before = cpu_seconds(agent.pid)
    wait_until(lambda: gets(sim) >= 6, 10, "polls while the broker is down")
    broker.start()
    back = time.monotonic()
    spent = cpu_seconds(agent.pid) - before
    watcher.wait_for_seqs("microstar-001", 3, timeout=15)
    reconnect_s = time.monotonic() - back
    # Waiting for a broker is idle work: well under a tenth of a core over the outage, and the reconnect comes
    # within the capped backoff (1, 2, 4 s ...), not at the keepalive.
    assert spent < 0.3, f"the agent burnt {spent:.2f} s of CPU while the broker was down"
    assert reconnect_s < 8, f"reconnected {reconnect_s:.1f} s after the broker came back"
