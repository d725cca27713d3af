"""`dlms-bridge bench --op poll-cycle`: the steady-state poll of 12 registers is one round trip, with the simulated
meter answering at once and after 20 ms per reply. Latency is printed, not asserted (benchmarks, not timed tests)."""
import json
import subprocess


def test_poll_cycle_reports_one_round_trip_per_poll(bridge_bin):
    out = subprocess.run([str(bridge_bin), "bench", "--op", "poll-cycle", "--polls", "5", "--reply-delay-ms", "0", "20",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["reply_delay_ms"] for r in rows] == [0, 20]
    for r in rows:
        assert r["registers"] == 12 and r["polls"] == 5
        assert r["round_trips_per_poll"] == 1.0
        assert 0 < r["min_us"] <= r["median_us"] <= r["p90_us"]
    # A poll cannot finish before the meter's one delayed reply: the delay is really in the loop.
    assert rows[1]["min_us"] >= 15_000


def test_poll_cycle_table(bridge_bin):
    out = subprocess.run([str(bridge_bin), "bench", "--op", "poll-cycle", "--polls", "3", "--reply-delay-ms", "0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "round trips/poll" in out.stdout and "12 registers" in out.stdout
