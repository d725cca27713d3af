"""Secured meters (issue 12): `read` and `run` against `dlms-bridge simulate --security ...` in each mode
(suites 0x10/0x20/0x30 x LLS/HLS-GMAC), the simulator's fault switches (a reply that fails its check is a
counted fault, never published), the invocation counter never reused across a restart and a kill -9 (every IV
the simulator saw is checked), wrong keys and key files open to others refused clearly, and gurux-dlms's
secure client reading the simulator (HLS-GMAC, SC 0x30).
"""
from __future__ import annotations

import collections
import os
import pathlib
import subprocess
import sys
import time

import pytest

from fixtures.agent import run_agent_once

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "Interop"))

EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
DK = "00112233445566778899AABBCCDDEEFF"
CLIENT_TITLE = "4D4D4D0000BC614E"
FRAME_COUNTER = "0-0:43.1.0.255"
LEVELS = {"auth": 0x10, "enc": 0x20, "auth-enc": 0x30}


def secure_sim(make_simulator, tmp_path, level="auth-enc", auth="hls-gmac", faults=()):
    iv_log = tmp_path / f"iv-{level}-{auth}-{time.monotonic_ns()}.log"
    sim = make_simulator("--security", level, "--auth", auth, "--iv-log", str(iv_log), faults=faults)
    sim.iv_log = iv_log
    return sim


def ivs(sim) -> list[tuple[str, int]]:
    return [(t, int(c)) for t, c in (line.split() for line in sim.iv_log.read_text().splitlines() if line)]


def assert_no_iv_reused(sim) -> int:
    seen = ivs(sim)
    repeated = [iv for iv, n in collections.Counter(seen).items() if n > 1]
    assert not repeated, f"IVs used more than once: {repeated[:10]}"
    assert seen, "the simulator recorded no IV"
    return len(seen)


def read_args(sim, level, auth, *extra, state_dir):
    args = ["read", "--host", sim.host, "--port", str(sim.port), "--client-sap", "1", "--security", level,
            "--auth", auth, "--ek", EK, "--ak", AK, "--system-title", CLIENT_TITLE, "--state-dir", str(state_dir)]
    if auth == "lls":
        args += ["--password", "22222222"]
    return args + list(extra)


def run_read(bridge_bin, args, timeout=20):
    return subprocess.run([str(bridge_bin), *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("auth", ["lls", "hls-gmac"])
@pytest.mark.parametrize("level", ["auth", "enc", "auth-enc"])
def test_read_in_every_mode(level, auth, bridge_bin, make_simulator, tmp_path):
    sim = secure_sim(make_simulator, tmp_path, level, auth)
    state = tmp_path / "state"
    for _ in range(2):
        r = run_read(bridge_bin, read_args(sim, level, auth, "--measurement", "voltage_l1", "current_l1",
                                           "--verbose", state_dir=state))
        assert r.returncode == 0, r.stderr
        assert "voltage_l1" in r.stdout and " V " in r.stdout, r.stdout
        # Keys never appear, not even in the frame trace.
        for secret in (EK, AK):
            assert secret not in r.stdout + r.stderr
            assert " ".join(secret[i:i + 2] for i in range(0, 32, 2)) not in r.stderr
    # Two reads, each its own process: the lease kept in the state file keeps their counters apart.
    assert_no_iv_reused(sim)
    lease = state / f"read-{CLIENT_TITLE}" / "invocation-counter"
    assert lease.exists() and (lease.stat().st_mode & 0o077) == 0


def test_read_with_frame_counter_and_dedicated_key(bridge_bin, make_simulator, tmp_path):
    sim = secure_sim(make_simulator, tmp_path)
    # Another client used counters with this title: without the frame counter the meter would refuse ours.
    r = run_read(bridge_bin, read_args(sim, "auth-enc", "hls-gmac", "--measurement", "voltage_l1",
                                       state_dir=tmp_path / "other"))
    assert r.returncode == 0, r.stderr
    r = run_read(bridge_bin, read_args(sim, "auth-enc", "hls-gmac", "--measurement", "voltage_l1",
                                       "--frame-counter-obis", FRAME_COUNTER, "--dk", DK, "--json",
                                       state_dir=tmp_path / "fresh"))
    assert r.returncode == 0, r.stderr
    assert '"voltage_l1"' in r.stdout
    assert DK not in r.stdout + r.stderr
    assert_no_iv_reused(sim)


def test_read_with_a_lost_lease_jumps_to_the_counter_the_meter_expects(bridge_bin, make_simulator, tmp_path):
    sim = secure_sim(make_simulator, tmp_path)
    for state in ("first", "lost"):  # the second read has no lease and no frame counter: it starts at 1
        r = run_read(bridge_bin, read_args(sim, "auth-enc", "hls-gmac", "--measurement", "voltage_l1",
                                           state_dir=tmp_path / state))
        assert r.returncode == 0, r.stderr
    # The meter refused the stale counter (its exception names the one it expects), nothing was read with it.
    assert sim.counters()["exception_responses"] == 1
    seen = ivs(sim)
    # The one stale AARQ reused an IV (the meter refused it): that is what a lost lease costs, once.
    assert len(seen) - len(set(seen)) <= 1


def test_wrong_keys_give_a_clear_error(bridge_bin, make_simulator, tmp_path):
    sim = secure_sim(make_simulator, tmp_path)
    args = read_args(sim, "auth-enc", "hls-gmac", "--measurement", "voltage_l1", state_dir=tmp_path / "s")
    args[args.index("--ak") + 1] = DK
    r = run_read(bridge_bin, args)
    assert r.returncode == 3, r.stderr
    assert "could not decipher our request" in r.stderr and "DLMS_AK" in r.stderr, r.stderr
    assert DK not in r.stderr
    # A malformed key names the flag and never echoes the value.
    args = read_args(sim, "auth-enc", "hls-gmac", "--measurement", "voltage_l1", state_dir=tmp_path / "s")
    args[args.index("--ek") + 1] = "0011"
    r = run_read(bridge_bin, args)
    assert r.returncode == 2
    assert "(from --ek): it is not 32 hex digits" in r.stderr and "0011" not in r.stderr, r.stderr


def test_key_file_open_to_others_is_refused_with_the_fix(bridge_bin, tmp_path):
    key = tmp_path / "ek.key"
    key.write_text(EK + "\n")
    key.chmod(0o644)
    env = {"DEVICE_ID": "m1", "DLMS_HOST": "127.0.0.1", "DLMS_SECURITY": "auth-enc", "DLMS_AUTH": "hls-gmac",
           "DLMS_EK_FILE": str(key), "DLMS_AK": AK, "DLMS_SYSTEM_TITLE": CLIENT_TITLE,
           "SPOOL_DIR": str(tmp_path / "spool")}
    r = run_agent_once(bridge_bin, env, tmp_path / "w", "--check-config")
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"chmod 600 {key}" in r.stderr + r.stdout
    key.chmod(0o600)
    r = run_agent_once(bridge_bin, env, tmp_path / "w", "--check-config")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_agent_once(bridge_bin, env, tmp_path / "w", "--print-config")
    assert r.returncode == 0 and f"DLMS_EK_FILE={key}" in r.stdout and "DLMS_AK=********" in r.stdout
    assert EK not in r.stdout and AK not in r.stdout


def secure_env(broker, sim, tmp_path, level="auth-enc", auth="hls-gmac", **extra):
    env = {**broker.client_env(), "DEVICE_ID": "secure-1", "DLMS_HOST": sim.host, "DLMS_PORT": str(sim.port),
           "DLMS_CLIENT_SAP": "1", "DLMS_SECURITY": level, "DLMS_AUTH": auth, "DLMS_EK": EK, "DLMS_AK": AK,
           "DLMS_SYSTEM_TITLE": CLIENT_TITLE, "DLMS_MEASUREMENTS": '["voltage_l1", "current_l1"]',
           "POLL_PERIOD_S": "0.3", "DLMS_TIMEOUT_MS": "1000", "HEALTH_INTERVAL_S": "1",
           "SPOOL_DIR": str(tmp_path / "spool"), "VERBOSE": "true"}
    if auth == "lls":
        env["DLMS_PASSWORD"] = "22222222"
    env.update(extra)
    return env


@pytest.mark.parametrize("level,auth", [("auth-enc", "hls-gmac"), ("auth", "lls"), ("enc", "hls-gmac")])
def test_run_publishes_from_a_secured_meter(level, auth, agent_broker, make_watcher, make_simulator, make_agent,
                                            tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = secure_sim(make_simulator, tmp_path, level, auth)
    agent = make_agent(secure_env(broker, sim, tmp_path, level, auth))
    watcher.wait_for(lambda w: len(w.telemetry("secure-1")) >= 3, 15, "3 readings of the secured meter")
    msg = watcher.telemetry("secure-1")[-1]
    assert 220 <= msg["measurements"]["voltage_l1"]["value"] <= 240
    health = watcher.wait_for(lambda w: w.health("secure-1"), 10, "a health message")[-1]
    assert health["security_faults"] == 0, health
    log = agent.log()
    assert EK not in log and AK not in log
    assert " ".join(EK[i:i + 2] for i in range(0, 32, 2)) not in log
    assert_no_iv_reused(sim)


@pytest.mark.parametrize("fault,expected", [
    ("wrong-tag", r"authentication tag of a ciphered APDU .* does not verify"),
    ("replay-reply", r"is not above the last accepted"),
    ("stale-counter", r"is not above the last accepted"),
])
def test_reply_faults_are_counted_and_nothing_is_published(fault, expected, agent_broker, make_watcher,
                                                          make_simulator, make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = secure_sim(make_simulator, tmp_path)
    agent = make_agent(secure_env(broker, sim, tmp_path))
    watcher.wait_for(lambda w: len(w.telemetry("secure-1")) >= 2, 15, "readings before the fault")
    sim.set_faults(fault)
    start = len(agent.log())
    agent.wait_for_log(expected, 15, start=start)
    # From here every reply fails its check: let several polls fail, then count what was published.
    time.sleep(0.2)
    published = len(watcher.telemetry("secure-1"))
    health = watcher.wait_for(lambda w: [h for h in w.health("secure-1") if h["security_faults"] >= 2], 15,
                              "health counting security faults")[-1]
    assert health["failed_polls"] >= 1, health
    assert len(watcher.telemetry("secure-1")) <= published + 1  # at most one reading already on its way
    late = len(watcher.telemetry("secure-1"))
    time.sleep(1.5)  # five more poll periods, each failing
    assert len(watcher.telemetry("secure-1")) == late
    # The fault cleared, readings resume.
    sim.clear_faults()
    watcher.wait_for(lambda w: len(w.telemetry("secure-1")) > late, 20, "readings after the fault")
    assert_no_iv_reused(sim)


def test_impostor_meter_fails_hls_and_nothing_is_published(agent_broker, make_watcher, make_simulator,
                                                          make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = secure_sim(make_simulator, tmp_path, faults=("wrong-f-ctos",))
    agent = make_agent(secure_env(broker, sim, tmp_path))
    agent.wait_for_log(r"does not verify: either DLMS_EK/DLMS_AK are wrong or the device is not the meter", 15)
    health = watcher.wait_for(lambda w: [h for h in w.health("secure-1") if h["security_faults"] >= 1], 15,
                              "health counting the failed HLS")[-1]
    assert health["polls"] == 0 or health["failed_polls"] == health["polls"], health
    assert watcher.telemetry("secure-1") == []


def test_restart_and_kill_never_reuse_an_invocation_counter(agent_broker, make_watcher, make_simulator,
                                                            make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = secure_sim(make_simulator, tmp_path)
    env = secure_env(broker, sim, tmp_path)  # no DLMS_FRAME_COUNTER_OBIS: the lease alone must do it
    seen = 0
    for stop in ("kill", "term", "kill", "term"):
        agent = make_agent(env)
        watcher.wait_for(lambda w: len(w.telemetry("secure-1")) >= seen + 3, 15, "readings after a (re)start")
        seen = len(watcher.telemetry("secure-1"))
        if stop == "kill":
            agent.kill()
        else:
            assert agent.terminate() == 0
    count = assert_no_iv_reused(sim)
    assert count >= 12, count
    # No restart needed the meter to name its expected counter: the lease was always ahead.
    assert sim.counters()["exception_responses"] == 0
    lease = tmp_path / "spool" / "secure-1" / "invocation-counter"
    assert lease.exists() and (lease.stat().st_mode & 0o077) == 0


def test_frame_counter_is_read_when_the_lease_is_gone(agent_broker, make_watcher, make_simulator, make_agent,
                                                      tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = secure_sim(make_simulator, tmp_path)
    env = secure_env(broker, sim, tmp_path, DLMS_FRAME_COUNTER_OBIS=FRAME_COUNTER)
    agent = make_agent(env)
    watcher.wait_for(lambda w: len(w.telemetry("secure-1")) >= 3, 15, "readings")
    agent.kill()
    # A new gateway (empty spool): the meter's frame counter says where to start.
    env["SPOOL_DIR"] = str(tmp_path / "new-spool")
    make_agent(env)
    watcher.wait_for(lambda w: len(w.telemetry("secure-1")) >= 6, 15, "readings from the new gateway")
    assert_no_iv_reused(sim)
    assert sim.counters()["exception_responses"] == 0


@pytest.mark.parametrize("general", [True, False])
def test_gurux_secure_client_reads_the_simulator(general, make_simulator, tmp_path):
    """gurux-dlms's secure client (HLS-GMAC, SC 0x30) reads the simulator; gurux does not check reply tags,
    so this holds the simulator's encoding to gurux, and the IV record holds gurux to the simulator."""
    from gurux_reader import GuruxReader

    iv_log = tmp_path / "iv-gurux.log"
    sim = make_simulator("--security", "auth-enc", "--auth", "hls-gmac", "--iv-log", str(iv_log),
                         *([] if general else ["--no-general-protection"]))
    sim.iv_log = iv_log
    for counter in (1, 1000):
        with GuruxReader.tcp(sim.host, sim.port, client_sap=1, security=0x30, hls_gmac=True,
                             ek=bytes.fromhex(EK), ak=bytes.fromhex(AK), system_title=bytes.fromhex(CLIENT_TITLE),
                             invocation_counter=counter) as meter:
            value, scaler, unit = meter.read_register("1.1.32.7.0.255")
            assert unit == 35 and 220 <= value <= 240, (value, scaler, unit)
    assert_no_iv_reused(sim)


@pytest.mark.parametrize("secured", [False, True])
def test_wrapper_transport_in_read_and_run(secured, bridge_bin, agent_broker, make_watcher, make_simulator,
                                           make_agent, tmp_path):
    """DLMS_TRANSPORT=wrapper: the IEC 62056-47 wrapper on TCP (client wPort = client SAP, the meter's wPort =
    its logical device), with and without security, in `read` and `run`."""
    extra = ["--transport", "wrapper", "--server-logical", "1"]
    if secured:
        sim = secure_sim(make_simulator, tmp_path)
        sim.stop()
        iv_log = tmp_path / "iv-wrapper.log"
        sim = make_simulator("--security", "auth-enc", "--auth", "hls-gmac", "--iv-log", str(iv_log), *extra)
        sim.iv_log = iv_log
        args = read_args(sim, "auth-enc", "hls-gmac", "--measurement", "voltage_l1", "--transport", "wrapper",
                         "--server-logical", "1", "--frame-counter-obis", FRAME_COUNTER, state_dir=tmp_path / "s")
    else:
        sim = make_simulator(*extra)
        args = ["read", "--host", sim.host, "--port", str(sim.port), "--transport", "wrapper", "--client-sap", "16",
                "--server-logical", "1", "--measurement", "voltage_l1", "--verbose"]
    r = run_read(bridge_bin, args)
    assert r.returncode == 0, r.stderr
    assert "voltage_l1" in r.stdout
    if not secured:
        # The wrapper header of the public client's AARQ: version 1, wPort 16 -> 1 (security-facts.md).
        assert "TX 00 01 00 10 00 01 00 " in r.stderr, r.stderr

    broker = agent_broker()
    watcher = make_watcher(broker)
    env = {**broker.client_env(), "DEVICE_ID": "wrapped-1", "DLMS_HOST": sim.host, "DLMS_PORT": str(sim.port),
           "DLMS_TRANSPORT": "wrapper", "DLMS_SERVER_LOGICAL": "1", "DLMS_MEASUREMENTS": '["voltage_l1"]',
           "POLL_PERIOD_S": "0.3", "DLMS_TIMEOUT_MS": "1000", "SPOOL_DIR": str(tmp_path / "spool")}
    if secured:
        env.update({"DLMS_CLIENT_SAP": "1", "DLMS_SECURITY": "auth-enc", "DLMS_AUTH": "hls-gmac", "DLMS_EK": EK,
                    "DLMS_AK": AK, "DLMS_SYSTEM_TITLE": CLIENT_TITLE, "DLMS_FRAME_COUNTER_OBIS": FRAME_COUNTER})
    else:
        env["DLMS_CLIENT_SAP"] = "16"
    make_agent(env)
    watcher.wait_for(lambda w: len(w.telemetry("wrapped-1")) >= 3, 15, "readings through the wrapper")
    if secured:
        assert_no_iv_reused(sim)
