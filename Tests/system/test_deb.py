"""The Debian package (`make deb-check`): its metadata and contents, lintian, and a real install on this machine
with dpkg: the service's files land where the unit expects them, the user and state folder exist with the
unit's owner and modes, an edited configuration survives an upgrade, and a purge takes it all away again.
"""
from __future__ import annotations

import os
import pathlib
import pwd
import grp
import stat
import subprocess

import pytest

pytestmark = pytest.mark.deb

DEB = os.environ.get("DLMS_BRIDGE_DEB", "")
UNIT = "/lib/systemd/system/dlms-bridge.service"
ENV = "/etc/dlms-bridge/dlms-bridge.env"

EXPECTED = {
    "./usr/bin/dlms-bridge": "-rwxr-xr-x",
    "./lib/systemd/system/dlms-bridge.service": "-rw-r--r--",
    "./lib/udev/rules.d/70-dlms-probe.rules": "-rw-r--r--",
    "./usr/lib/sysusers.d/dlms-bridge.conf": "-rw-r--r--",
    "./usr/lib/tmpfiles.d/dlms-bridge.conf": "-rw-r--r--",
    "./usr/lib/dlms-bridge/nsswitch.conf": "-rw-r--r--",
    "./etc/dlms-bridge/dlms-bridge.env": "-rw-r-----",
    "./usr/share/doc/dlms-bridge/copyright": "-rw-r--r--",
    "./usr/share/doc/dlms-bridge/changelog.gz": "-rw-r--r--",
    "./usr/share/lintian/overrides/dlms-bridge": "-rw-r--r--",
}


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
    return result


@pytest.fixture(scope="module")
def deb() -> pathlib.Path:
    assert DEB, "DLMS_BRIDGE_DEB is not set: run these tests through `make deb-check`"
    path = pathlib.Path(DEB)
    assert path.is_file(), f"{path} not found: make deb ARCH=amd64"
    return path


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_metadata(deb: pathlib.Path) -> None:
    info = run("dpkg-deb", "--field", str(deb)).stdout
    fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line and not line.startswith(" "))
    assert fields["Package"] == "dlms-bridge"
    assert fields["Architecture"] == "amd64"
    assert deb.name == f"dlms-bridge_{fields['Version']}_amd64.deb"
    # Installed-Size (KiB) covers the binary at least.
    binary_kib = (pathlib.Path(__file__).resolve().parents[2] / "dist" / "dlms-bridge").stat().st_size // 1024
    assert int(fields["Installed-Size"]) >= binary_kib
    assert "Depends" not in fields, "a static binary depends on nothing"
    assert run("dpkg-deb", "--info", str(deb)).stdout.count("postinst") == 1


def test_contents_and_modes(deb: pathlib.Path) -> None:
    listing = run("dpkg-deb", "--contents", str(deb)).stdout.splitlines()
    files = {}
    for line in listing:
        parts = line.split()
        mode, owner, path = parts[0], parts[1], parts[5]
        assert owner == "root/root", line
        if not mode.startswith("d"):
            files[path] = mode
    assert files == EXPECTED
    conffiles = run("dpkg-deb", "--ctrl-tarfile", str(deb))  # readable control archive
    assert conffiles.returncode == 0
    control = subprocess.run(["sh", "-c", f"dpkg-deb --ctrl-tarfile {deb} | tar -xO ./conffiles"],
                             capture_output=True, text=True, check=True).stdout
    assert control.split() == [ENV]


def test_lintian_is_clean(deb: pathlib.Path) -> None:
    """No error or warning; the overrides (a static binary, no man page, the configuration's mode 0640) say why."""
    result = run("lintian", "--no-tag-display-limit", str(deb), check=False)
    hints = [line for line in result.stdout.splitlines() if line[:2] in ("E:", "W:")]
    assert not hints, "\n".join(hints)


def test_install_upgrade_and_purge_on_this_machine(deb: pathlib.Path, tmp_path: pathlib.Path) -> None:
    assert os.geteuid() == 0, "installing the package needs root (CI runs as root)"
    run("dpkg", "--purge", "dlms-bridge", check=False)
    try:
        installed = run("dpkg", "-i", str(deb))
        assert "systemctl enable --now dlms-bridge" in installed.stdout

        # The unit's paths exist: the binary it starts, the file it reads, the file it bind-mounts.
        settings = unit_settings(pathlib.Path(UNIT).read_text())
        exec_start = settings["ExecStart"][0].split()
        binary = pathlib.Path(exec_start[0])
        assert binary.is_file() and os.access(binary, os.X_OK), exec_start
        assert exec_start[exec_start.index("--env-file") + 1] == ENV and pathlib.Path(ENV).is_file()
        for bind in settings["BindReadOnlyPaths"]:
            assert pathlib.Path(bind.split(":")[0]).is_file(), bind
        assert run(str(binary), "--version").stdout.strip() == deb.name.split("_")[1]

        # The service's user, its state folder (what SPOOL_DIR defaults to) and the secret configuration.
        user = settings["User"][0]
        account = pwd.getpwnam(user)
        assert "dialout" in [g.gr_name for g in grp.getgrall() if user in g.gr_mem]
        state = pathlib.Path("/var/lib/dlms-bridge")
        st = state.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (account.pw_uid, 0o750)
        assert (state / "spool").is_dir()
        st = pathlib.Path(ENV).stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, account.pw_gid, 0o640)

        # The installed unit passes systemd's own check. The installed binary reads the installed example and
        # says what the user must still provide: the broker's CA it names does not exist yet.
        verify = run("systemd-analyze", "verify", UNIT, check=False)
        assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
        checked = run(str(binary), "run", "--env-file", ENV, "--check-config", check=False)
        assert checked.returncode == 2, checked.stdout + checked.stderr
        assert f"MQTT_TLS_CA=\"/etc/dlms-bridge/tls/ca.crt\" (from {ENV} line" in checked.stderr, checked.stderr

        # An edited conffile survives an upgrade (the same package installed again).
        with open(ENV, "a") as f:
            f.write("# edited on site\n")
        run("dpkg", "-i", str(deb))
        assert pathlib.Path(ENV).read_text().endswith("# edited on site\n")
    finally:
        run("dpkg", "--purge", "dlms-bridge", check=False)
    for path in ("/usr/bin/dlms-bridge", UNIT, ENV, "/var/lib/dlms-bridge"):
        assert not pathlib.Path(path).exists(), f"{path} left after purge"
