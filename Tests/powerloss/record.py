"""Records one workload: the real agent on a RAM file system under strace, against the simulated meter and the
flaky broker, with the test switch writing marker lines. Two agent processes in sequence: the first is killed
with SIGKILL mid-run, the second recovers that directory and is stopped with SIGTERM (its clean close)."""
from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field

from peers import FlakyBroker, Simulator, wait_until

# The file-system calls the model replays, plus mmap (a mapped state file would hide its writes).
TRACED = ("open,openat,creat,write,pwrite64,writev,pwritev,pwritev2,ftruncate,truncate,fallocate,fsync,"
          "fdatasync,sync_file_range,sync,syncfs,rename,renameat,renameat2,link,linkat,unlink,unlinkat,"
          "mkdir,mkdirat,rmdir,close,dup,dup2,dup3,mmap")
DEVICE = "pl-meter"
MEASUREMENTS = '["voltage_l1", "current_l1"]'


@dataclass
class Workload:
    name: str
    group: int  # readings per group commit
    max_bytes: int  # the size cap (test override below SPOOL_MAX_BYTES's minimum): the cap evicts within seconds
    segment: int | None  # None: the default (SPOOL_MAX_BYTES / 8, at least 4 KiB)
    flap_every: int  # telemetry publishes per broker connection
    seed: int
    faults: str = ""  # negative controls
    phase_goals: tuple = ((2, 3), (1, 3))  # per agent process: (evictions, group commits) to wait for
    env: dict = field(default_factory=dict)
    simulator: tuple = ()  # extra `dlms-bridge simulate` arguments (security, load profile)
    catches: str = "lost"  # a negative control: the invariant that must catch it
    marker_goals: tuple = ()  # per agent process, also wait for (marker word, count); "flap": broker flaps


@dataclass
class Recording:
    workload: Workload
    root: str
    markers: str
    traces: list
    env_file: str
    overrides: str
    broker_flaps: int
    broker_acks: int
    spool_rel: str = "spool"  # SPOOL_DIR relative to the recorded root
    iv_log: str | None = None  # the simulator's `--iv-log`: every IV the agent used (`TITLE COUNTER` a line)
    # Per trace after the first: the files (absolute path -> bytes) as the previous, killed, process left them.
    between: list = field(default_factory=list)


def mount_tmpfs(path: str, size: str = "32m") -> None:
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path], check=True)


def unmount(path: str) -> None:
    subprocess.run(["umount", "-l", path], check=False)


def count_markers(path: str, word: str) -> int:
    try:
        with open(path) as f:
            return sum(1 for line in f if line.startswith(word + " "))
    except FileNotFoundError:
        return 0


def agent_child(strace_pid: int) -> int | None:
    try:
        with open(f"/proc/{strace_pid}/task/{strace_pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (FileNotFoundError, ValueError):
        return None


def record(bridge: str, work: str, wl: Workload, timeout: float = 90.0) -> Recording:
    root = os.path.join(work, "state")
    mount_tmpfs(root)
    extra = wl.simulator + (("--iv-log", os.path.join(work, "iv.log")) if "--security" in wl.simulator else ())
    sim = Simulator(bridge, extra=extra)
    broker = FlakyBroker(wl.seed, flap_every=wl.flap_every)
    overrides = f"records={wl.group},max={wl.max_bytes},acks-ms=300" + (f",segment={wl.segment}" if wl.segment else "") \
        + (",lease=16" if "--security" in wl.simulator else "")
    env_file = os.path.join(work, "agent.env")
    spool_dir = os.path.join(root, "spool")
    with open(env_file, "w") as f:
        for k, v in {
            "DEVICE_ID": DEVICE, "DLMS_HOST": "127.0.0.1", "DLMS_PORT": str(sim.port), "DLMS_PASSWORD": "22222222",
            "DLMS_MEASUREMENTS": f"'{MEASUREMENTS}'", "POLL_PERIOD_S": "0.1", "MQTT_HOST": "127.0.0.1",
            "MQTT_PORT": str(broker.port), "SPOOL_DIR": spool_dir, "SPOOL_MAX_BYTES": "64K",
            "SPOOL_COMMIT_INTERVAL_MS": "0" if wl.group == 1 else "60000", "REPLAY_RATE": "200",
            "HEALTH_INTERVAL_S": "3600", **wl.env,
        }.items():
            f.write(f"{k}={v}\n")
    markers = os.path.join(work, "markers")
    mfd = os.open(markers, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    runtime = os.path.join(work, "runtime")
    os.makedirs(runtime, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "RUNTIME_DIRECTORY": runtime,
           "DLMS_BRIDGE_POWERLOSS_FD": str(mfd), "DLMS_BRIDGE_POWERLOSS_SPOOL": overrides,
           "DLMS_BRIDGE_POWERLOSS_FAULTS": wl.faults}
    traces = []
    between = []
    try:
        for phase, (evictions, commits) in enumerate(wl.phase_goals):
            trace = os.path.join(work, f"trace{phase}.txt")
            traces.append(trace)
            log = open(os.path.join(work, f"agent{phase}.log"), "wb")
            base_evict, base_sync = count_markers(markers, "evict"), count_markers(markers, "sync")
            base_goals = {w: broker.flaps if w == "flap" else count_markers(markers, w) for w, _ in wl.marker_goals}
            proc = subprocess.Popen(["strace", "-f", "-y", "-xx", "-s", "1048576", "-qq", "-e", f"trace={TRACED}",
                                     "-e", "signal=none", "-o", trace, bridge, "run", "--env-file", env_file],
                                    env=env, pass_fds=(mfd,), stdout=log, stderr=subprocess.STDOUT, cwd=work)
            try:
                def reached():
                    if proc.poll() is not None:
                        raise AssertionError(f"{wl.name}: agent exited early:\n" +
                                             open(log.name, errors="replace").read()[-3000:])
                    return (count_markers(markers, "evict") - base_evict >= evictions and
                            count_markers(markers, "sync") - base_sync >= commits and
                            count_markers(markers, "ack") > 0 and
                            all((broker.flaps if w == "flap" else count_markers(markers, w)) - base_goals[w] >= n
                                for w, n in wl.marker_goals))
                wait_until(reached, timeout, f"{wl.name} phase {phase}: {evictions} evictions, {commits} commits",
                           poll=broker.changed)
                child = wait_until(lambda: agent_child(proc.pid), 10, "the traced agent's pid")
                last = phase == len(wl.phase_goals) - 1
                os.kill(child, signal.SIGTERM if last else signal.SIGKILL)
                proc.wait(30)
                if not last:
                    between.append(snapshot(root))
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                log.close()
    finally:
        os.close(mfd)
        broker.close()
        sim.stop()
    return Recording(wl, root, markers, traces, env_file, overrides, broker.flaps, len(broker.acked),
                     iv_log=sim.iv_log, between=between)


def snapshot(root: str) -> dict[str, bytes]:
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[path] = f.read()
    return out
