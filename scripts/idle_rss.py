#!/usr/bin/env python3
"""Idle resident memory of `dlms-bridge run` with one meter, for `make footprint` / `make static-check`.

Real processes on loopback, the production shape: mosquitto with mutual TLS and a password (the system tests'
broker fixture and PKI), the built-in simulated meter (`dlms-bridge simulate --port 0`), and `dlms-bridge run`
polling it. Once the broker has received --polls readings (so the meter session, the TLS connection and the
spool are all set up and have been used) the agent is idle between polls; its VmRSS and VmHWM (peak RSS so
far) are read from /proc. Prints both and writes VmHWM in KiB to --out; exits non-zero if `run` died or no
reading arrived, so a broken agent can never pass as small.

Usage: idle_rss.py path/to/dlms-bridge [--out out/static/rss-kib] [--period 2] [--polls 3]
"""
import argparse
import pathlib
import re
import shutil
import subprocess
import tempfile

from bench_agent import PKI_SCRIPT, MQTT_PASSWORD, MQTT_USER, Broker, Pki, Subscriber, agent_env, rss_kb, \
    start_simulator


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--out", type=pathlib.Path)
    ap.add_argument("--period", type=float, default=2.0, help="POLL_PERIOD_S of the agent")
    ap.add_argument("--polls", type=int, default=3, help="readings to wait for before measuring")
    args = ap.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="dlms-bridge-rss-"))
    broker = sim = agent = sub = None
    try:
        subprocess.run(["bash", str(PKI_SCRIPT), str(work / "pki"), MQTT_USER, MQTT_PASSWORD], check=True,
                       capture_output=True)
        pki = Pki(dir=work / "pki")
        broker = Broker(pki).start()
        sim, meter_port = start_simulator(args.binary)
        sub = Subscriber(broker, pki)
        log = open(work / "agent.log", "wb")
        agent = subprocess.Popen([args.binary, "run"],
                                 env=agent_env(pki, broker, meter_port, work / "spool", args.period),
                                 stdout=log, stderr=subprocess.STDOUT)
        try:
            sub.wait_for(lambda s: len(s) >= args.polls, 30 + args.polls * args.period,
                         f"{args.polls} readings from `run`")
        except SystemExit:
            print((work / "agent.log").read_text(errors="replace")[-2000:])
            raise
        if agent.poll() is not None:
            raise SystemExit(f"idle_rss: `run` exited with status {agent.returncode}")
        rss, hwm = rss_kb(agent.pid)
        status = pathlib.Path(f"/proc/{agent.pid}/status").read_text()
        parts = {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) for k in ("RssAnon", "RssFile", "Threads")}
    finally:
        for p in (agent, sim):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(30)
        if sub is not None:
            sub.stop()
        if broker is not None:
            broker.cleanup()
        shutil.rmtree(work, ignore_errors=True)

    print(f"idle RSS of run (one meter, mutual-TLS broker, after {args.polls} polls at {args.period:g} s): "
          f"VmRSS {rss} KiB (heap and stacks {parts['RssAnon']}, binary's pages {parts['RssFile']}), VmHWM {hwm} KiB, "
          f"{parts['Threads']} threads")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(f"{hwm}\n")


if __name__ == "__main__":
    main()
