#!/usr/bin/env python3
"""Where a gateway's CPU per reading goes (docs/performance.md, "CPU per reading and the number of meters"): the
set-up of bench_gateway.py (N simulated meters, a local mosquitto, POLL_PERIOD_S=5, three registers), then over a
window after start-up each thread's CPU from /proc/<pid>/task/*/schedstat (nanoseconds, not 10 ms ticks) and its
context switches, per reading delivered. With --perf, every system call and context switch of the agent in the
window is recorded (`perf record -e raw_syscalls:sys_enter -e sched:sched_switch`) and counted per reading.

Usage: gateway_threads.py BINARY [BINARY ...] [--meters 50 300] [--seconds 20] [--rounds 2] [--perf]
Several binaries are run interleaved (A B A B). Prints one JSON line per run. Threads are named by their offset
from the process id (the main thread +0; the meter threads and housekeeping come after the uplink's).
"""
import argparse
import collections
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_gateway as bg  # noqa: E402

SYSCALLS = {0: "read", 1: "write", 3: "close", 7: "poll", 17: "pread64", 18: "pwrite64", 20: "writev", 41: "socket",
            42: "connect", 44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 74: "fsync", 75: "fdatasync",
            202: "futex", 228: "clock_gettime", 230: "clock_nanosleep", 271: "ppoll"}  # x86_64 numbers


def threads(pid: int) -> dict[int, tuple[int, int]]:
    """tid -> (CPU ns, context switches)."""
    out = {}
    for t in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            ns = int((t / "schedstat").read_text().split()[0])
            status = (t / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[int(t.name)] = (ns, sum(int(n) for n in re.findall(r"(?:non)?voluntary_ctxt_switches:\s+(\d+)", status)))
    return out


def perf_counts(data: pathlib.Path) -> tuple[collections.Counter, int]:
    text = subprocess.run(["perf", "script", "-i", str(data), "-F", "event,trace"], capture_output=True,
                          text=True).stdout
    calls, switches = collections.Counter(), 0
    for line in text.splitlines():
        if "sched_switch" in line:
            switches += 1
        elif "NR " in line:
            nr = int(line.split("NR ")[1].split()[0])
            calls[SYSCALLS.get(nr, str(nr))] += 1
    return calls, switches


def run(binary: str, meters: int, seconds: int, pki: bg.Pki, perf: bool) -> dict:
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"gateway-threads-{meters}-"))
    broker = bg.Broker(pki, tls=False, password=False, extra_config="max_queued_messages 100000\n").start()
    sim, sim_port = bg.start_simulator(binary, work)
    counter = bg.Counter(broker.port)
    conf = work / "meters.conf"
    conf.write_text(bg.config_text(meters, sim_port, broker.port, work / "spool", bg.PERIOD_MS / 1000))
    log = open(work / "agent.log", "w")
    agent = subprocess.Popen(["sh", "-c", bg.RAISE_LIMIT, "sh", binary, "run", "--config", str(conf)],
                             stdout=log, stderr=subprocess.STDOUT, cwd=work)
    recorder = None
    try:
        deadline = time.monotonic() + 120
        while "dlms-bridge running" not in (work / "agent.log").read_text():
            if agent.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gateway_threads: the agent did not start:\n{(work / 'agent.log').read_text()[-3000:]}")
            time.sleep(0.05)
        time.sleep(8)  # past start-up and every meter's first slot
        with counter.lock:
            n0 = len(counter.readings)
        before = threads(agent.pid)
        if perf:
            recorder = subprocess.Popen(["perf", "record", "-e", "raw_syscalls:sys_enter", "-e", "sched:sched_switch",
                                         "-o", str(work / "perf.data"), "-p", str(agent.pid)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(seconds)
        after = threads(agent.pid)
        with counter.lock:
            n1 = len(counter.readings)
        if recorder:
            recorder.send_signal(2)
            recorder.wait()
    finally:
        bg.stop(agent, 60)
        counter.stop()
        bg.stop(sim, 30)
        broker.stop()
    readings = max(n1 - n0, 1)
    cpu, switches = collections.Counter(), collections.Counter()
    for tid, (ns, cs) in after.items():
        ns0, cs0 = before.get(tid, (0, 0))
        cpu[f"+{tid - agent.pid}"] += ns - ns0
        switches[f"+{tid - agent.pid}"] += cs - cs0
    top = [k for k, _ in cpu.most_common(4)]
    result = {
        "binary": binary, "meters": meters, "readings": n1 - n0,
        "cpu_us_per_reading": round(sum(cpu.values()) / 1e3 / readings, 1),
        "switches_per_reading": round(sum(switches.values()) / readings, 2),
        "busiest_threads_us_per_reading": {k: round(cpu[k] / 1e3 / readings, 1) for k in top},
        "other_threads_us_per_reading": round(sum(v for k, v in cpu.items() if k not in top) / 1e3 / readings, 1),
    }
    if perf:
        calls, sched = perf_counts(work / "perf.data")
        result["syscalls_per_reading"] = round(sum(calls.values()) / readings, 1)
        result["sched_switches_per_reading"] = round(sched / readings, 1)
        result["by_syscall"] = {k: round(v / readings, 2) for k, v in calls.most_common(8)}
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--meters", type=int, nargs="+", default=[50, 300])
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--perf", action="store_true")
    args = ap.parse_args()
    pki = bg.Pki(pathlib.Path(tempfile.mkdtemp(prefix="gateway-threads-pki-")))
    subprocess.run(["bash", str(bg.PKI_SCRIPT), str(pki.dir), pki.username, pki.password], check=True,
                   capture_output=True)
    for _ in range(args.rounds):
        for meters in args.meters:
            for binary in args.binaries:
                print(json.dumps(run(str(pathlib.Path(binary).resolve()), meters, args.seconds, pki, args.perf)),
                      flush=True)


if __name__ == "__main__":
    main()
