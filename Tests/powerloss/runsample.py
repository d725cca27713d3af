"""A sample of crash states (every one taken right after a segment roll or a state-slot write, power cut with
everything unsynced dropped) recovered by the real `dlms-bridge run` against the simulated meter and mosquitto on
loopback: every reading `spool-recover` returned must reach a subscriber with the same payload, and new readings
continue above every seq handed out before the crash."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading

from model import materialize, state_hash
from peers import Simulator, wait_until
from replay import fnv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    """mosquitto on 127.0.0.1 without TLS (what is under test is the spool, not the uplink's security)."""

    def __init__(self, where: str):
        self.port = free_port()
        self.log = os.path.join(where, "mosquitto.log")
        conf = os.path.join(where, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"user root\nlistener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    f"log_dest file {self.log}\nlog_type all\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: "running" in self.text(), 10, "mosquitto to start")

    def text(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Subscriber:
    """mosquitto_sub on the telemetry and profile topics at QoS 1: seq -> the record payload received (a profile
    row's message in its spool envelope, as spool-recover hashes it)."""

    def __init__(self, broker: Mosquitto, name: str):
        self.payloads: dict[int, bytes] = {}
        self.changed = threading.Event()
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-i", name,
                                      "-q", "1", "-v", "-t", "meters/+/telemetry", "-t", "meters/+/profile/+"],
                                     stdout=subprocess.PIPE)
        threading.Thread(target=self._pump, daemon=True).start()
        wait_until(lambda: f"Received SUBSCRIBE from {name}" in broker.text(), 10, "the subscriber to subscribe")

    def _pump(self):
        for line in self.proc.stdout:
            topic, payload = line.rstrip(b"\n").split(b" ", 1)
            if b"/profile/" in topic:  # SpoolEnvelope.profile: 0x1E, name length, name, message
                name = topic.rsplit(b"/", 1)[1]
                self.payloads[json.loads(payload)["seq"]] = bytes([0x1E, len(name)]) + name + payload
            else:
                self.payloads[json.loads(payload)["seq"]] = payload
            self.changed.set()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def run_samples(bridge: str, rec, rep, scratch: str) -> tuple[int, list[str]]:
    failures: list[str] = []
    done = 0
    sim = Simulator(bridge, extra=rec.workload.simulator)
    broker = Mosquitto(scratch)
    try:
        for k, (point, kind, state, expect) in enumerate(rep.samples):
            r = rep.results[state_hash(state)]
            if not r["ok"]:
                failures.append(f"crash point {point}: spool-recover refused it")
                continue
            where = os.path.join(scratch, f"run{k}")
            materialize(state, where)
            sub = Subscriber(broker, f"powerloss-sample-{k}")
            env_file = os.path.join(where, "run.env")
            with open(rec.env_file) as src, open(env_file, "w") as dst:
                for line in src:
                    key = line.split("=", 1)[0]
                    if key not in ("SPOOL_DIR", "MQTT_PORT", "DLMS_PORT"):
                        dst.write(line)
                dst.write(f"SPOOL_DIR={where}/{rec.spool_rel}\nMQTT_PORT={broker.port}\nDLMS_PORT={sim.port}\n")
            # The same segment size, but a cap the live readings cannot reach while the backlog is published
            # (the recording's cap would evict recovered readings before the broker gets them, by design).
            segment = rec.workload.segment or max(4096, rec.workload.max_bytes // 8)
            overrides = f"records={rec.workload.group},max={1 << 20},segment={segment}"
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                   "RUNTIME_DIRECTORY": os.path.join(where, "runtime"),
                   "DLMS_BRIDGE_POWERLOSS_FD": "0", "DLMS_BRIDGE_POWERLOSS_SPOOL": overrides}
            os.makedirs(env["RUNTIME_DIRECTORY"])
            log_path = os.path.join(where, "agent.log")
            with open(log_path, "wb") as log, open(os.devnull, "rb") as devnull:
                proc = subprocess.Popen([bridge, "run", "--env-file", env_file], env=env, stdin=devnull,
                                        stdout=log, stderr=subprocess.STDOUT)
            expected = {s: h for s, h in r["d1"]}
            try:
                # Every recovered reading, and one new reading above every seq handed out before the crash.
                wait_until(lambda: set(expected) <= set(sub.payloads) and
                           any(s > expect.max_handed for s in sub.payloads), 30,
                           f"crash point {point}: `run` to publish {len(expected)} recovered readings",
                           poll=sub.changed)
                wrong = [s for s, h in expected.items() if fnv(sub.payloads[s]) != h]
                reused = [s for s in sub.payloads if s not in expected and s <= expect.max_handed]
                if wrong or reused:
                    failures.append(f"crash point {point}: payload differs {wrong[:5]}, seq reused {reused[:5]}")
                proc.send_signal(signal.SIGTERM)
                if proc.wait(20) != 0:
                    failures.append(f"crash point {point}: `run` exited {proc.returncode}")
                done += 1
            except AssertionError as e:
                failures.append(f"{e}; log: {open(log_path, errors='replace').read()[-800:]}")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                sub.stop()
    finally:
        broker.stop()
        sim.stop()
    return done, failures
