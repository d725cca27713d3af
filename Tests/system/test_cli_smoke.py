import subprocess


def test_help_lists_every_command(bridge_bin):
    out = subprocess.run([str(bridge_bin), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for command in ("run", "read", "decode", "simulate", "bench"):
        assert command in out.stdout
