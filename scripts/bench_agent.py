#!/usr/bin/env python3
"""Agent benchmarks (issue 4): CPU per reading, idle RSS of `run` with one meter, and backlog replay rate to a
local broker at QoS 1. Real processes on loopback: mosquitto with mutual TLS, `dlms-bridge simulate`,
`dlms-bridge run`. Prints a table; with --check, fails when idle RSS exceeds --max-rss-mb.

Usage: bench_agent.py path/to/dlms-bridge [--check] [--max-rss-mb 12] [--seconds 20]
"""
import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests" / "system"))
from fixtures.broker import MQTT_PASSWORD, MQTT_USER, PKI_SCRIPT, Broker, Pki  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_kb(pid: int) -> tuple[int, int]:
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    return rss, hwm


def spooled(spool: pathlib.Path) -> int:
    """Records in the spool's segments (format: docs/spool.md): 16-byte header, then
    length u32 | seq u64 | timestamp u64 | payload | CRC-32C u32."""
    count = 0
    for seg in spool.rglob("*.seg") if spool.exists() else []:
        data = seg.read_bytes()
        offset = 16
        while offset + 24 <= len(data):
            n = int.from_bytes(data[offset:offset + 4], "little")
            if n == 0 or offset + 24 + n > len(data):
                break
            seq = int.from_bytes(data[offset + 4:offset + 12], "little")
            count += seq != 0  # seq 0: the segment's seal, not a reading
            offset += 24 + n
    return count


class Subscriber:
    """Counts telemetry messages by seq."""

    def __init__(self, broker: Broker, pki: Pki):
        self.seqs: list[int] = []
        self.cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")
        self.client.tls_set(ca_certs=str(pki.ca), certfile=str(pki.client_cert), keyfile=str(pki.client_key))
        self.client.username_pw_set(MQTT_USER, MQTT_PASSWORD)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe("meters/+/telemetry", qos=1)
        self.client.connect("localhost", broker.port)
        self.client.loop_start()

    def _on_message(self, _c, _u, msg):
        doc = json.loads(msg.payload)
        with self.cond:
            self.seqs.append((doc["device_id"], doc["seq"]))
            self.cond.notify_all()

    def wait_for(self, predicate, timeout: float, what: str):
        with self.cond:
            if not self.cond.wait_for(lambda: predicate(self.seqs), timeout):
                raise SystemExit(f"bench: timed out waiting for {what} (have {len(self.seqs)} messages)")

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()


def start_simulator(binary: str) -> tuple[subprocess.Popen, int]:
    sim = subprocess.Popen([binary, "simulate", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    line = sim.stdout.readline()
    m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        raise SystemExit(f"bench: simulator said {line!r}")
    return sim, int(m.group(1))


def agent_env(pki: Pki, broker: Broker, meter_port: int, spool: pathlib.Path, period: float, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLMS_", "MQTT_", "SPOOL_"))}
    env.update({
        "DEVICE_ID": "bench-meter", "DLMS_HOST": "127.0.0.1", "DLMS_PORT": str(meter_port), "DLMS_PASSWORD": "22222222",
        "DLMS_MEASUREMENTS": json.dumps(["voltage_l1", "current_l1", "frequency", "active_power_import",
                                         "active_energy_import"]),
        "MQTT_HOST": "localhost", "MQTT_PORT": str(broker.port), "MQTT_TLS_CA": str(pki.ca),
        "MQTT_TLS_CERT": str(pki.client_cert), "MQTT_TLS_KEY": str(pki.client_key),
        "MQTT_USERNAME": MQTT_USER, "MQTT_PASSWORD": MQTT_PASSWORD, "MQTT_CLIENT_ID": "bench-agent",
        "SPOOL_DIR": str(spool), "POLL_PERIOD_S": str(period), "HEALTH_INTERVAL_S": "0",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--backlog", type=int, default=2000)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--max-rss-mb", type=float, default=12.0)
    args = ap.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="dlms-bridge-bench-"))
    subprocess.run(["bash", str(PKI_SCRIPT), str(work / "pki"), MQTT_USER, MQTT_PASSWORD], check=True,
                   capture_output=True)
    pki = Pki(dir=work / "pki")
    # The subscriber's queue at the broker without limit, as bench_replay.py has it: with mosquitto's default
    # (max_queued_messages 1000) a replay outrunning a subscriber slowed by a loaded machine lost readings at
    # the broker after it had acknowledged them to the agent, and the replay stage waited 300 s for them.
    broker = Broker(pki, extra_config="max_queued_messages 0\n").start()
    sim, meter_port = start_simulator(args.binary)
    results = {}
    agent = None
    try:
        # 1. CPU per reading at 10 polls/s, and idle RSS at the default 5 s period.
        sub = Subscriber(broker, pki)
        agent = subprocess.Popen([args.binary, "run"], env=agent_env(pki, broker, meter_port, work / "spool1", 0.1),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sub.wait_for(lambda s: len(s) >= 5, 30, "the first readings")
        c0, n0, t0 = cpu_seconds(agent.pid), len(sub.seqs), time.monotonic()
        deadline = t0 + args.seconds
        sub.wait_for(lambda s: time.monotonic() >= deadline and len(s) > n0, args.seconds + 30, "readings")
        c1, n1, t1 = cpu_seconds(agent.pid), len(sub.seqs), time.monotonic()
        agent.terminate()
        agent.wait(30)
        sub.stop()
        readings = n1 - n0
        results["readings/s (POLL_PERIOD_S=0.1, 5 registers, TLS)"] = f"{readings / (t1 - t0):.1f}"
        results["CPU per reading (poll + spool + TLS publish)"] = f"{(c1 - c0) / readings * 1e6:.0f} µs"

        sub = Subscriber(broker, pki)
        agent = subprocess.Popen([args.binary, "run"], env=agent_env(pki, broker, meter_port, work / "spool2", 5.0),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sub.wait_for(lambda s: len(s) >= 3, 30, "three polls at the default period")
        rss, hwm = rss_kb(agent.pid)
        agent.terminate()
        agent.wait(30)
        sub.stop()
        results["idle RSS of run, one meter (VmRSS / VmHWM)"] = f"{rss / 1024:.1f} MB / {hwm / 1024:.1f} MB"

        # 2. Backlog replay at QoS 1: four meters fill their spools while the broker is down; the agent is
        #    stopped, the broker started, and the agent restarted against a dead meter, so that every message
        #    that arrives is replayed backlog.
        broker.stop()
        spool = work / "spool3"
        conf = work / "meters.conf"
        conf.write_text("".join(f"[meter bench-{i}]\nDLMS_HOST=127.0.0.1\nDLMS_PORT={meter_port}\n" for i in range(4)))
        env = agent_env(pki, broker, meter_port, spool, 0.1, REPLAY_RATE=10000)
        del env["DEVICE_ID"], env["DLMS_HOST"], env["DLMS_PORT"]
        agent = subprocess.Popen([args.binary, "run", "--config", str(conf)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while spooled(spool) < args.backlog:
            if time.monotonic() > deadline or agent.poll() is not None:
                raise SystemExit(f"bench: the spool did not grow (agent exit status {agent.poll()})")
            time.sleep(0.2)
        agent.terminate()
        agent.wait(30)
        backlog = spooled(spool)
        broker.start()
        sub = Subscriber(broker, pki)
        dead = work / "dead.conf"
        dead.write_text("".join(f"[meter bench-{i}]\nDLMS_HOST=127.0.0.1\nDLMS_PORT=1\n" for i in range(4)))
        start = time.monotonic()
        agent = subprocess.Popen([args.binary, "run", "--config", str(dead)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sub.wait_for(lambda s: len(set(s)) >= backlog, 300, f"{backlog} replayed readings")
        elapsed = time.monotonic() - start
        agent.terminate()
        agent.wait(30)
        sub.stop()
        results[f"backlog replay at QoS 1 over TLS ({backlog} readings, 4 meters, incl. start-up)"] = \
            f"{backlog / elapsed:.0f} readings/s"
    finally:
        if agent is not None and agent.poll() is None:  # a stage that failed leaves no agent behind
            agent.kill()
            agent.wait()
        sim.terminate()
        sim.wait(10)
        broker.cleanup()

    width = max(len(k) for k in results)
    for k, v in results.items():
        print(f"{k.ljust(width)}  {v}")
    if args.check:
        rss_mb = float(results["idle RSS of run, one meter (VmRSS / VmHWM)"].split()[0])
        if rss_mb > args.max_rss_mb:
            raise SystemExit(f"bench: idle RSS {rss_mb} MB exceeds {args.max_rss_mb} MB")


if __name__ == "__main__":
    main()
