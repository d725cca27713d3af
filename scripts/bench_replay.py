#!/usr/bin/env python3
"""Replay benchmark (issue 10): one meter's backlog of N readings drains to a local mosquitto at QoS 1, for
N = 1,000, 10,000 and 100,000, with REPLAY_RATE at its maximum. The backlog is written straight into the
meter's spool in the spool's own format (docs/spool.md: segments of records with a CRC-32C each), as a long
outage would leave it; the agent then starts against a meter that does not answer, so everything that reaches
the subscriber is replay. Prints readings per second per depth: the cost per reading should not grow with the
depth of the backlog.

Usage: bench_replay.py path/to/dlms-bridge [--depths 1000 10000 100000]
"""
import argparse
import json
import pathlib
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests" / "system"))
from fixtures.broker import Broker, Pki, PKI_SCRIPT  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402

SEGMENT_BYTES = 1 << 20  # the spool's largest segment (SPOOL_MAX_BYTES / 8, clamped to 1 MiB)


def crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def payload(device: str, seq: int, ts: int) -> bytes:
    """A telemetry message as the agent writes it (the agent republishes the stored bytes as they are)."""
    return json.dumps({"device_id": device, "ts": ts, "seq": seq, "measurements": {"voltage_l1": {
        "obis": "1-1:32.7.0", "value": 230.1, "unit_code": 35, "unit": "V", "raw_value": 2301,
        "description": "Voltage L1"}}}, separators=(",", ":")).encode()


SEAL_RECORD = 24 + 4 + 6 * 8  # a segment's seal: a record with seq 0 and a 52-byte payload (docs/spool.md)


def record(seq: int, ts: int, body: bytes) -> bytes:
    head = struct.pack("<IQQ", len(body), seq, ts) + body
    return head + struct.pack("<I", crc32c(head))


def write_backlog(spool_root: pathlib.Path, device: str, count: int, seals: bool = True) -> None:
    """`count` readings in the spool's format, each full segment sealed as the agent seals it when it rolls
    (`seals=False`: as the agent wrote them before seals existed, so every segment is scanned at start)."""
    directory = spool_root / device
    directory.mkdir(parents=True)
    now = int(time.time() * 1000) - count * 1000
    segment = None
    size = 0
    first = last = last_ts = 0

    def seal() -> None:
        if seals:
            body = b"SEAL" + struct.pack("<QQQQqQ", first, first, last, last - first + 1, last_ts, size)
            segment.write(record(0, 0, body))

    for seq in range(1, count + 1):
        ts = now + seq * 1000
        rec = record(seq, ts, payload(device, seq, ts))
        if segment is None or size + len(rec) + (SEAL_RECORD if seals else 0) > SEGMENT_BYTES:
            if segment:
                seal()
                segment.close()
            segment = open(directory / f"{seq:016x}.seg", "wb")
            segment.write(b"DLBSPL01" + struct.pack("<Q", seq))
            size = 16
            first = seq
        segment.write(rec)
        size += len(rec)
        last, last_ts = seq, ts
    segment.close()


def run_depth(binary: str, pki: Pki, depth: int) -> dict:
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-replay-{depth}-"))
    device = "replay-meter"
    write_backlog(work / "spool", device, depth)
    # The broker acknowledges a reading once it has it; what it then queues for a slow subscriber is its own
    # business (mosquitto drops beyond 1,000 by default): unbounded here, so the count measures the agent.
    broker = Broker(pki, tls=False, password=False, extra_config="max_queued_messages 0\n").start()
    got: set[int] = set()
    first: list[float] = []
    lock = threading.Condition()

    def on_message(_c, _u, msg):
        seq = json.loads(msg.payload)["seq"]
        with lock:
            if not first:
                first.append(time.monotonic())
            got.add(seq)
            lock.notify_all()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-replay-sub")
    subscribed = threading.Event()
    sub.on_message = on_message
    sub.on_connect = lambda c, *_: c.subscribe(f"meters/{device}/telemetry", qos=1)
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    subscribed.wait(10)
    conf = work / "agent.env"
    conf.write_text(f"DEVICE_ID={device}\nDLMS_HOST=127.0.0.1\nDLMS_PORT=1\nDLMS_PASSWORD=22222222\n"
                    f"MQTT_HOST=127.0.0.1\nMQTT_PORT={broker.port}\nSPOOL_DIR={work / 'spool'}\n"
                    "REPLAY_RATE=10000\nPOLL_PERIOD_S=3600\nHEALTH_INTERVAL_S=0\nSPOOL_MAX_BYTES=256M\n")
    log = open(work / "agent.log", "w")
    start = time.monotonic()
    agent = subprocess.Popen([binary, "run", "--env-file", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                             cwd=work)
    try:
        with lock:
            complete = lock.wait_for(lambda: len(got) >= depth, timeout=max(120, depth / 500))
            received = len(got)
        end = time.monotonic()
        if not complete:  # too slow to finish in the time given: report the rate it reached
            print(f"bench-replay: {received} of {depth} replayed in {end - start:.0f} s", file=sys.stderr)
            return {"depth": depth, "seconds": round(end - start, 2),
                    "readings_per_s": round(received / (end - start)),
                    "draining_per_s": round(received / max(end - first[0], 1e-6)) if first else 0}
        # With start-up (the spool's recovery of the whole backlog, the connection) and without it (from the
        # first reading received to the last).
        return {"depth": depth, "seconds": round(end - start, 2), "readings_per_s": round(depth / (end - start)),
                "draining_per_s": round((depth - 1) / max(end - first[0], 1e-6))}
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
        sub.loop_stop()
        broker.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--depths", type=int, nargs="+", default=[1000, 10000, 100000])
    args = p.parse_args()
    binary = str(pathlib.Path(args.binary).resolve())
    pki = Pki(pathlib.Path(tempfile.mkdtemp(prefix="bench-replay-pki-")))
    subprocess.run(["bash", str(PKI_SCRIPT), str(pki.dir), pki.username, pki.password], check=True,
                   capture_output=True)
    print(f"{'backlog':>8} {'seconds':>8} {'readings/s incl. start-up':>26} {'draining, readings/s':>21}")
    for depth in args.depths:
        r = run_depth(binary, pki, depth)
        print(f"{r['depth']:>8} {r['seconds']:>8} {r['readings_per_s']:>26} {r['draining_per_s']:>21}", flush=True)


if __name__ == "__main__":
    main()
