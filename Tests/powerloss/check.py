"""The power-loss checker (issue 13): records the real agent under strace, builds every crash state a power cut may
leave at every operation boundary, recovers each with the production code and checks the invariants; negative
controls (deliberately broken builds of the same binary, by test switch) must be caught.

    python3 Tests/powerloss/check.py <dlms-bridge binary> [--work DIR] [--keep-failing DIR]

Needs root (tmpfs mounts) and strace. Prints a report and, last, `N passed, N failed`; exit status 1 if any failed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from record import DEVICE, TRACED, Recording, Workload, mount_tmpfs, record, unmount  # noqa: E402
from replay import INVARIANTS, replay  # noqa: E402
from nested import nested_recoveries  # noqa: E402
from runsample import run_samples  # noqa: E402

WORKLOADS = [
    # Commit every reading, 1 KiB segments (two readings each): a roll every other reading.
    Workload("group-1", group=1, max_bytes=8192, segment=1024, flap_every=12, seed=1, phase_goals=((4, 60), (2, 40))),
    # Groups of 8, the default segment size for the cap (cap / 8 = 4 KiB).
    Workload("group-8", group=8, max_bytes=32768, segment=None, flap_every=16, seed=8),
    # Groups of 64 in 32 KiB segments (a group fits in a segment, so it is not cut short by a roll).
    Workload("group-64", group=64, max_bytes=65536, segment=32768, flap_every=40, seed=64,
             phase_goals=((1, 2), (1, 1))),
]
# A secured meter (auth-enc, HLS-GMAC) with a load profile: the invocation-counter lease and the profile cursor.
EK, AK, CLIENT_TITLE = "000102030405060708090A0B0C0D0E0F", "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF", "4D4D4D0000BC614E"
SECURE_SIMULATOR = ("--security", "auth-enc", "--auth", "hls-gmac", "--ek", EK, "--ak", AK,
                    "--capture-period", "1", "--profile-rows", "600")
SECURE_ENV = {"DLMS_CLIENT_SAP": "1", "DLMS_SECURITY": "auth-enc", "DLMS_AUTH": "hls-gmac", "DLMS_EK": EK,
              "DLMS_AK": AK, "DLMS_SYSTEM_TITLE": CLIENT_TITLE, "DLMS_PROFILES": """'["load_profile"]'""",
              "DLMS_PROFILE_BACKFILL": "90s"}
WORKLOADS.append(
    Workload("secure-profile", group=8, max_bytes=16384, segment=None, flap_every=6, seed=12,
             env=SECURE_ENV, simulator=SECURE_SIMULATOR, phase_goals=((2, 4), (2, 4)),
             marker_goals=(("cursor", 3), ("flap", 1))))
# Deliberate bugs the checker must catch: a commit marked before its fdatasync, no directory fsync; a counter
# lease marked before its fdatasync, a cursor marked before its state write, a cursor synced before its rows.
CONTROLS = [
    Workload("control-commit-before-sync", group=8, max_bytes=32768, segment=None, flap_every=16, seed=101,
             faults="commit-before-sync", phase_goals=((1, 2), (0, 1))),
    Workload("control-skip-directory-sync", group=8, max_bytes=32768, segment=None, flap_every=16, seed=102,
             faults="skip-directory-sync", phase_goals=((1, 2), (0, 1))),
    Workload("control-lease-before-sync", group=8, max_bytes=16384, segment=None, flap_every=16, seed=103,
             faults="lease-before-sync", env=SECURE_ENV, simulator=SECURE_SIMULATOR, phase_goals=((0, 2),),
             catches="lease"),
    Workload("control-cursor-before-sync", group=8, max_bytes=16384, segment=None, flap_every=16, seed=104,
             faults="cursor-before-sync", env=SECURE_ENV, simulator=SECURE_SIMULATOR, phase_goals=((0, 2),),
             marker_goals=(("cursor", 2),),
             catches="cursor"),
    Workload("control-cursor-before-rows", group=8, max_bytes=16384, segment=None, flap_every=16, seed=105,
             faults="cursor-before-rows", env=SECURE_ENV, simulator=SECURE_SIMULATOR, phase_goals=((0, 2),),
             marker_goals=(("cursor", 2),),
             catches="cursor-rows"),
]
MIN_STATES = 10_000
TIME_BUDGET_S = 540  # the bound is 10 minutes of `make test` on 2 cores


def read_markers(path: str, word: str) -> list[str]:
    with open(path) as f:
        return [line.strip() for line in f if line.startswith(word + " ")]


def percentile(values, p):
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def fresh_directory_regression(bridge: str, work: str):
    """Regression for the first bug this checker found: the spool created its directories without fsyncing their
    parents, so a power cut after the first commit could drop the whole spool directory with committed readings
    in it. `spool-recover` on a directory tree that does not exist yet (it creates it, appends one reading and
    commits it) is recorded and replayed like a workload: the committed reading must survive every crash state."""
    wdir = os.path.join(work, "regression-fresh-directory")
    os.makedirs(wdir)
    root = os.path.join(wdir, "state")
    mount_tmpfs(root)
    scratch = os.path.join(wdir, "scratch")
    mount_tmpfs(scratch)
    try:
        env_file = os.path.join(wdir, "agent.env")
        with open(env_file, "w") as f:
            f.write(f"DEVICE_ID={DEVICE}\nDLMS_HOST=127.0.0.1\nMQTT_HOST=127.0.0.1\nSPOOL_COMMIT_INTERVAL_MS=0\n")
        markers = os.path.join(wdir, "markers")
        mfd = os.open(markers, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        trace = os.path.join(wdir, "trace.txt")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DLMS_BRIDGE_POWERLOSS_FD": str(mfd),
               "RUNTIME_DIRECTORY": wdir}
        p = subprocess.run(["strace", "-f", "-y", "-xx", "-s", "1048576", "-qq", "-e", f"trace={TRACED}", "-o", trace,
                            bridge, "spool-recover", "--env-file", env_file, os.path.join(root, "a", "b", "spool")],
                           env=env, pass_fds=(mfd,), capture_output=True, text=True, timeout=60)
        os.close(mfd)
        wl = Workload("regression-fresh-directory", group=1, max_bytes=65536, segment=None, flap_every=0, seed=7)
        rec = Recording(wl, root, markers, [trace], env_file, "records=1", 0, 0, spool_rel="a/b/spool")
        rep = replay(bridge, rec, scratch)
        return p.returncode, rep
    finally:
        unmount(scratch)
        unmount(root)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("bridge")
    ap.add_argument("--work", default=None)
    ap.add_argument("--keep-failing", default=None, help="copy the crash states that violate an invariant here")
    ap.add_argument("--only", default=None, help="comma-separated workload and control names (development)")
    ap.add_argument("--samples", type=int, default=200,
                    help="at most this many states per workload also run through `run` (one per roll and slot write)")
    args = ap.parse_args()
    bridge = os.path.abspath(args.bridge)
    started = time.monotonic()
    work = args.work or tempfile.mkdtemp(prefix="powerloss-")
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append((name, ok, detail))
        print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)

    total_states = total_points = total_distinct = total_nested = 0
    all_open_us: list[int] = []
    selected = [wl for wl in WORKLOADS + CONTROLS if not args.only or wl.name in args.only.split(",")]
    for wl in selected:
        control = bool(wl.faults)
        wdir = os.path.join(work, wl.name)
        shutil.rmtree(wdir, ignore_errors=True)
        os.makedirs(wdir)
        scratch = os.path.join(wdir, "scratch")
        mount_tmpfs(scratch, "256m")  # another mount: recovery sees another boot-and-mount id, as after a power cut
        t0 = time.monotonic()
        try:
            rec = record(bridge, wdir, wl)
            t1 = time.monotonic()
            if args.keep_failing and not control:
                os.makedirs(args.keep_failing, exist_ok=True)
            rep = replay(bridge, rec, scratch, keep_failing=None if control else args.keep_failing,
                         sample_limit=0 if control else args.samples)
            t2 = time.monotonic()
            sampled = run_samples(bridge, rec, rep, scratch) if not control else None
            nested = nested_recoveries(bridge, rec, rep, scratch, wdir) if not control else None
        except (AssertionError, OSError, subprocess.SubprocessError) as e:
            # A workload that cannot run is a failure, reported; the others still run.
            check(f"{wl.name} recorded and replayed", False, str(e)[-1500:])
            continue
        finally:
            unmount(scratch)
            unmount(os.path.join(wdir, "state"))
        states = sum(rep.states.values())
        print(f"{wl.name}: group {wl.group}, segment {wl.segment or 'default'}, cap {wl.max_bytes}, faults "
              f"{wl.faults or 'none'}: recorded {t1 - t0:.0f} s, replayed {t2 - t1:.0f} s", flush=True)
        print(f"  {rep.crash_points} crash points, {states} crash states ({rep.distinct} distinct) - "
              + ", ".join(f"{k} {v}" for k, v in sorted(rep.states.items())), flush=True)
        print(f"  segment rolls {rep.segment_rolls}, cap evictions {rep.evictions}, state-slot writes "
              f"{rep.slot_switches}, broker flaps "
              f"{rec.broker_flaps}, PUBACKs {rec.broker_acks}; violations "
              + ", ".join(f"{k} {rep.violations.get(k, 0)}" for k in INVARIANTS), flush=True)
        for example in rep.examples:
            print(f"    {example}")
        if control:
            check(f"{wl.name} is caught", rep.violations.get(wl.catches, 0) > 0,
                  f"{rep.violations.get(wl.catches, 0)} states violate '{wl.catches}'")
            continue
        total_states += states
        total_points += rep.crash_points
        total_distinct += rep.distinct
        all_open_us += rep.open_us
        print(f"  largest duplicate run {rep.largest_dup_run}, recovery (open) p50 "
              f"{percentile(rep.open_us, 0.5) / 1000:.1f} ms, p99 {percentile(rep.open_us, 0.99) / 1000:.1f} ms")
        check(f"{wl.name}: no state file is memory-mapped", not rep.mmaps, "; ".join(rep.mmaps[:3]))
        check(f"{wl.name}: every traced operation is modelled", not rep.unsupported, "; ".join(rep.unsupported[:3]))
        check(f"{wl.name}: the model's last state equals the directory on disk", rep.model_matches_disk)
        check(f"{wl.name}: segment rolls, cap evictions, flaps recorded",
              rep.segment_rolls >= 2 and rep.evictions >= 1 and rec.broker_flaps >= 1,
              f"rolls {rep.segment_rolls}, evictions {rep.evictions}, flaps {rec.broker_flaps}")
        if wl.env.get("DLMS_SECURITY") or wl.env.get("DLMS_PROFILES"):
            ivs = []
            if rec.iv_log and os.path.exists(rec.iv_log):
                with open(rec.iv_log) as f:
                    ivs = [tuple(line.split()) for line in f if line.strip()]
            last_lease = max((int(m.split()[-1]) for m in read_markers(rec.markers, "lease")), default=0)
            print(f"  lease markers {rep.lease_marks}, cursor markers {rep.cursor_marks}, profile rows written "
                  f"{rep.profile_rows}, states whose recovered cursor covers rows {rep.cursor_checked}, IVs used "
                  f"{len(ivs)} (highest counter {max((int(c) for _, c in ivs), default=0)})", flush=True)
            check(f"{wl.name}: leases, cursors and profile rows recorded and checked",
                  rep.lease_marks >= 2 and rep.cursor_marks >= 2 and rep.profile_rows > 0 and rep.cursor_checked > 0,
                  f"lease markers {rep.lease_marks}, cursor markers {rep.cursor_marks}, rows {rep.profile_rows}, "
                  f"states with covered rows {rep.cursor_checked}")
            check(f"{wl.name}: no IV used twice, every counter used within a durable lease",
                  bool(ivs) and len(set(ivs)) == len(ivs) and all(int(c) <= last_lease for _, c in ivs),
                  f"{len(ivs)} IVs, {len(ivs) - len(set(ivs))} repeated, last lease {last_lease}")
        for inv in INVARIANTS:
            check(f"{wl.name}: invariant '{inv}' holds in every state", rep.violations.get(inv, 0) == 0,
                  f"{rep.violations.get(inv, 0)} violations")
        check(f"{wl.name}: sampled states replayed by the real `run`", sampled[0] > 0 and not sampled[1],
              f"{sampled[0]} states, {len(sampled[1])} failed" + (f": {sampled[1][0]}" if sampled[1] else ""))
        done, nstates, nbad, nexamples = nested
        total_nested += nstates
        check(f"{wl.name}: power cut during recovery of torn states", done > 0 and not sum(nbad.values()),
              f"{done} recoveries traced, {nstates} crash states, violations {sum(nbad.values())}"
              + "".join(f"; {e}" for e in nexamples[:2]))
    name = "regression: a new spool directory survives a power cut after its first commit"
    try:
        rc, rep = fresh_directory_regression(bridge, work)
        with open(os.path.join(work, "regression-fresh-directory", "markers")) as f:
            commits = sum(1 for line in f if line.startswith("sync "))
        bad = sum(rep.violations.values())
        check(name, rc == 0 and commits > 0 and bad == 0 and rep.model_matches_disk,
              f"{sum(rep.states.values())} crash states, {commits} commit(s), {bad} violations"
              + "".join(f"; {e}" for e in rep.examples[:2]))
    except (AssertionError, OSError, subprocess.SubprocessError) as e:
        check(name, False, str(e)[-1500:])
    elapsed = time.monotonic() - started
    print(f"total: {total_points} crash points, {total_states} crash states ({total_distinct} distinct, each "
          f"recovered by `dlms-bridge spool-recover`) + {total_nested} during recovery, recovery p99 "
          f"{percentile(all_open_us, 0.99) / 1000:.1f} ms, "
          f"{elapsed:.0f} s")
    check(f"at least {MIN_STATES} crash states", total_states >= MIN_STATES, f"{total_states}")
    check(f"within {TIME_BUDGET_S} s", elapsed <= TIME_BUDGET_S, f"{elapsed:.0f} s")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    failed = sum(1 for _, ok, _ in checks if not ok)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
