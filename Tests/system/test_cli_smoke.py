import subprocess


def test_binary_runs(bridge_bin):
    out = subprocess.run([str(bridge_bin)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
