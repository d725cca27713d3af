"""The gateway overlay (rootfs-overlay/) and `make install`, checked with systemd's own tools.

- `systemd-analyze verify` on the unit in a throw-away root (host units + overlay + a stand-in binary):
  exit 0 and not one diagnostic; a deliberately broken copy shows the check does catch mistakes.
- `systemd-analyze security --offline` rates the unit at most 2.0.
- `systemd-sysusers` / `systemd-tmpfiles --root` create the user (in dialout), the state folder and the
  config's ownership from the overlay's own files.
- The example configuration names every variable of the contract, only variables the agent knows, and
  agrees with the unit and the udev rule.
- `make install DESTDIR=...` lays everything out with the right modes and never overwrites a configuration.
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
OVERLAY = ROOT / "rootfs-overlay"
UNIT = OVERLAY / "etc/systemd/system/dlms-bridge.service"
ENV_FILE = OVERLAY / "etc/dlms-bridge/dlms-bridge.env"
UDEV_RULE = OVERLAY / "etc/udev/rules.d/70-dlms-probe.rules"
SYSUSERS = OVERLAY / "usr/lib/sysusers.d/dlms-bridge.conf"
TMPFILES = OVERLAY / "usr/lib/tmpfiles.d/dlms-bridge.conf"
HOST_UNITS = pathlib.Path("/usr/lib/systemd/system")

# The variables the example must document (the Python prototype's, plus TLS, spool and serial).
CONTRACT = """DLMS_HOST DLMS_PORT DLMS_CLIENT_SAP DLMS_SERVER_LOGICAL DLMS_SERVER_PHYSICAL DLMS_PASSWORD
DLMS_MEASUREMENTS MQTT_HOST MQTT_PORT MQTT_CLIENT_ID MQTT_TOPIC DEVICE_ID POLL_PERIOD_S MAX_CONSEC_ERRORS VERBOSE
MQTT_TLS_CA MQTT_TLS_CERT MQTT_TLS_KEY MQTT_TLS_INSECURE MQTT_USERNAME MQTT_PASSWORD MQTT_QOS MQTT_PROTOCOL
SPOOL_DIR SPOOL_MAX_BYTES DLMS_SERIAL_DEVICE DLMS_BAUD DLMS_MODE_E DLMS_ADDRESS_SIZE""".split()

SYSTEMD_TOOLS = ("systemd-analyze", "systemd-sysusers", "systemd-tmpfiles")


@pytest.fixture(scope="module", autouse=True)
def systemd_tools() -> None:
    missing = [t for t in SYSTEMD_TOOLS if shutil.which(t) is None]
    assert not missing, f"{', '.join(missing)} not found: apt-get install systemd (.ci/run installs it)"


def run(*args: str | os.PathLike[str], check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, check=check)


def unit_root(tmp_path: pathlib.Path, unit_text: str | None = None) -> pathlib.Path:
    """A root with the host's units, the overlay, and an executable at the unit's ExecStart path."""
    root = tmp_path / "root"
    shutil.copytree(OVERLAY, root, symlinks=True)
    (root / "usr/lib/systemd").mkdir(parents=True, exist_ok=True)
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    stand_in = root / "usr/bin/dlms-bridge"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    if unit_text is not None:
        (root / "etc/systemd/system/dlms-bridge.service").write_text(unit_text)
    return root


def verify(root: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return run("systemd-analyze", "verify", "--man=no", f"--root={root}", "dlms-bridge.service")


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def env_entries() -> tuple[dict[str, str], dict[str, str]]:
    """(active NAME=value lines, commented-out #NAME=value defaults)."""
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in ENV_FILE.read_text().splitlines():
        m = re.fullmatch(r"(#?)([A-Z][A-Z0-9_]*)=(.*)", line)
        if m:
            (commented if m.group(1) else active)[m.group(2)] = m.group(3)
    return active, commented


# --- the unit -------------------------------------------------------------------------------------------

def test_unit_verifies_without_any_diagnostic(tmp_path: pathlib.Path) -> None:
    result = verify(unit_root(tmp_path))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, f"systemd-analyze verify failed:\n{output}"
    # Unknown keys and bad values are only warnings with exit 0: the unit must produce none at all.
    assert output == "", f"systemd-analyze verify has remarks on the unit:\n{output}"


def test_verify_catches_a_broken_unit(tmp_path: pathlib.Path) -> None:
    # The check above can fail: an unknown key and a bad value in a copy are reported.
    broken = UNIT.read_text().replace("Restart=on-failure", "Restart=sometimes\nRestartTypo=5")
    result = verify(unit_root(tmp_path, broken))
    output = result.stdout + result.stderr
    assert "RestartTypo" in output and "sometimes" in output, output


def test_unit_security_exposure_at_most_2(tmp_path: pathlib.Path) -> None:
    result = run("systemd-analyze", "security", "--offline=yes", "--no-pager", UNIT)
    output = result.stdout + result.stderr
    m = re.search(r"Overall exposure level for dlms-bridge\.service:\s*([0-9]+\.[0-9]+)", output)
    assert m, f"no overall exposure in systemd-analyze security output:\n{output}"
    exposure = float(m.group(1))
    assert exposure <= 2.0, f"exposure {exposure} > 2.0:\n{output}"


def test_unit_contract() -> None:
    s = unit_settings()
    active, _ = env_entries()
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"], "sd_notify readiness from the main process"
    assert s["WatchdogSec"] and s["WatchdogSec"][0] not in ("0", "infinity")
    assert s["ExecStart"] == ["/usr/bin/dlms-bridge run --env-file /etc/dlms-bridge/dlms-bridge.env"]
    assert s["Restart"] == ["on-failure"] and s["RestartSec"], "restart with a delay"
    assert s["RestartPreventExitStatus"] == ["2"], "a configuration error (dlms-bridge run exits 2) must not loop"
    assert s["StartLimitIntervalSec"] == ["0"], "an unattended gateway never stops retrying"
    assert s["User"] == ["dlms-bridge"] and s["SupplementaryGroups"] == ["dialout"]
    assert s["StateDirectory"] == ["dlms-bridge"]
    # The spool's per-boot note must outlive a restart: a preserved runtime folder, and no RemoveIPC (which
    # deletes the user's /dev/shm files at every stop).
    assert s["RuntimeDirectory"] == ["dlms-bridge"] and s["RuntimeDirectoryPreserve"] == ["yes"]
    assert "RemoveIPC" not in s
    assert active["SPOOL_DIR"].startswith("/var/lib/dlms-bridge"), "the spool must be inside StateDirectory"
    assert s["CapabilityBoundingSet"] == [""] and s["NoNewPrivileges"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"] and s["ProtectHome"] == ["yes"] and s["PrivateTmp"] == ["yes"]
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert "@system-service" in s["SystemCallFilter"]
    assert s["DevicePolicy"] == ["closed"] and "char-ttyUSB rw" in s["DeviceAllow"]
    wants = OVERLAY / "etc/systemd/system/multi-user.target.wants/dlms-bridge.service"
    assert wants.is_symlink() and (wants.parent / os.readlink(wants)).resolve() == UNIT.resolve()


NSSWITCH = OVERLAY / "usr/lib/dlms-bridge/nsswitch.conf"

RESOLVER_PROBE = r"""
#include <netdb.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(argv[1], "8883", &hints, &res);
    printf("%s: %s\n", argv[1], rc ? gai_strerror(rc) : "resolved");
    return rc != 0;
}
"""


def test_service_nsswitch_keeps_a_static_binary_off_dlopen(tmp_path: pathlib.Path) -> None:
    # The unit bind-mounts the overlay's nsswitch.conf over /etc/nsswitch.conf for the agent.
    assert unit_settings()["BindReadOnlyPaths"] == ["/usr/lib/dlms-bridge/nsswitch.conf:/etc/nsswitch.conf"]
    services = {line.split(":")[0]: line.split(":")[1].split() for line in NSSWITCH.read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    assert services["hosts"] == ["files", "dns"]
    assert all(set(v) <= {"files", "dns"} for v in services.values()), services
    for tool in ("gcc", "strace", "unshare"):
        assert shutil.which(tool), f"{tool} not found (apt-get install gcc strace util-linux)"

    # A static glibc program, like dlms-bridge, resolving through getaddrinfo in a mount namespace where
    # /etc/nsswitch.conf is the service's, then the Raspberry Pi OS one: only the latter tries to load a
    # shared NSS module. Our own hosts and resolv.conf keep it off the network.
    src = tmp_path / "probe.c"
    src.write_text(RESOLVER_PROBE)
    probe = tmp_path / "probe"
    subprocess.run(["gcc", "-static", "-O1", str(src), "-o", str(probe)], check=True, capture_output=True)
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n192.0.2.7 broker.test\n")
    resolv = tmp_path / "resolv.conf"  # a DNS attempt fails at once on loopback instead of waiting
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    rpi = tmp_path / "nsswitch-rpi.conf"
    rpi.write_text("passwd: files\ngroup: files\nhosts: files mdns4_minimal [NOTFOUND=return] dns\n")

    def trace(nsswitch: pathlib.Path, name: str) -> str:
        script = (f"mount --bind {nsswitch} /etc/nsswitch.conf && mount --bind {hosts} /etc/hosts && "
                  f"strace -f -e trace=openat {probe} {name}")
        result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60)
        return result.stdout + result.stderr

    ours = trace(NSSWITCH, "broker.test")
    assert "broker.test: resolved" in ours, ours
    assert ".so" not in ours, f"a shared library was opened:\n{ours}"
    # The check can fail: with an mDNS module listed and a name not in /etc/hosts, glibc goes for the module.
    theirs = trace(rpi, "unknown.invalid")
    assert "libnss_mdns4_minimal" in theirs, theirs


# --- user, state folder, device --------------------------------------------------------------------------

def os_root(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "os"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\ndialout:x:20:\n")
    return root


def test_sysusers_and_tmpfiles_create_user_state_and_config_ownership(tmp_path: pathlib.Path) -> None:
    root = os_root(tmp_path)
    (root / "etc/dlms-bridge").mkdir()
    shutil.copy(ENV_FILE, root / "etc/dlms-bridge/dlms-bridge.env")
    run("systemd-sysusers", f"--root={root}", SYSUSERS, check=True)
    users = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    groups = {line.split(":")[0]: line.split(":") for line in (root / "etc/group").read_text().splitlines()}
    user = users["dlms-bridge"]
    uid, gid = int(user[2]), int(user[3])
    assert 0 < uid < 1000 and user[6] == "/usr/sbin/nologin", f"not a system account without login: {user}"
    assert "dlms-bridge" in groups["dialout"][3].split(","), "the service user must be in dialout (the probe)"

    result = run("systemd-tmpfiles", f"--root={root}", "--create", TMPFILES)
    assert result.returncode == 0, result.stderr
    for sub in ("var/lib/dlms-bridge", "var/lib/dlms-bridge/spool"):
        st = (root / sub).stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (uid, gid, 0o750), sub
    st = (root / "etc/dlms-bridge/dlms-bridge.env").stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, gid, 0o640), "passwords: root:dlms-bridge 0640"


def test_udev_rule_names_the_probe_for_the_service() -> None:
    text = UDEV_RULE.read_text()
    op = r'(==|!=|\+=|-=|:=|=)'
    token = re.compile(r'[A-Z_]+(\{[^}]+\})?' + op + r'"[^"]*"')
    labels, gotos = set(), set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        for part in line.split(", "):
            assert token.fullmatch(part.strip()), f"line {n}: not KEY op \"value\": {part!r}"
            m = re.fullmatch(r'(LABEL|GOTO)="([^"]+)"', part.strip())
            if m:
                (labels if m.group(1) == "LABEL" else gotos).add(m.group(2))
    assert gotos <= labels, f"GOTO without LABEL: {gotos - labels}"
    assert 'SYMLINK+="dlms-probe"' in text and 'GROUP="dialout"' in text and 'MODE="0660"' in text
    _, commented = env_entries()
    assert commented["DLMS_SERIAL_DEVICE"] == "/dev/dlms-probe"


# --- the example configuration ---------------------------------------------------------------------------

def known_variables() -> set[str]:
    """The names the agent accepts, read from its source (Sources/Agent/Config/Variables.swift)."""
    source = (ROOT / "Sources/Agent/Config/Variables.swift").read_text()
    names: set[str] = set()
    for block in re.findall(r"(?:meterScoped|gatewayScoped): \[String\] = \[(.*?)\]", source, re.S):
        names.update(re.findall(r'"([A-Z][A-Z0-9_]*)"', block))
    assert len(names) > 20, "could not read the agent's variable list"
    return names


def test_env_example_documents_the_contract_and_only_known_variables() -> None:
    active, commented = env_entries()
    shown = set(active) | set(commented)
    missing = [v for v in CONTRACT if v not in shown]
    assert not missing, f"the example does not show {missing}"
    unknown = sorted(shown - known_variables())
    assert not unknown, f"the agent does not know {unknown} (it reports them as typos)"
    assert not set(active) & set(commented), "a variable both set and shown as default"
    # Every variable line has a comment right above it (or belongs to a group that has one).
    lines = ENV_FILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"#?[A-Z][A-Z0-9_]*=", line):
            assert i > 0 and lines[i - 1].startswith("#"), f"line {i + 1} has no explanation: {line}"
    assert active["MQTT_TLS_CA"] and active["MQTT_PORT"] == "8883", "the example uses TLS"
    assert "MQTT_TLS_INSECURE" not in active, "never turn off certificate name checks in the example"


# --- make install ---------------------------------------------------------------------------------------

def make_install(destdir: pathlib.Path, binary: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "install", f"DESTDIR={destdir}", f"INSTALL_BIN={binary}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_make_install_lays_out_binary_and_overlay(tmp_path: pathlib.Path) -> None:
    binary = tmp_path / "dlms-bridge"
    binary.write_bytes(b"\x7fELF stand-in")
    binary.chmod(0o755)
    dest = os_root(tmp_path)
    result = make_install(dest, binary)
    assert result.returncode == 0, result.stdout + result.stderr

    assert (dest / "usr/bin/dlms-bridge").read_bytes() == binary.read_bytes()
    assert (dest / "usr/bin/dlms-bridge").stat().st_mode & 0o777 == 0o755
    assert not (dest / "usr/bin/.gitignore").exists(), "repository files must not reach the image"
    for f in OVERLAY.rglob("*"):
        if f.is_file() and f.name != ".gitignore":
            assert (dest / f.relative_to(OVERLAY)).read_bytes() == f.read_bytes(), f
    wants = dest / "etc/systemd/system/multi-user.target.wants/dlms-bridge.service"
    assert wants.is_symlink() and os.readlink(wants) == "../dlms-bridge.service"
    env = dest / "etc/dlms-bridge/dlms-bridge.env"
    assert env.stat().st_mode & 0o777 == 0o640
    assert "dlms-bridge:" in (dest / "etc/passwd").read_text(), "sysusers ran on an OS root"
    assert (dest / "var/lib/dlms-bridge/spool").is_dir()

    # A second install keeps the operator's configuration and puts the new example beside it.
    env.write_text(env.read_text().replace("DEVICE_ID=microstar-001", "DEVICE_ID=site-42"))
    result = make_install(dest, binary)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DEVICE_ID=site-42" in env.read_text()
    assert (dest / "etc/dlms-bridge/dlms-bridge.env.example").read_bytes() == ENV_FILE.read_bytes()


def test_make_install_refuses_an_empty_destdir(tmp_path: pathlib.Path) -> None:
    result = subprocess.run(["make", "--no-print-directory", "install", "DESTDIR="], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "set DESTDIR" in result.stderr
