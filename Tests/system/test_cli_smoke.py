import subprocess

import pytest


def test_help_lists_every_command(bridge_bin):
    out = subprocess.run([str(bridge_bin), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for command in ("run", "read", "decode", "simulate", "bench"):
        assert command in out.stdout


def test_the_embedded_placeholder_check_can_fail():
    """The fixtures fail a test whose agent or simulator log shows a value Embedded Swift could not print."""
    from fixtures.agent import EMBEDDED_PLACEHOLDER, assert_printable
    assert_printable("meter down: timeout", "a log")
    with pytest.raises(AssertionError, match="Embedded Swift cannot print"):
        assert_printable(f"meter down: {EMBEDDED_PLACEHOLDER}", "a log")
