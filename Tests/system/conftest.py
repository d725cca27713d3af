"""Shared pytest set-up for the system tests: the dlms-bridge binary and the fixture modules.

Fixture modules live in Tests/system/fixtures/*.py and are loaded automatically, so each area (broker and
PKI, simulator, ...) keeps its own file.
"""
import os
import pathlib

import pytest

# Plain `assert`s in fixture modules report their values too.
pytest.register_assert_rewrite("fixtures")

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

pytest_plugins = sorted(
    f"fixtures.{p.stem}" for p in (HERE / "fixtures").glob("*.py") if not p.name.startswith("_")
)


@pytest.fixture(scope="session")
def bridge_bin() -> pathlib.Path:
    """Path of the dlms-bridge binary under test (DLMS_BRIDGE_BIN, else the debug build)."""
    env = os.environ.get("DLMS_BRIDGE_BIN")
    path = pathlib.Path(env) if env else ROOT / ".build" / "debug" / "dlms-bridge"
    assert path.exists(), f"dlms-bridge binary not found at {path}: run `make build` first"
    return path


def pytest_configure(config):
    config.addinivalue_line("markers", "cross: runs ARM builds under qemu-user (make cross-c-check builds them)")
    config.addinivalue_line("markers", "native: cannot run the binary under qemu-user (make cross-system-check "
                                       "leaves it out; each module says why)")
    config.addinivalue_line("markers", "deb: installs the Debian package on this machine (make deb-check)")
