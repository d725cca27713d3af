"""`dlms-bridge run` refuses a bad configuration at start: exit status 2, one message naming the variable and what
is expected, and no secret in any output (issue 4: "Every invalid value is rejected at start with the variable's
name, the value's problem and exit status 2; secrets never printed")."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from fixtures.agent import run_agent_once

MQTT_SECRET = "mqtt-secret-Zq81"
METER_SECRET = "meter-secret-7733"


def base_env(tmp_path) -> dict[str, str]:
    return {
        "DEVICE_ID": "microstar-001", "DLMS_HOST": "127.0.0.1", "DLMS_PORT": "3333",
        "DLMS_PASSWORD": METER_SECRET, "DLMS_MEASUREMENTS": '["voltage_l1", "current_l1"]',
        "MQTT_HOST": "127.0.0.1", "MQTT_PORT": "1883", "MQTT_USERNAME": "gateway", "MQTT_PASSWORD": MQTT_SECRET,
        "SPOOL_DIR": str(tmp_path / "spool"),
    }


# (variable to change, its bad value or None to remove it, what the message must also say)
BAD = {
    "port out of range": ("DLMS_PORT", "70000", r"out of range.*1 to 65535"),
    "qos 3": ("MQTT_QOS", "3", r"0 to 2"),
    "measurements not json": ("DLMS_MEASUREMENTS", '["voltage_l1", ', r"JSON|list"),
    "unknown measurement": ("DLMS_MEASUREMENTS", '["voltage_l1", "voltage_l9"]', r"voltage_l9"),
    "missing device id": ("DEVICE_ID", None, r"required|missing|not set"),
    "poll period zero": ("POLL_PERIOD_S", "0", r"0\.1"),
    "bad boolean": ("VERBOSE", "maybe", r"true|false"),
    "spool cap unit": ("SPOOL_MAX_BYTES", "64Q", r"K|M|G"),
    "mqtt protocol": ("MQTT_PROTOCOL", "4", r"3\.1\.1.*5"),
    "secret with a bad byte": ("DLMS_PASSWORD", "sécret-" + METER_SECRET, r"ASCII|printable"),
    "password without user": ("MQTT_USERNAME", None, r"MQTT_USERNAME"),
}


@pytest.mark.parametrize("source", ["env-file", "environment"])
@pytest.mark.parametrize("case", list(BAD))
def test_invalid_value_exits_2_naming_the_variable_without_secrets(case, source, bridge_bin, tmp_path):
    name, value, detail = BAD[case]
    env = base_env(tmp_path)
    if value is None:
        env.pop(name)
    else:
        env[name] = value
    shown_name = "MQTT_PASSWORD" if case == "password without user" else name
    result = run_agent_once(bridge_bin, env, tmp_path / "run", env_file=source == "env-file")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert shown_name in result.stderr, output
    assert re.search(detail, result.stderr, re.I), output
    assert len(result.stderr.strip().splitlines()) <= 2, output  # one message, not a stack of them
    assert MQTT_SECRET not in output and METER_SECRET not in output, output
    assert not (tmp_path / "spool").exists(), "nothing may start on an invalid configuration"


def test_valid_configuration_checks_and_prints_masked(bridge_bin, tmp_path):
    env = base_env(tmp_path)
    checked = run_agent_once(bridge_bin, env, tmp_path / "run", "--check-config")
    assert checked.returncode == 0, checked.stderr
    assert "configuration valid" in checked.stdout
    printed = run_agent_once(bridge_bin, env, tmp_path / "run", "--print-config")
    assert printed.returncode == 0, printed.stderr
    out = printed.stdout + printed.stderr
    assert "DLMS_PASSWORD=********" in out and "MQTT_PASSWORD=********" in out, out
    assert MQTT_SECRET not in out and METER_SECRET not in out, out


def test_secrets_never_appear_in_a_running_agents_log(bridge_bin, tmp_path, make_agent, make_simulator):
    # VERBOSE logs every HDLC frame: the AARQ carries the meter password, which must be masked there too.
    from fixtures.broker import free_port, wait_until
    sim = make_simulator(password=METER_SECRET)
    env = base_env(tmp_path)
    env.update(VERBOSE="true", DLMS_PORT=str(sim.port), MQTT_PORT=str(free_port()), POLL_PERIOD_S="0.5",
               DLMS_TIMEOUT_MS="1000")
    agent = make_agent(env)
    wait_until(lambda: sim.counters()["get_requests"] >= 2, 10, "two polls (the password was accepted)")
    agent.wait_for_log(r"cannot reach the broker", 10)
    assert agent.terminate(10) == 0
    log = agent.log()
    assert re.search(r"[0-9A-Fa-f]{2}( [0-9A-Fa-f]{2}){20}", log), "VERBOSE should log frames in hex"
    assert MQTT_SECRET not in log and METER_SECRET not in log
    flat = re.sub(r"[^0-9A-F]", "", log.upper())
    assert METER_SECRET.encode().hex().upper() not in flat, "the password's bytes appear in a frame dump"


def test_a_descriptor_limit_too_low_for_the_meters_is_refused_at_start(bridge_bin, tmp_path):
    """50 meters need 264 descriptors; under `ulimit -n 100` (soft and hard) `run` refuses at once, naming
    the limit and the fix, instead of starting a gateway whose meters fail one by one with EMFILE."""
    sections = "".join(f"[meter m{i}]\nDLMS_HOST=127.0.0.1\nDLMS_PORT={20000 + i}\n\n" for i in range(50))
    config = ("MQTT_HOST=127.0.0.1\nMQTT_PORT=1883\nDLMS_PASSWORD=22222222\n"
              f"SPOOL_DIR={tmp_path / 'spool'}\n\n" + sections)
    path = tmp_path / "meters.conf"
    path.write_text(config)
    result = subprocess.run(["sh", "-c", 'ulimit -n 100 && exec "$@"', "sh", str(bridge_bin), "run",
                             "--config", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "LimitNOFILE" in result.stderr and "50 meter(s) need about 264 open files" in result.stderr, result.stderr
    assert "ulimit -n 264" in result.stderr
    assert not (tmp_path / "spool").exists(), "nothing is opened before the check"
    # With room for them, the same configuration passes the check.
    ok = subprocess.run([str(bridge_bin), "run", "--config", str(path), "--check-config"], capture_output=True,
                        text=True, timeout=60, cwd=tmp_path, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert ok.returncode == 0, ok.stdout + ok.stderr
