#!/usr/bin/env python3
"""Gateway benchmark (issue 10): N simulated meters in one multi-meter configuration, a local mosquitto (plain
TCP), `POLL_PERIOD_S=5`, three measurements per meter, for a fixed time. Per size: readings delivered over
expected (every slot of every meter that falls in the window, with the documented phase i/N of the period),
the agent's peak RSS, CPU per reading, threads and open descriptors; then idle wake-ups per second of an agent
with one meter and no work (context switches of all its threads while the next poll is an hour away).

Usage: bench_gateway.py path/to/dlms-bridge [--meters 1 50 300 1000] [--seconds 30] [--json out.json]
Real processes on loopback only. Prints a table; exit status 1 when a size delivered less than expected.
"""
import argparse
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests" / "system"))
from fixtures.broker import Broker, Pki, PKI_SCRIPT  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PERIOD_MS = 5000
MEASUREMENTS = '["voltage_l1", "current_l1", "active_energy_import"]'
RAISE_LIMIT = 'ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"'


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def context_switches(pid: int) -> int:
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except FileNotFoundError:
            continue
        total += sum(int(n) for n in re.findall(r"(?:non)?voluntary_ctxt_switches:\s+(\d+)", status))
    return total


class Counter:
    """Telemetry messages by (device_id, seq) and their gateway timestamps."""

    def __init__(self, port: int):
        self.lock = threading.Lock()
        self.readings: dict[tuple[str, int], int] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-gateway-sub")
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe("meters/+/telemetry", qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise SystemExit("bench-gateway: the subscriber did not subscribe")

    def _on_message(self, _c, _u, msg):
        doc = json.loads(msg.payload)
        with self.lock:
            self.readings[(doc["device_id"], doc["seq"])] = doc["ts"]

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()


def start_simulator(binary: str, work: pathlib.Path) -> tuple[subprocess.Popen, int]:
    out = open(work / "simulator.log", "w")
    sim = subprocess.Popen(["sh", "-c", RAISE_LIMIT, "sh", binary, "simulate", "--port", "0",
                            "--password", "22222222"], stdout=subprocess.PIPE, stderr=out, text=True)
    line = sim.stdout.readline()
    m = re.search(r"127\.0\.0\.1:(\d+)", line)
    if not m:
        raise SystemExit(f"bench-gateway: the simulator did not start: {line!r}")
    threading.Thread(target=lambda: [None for _ in sim.stdout], daemon=True).start()
    return sim, int(m.group(1))


def config_text(meters: int, sim_port: int, broker_port: int, spool: pathlib.Path, period_s: float) -> str:
    head = (f"MQTT_HOST=127.0.0.1\nMQTT_PORT={broker_port}\nMQTT_CLIENT_ID=bench-gateway\n"
            f"DLMS_PASSWORD=22222222\nDLMS_MEASUREMENTS={MEASUREMENTS}\nPOLL_PERIOD_S={period_s}\n"
            f"SPOOL_DIR={spool}\nHEALTH_INTERVAL_S=0\n\n")
    return head + "".join(f"[meter m{i:04d}]\nDLMS_HOST=127.0.0.1\nDLMS_PORT={sim_port}\n\n" for i in range(meters))


def slots_in_window(index: int, meters: int, window_ms: int) -> int:
    """Slots of meter `index` inside [0, window): it polls at index*period/N + k*period (docs/configuration.md)."""
    phase = PERIOD_MS * index // meters if meters > 1 else 0
    return (window_ms - phase - 1) // PERIOD_MS + 1 if phase < window_ms else 0


def expected_readings(meters: int, window_ms: int) -> int:
    return sum(slots_in_window(i, meters, window_ms) for i in range(meters))


def run_size(binary: str, meters: int, seconds: int, pki: Pki) -> dict:
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-gateway-{meters}-"))
    broker = Broker(pki, tls=False, password=False, extra_config="max_queued_messages 100000\n").start()
    sim, sim_port = start_simulator(binary, work)
    counter = Counter(broker.port)
    conf = work / "meters.conf"
    conf.write_text(config_text(meters, sim_port, broker.port, work / "spool", PERIOD_MS / 1000))
    log = open(work / "agent.log", "w")
    agent = subprocess.Popen(["sh", "-c", RAISE_LIMIT, "sh", binary, "run", "--config", str(conf)],
                             stdout=log, stderr=subprocess.STDOUT, cwd=work)
    result: dict = {"meters": meters}
    try:
        # The agent's start: the time its "running" line appears is the window's origin.
        deadline = time.monotonic() + 120
        while "dlms-bridge running" not in (work / "agent.log").read_text():
            if agent.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench-gateway: the agent did not start:\n{(work / 'agent.log').read_text()[-3000:]}")
            time.sleep(0.05)
        # The window starts at the first meter's first slot (phase 0): its first reading's timestamp. A gateway
        # that delivers nothing (the failure this benchmark exists for) gets the time it said it was running.
        origin_ms = int(time.time() * 1000)
        deadline = time.monotonic() + 30
        while ("m0000", 1) not in counter.readings and time.monotonic() < deadline:
            time.sleep(0.01)
        origin_ms = counter.readings.get(("m0000", 1), origin_ms)
        cpu0 = cpu_seconds(agent.pid)
        time.sleep(max(0, origin_ms / 1000 + seconds - time.time()))
        status = proc_status(agent.pid)
        result["threads"] = int(status["Threads"])
        result["descriptors"] = len(os.listdir(f"/proc/{agent.pid}/fd"))
        cpu = cpu_seconds(agent.pid) - cpu0
        time.sleep(3)  # the window's last readings reach the subscriber
        result["rss_kib"] = int(proc_status(agent.pid)["VmHWM"].split()[0])
        # A fresh spool numbers a meter's readings 1, 2, ...: one per slot. Delivered: the seqs of the slots in the
        # window that reached the broker (the window starts at the schedule's start, the first meter's first slot).
        with counter.lock:
            inside = sum(1 for (d, seq) in counter.readings
                         if seq <= slots_in_window(int(d[1:]), meters, seconds * 1000))
            devices = {d for (d, _s) in counter.readings}
        result["expected"] = expected_readings(meters, seconds * 1000)
        result["delivered"] = inside
        result["meters_heard"] = len(devices)
        result["cpu_ms_per_reading"] = round(1000 * cpu / max(inside, 1), 3)
        result["errors_logged"] = len(re.findall(r" (error|critical) ", (work / "agent.log").read_text()))
    finally:
        stop(agent, 60)
        counter.stop()
        stop(sim, 30)
        broker.stop()
    return result


def stop(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def idle_wakeups(binary: str, pki: Pki, seconds: int = 10) -> float:
    """Context switches per second of `run` with one meter whose next poll is an hour away, broker connected."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-gateway-idle-"))
    broker = Broker(pki, tls=False, password=False).start()
    sim, sim_port = start_simulator(binary, work)
    conf = work / "meters.conf"
    conf.write_text(config_text(1, sim_port, broker.port, work / "spool", 3600))
    log = open(work / "agent.log", "w")
    agent = subprocess.Popen([binary, "run", "--config", str(conf)], stdout=log, stderr=subprocess.STDOUT, cwd=work)
    try:
        deadline = time.monotonic() + 30
        while "connected to the MQTT broker" not in (work / "agent.log").read_text():
            if agent.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench-gateway: the idle agent did not connect")
            time.sleep(0.05)
        time.sleep(12)  # the first poll, its publish and the group commits after them (docs/performance.md)
        before = context_switches(agent.pid)
        time.sleep(seconds)
        return (context_switches(agent.pid) - before) / seconds
    finally:
        stop(agent, 30)
        stop(sim, 30)
        broker.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--meters", type=int, nargs="+", default=[1, 50, 300, 1000])
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--json")
    args = p.parse_args()
    args.binary = str(pathlib.Path(args.binary).resolve())
    pki = Pki(pathlib.Path(tempfile.mkdtemp(prefix="bench-gateway-pki-")))
    subprocess.run(["bash", str(PKI_SCRIPT), str(pki.dir), pki.username, pki.password], check=True, capture_output=True)
    rows = [run_size(args.binary, n, args.seconds, pki) for n in args.meters]
    wake = idle_wakeups(args.binary, pki)
    print(f"{'meters':>7} {'delivered/expected':>19} {'heard':>6} {'RSS MiB':>8} {'CPU ms/reading':>15} "
          f"{'threads':>8} {'fds':>6} {'errors':>7}")
    for r in rows:
        print(f"{r['meters']:>7} {r['delivered']:>9}/{r['expected']:<9} {r['meters_heard']:>6} "
              f"{r['rss_kib'] / 1024:>8.1f} {r['cpu_ms_per_reading']:>15.3f} {r['threads']:>8} "
              f"{r['descriptors']:>6} {r['errors_logged']:>7}")
    print(f"idle wake-ups of an agent with one meter and no work: {wake:.2f}/s")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"sizes": rows, "idle_wakeups_per_s": wake}, indent=2))
    short = [r for r in rows if r["delivered"] < r["expected"]]
    sys.exit(1 if short else 0)


if __name__ == "__main__":
    main()
