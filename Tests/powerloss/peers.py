"""The recorded agent's peers: a small MQTT 3.1.1 broker on 127.0.0.1 that withholds PUBACKs and flaps, and the
simulated meter (`dlms-bridge simulate`). Loopback only; no sleeps: callers wait on conditions with deadlines.
"""
from __future__ import annotations

import json
import random
import re
import socket
import subprocess
import threading
import time


def wait_until(predicate, timeout: float, what: str, poll=None):
    """Polls `predicate` until it returns a true value or `timeout` passes (then AssertionError naming `what`).
    `poll` is an Event to wait on between checks (set by whoever changes the condition)."""
    deadline = time.monotonic() + timeout
    event = poll or threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        event.wait(min(left, 0.05))  # a bounded wait for a state change, not a synchronisation sleep
        event.clear()


class FlakyBroker:
    """Accepts one MQTT client at a time. Telemetry and profile-row PUBACKs are sent for a seeded fraction only (the rest are
    withheld until the connection drops, so the agent must replay them); after `flap_every` telemetry
    publishes the connection is cut (the agent reconnects and replays)."""

    def __init__(self, seed: int, ack_ratio: float = 0.6, flap_every: int = 0):
        self.rng = random.Random(seed)
        self.ack_ratio = ack_ratio
        self.flap_every = flap_every
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.received: list[int] = []  # telemetry seqs in arrival order (with retransmissions)
        self.acked: set[int] = set()
        self.connections = 0
        self.flaps = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        self.sock.close()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _read_packet(self, conn):
        head = self._read_exact(conn, 1)[0]
        length, shift = 0, 0
        while True:
            b = self._read_exact(conn, 1)[0]
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return head, self._read_exact(conn, length)

    def _serve(self, conn):
        published = 0
        try:
            while True:
                head, body = self._read_packet(conn)
                kind = head >> 4
                if kind == 1:  # CONNECT
                    conn.sendall(b"\x20\x02\x00\x00")
                elif kind == 3:  # PUBLISH
                    qos = (head >> 1) & 3
                    tlen = int.from_bytes(body[:2], "big")
                    topic = body[2:2 + tlen].decode()
                    pos = 2 + tlen
                    pid = int.from_bytes(body[pos:pos + 2], "big") if qos else None
                    payload = body[pos + 2:] if qos else body[pos:]
                    ack = True
                    if topic.endswith("/telemetry") or "/profile/" in topic:
                        # Profile rows too: a PUBACK withheld keeps a row unacknowledged (the cursor check bites).
                        seq = json.loads(payload)["seq"]
                        published += 1
                        with self.lock:
                            self.received.append(seq)
                            ack = self.rng.random() < self.ack_ratio
                            if ack:
                                self.acked.add(seq)
                        self.changed.set()
                    if qos == 1 and ack:
                        conn.sendall(b"\x40\x02" + pid.to_bytes(2, "big"))
                    if self.flap_every and published >= self.flap_every:
                        with self.lock:
                            self.flaps += 1
                        break  # the flap: cut the connection with PUBACKs outstanding
                elif kind == 12:  # PINGREQ
                    conn.sendall(b"\xd0\x00")
                elif kind == 14:  # DISCONNECT
                    break
        except (EOFError, OSError):
            pass
        finally:
            conn.close()
            self.changed.set()


class Simulator:
    """`dlms-bridge simulate` on a free loopback port."""

    def __init__(self, bridge_bin: str, password: str = "22222222", extra: tuple = ()):
        self.proc = subprocess.Popen([bridge_bin, "simulate", "--port", "0", "--password", password, *extra],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline()  # the first line names the port (blocks until it is printed)
        m = re.match(r"listening on (\S+):(\d+)", line)
        if not m:
            self.stop()
            raise AssertionError(f"simulator did not start: {line!r}")
        self.port = int(m.group(2))
        self.iv_log = extra[list(extra).index("--iv-log") + 1] if "--iv-log" in extra else None
        # Keep reading its output so a full pipe never blocks it.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
