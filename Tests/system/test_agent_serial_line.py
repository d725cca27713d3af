"""Several meters on one serial line (issue 10): meters whose DLMS_SERIAL_DEVICE names the same port share it,
each at its own HDLC physical address. The port is opened once (it is opened exclusively: a second open would
fail as busy) and the meters are polled in turn; a dead meter costs the others at most its own timeouts and is
reported down. A line shared with conflicting settings, or two meters at one address on a line, is refused at
start with the variable and the fix (docs/configuration.md, "Several meters on one serial line")."""
from __future__ import annotations

import os
import subprocess
import time


def line_config(broker, tmp_path, device: str, meters: list[tuple], **top) -> str:
    settings = {**broker.client_env(), "SPOOL_DIR": str(tmp_path / "spool"), "HEALTH_INTERVAL_S": "1",
                "DLMS_PASSWORD": "22222222", "DLMS_MEASUREMENTS": '["voltage_l1", "current_l1"]',
                "DLMS_SERIAL_DEVICE": device, "DLMS_MODE_E": "false", "DLMS_ADDRESS_SIZE": "1",
                "POLL_PERIOD_S": "1", "DLMS_TIMEOUT_MS": "1000", "MAX_CONSEC_ERRORS": "2", **top}
    lines = [f"{k}={v}" for k, v in settings.items()]
    for name, physical, *extra in meters:
        lines += ["", f"[meter {name}]", f"DLMS_SERVER_PHYSICAL={physical}", *extra]
    return "\n".join(lines) + "\n"


def test_three_meters_on_one_pty_line_one_dead(agent_broker, make_watcher, make_simulator, make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    # One pty, two live meters on it (physical addresses 1 and 2); nobody answers at address 3.
    sim = make_simulator("--addresses", "1,2", serial=True)
    agent = make_agent({}, config_text=line_config(broker, tmp_path, sim.pty, [
        ("m1", 1), ("m2", 2),
        # The dead meter's own, short timeout: it holds the line only that long per request.
        ("dead", 3, "DLMS_TIMEOUT_MS=200")], POLL_PERIOD_S="2"))
    agent.wait_for_log(r"serial line .* is shared by 3 meters", 5)

    # The dead meter is reported down (after MAX_CONSEC_ERRORS=2 failed polls), once in the log and in health.
    agent.wait_for_log(r"error .*meter down after 2 failed polls in a row.*device_id=dead", 30)
    watcher.wait_for(lambda w: [h for h in w.health("dead") if h["state"] == "down"], 10,
                     "health of the dead meter saying down")

    # From now on, the two live meters are read at every poll (2 s period): a reading in every slot, no
    # failed poll, no skipped slot, while the dead one keeps being retried on its back-off (each retry holds
    # the line for its DISC and SNRM timeouts, ~0.6 s, well inside the period).
    start = time.time() * 1000
    watcher.wait_for(lambda w: all(len([m for m in w.telemetry(d) if m["ts"] > start]) >= 6 for d in ("m1", "m2")),
                     30, "6 readings of each live meter")
    for device_id in ("m1", "m2"):
        msgs = [m for m in watcher.telemetry(device_id) if m["ts"] > start]
        health = watcher.wait_for(lambda w: [h for h in w.health(device_id) if h["ts"] > msgs[-1]["ts"]], 5,
                                  f"health of {device_id}")[-1]
        # The counters first: they say which slot went wrong and why, where the timestamps only show a gap.
        context = f"{device_id}: {health}\n{agent.log()[-3000:]}"
        assert health["state"] == "up", context
        assert health["failed_polls"] == 0 and health["skipped_slots"] == 0, context
        ts = sorted(m["ts"] for m in msgs)
        gaps = [(b - a) / 1000 for a, b in zip(ts, ts[1:])]
        assert max(gaps) < 3.0, (ts, context)  # one reading per 2 s slot, none missing
        assert set(msgs[-1]["measurements"]) == {"voltage_l1", "current_l1"}, msgs[-1]
    assert watcher.telemetry("dead") == [], "a meter that never answered has no reading"
    assert [h["state"] for h in watcher.health("dead")][-1] == "down"
    assert agent.log().count("meter down after") == 1, "only the dead meter goes down, and is logged once"
    assert "in use by another process" not in agent.log(), "the port is opened once for the three meters"


def run_config(bridge_bin, tmp_path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "meters.conf"
    path.write_text(text)
    return subprocess.run([str(bridge_bin), "run", "--config", str(path), "--check-config"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def base(tmp_path) -> str:
    return (f"SPOOL_DIR={tmp_path / 'spool'}\nDLMS_PASSWORD=22222222\nDLMS_SERIAL_DEVICE=/dev/ttyUSB7\n"
            "DLMS_MODE_E=false\n")


def test_same_address_on_one_line_is_refused(bridge_bin, tmp_path):
    result = run_config(bridge_bin, tmp_path, base(tmp_path) + "[meter a]\nDLMS_SERVER_PHYSICAL=5\n"
                        "[meter b]\nDLMS_SERVER_PHYSICAL=5\n")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "DLMS_SERVER_PHYSICAL=\"5\"" in result.stderr, result.stderr
    assert "meters a and b are both at server address 0/5" in result.stderr, result.stderr
    assert "DLMS_SERIAL_DEVICE=/dev/ttyUSB7" in result.stderr, result.stderr
    assert "a DLMS_SERVER_PHYSICAL of its own for each meter on one serial line" in result.stderr, result.stderr
    # The same addresses on two different lines are fine; so are distinct addresses on one line.
    ok = run_config(bridge_bin, tmp_path, base(tmp_path) + "[meter a]\nDLMS_SERVER_PHYSICAL=5\n"
                    "[meter b]\nDLMS_SERVER_PHYSICAL=5\nDLMS_SERIAL_DEVICE=/dev/ttyUSB8\n"
                    "[meter c]\nDLMS_SERVER_PHYSICAL=6\n")
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_line_shared_with_different_settings_is_refused(bridge_bin, tmp_path):
    baud = run_config(bridge_bin, tmp_path, base(tmp_path) + "[meter a]\nDLMS_SERVER_PHYSICAL=1\n"
                      "[meter b]\nDLMS_SERVER_PHYSICAL=2\nDLMS_BAUD=19200\n")
    assert baud.returncode == 2, baud.stdout + baud.stderr
    assert "DLMS_BAUD" in baud.stderr and "meter b shares DLMS_SERIAL_DEVICE=/dev/ttyUSB7 with meter a" in baud.stderr
    assert "which has DLMS_BAUD=9600" in baud.stderr, baud.stderr
    assert "the same DLMS_BAUD for every meter on one serial line" in baud.stderr, baud.stderr

    mode_e = run_config(bridge_bin, tmp_path, base(tmp_path) + "[meter a]\nDLMS_SERVER_PHYSICAL=1\n"
                        "[meter b]\nDLMS_SERVER_PHYSICAL=2\nDLMS_MODE_E=true\n")
    assert mode_e.returncode == 2, mode_e.stdout + mode_e.stderr
    assert "DLMS_MODE_E" in mode_e.stderr and "mode E is done once per line" in mode_e.stderr, mode_e.stderr
    assert "the same DLMS_MODE_E for every meter on one serial line" in mode_e.stderr, mode_e.stderr
