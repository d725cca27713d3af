"""The spool under pressure: capped by SPOOL_MAX_BYTES while the broker is down (the oldest readings dropped and
counted, polling goes on, the newest arrive when the broker is back), and a full file system (reported, live
readings still published, no crash) (issue 4: "Disk full and spool cap: oldest dropped and counted, the agent
keeps polling and publishing")."""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from fixtures.agent import assert_in_order_around, meter_env
from fixtures.broker import wait_until

# Large readings fill the smallest spool (64K) in a few seconds.
MANY = ('["voltage_l1", "current_l1", "frequency", "active_power_import", "active_power_export", '
        '"reactive_power_import", "reactive_power_export", "apparent_power", "active_energy_import", '
        '"active_energy_export", "reactive_energy_import", "reactive_energy_export"]')


def gets(sim) -> int:
    return int(sim.counters()["get_requests"])


def test_spool_cap_drops_the_oldest_counts_them_and_delivers_the_newest(agent_broker, make_watcher,
                                                                       make_simulator, make_agent, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator()
    env = meter_env(sim, SPOOL_DIR=str(tmp_path / "spool"), SPOOL_MAX_BYTES="64K", DLMS_MEASUREMENTS=MANY,
                    POLL_PERIOD_S="0.1", HEALTH_INTERVAL_S="1", **broker.client_env())
    agent = make_agent(env)
    watcher.wait_for_seqs("microstar-001", 3)
    size = len(watcher.snapshot()[-1][1])
    assert size > 1000, f"readings of {size} bytes fill 64K too slowly for this test"

    broker.stop()
    # Polling goes on while the spool is full: the cap is logged with what to do (once, not per drop).
    first = agent.wait_for_log(r"warning .*spool full: the (\d+) oldest unsent reading\(s\) were dropped "
                               r"\(SPOOL_MAX_BYTES=65536 reached.*raise SPOOL_MAX_BYTES", 20)
    polls = gets(sim)
    wait_until(lambda: gets(sim) >= polls + 20, 10, "polls after the spool was full")
    assert agent.running
    assert len(re.findall(r"spool full:", agent.log())) == 1, "drops are logged at most once a minute"

    mark = len(agent.log())
    broker.start()
    agent.wait_for_log(r"connected to the MQTT broker", 20, start=mark)
    connected_at = time.time() * 1000
    watcher.wait_for(lambda w: len([m for m in w.telemetry("microstar-001") if m["ts"] > connected_at]) >= 3, 10,
                     "live readings after the broker's return")
    newest = max(m["seq"] for m in watcher.telemetry("microstar-001") if m["ts"] > connected_at)
    # The health topic counts the drops.
    health = watcher.wait_for(
        lambda w: [h for h in w.health("microstar-001") if h["ts"] > connected_at and h["spool"]["dropped"] > 0],
        10, "a health message counting dropped readings")[-1]
    dropped = health["spool"]["dropped"]

    # What is missing is one run of the oldest readings, exactly as many as counted; everything newer arrives
    # (the spool kept the newest ~64K of them), in order.
    def complete(w):
        got = set(w.seqs("microstar-001"))
        missing = sorted(set(range(1, newest + 1)) - got)
        return missing and missing == list(range(missing[0], missing[0] + len(missing))) and missing
    try:
        missing = watcher.wait_for(complete, 15, "one run of missing (dropped) seqs and all newer ones")
    except AssertionError:
        got = set(watcher.seqs("microstar-001"))
        raise AssertionError(f"missing seqs: {sorted(set(range(1, newest + 1)) - got)}; dropped {dropped}") from None
    # Counted as dropped: every unacknowledged reading of an evicted segment. A reading already handed to the
    # MQTT client before the outage (in flight: its window is 20) may still be delivered by it after the
    # reconnect, so the count may exceed what is missing by those few, never fall below it (seen under qemu).
    assert 0 < len(missing) <= dropped <= len(missing) + 20, (missing, dropped)
    kept = [s for s in range(missing[-1] + 1, newest + 1)
            if any(m["seq"] == s and m["ts"] < connected_at for m in watcher.telemetry("microstar-001"))]
    assert len(kept) >= 20, f"only {len(kept)} outage readings kept in 64K of {size}-byte readings"
    assert_in_order_around(watcher.telemetry("microstar-001"), connected_at)
    assert int(first.group(1)) >= 1


@pytest.fixture
def tiny_fs(tmp_path):
    """A 512 KiB tmpfs (a small flash partition), unmounted at the end."""
    mnt = tmp_path / "flash"
    mnt.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(mnt)],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"cannot mount a tmpfs here (run the tests as root): {result.stderr}"
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path) -> None:
    """Writes a filler file until the file system is full (ENOSPC)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for chunk in (64 * 1024, 4096, 512):
            while True:
                try:
                    if os.write(fd, b"\0" * chunk) < chunk:
                        break
                except OSError:
                    break
    finally:
        os.close(fd)


def test_full_file_system_is_reported_and_live_readings_still_flow(agent_broker, make_watcher, make_simulator,
                                                                  make_agent, tiny_fs):
    broker = agent_broker()
    watcher = make_watcher(broker)
    sim = make_simulator()
    env = meter_env(sim, SPOOL_DIR=str(tiny_fs / "spool"), SPOOL_MAX_BYTES="256K", DLMS_MEASUREMENTS=MANY,
                    POLL_PERIOD_S="0.2", HEALTH_INTERVAL_S="1", **broker.client_env())
    agent = make_agent(env)
    watcher.wait_for_seqs("microstar-001", 3)

    # The flash fills up (another program's file): the agent says so, clearly, once.
    filler = tiny_fs / "filler"
    full_at = time.time() * 1000
    fill(filler)
    agent.wait_for_log(r"error .*spool cannot write to flash.*(No space left on device|full)", 15)
    # ... and keeps polling and publishing live readings.
    watcher.wait_for(lambda w: len([m for m in w.telemetry("microstar-001") if m["ts"] > full_at + 1000]) >= 5, 15,
                     "live readings while the file system is full")
    assert agent.running
    errors = [ln for ln in agent.log().splitlines() if " error " in ln and "full file system" in ln]
    assert len(errors) == 1, "the full disk is logged once, not once per reading or commit:\n" + "\n".join(errors)
    assert "free space or lower SPOOL_MAX_BYTES" in errors[0]

    # Space comes back: the spool writes again, nothing was lost.
    os.unlink(filler)
    freed_at = time.time() * 1000
    agent.wait_for_log(r"spool writes to flash again", 15)
    watcher.wait_for(lambda w: len([m for m in w.telemetry("microstar-001") if m["ts"] > freed_at]) >= 3, 10,
                     "readings after space was freed")
    seqs = watcher.seqs("microstar-001")
    top = max(seqs)
    missing = sorted(set(range(1, top + 1)) - set(seqs))
    assert not missing, f"readings lost while the disk was full: {missing}"
    assert agent.terminate(10) == 0
