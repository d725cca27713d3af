"""The C half of the Raspberry Pi build, working: cross/mqtt-probe.c linked fully static for aarch64 and armv7
(hard-float) with the cross-built libmosquitto.a and Debian's OpenSSL archives for that architecture, run under
qemu-user, publishes over mutual TLS with a password to a real mosquitto (issue 5: "`make cross` ... with the C
dependencies built for the same target"). `make cross-c-check` builds the probes, then runs these tests.
"""
from __future__ import annotations

import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
QEMU = {"aarch64": "qemu-aarch64", "armv7": "qemu-arm"}
ELF = {"aarch64": "ARM aarch64", "armv7": "32-bit LSB executable, ARM, EABI5"}

pytestmark = pytest.mark.cross


def probe(arch: str) -> pathlib.Path:
    path = ROOT / "out" / "cross" / arch / "mqtt-probe"
    assert path.exists(), f"{path} is missing: `make cross-probe ARCH={arch}` builds it (make cross-c-check does)"
    return path


def run_probe(arch: str, env: dict[str, str], topic: str, payload: str) -> subprocess.CompletedProcess:
    """The probe under qemu-user with a broker's client settings (Broker.client_env)."""
    return subprocess.run([QEMU[arch], str(probe(arch)), env["MQTT_HOST"], env["MQTT_PORT"], env["MQTT_TLS_CA"],
                           env["MQTT_TLS_CERT"], env["MQTT_TLS_KEY"], env["MQTT_USERNAME"], env["MQTT_PASSWORD"],
                           topic, payload], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("arch", ["aarch64", "armv7"])
def test_the_static_arm_probe_publishes_over_mutual_tls(arch, agent_broker, make_watcher):
    path = probe(arch)
    desc = subprocess.run(["file", "-b", str(path)], capture_output=True, text=True, check=True).stdout
    assert ELF[arch] in desc and "statically linked" in desc, desc
    if arch == "armv7":
        attrs = subprocess.run(["readelf", "-A", str(path)], capture_output=True, text=True, check=True).stdout
        assert "Tag_ABI_VFP_args: VFP registers" in attrs, attrs  # armhf: doubles in VFP registers

    broker = agent_broker()
    watcher = make_watcher(broker)
    topic, payload = f"meters/cross-{arch}/probe", f"hello from {arch}"
    out = run_probe(arch, broker.client_env(), topic, payload)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "acknowledged" in out.stdout, out.stdout
    watcher.wait_for(lambda w: (topic, payload.encode(), False) in w.snapshot(), 10, f"the {arch} probe's message")
    # Mutual TLS, by the broker's own account: the client certificate was required and the login accepted.
    broker.wait_for_log(r"New client connected from 127\.0\.0\.1:\d+ as dlms-bridge-cross-probe .*u'gateway'")


@pytest.mark.parametrize("arch", ["aarch64", "armv7"])
def test_the_arm_probe_refuses_a_broker_it_cannot_verify(arch, agent_broker, pki):
    """The probe's TLS really verifies (so the test above could fail): with another CA it is refused."""
    broker = agent_broker()
    out = run_probe(arch, broker.client_env(ca=pki.evil_ca), "meters/x/probe", "x")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "mqtt-probe:" in out.stderr and "acknowledged" not in out.stdout, out.stderr
