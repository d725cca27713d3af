"""Several meters per gateway: a dead meter never delays another's polls, is reported down after
MAX_CONSEC_ERRORS failed polls, and up again when it answers (issue 4: "one slow or dead meter never delays the
others"; docs/configuration.md: MAX_CONSEC_ERRORS)."""
from __future__ import annotations

import os
import time

import pytest

from fixtures.agent import assert_no_gap
from fixtures.broker import free_port


def config(broker, tmp_path, meters: list[tuple], **top) -> str:
    settings = {**broker.client_env(), "SPOOL_DIR": str(tmp_path / "spool"), "HEALTH_INTERVAL_S": "1",
                "DLMS_PASSWORD": "22222222", "DLMS_MEASUREMENTS": '["voltage_l1", "current_l1"]',
                "POLL_PERIOD_S": "0.5", "DLMS_TIMEOUT_MS": "1000", "MAX_CONSEC_ERRORS": "3", **top}
    lines = [f"{k}={v}" for k, v in settings.items()]
    for name, host, port, *extra in meters:
        lines += ["", f"[meter {name}]", f"DLMS_HOST={host}", f"DLMS_PORT={port}", *extra]
    return "\n".join(lines) + "\n"


def max_gap_s(msgs: list[dict]) -> float:
    ts = sorted({m["ts"] for m in msgs})
    return max(b - a for a, b in zip(ts, ts[1:])) / 1000


@pytest.mark.parametrize("dead", ["silent", "nothing listening"])
def test_dead_meter_does_not_delay_the_other_and_goes_down_then_up(dead, agent_broker, make_watcher,
                                                                  make_simulator, make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    good = make_simulator()
    if dead == "silent":
        bad = make_simulator(faults=("silent",))
        bad_port = bad.port
    else:
        bad = None
        bad_port = free_port()  # nothing listens there (yet)
    agent = make_agent({}, config_text=config(broker, tmp_path, [("good", good.host, good.port),
                                                                # One address width: no probing of three
                                                                ("dead", "127.0.0.1", bad_port,
                                                                 "DLMS_ADDRESS_SIZE=1")]))

    # The dead meter's polls each wait DLMS_TIMEOUT_MS (1 s) or more, twice the period: if they held up the
    # good meter, its readings would be 1 s apart or more. They stay on the 0.5 s grid.
    start = time.time() * 1000
    watcher.wait_for(lambda w: len([m for m in w.telemetry("good") if m["ts"] > start]) >= 12, 15,
                     "12 readings of the good meter")
    during = [m for m in watcher.telemetry("good") if m["ts"] > start]
    assert max_gap_s(during) < 0.95, sorted(m["ts"] for m in during)
    assert_no_gap(watcher.seqs("good"), "of the good meter")

    # Down after MAX_CONSEC_ERRORS=3 failed polls: once in the log as an error, and in health.
    agent.wait_for_log(r"error .*meter down after 3 failed polls in a row.*device_id=dead", 15)
    down = watcher.wait_for(lambda w: [h for h in w.health("dead") if h["state"] == "down"], 10,
                            "health of the dead meter saying down")[-1]
    assert down["consecutive_errors"] >= 3 and down["failed_polls"] >= 3, down
    assert down["last_error"], down
    assert watcher.telemetry("dead") == [], "a meter that never answered has no reading"
    assert [h["state"] for h in watcher.health("good")][-1] == "up"
    n_down = len(__import__("re").findall(r"meter down after", agent.log()))
    assert n_down == 1, "a meter that stays down is logged once, not at every poll"

    # The meter answers again: reported up, and its readings flow.
    revived_at = time.time() * 1000
    if bad is not None:
        bad.clear_faults()
    else:
        bad = make_simulator("--host", "127.0.0.1", "--port", str(bad_port))
    agent.wait_for_log(r"meter answers again.*device_id=dead", 20)
    watcher.wait_for(lambda w: [h for h in w.health("dead") if h["state"] == "up" and h["ts"] > revived_at], 10,
                     "health of the revived meter saying up")
    watcher.wait_for_seqs("dead", 2, timeout=10)


def test_threads_are_named_for_what_they_do(agent_broker, make_watcher, make_simulator, make_agent, tmp_path):
    """`top -H`, `ps -L` and perf show each meter's thread by its device id (cut to the kernel's 15 bytes) and the
    agent's own threads by their job, so an operator sees which meter a busy thread serves."""
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator()
    agent = make_agent({}, config_text=config(broker, tmp_path, [("north-cabinet-meter-7", sim.host, sim.port),
                                                                ("m2", sim.host, sim.port)]))
    watcher.wait_for_seqs("m2", 2)
    names = set()
    for tid in os.listdir(f"/proc/{agent.pid}/task"):
        try:
            names.add(open(f"/proc/{agent.pid}/task/{tid}/comm").read().strip())
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    assert {"north-cabinet-m", "m2", "mqtt-network", "housekeeping"} <= names, sorted(names)
