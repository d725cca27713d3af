"""`dlms-bridge bench`: every operation runs, reports time per operation, and really did the work (each op's
results are folded into a checksum that is recomputed here independently)."""
import json
import subprocess

import pytest


def crc16_x25(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def crc_input() -> bytes:
    x = 0x2545F491
    out = bytearray()
    for _ in range(65536):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out.append(x & 0xFF)
    return bytes(out)


def parse_fold() -> int:
    """benchParseFrameOnce's fold of every field of the 26-byte I-frame `7E A0 18 41 00 02 12 A5 30 ...`."""
    info_start, fcs_at, control = 11, 23, 0x30
    dest_logical, dest_physical, dest_count = 0, 32, 1          # client SAP 32: 41
    src_logical, src_physical, src_count = 1, 1234, 4           # 00 02 12 A5
    segmented = 0
    return (info_start ^ fcs_at << 11 ^ control << 22 ^ dest_logical << 30 ^ dest_physical << 44
            ^ src_logical << 4 ^ src_physical << 18 ^ dest_count << 58 ^ src_count << 60 ^ segmented << 62)


# op -> (iterations, result of one call)
EXPECTED = {
    "parse-frame": (2000, parse_fold()),        # every field of the 26-byte I-frame
    "decode-get-response": (2000, 123456),      # the double-long-unsigned it carries
    "build-get-request": (2000, 30),            # bytes of the GET-Request-Normal I-frame
    "crc": (3, crc16_x25(crc_input())),
}


def bench(bridge_bin, *args):
    out = subprocess.run([str(bridge_bin), "bench", *args], capture_output=True, text=True, timeout=300)
    return out


@pytest.mark.parametrize("op", sorted(EXPECTED))
def test_each_op_runs_and_does_the_work(bridge_bin, op):
    iterations, per_call = EXPECTED[op]
    runs = 3
    out = bench(bridge_bin, "--op", op, "--iterations", str(iterations), "--runs", str(runs), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    (r,) = doc["results"]
    assert r["op"] == op and r["iterations"] == iterations and r["runs"] == runs
    assert r["ns_per_op"] > 0 and r["ops_per_s"] > 0 and r["median_ns"] > 0
    # One warm-up call, then `runs` timed runs of `iterations` calls.
    assert r["checksum"] == per_call * (1 + runs * iterations) % 2**64  # the sum wraps like UInt64
    if op == "crc":
        assert r["bytes_per_op"] == 65536 and r["mb_per_s"] > 0
    else:
        assert r["mb_per_s"] is None


def test_table_output_names_every_op(bridge_bin):
    out = bench(bridge_bin, "--iterations", "3", "--runs", "1")
    assert out.returncode == 0, out.stderr
    for op in EXPECTED:
        assert op in out.stdout
    assert "ns/op" in out.stdout and "MB/s" in out.stdout


def test_unknown_op_is_refused(bridge_bin):
    out = bench(bridge_bin, "--op", "nonsense")
    assert out.returncode != 0
    assert "nonsense" in out.stderr
