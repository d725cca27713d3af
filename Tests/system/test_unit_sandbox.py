"""The agent inside the seccomp sandbox its systemd unit gives it (SystemCallFilter=, SystemCallErrorNumber=,
MemoryDenyWriteExecute=, RestrictAddressFamilies=), applied by `unit_sandbox.py` exactly from the shipped unit:
a TCP meter and a serial meter with a mode E opening, mutual TLS, the spool through a broker outage, sd_notify
readiness and watchdog, SIGHUP and SIGTERM all work, and nothing is refused. A call the unit forbids fails on a
gateway with EPERM, quietly: these tests are where such a call shows up (issue 5: "a tight system-call filter").
"""
from __future__ import annotations

import pathlib
import re
import socket
import subprocess
import threading
import time

import pytest

from fixtures.agent import assert_no_gap
from fixtures.broker import wait_until

# Not under qemu-user (make cross-system-check): qemu translates ARM code into writable+executable memory, which
# MemoryDenyWriteExecute= forbids ("qemu_mprotect: Operation not permitted"); on a Pi the code runs natively.
pytestmark = pytest.mark.native

HERE = pathlib.Path(__file__).resolve().parent
UNIT = HERE.parent.parent / "rootfs-overlay" / "etc" / "systemd" / "system" / "dlms-bridge.service"
LAUNCHER = HERE / "unit_sandbox.py"
# Debian's python3 with python3-seccomp (libseccomp's binding): the project's venv has no seccomp module.
SYSTEM_PYTHON = "/usr/bin/python3"
REFUSED = r"(?i:operation not permitted|EPERM|address family not supported|EAFNOSUPPORT)"


def sandbox(*also_deny: str) -> list[str]:
    return [SYSTEM_PYTHON, str(LAUNCHER), str(UNIT), *(f"--also-deny={d}" for d in also_deny), "--"]


class NotifySocket:
    """What systemd listens on for sd_notify: an AF_UNIX datagram socket; keeps every datagram received."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append(data.decode())

    def received(self) -> list[str]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, state: str, count: int = 1, timeout: float = 10.0, start: int = 0) -> int:
        """Waits until `state` (e.g. "READY=1") was sent `count` times after message `start`; returns the index
        of the message after the last one seen."""
        def seen():
            msgs = self.received()[start:]
            hits = [i for i, m in enumerate(msgs) if state in m.split("\n")]
            return start + hits[count - 1] + 1 if len(hits) >= count else None
        return wait_until(seen, timeout, f"{count} x {state} on NOTIFY_SOCKET (got {self.received()[start:]})")

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path):
    ns = NotifySocket(tmp_path / "notify")
    yield ns
    ns.close()


def test_the_sandbox_model_answers_as_systemd_does():
    """The launcher's own filters, loaded into itself: W+X memory, a netlink socket and a call of a group the
    unit takes out are refused as systemd refuses them; ordinary calls work."""
    out = subprocess.run([SYSTEM_PYTHON, str(LAUNCHER), str(UNIT), "--self-test"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("ok   ") == 6, out.stdout


def test_the_agent_works_inside_its_units_seccomp_sandbox(agent_broker, make_watcher, make_simulator, make_agent,
                                                          notify_socket, tmp_path):
    broker = agent_broker()
    watcher = make_watcher(broker)
    tcp = make_simulator()
    serial = make_simulator("--serial-number", "000019004321", serial=True, mode_e=True)
    settings = {**broker.client_env(), "SPOOL_DIR": str(tmp_path / "spool"), "HEALTH_INTERVAL_S": "1",
                "DLMS_PASSWORD": "22222222", "DLMS_MEASUREMENTS": '["voltage_l1", "current_l1"]',
                "POLL_PERIOD_S": "0.5", "DLMS_TIMEOUT_MS": "1000",
                # Home Assistant discovery too: its list of published configs is written (rename, fsync) in SPOOL_DIR.
                "HA_DISCOVERY": "true"}
    config = "\n".join([*(f"{k}={v}" for k, v in settings.items()),
                        "", "[meter tcp]", f"DLMS_HOST={tcp.host}", f"DLMS_PORT={tcp.port}",
                        "", "[meter optical]", f"DLMS_SERIAL_DEVICE={serial.pty}", "DLMS_MODE_E=true"]) + "\n"
    # As systemd starts it: NOTIFY_SOCKET, and WatchdogSec= as WATCHDOG_USEC (2 s here: a ping every second).
    agent = make_agent({}, config_text=config, prefix=sandbox(),
                       process_env={"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "2000000"})

    after_ready = notify_socket.wait_for("READY=1")
    notify_socket.wait_for("WATCHDOG=1", count=2, start=after_ready)
    for meter in ("tcp", "optical"):
        watcher.wait_for_seqs(meter, 3)
    health = watcher.wait_for(lambda w: [h for h in w.health("optical") if h["polls"] >= 2], 10,
                              "health of the optical meter")[-1]
    assert health["state"] == "up" and health["failed_polls"] == 0, health
    assert int(serial.counters()["mode_e_openings"]) >= 1

    # Through a broker outage: the spool keeps what is read meanwhile, and all of it arrives afterwards.
    broker.stop()
    marks = {m: int(s.counters()["get_requests"]) for m, s in (("tcp", tcp), ("optical", serial))}
    wait_until(lambda: int(tcp.counters()["get_requests"]) >= marks["tcp"] + 3
               and int(serial.counters()["get_requests"]) >= marks["optical"] + 3, 15, "3 polls of each in the outage")
    back_ms = time.time() * 1000
    broker.start()
    for meter in ("tcp", "optical"):
        watcher.wait_for(lambda w, m=meter: [x for x in w.telemetry(m) if x["ts"] > back_ms], 20,
                         f"a live reading of {meter} after the outage")
        first_live = min(x["seq"] for x in watcher.telemetry(meter) if x["ts"] > back_ms)
        watcher.wait_for_seqs(meter, first_live - 1, timeout=15)
        assert_no_gap(watcher.seqs(meter), f"of {meter} across the outage")

    # SIGHUP: certificates reopened, systemd told RELOADING=1 then READY=1 again.
    mark, sent = len(agent.log()), len(notify_socket.received())
    agent.hup()
    agent.wait_for_log(r"SIGHUP: TLS certificates reloaded", 5, start=mark)
    notify_socket.wait_for("READY=1", start=notify_socket.wait_for("RELOADING=1", start=sent))

    assert agent.terminate(timeout=10) == 0, agent.log()[-3000:]
    notify_socket.wait_for("STOPPING=1")
    log = agent.log()
    assert "stopped cleanly" in log, log[-3000:]
    refused = re.findall(rf".*{REFUSED}.*", log)
    assert not refused, refused


def test_a_call_the_unit_forbade_would_show(agent_broker, make_simulator, make_agent, tmp_path):
    """The same run with the network calls (@network-io) taken out as well: the broker and the meter are
    reported unreachable with the kernel's answer. Proof that the filter is loaded, so the test above could fail."""
    broker = agent_broker()
    sim = make_simulator()
    config = "\n".join([*(f"{k}={v}" for k, v in {**broker.client_env(), "SPOOL_DIR": str(tmp_path / "spool"),
                                                   "DLMS_PASSWORD": "22222222", "POLL_PERIOD_S": "0.5",
                                                   "DLMS_TIMEOUT_MS": "1000"}.items()),
                        "", "[meter tcp]", f"DLMS_HOST={sim.host}", f"DLMS_PORT={sim.port}"]) + "\n"
    agent = make_agent({}, config_text=config, prefix=sandbox("@network-io"), wait_ready=False)
    agent.wait_for_log(r"cannot reach the broker at localhost:\d+: Operation not permitted", 15)
    agent.wait_for_log(r"poll failed: socket failed: Operation not permitted .*device_id=tcp", 15)
