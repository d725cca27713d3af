"""Interval data (issue 11): the agent collects the simulator's load profile at a 1 s capture period through
stops (SIGTERM, kill -9) of at least 20 periods and a broker outage over the backfill; every row the meter
recorded since the first start reaches the broker, once after dedup on (device_id, profile, capture_time), in
order, with the values gurux-dlms (the independent client from PyPI) reads by range from the same simulator.
Gaps are reported not filled, a wrapped buffer is a reported loss window, a capture-object change is decoded
with the new header, and the clock's drift is reported and corrected with DLMS_CLOCK_SYNC=set."""
from __future__ import annotations

import datetime
import json
import pathlib
import sys
import time

import pytest

from fixtures.agent import meter_env
from fixtures.broker import wait_until


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "Interop"))

from gurux_reader import GuruxReader  # noqa: E402

DEVICE = "microstar-001"
DRIFT_120 = r"-1(1[89]|2[0-2]) s"  # a meter 120 s behind, as the log says it
TOPIC = f"meters/{DEVICE}/profile/load_profile"
LOAD_PROFILE = "1.0.99.1.0.255"
ENERGY_KEYS = ["active_energy_import", "active_energy_export", "reactive_energy_import", "reactive_energy_export"]


def profile_messages(watcher, topic: str = TOPIC) -> list[dict]:
    return [json.loads(p) for t, p, _ in watcher.snapshot() if t == topic]


def first_arrivals(msgs: list[dict]) -> list[dict]:
    """Dedup on (device_id, profile, capture_time), keeping the first arrival of each row."""
    seen, out = set(), []
    for m in msgs:
        key = (m["device_id"], m["profile"], m["capture_time"])
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def agent_env(broker, sim, spool_dir, **extra) -> dict[str, str]:
    env = {**broker.client_env(), **meter_env(sim), "SPOOL_DIR": str(spool_dir), "HEALTH_INTERVAL_S": "1",
           "DLMS_PROFILES": '["load_profile"]', "DLMS_PROFILE_BACKFILL": "5s", "SPOOL_COMMIT_INTERVAL_MS": "200"}
    env.update(extra)
    return env


def gurux_rows(sim, start_ms: int, end_ms: int) -> list[list]:
    """The load profile rows gurux reads by range from the simulator (public client)."""
    start = datetime.datetime.fromtimestamp(start_ms / 1000, datetime.timezone.utc)
    end = datetime.datetime.fromtimestamp(end_ms / 1000, datetime.timezone.utc)
    with GuruxReader.tcp(sim.host, sim.port, client_sap=16) as meter:
        pg = meter.read_profile_by_range(LOAD_PROFILE, start, end)
        return [list(row) for row in pg.buffer]


def as_ms(value) -> int:
    dt = getattr(value, "value", value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp() * 1000)


def wait_rows_after(watcher, ms: float, timeout: float, topic: str = TOPIC):
    watcher.wait_for(lambda w: any(m["capture_time"] > ms for m in profile_messages(w, topic)), timeout,
                     f"a profile row captured after {ms:.0f}")


def test_profile_rows_survive_sigterm_kill_and_outage_exactly_as_gurux_reads_them(
        agent_broker, make_watcher, make_simulator, make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator("--capture-period", "1", "--profile-rows", "900")
    env = agent_env(broker, sim, tmp_path / "spool")
    first = make_agent(env)
    start_ms = time.time() * 1000
    wait_rows_after(watcher, start_ms + 3000, 20)

    # Stop 1: SIGTERM, 22 periods down.
    assert first.terminate() == 0
    time.sleep(22)  # the outage itself (the meter keeps capturing); not a synchronisation
    second = make_agent(env)
    restart_ms = time.time() * 1000
    wait_rows_after(watcher, restart_ms + 2000, 30)

    # Stop 2: kill -9, 22 periods down, and the broker is away while the backlog is read.
    second.kill()
    time.sleep(22)
    broker.stop()
    third = make_agent(env)
    marks = int(sim.counters()["get_requests"])
    wait_until(lambda: int(sim.counters()["get_requests"]) >= marks + 10, 20, "the agent reading the backlog offline")
    broker.start()
    back_ms = time.time() * 1000
    wait_rows_after(watcher, back_ms + 3000, 40)
    end_ms = back_ms + 3000

    rows = first_arrivals(profile_messages(watcher))
    times = [m["capture_time"] for m in rows]
    assert times == sorted(times), "rows did not first arrive in capture-time order"
    # Every second from the first row to end_ms: nothing lost in either stop, nothing twice after dedup.
    t0 = times[0]
    span = [t for t in times if t <= end_ms]
    expected = list(range(t0, span[-1] + 1, 1000))
    missing = sorted(set(expected) - set(span))
    assert not missing, f"{len(missing)} rows never arrived, e.g. {missing[:5]}"
    assert span == expected
    assert t0 <= start_ms, "the first start did not backfill"
    for m in rows:
        assert m["device_id"] == DEVICE and m["profile"] == "load_profile" and m["obis"] == "1-0:99.1.0.255"
        assert m["status"] == {"word": 0, "source": "clock_status", "flags": []}
        assert list(m["values"]) == ENERGY_KEYS
        assert m["values"]["active_energy_import"]["unit"] == "Wh" and m["values"]["active_energy_import"]["unit_code"] == 30
        assert m["values"]["reactive_energy_import"]["unit"] == "varh"
    seqs = [m["seq"] for m in rows]
    assert len(set(seqs)) == len(seqs)

    # The same range as gurux reads it from the same simulator.
    theirs = gurux_rows(sim, t0, span[-1])
    assert [as_ms(r[0]) for r in theirs] == span
    for ours, row in zip([m for m in rows if m["capture_time"] <= span[-1]], theirs):
        assert [ours["values"][k]["raw_value"] for k in ENERGY_KEYS] == [int(v) for v in row[1:5]], ours["capture_time"]
        assert [ours["values"][k]["value"] for k in ENERGY_KEYS] == [int(v) for v in row[1:5]]

    health = watcher.health(DEVICE)[-1]
    assert health["profiles"]["rows"] > 0
    assert "profile_gaps" not in health["profiles"]


def test_a_gap_is_reported_not_filled_and_a_wrapped_buffer_is_a_loss_window(
        agent_broker, make_watcher, make_simulator, make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    # The meter is "unpowered" from 6 s to 11 s after its start; its buffer holds 15 rows.
    sim = make_simulator("--capture-period", "1", "--profile-rows", "15", "--profile-gap", "6:5")
    sim_start_ms = time.time() * 1000
    env = agent_env(broker, sim, tmp_path / "spool", DLMS_PROFILE_BACKFILL="2s")
    agent = make_agent(env)
    wait_rows_after(watcher, sim_start_ms + 13_000, 30)
    line = agent.wait_for_log(r"gap in the meter's buffer: (\d+) row\(s\) missing between \S+ and \S+", 5)
    rows = first_arrivals(profile_messages(watcher))
    times = [m["capture_time"] for m in rows]
    holes = [(a, b) for a, b in zip(times, times[1:]) if b - a > 1000]
    assert len(holes) == 1, holes
    a, b = holes[0]
    assert 3000 <= b - a <= 7000, (a, b)  # the 5 s window, rounded to the capture instants around it
    assert int(line.group(1)) == (b - a) // 1000 - 1, line.group(0)
    watcher.wait_for(lambda w: w.health(DEVICE) and w.health(DEVICE)[-1].get("profiles", {}).get("profile_gaps", 0) >= 1,
                     5, "the gap counted on the health topic")

    # Away for 25 s with 15 rows of buffer: the rows in between are gone, and that is said.
    assert agent.terminate() == 0
    time.sleep(25)  # the outage itself (the meter keeps capturing); not a synchronisation
    again = make_agent(env)
    loss = again.wait_for_log(r"loss window: the meter's buffer wrapped while it was not read; rows after (\S+) and "
                              r"before its oldest row (\S+) are gone", 20)
    wait_rows_after(watcher, time.time() * 1000, 10)
    times = [m["capture_time"] for m in first_arrivals(profile_messages(watcher))]
    assert times == sorted(times)
    holes = [(a, b) for a, b in zip(times, times[1:]) if b - a > 1000]
    # The gap, then the loss: ~25 s away with a 15 s buffer leaves ~10 s the meter no longer had.
    assert len(holes) == 2, holes
    lost_from, lost_to = holes[1]
    assert lost_to - lost_from > 5000, "rows the meter no longer had were invented"
    iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))  # noqa: E731
    assert (loss.group(1), loss.group(2)) == (iso(lost_from), iso(lost_to))
    watcher.wait_for(lambda w: w.health(DEVICE)[-1].get("profiles", {}).get("profile_loss_windows", 0) >= 1,
                     5, "the loss window counted on the health topic")


def test_a_capture_object_change_is_decoded_with_the_new_header(
        agent_broker, make_watcher, make_simulator, make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator("--capture-period", "1", "--profile-rows", "300", "--capture-objects-change-at", "8")
    change_ms = time.time() * 1000 + 8000
    agent = make_agent(agent_env(broker, sim, tmp_path / "spool"))
    wait_rows_after(watcher, change_ms + 3000, 30)
    agent.wait_for_log(r"the capture objects changed \(5 . 4 columns", 5)
    rows = first_arrivals(profile_messages(watcher))
    before = [m for m in rows if m["capture_time"] < change_ms - 1500]
    after = [m for m in rows if m["capture_time"] > change_ms + 1500]
    assert before and after
    assert all(list(m["values"]) == ENERGY_KEYS for m in before)
    for m in after:
        assert list(m["values"]) == ["active_energy_import", "voltage_l1", "active_energy_export"], m
        assert m["values"]["voltage_l1"]["unit"] == "V" and 200 < m["values"]["voltage_l1"]["value"] < 260
    theirs = gurux_rows(sim, after[0]["capture_time"], after[-1]["capture_time"])
    assert [as_ms(r[0]) for r in theirs] == [m["capture_time"] for m in after]
    for ours, row in zip(after, theirs):
        assert ours["values"]["voltage_l1"]["raw_value"] == int(row[2])


def test_clock_drift_is_reported_and_set_corrects_it(agent_broker, make_watcher, make_simulator, make_agent,
                                                     tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator("--clock-offset=-120")
    report = make_agent({**broker.client_env(), **meter_env(sim), "SPOOL_DIR": str(tmp_path / "s1"),
                         "HEALTH_INTERVAL_S": "1", "DLMS_CLOCK_SYNC": "report"})
    watcher.wait_for(lambda w: any(h.get("clock", {}).get("drift_ms") is not None for h in w.health(DEVICE)), 10,
                     "the drift on the health topic")
    drift = [h["clock"]["drift_ms"] for h in watcher.health(DEVICE) if "clock" in h][-1]
    assert -122_000 < drift < -118_000
    # The drift is measured over a clock read (slow under qemu-user): whole seconds within the same window.
    report.wait_for_log(DRIFT_120 + r" off the gateway's UTC", 5)
    assert sim.clock_offset_ms() == -120_000
    assert report.terminate() == 0

    # The public client may not write the clock: refused, reported once, the agent goes on polling.
    public = make_agent({**broker.client_env(), **meter_env(sim, DLMS_CLIENT_SAP="16", DLMS_PASSWORD=""),
                         "SPOOL_DIR": str(tmp_path / "s2"), "HEALTH_INTERVAL_S": "1", "DLMS_CLOCK_SYNC": "set"})
    public.wait_for_log(r"the meter refused to set its clock \(read-write-denied\)", 10)
    watcher.wait_for_seqs(DEVICE, 3)
    assert sim.clock_offset_ms() == -120_000
    assert public.terminate() == 0
    assert public.log().count("refused to set its clock") == 1

    # The management client sets it; gurux reads it back within a second or two of UTC.
    setter = make_agent({**broker.client_env(), **meter_env(sim, DLMS_CLIENT_SAP="32"),
                         "SPOOL_DIR": str(tmp_path / "s3"), "HEALTH_INTERVAL_S": "1", "DLMS_CLOCK_SYNC": "set",
                         "DLMS_CLOCK_MAX_DRIFT_S": "5"})
    setter.wait_for_log(r"the meter's clock was " + DRIFT_120 + r" off the gateway's UTC: set", 10)
    assert abs(sim.clock_offset_ms()) < 2000
    with GuruxReader.tcp(sim.host, sim.port, client_sap=16) as meter:
        clock = as_ms(meter.read_clock())
    assert abs(clock - time.time() * 1000) < 3000


def test_a_profile_the_meter_lacks_is_reported_once_and_the_others_go_on(
        agent_broker, make_watcher, make_simulator, make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator("--capture-period", "1", "--profile-rows", "120", "--event-period", "2")
    agent = make_agent(agent_env(broker, sim, tmp_path / "spool", DLMS_PROFILE_BACKFILL="12s",
                                 DLMS_PROFILES='["missing=0-0:98.1.0.255", "load_profile", "event_log"]'))
    agent.wait_for_log(r"profile missing \(0-0:98\.1\.0\.255\) not read: .*object-undefined", 15)
    start_ms = time.time() * 1000
    wait_rows_after(watcher, start_ms + 4000, 20)
    watcher.wait_for_seqs(DEVICE, 5)
    assert agent.log().count("profile missing (0-0:98.1.0.255) not read") == 1
    # The event log captures on events (period 0): said once, and read without error.
    assert agent.log().count("capture period 0") == 1
    assert "profile event_log" not in agent.log()
    # Its rows (an event every 2 s in the backfill) come with their event code.
    events = first_arrivals(profile_messages(watcher, f"meters/{DEVICE}/profile/event_log"))
    assert len(events) >= 4, events
    assert all(m["obis"] == "0-0:99.98.0.255" and list(m["values"]) == ["0-0:96.11.0"] for m in events), events[:2]
    assert {m["values"]["0-0:96.11.0"]["value"] for m in events} <= {1, 2, 4, 47}
    assert all(b["capture_time"] - a["capture_time"] == 2000 for a, b in zip(events, events[1:]))
    health = watcher.health(DEVICE)[-1]["profiles"]
    assert health["profile_read_failures"] >= 1 and health["rows"] > 0
