#!/usr/bin/env python3
"""Profile backfill benchmark (issue 11): a full backfill of the simulated Microstar's load profile (4,320 rows,
15-minute captures, 45 days; 128-byte HDLC frames, window 1) by `dlms-bridge run` (DLMS_PROFILE_BACKFILL=all)
into a local mosquitto, while the live poll goes on every POLL_PERIOD_S. Prints the requests and round trips
per 100 rows, the agent's CPU per row, the live polls' jitter during the backfill, and, for comparison, what
gurux-dlms (the independent client from PyPI) needs to read the same range in one request.

Usage: bench_profile.py path/to/dlms-bridge [--rows 4320] [--poll 1.0]
"""
import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests" / "system"))
sys.path.insert(0, str(ROOT / "Tests" / "Interop"))
from fixtures.broker import Broker, Pki, PKI_SCRIPT  # noqa: E402
from gurux_reader import GuruxReader  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402


def counters(sim) -> dict:
    sim.stdin.write("counters\n")
    sim.stdin.flush()
    while True:
        line = sim.stdout.readline()
        if line.startswith("counters "):
            return json.loads(line.removeprefix("counters "))


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--rows", type=int, default=4320)
    p.add_argument("--poll", type=float, default=1.0)
    args = p.parse_args()
    binary = str(pathlib.Path(args.binary).resolve())
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-profile-"))
    pki = Pki(work / "pki")
    subprocess.run(["bash", str(PKI_SCRIPT), str(pki.dir), pki.username, pki.password], check=True, capture_output=True)
    broker = Broker(pki, tls=False, password=False, extra_config="max_queued_messages 0\n").start()
    sim = subprocess.Popen([binary, "simulate", "--port", "0", "--profile-rows", str(args.rows), "--capture-period", "900"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(sim.stdout.readline().strip().rsplit(":", 1)[1])

    rows: set[int] = set()
    telemetry: list[int] = []
    done = threading.Condition()

    def on_message(_c, _u, msg):
        if not msg.topic.endswith(("/profile/load_profile", "/telemetry")):
            return  # status (`online`) and health
        body = json.loads(msg.payload)
        with done:
            if msg.topic.endswith("/profile/load_profile"):
                rows.add(body["capture_time"])
            else:
                telemetry.append(body["ts"])
            done.notify_all()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-profile-sub")
    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("meters/#", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DEVICE_ID": "bench", "DLMS_HOST": "127.0.0.1",
           "DLMS_PORT": str(port), "DLMS_PASSWORD": "22222222", "DLMS_MEASUREMENTS": '["voltage_l1"]',
           "POLL_PERIOD_S": str(args.poll), "MQTT_HOST": "127.0.0.1", "MQTT_PORT": str(broker.port),
           "SPOOL_DIR": str(work / "spool"), "DLMS_PROFILES": '["load_profile"]', "DLMS_PROFILE_BACKFILL": "all",
           "REPLAY_RATE": "10000", "DLMS_CLOCK_SYNC": "off"}
    before = counters(sim)
    start = time.monotonic()
    agent = subprocess.Popen([binary, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with done:
        done.wait_for(lambda: len(rows) >= args.rows, timeout=max(600, args.rows / 48 * args.poll * 3))
    seconds = time.monotonic() - start
    cpu = cpu_seconds(agent.pid)
    after = counters(sim)
    agent.terminate()
    agent.wait()
    sub.loop_stop()
    polls = len(telemetry)
    gets = after["get_requests"] - before["get_requests"] - polls  # the GETs of the profile (and the scalers)
    frames = after["frames_received"] - before["frames_received"]
    intervals = [b - a for a, b in zip(telemetry, telemetry[1:])]
    print(f"agent: {len(rows)} rows in {seconds:.1f} s with a poll every {args.poll} s; "
          f"{gets} profile GETs incl. block continuations ({gets * 100 / len(rows):.1f} per 100 rows), {frames} HDLC round trips in all "
          f"({frames * 100 / len(rows):.1f} per 100 rows, {polls} polls included); agent CPU {cpu:.2f} s "
          f"({cpu / len(rows) * 1e6:.0f} us per row, polls and MQTT included)")
    if intervals:
        print(f"live polls during the backfill: {polls}, interval {min(intervals)}..{max(intervals)} ms "
              f"(jitter {max(abs(i - args.poll * 1000) for i in intervals):.0f} ms)")

    end = datetime.datetime.now(datetime.timezone.utc)
    with GuruxReader.tcp("127.0.0.1", port, client_sap=1, password="22222222") as meter:
        t = time.monotonic()
        c = time.process_time()
        first = meter.round_trips
        pg = meter.read_profile_by_range("1.0.99.1.0.255", end - datetime.timedelta(days=46), end)
        print(f"gurux-dlms: {len(pg.buffer)} rows in one request, {meter.round_trips - first} round trips "
              f"({(meter.round_trips - first) * 100 / len(pg.buffer):.1f} per 100 rows), "
              f"{time.monotonic() - t:.2f} s, CPU {time.process_time() - c:.2f} s")
    sim.terminate()
    sim.wait()
    broker.stop()


if __name__ == "__main__":
    main()
