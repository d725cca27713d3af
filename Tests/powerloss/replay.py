"""Replays a recording: every crash point, every kind of crash state, recovered by the production code
(`dlms-bridge spool-recover`, in batches), checked against what the markers say was committed and acknowledged.
"""
from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
from collections import Counter
from dataclasses import dataclass, field

from model import Model, materialize, state_hash
from record import DEVICE, Recording
from straceparse import TraceParser

INVARIANTS = ("starts", "lost", "corrupt", "order", "duplicate", "seq", "idempotent", "lease", "cursor",
              "cursor-rows")
# A profile cursor's name in the state file (`profile <OBIS>`, spaces as `+` in markers and spool-recover's
# output) -> the profile name its rows carry in their spool envelope (Sources/Agent/Payload/ProfilePayload.swift).
CURSOR_PROFILES = {"profile+1-0:99.1.0.255": "load_profile", "profile+0-0:99.98.0.255": "event_log"}
PROFILE_MARKER = 0x1E


def fnv(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return format(h, "x")


@dataclass(frozen=True)
class Expect:
    """What must hold at one crash point, for one spool directory."""
    required: frozenset  # committed (marker before the crash point), not acknowledged, not evicted
    durable_low: int  # the acknowledged position last made durable
    durable_acked: frozenset
    max_handed: int  # highest seq handed out: recovery must continue above it
    acked: frozenset  # PUBACKs before the crash point: recovering one of these is a duplicate delivery
    lease: int | None = None  # the invocation-counter lease end last marked durable (`lease`)
    cursors: tuple = ()  # (name, value): each profile cursor as last marked durable (`cursor`)
    evicted: tuple = ()  # (first, last) seq ranges the cap dropped (`evict`) before the crash point
    rows: tuple = ()  # (profile, capture time ms, seq): every profile row written before the crash point


class Ledger:
    """Follows the markers and the record writes in trace order (one spool directory: the workload's meter).
    `baseline`: what already held before the trace started (a trace of recovery from a crash state)."""

    def __init__(self, baseline: Expect | None = None, known: dict[int, str] | None = None):
        self.baseline = baseline
        self.hashes: dict[int, str] = dict(known or {})  # every reading ever written: seq -> payload hash
        self.written: dict[int, str] = {}  # seq -> payload hash, in this trace
        self.synced = 0
        self.acked: set[int] = set()
        self.evicted: list[tuple[int, int]] = []
        self.durable = (0, frozenset(), 0)
        self.lease_regressions: list[str] = []
        self.lease: int | None = None
        self.cursors: dict[str, int] = {}
        self.rows: list[tuple[str, int, int]] = []
        self._expect = None

    def see(self, op) -> None:
        if op.kind == "write" and op.path.endswith(".seg") and len(op.data) >= 24:
            n, seq = struct.unpack_from("<IQ", op.data)
            # Seq 0 is a segment's seal (docs/spool.md), not a reading.
            if n + 24 == len(op.data) and seq != 0:
                self.written[seq] = self.hashes[seq] = fnv(op.data[20:20 + n])
                payload = op.data[20:20 + n]
                if len(payload) >= 2 and payload[0] == PROFILE_MARKER and len(payload) >= 2 + payload[1]:
                    # A profile row: the record's timestamp is its capture time (ProfileRuntime).
                    (captured,) = struct.unpack_from("<q", op.data, 12)
                    self.rows.append((payload[2:2 + payload[1]].decode(errors="replace"), captured, seq))
                self._expect = None
        elif op.kind == "marker":
            word, *rest = op.text.split(" ")
            if word == "sync":
                self.synced = max(self.synced, int(rest[1]))
            elif word == "ack":
                self.acked.add(int(rest[1]))
            elif word == "evict":
                self.evicted.append((int(rest[1]), int(rest[2])))
            elif word == "state":
                acked = frozenset(int(x) for x in rest[3].split(",")) if len(rest) > 3 and rest[3] else frozenset()
                self.durable = (int(rest[1]), acked, int(rest[2]))
                # The durable lease must cover every seq already handed out (a clean close may lower it to
                # exactly the last one: it gives back reserved numbers nobody received).
                if int(rest[2]) < max(self.written, default=0):
                    self.lease_regressions.append(op.text)
            elif word == "lease":
                self.lease = int(rest[-1])
            elif word == "cursor":
                self.cursors[rest[1]] = int(rest[2])
            else:
                return
            self._expect = None

    def expect(self) -> Expect:
        if self._expect is None:
            required = frozenset(s for s in self.written if s <= self.synced and s not in self.acked
                                 and not any(a <= s <= b for a, b in self.evicted))
            e = Expect(required, self.durable[0], self.durable[1], max(self.written, default=0),
                       frozenset(self.acked), self.lease, tuple(sorted(self.cursors.items())),
                       tuple(self.evicted), tuple(self.rows))
            b = self.baseline
            if b is not None:
                fresh = self.durable == (0, frozenset(), 0)
                cursors = dict(b.cursors)
                for k, v in self.cursors.items():
                    cursors[k] = max(v, cursors.get(k, v))
                e = Expect(required | b.required, b.durable_low if fresh else e.durable_low,
                           b.durable_acked if fresh else e.durable_acked, max(e.max_handed, b.max_handed),
                           e.acked | b.acked, max((x for x in (b.lease, self.lease) if x is not None), default=None),
                           tuple(sorted(cursors.items())), b.evicted + e.evicted, b.rows + e.rows)
            self._expect = e
        return self._expect


def parse_list(text: str) -> list[tuple[int, str]]:
    if text == "-" or text == "missing":
        return []
    return [(int(s), h) for s, h in (item.split(":") for item in text.split(","))]


def recover_batch(bridge: str, rec: Recording, dirs: list[str], runtime: str) -> list[dict]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "RUNTIME_DIRECTORY": runtime,
           "DLMS_BRIDGE_POWERLOSS_FD": "0", "DLMS_BRIDGE_POWERLOSS_SPOOL": rec.overrides}
    with open(os.devnull, "rb") as devnull:  # fd 0: the markers of recovery itself are not needed
        p = subprocess.run([bridge, "spool-recover", "--env-file", rec.env_file, *dirs], stdin=devnull,
                           capture_output=True, text=True, env=env, timeout=600)
    out = {}
    for line in p.stdout.splitlines():
        parts = line.split(" ")
        if parts[0] == "recovered":
            fields = dict(kv.split("=", 1) for kv in parts[3:])
            out[parts[1]] = {"ok": True, "open_us": int(fields["open_us"]), "capped": int(fields["capped"]),
                             "capped_by_append": int(fields["capped_by_append"]),
                             "truncated": int(fields["truncated"]),
                             "d1": parse_list(fields["d1"]),
                             "a": parse_list(fields["a"]), "d2": parse_list(fields["d2"]),
                             "d3": parse_list(fields["d3"]),
                             "lease": None if fields.get("lease", "-") == "-" else int(fields["lease"]),
                             "cursors": {} if fields.get("cursors", "-") == "-" else
                             {n: int(v) for n, v in (c.rsplit("@", 1) for c in fields["cursors"].split(","))}}
        elif parts[0] == "failed":
            out[parts[1]] = {"ok": False, "why": " ".join(parts[3:])}
    return [out.get(d, {"ok": False, "why": f"no line (exit {p.returncode}): {p.stderr[-500:]}"}) for d in dirs]


def violations(e: Expect, r: dict, written: dict[int, str]) -> list[tuple[str, str]]:
    if not r["ok"]:
        return [("starts", r["why"])]
    out = []
    d1 = r["d1"]
    seqs = [s for s, _ in d1]
    missing = e.required - set(seqs)
    # Opening a directory over its cap evicts the oldest segment, as the running agent would have done next:
    # allowed for the oldest readings only, and only as many as recovery counted as dropped by the cap.
    if missing and len(missing) <= r["capped"] and (not seqs or max(missing) < seqs[0]):
        missing = set()
    if missing:
        out.append(("lost", f"committed and unacknowledged, not recovered: {sorted(missing)[:10]}"))
    bad = [(s, h) for s, h in d1 if written.get(s) != h]
    if bad:
        out.append(("corrupt", f"recovered readings never written so: {bad[:5]}"))
    if any(a >= b for a, b in zip(seqs, seqs[1:])):
        out.append(("order", f"recovered out of order: {seqs[:20]}"))
    dup = [s for s in seqs if s <= e.durable_low or s in e.durable_acked]
    if dup:
        out.append(("duplicate", f"durably acknowledged readings replayed: {dup[:10]} (low {e.durable_low})"))
    a = r["a"]
    if len(a) != 1 or a[0][0] <= e.max_handed:
        out.append(("seq", f"appended {a} not above every seq handed out or leased ({e.max_handed})"))
    expected = d1 + a
    # The appended reading may take the directory over its cap: the cap then drops the oldest segment, so d2
    # may lack a prefix of d1, never longer than what the cap counted for that append.
    cut = len(expected) - len(r["d2"])
    if 0 < cut <= r["capped_by_append"] and expected[cut:] == r["d2"]:
        expected = r["d2"]
    if r["d2"] != expected or r["d3"] != r["d2"]:
        out.append(("idempotent", f"d1+a={seqs + [x for x, _ in a]} d2={[x for x, _ in r['d2']]} "
                                  f"d3={[x for x, _ in r['d3']]}"))
    # The invocation-counter lease: once marked durable it never goes back, and the file stays readable (an
    # AES-GCM IV is never reused: the session resumes above the recovered lease end).
    if e.lease is not None and (r["lease"] is None or r["lease"] < e.lease):
        out.append(("lease", f"recovered lease {r['lease'] if r['lease'] is not None else 'none'}, "
                             f"{e.lease} was marked durable"))
    # Profile cursors: never behind the last durable one...
    behind = [(n, v, r["cursors"].get(n)) for n, v in e.cursors if r["cursors"].get(n, -2**63) < v]
    if behind:
        out.append(("cursor", f"recovered cursors behind the durable ones (name, durable, recovered): {behind[:3]}"))
    # ...and never ahead of the rows: every row captured at or before a recovered cursor is recovered, or was
    # acknowledged, or dropped by the cap (an `evict` marker, or recovery's own cap eviction of the oldest
    # readings, counted, as for "lost"). A capture time written twice (re-read after a crash) needs one copy.
    present = set(seqs) | e.acked
    for name, cursor in r["cursors"].items():
        profile = CURSOR_PROFILES.get(name)
        if profile is None:
            out.append(("cursor-rows", f"cursor {name} of no known profile: the checker cannot check it"))
            continue
        covered: dict[int, list[int]] = {}
        for p, captured, seq in e.rows:
            if p == profile and captured <= cursor:
                covered.setdefault(captured, []).append(seq)
        missing = [max(ss) for ss in covered.values()
                   if not any(s in present or s <= e.durable_low or any(a <= s <= b for a, b in e.evicted)
                              for s in ss)]
        if missing and not (len(missing) <= r["capped"] and (not seqs or max(missing) < seqs[0])):
            out.append(("cursor-rows", f"cursor {name}={cursor} ahead of its rows: seqs {sorted(missing)[:10]} "
                                       f"captured at or before it, neither recovered nor acknowledged"))
    return out


@dataclass
class Report:
    crash_points: int = 0
    states: Counter = field(default_factory=Counter)
    distinct: int = 0
    violations: Counter = field(default_factory=Counter)
    examples: list = field(default_factory=list)
    open_us: list = field(default_factory=list)
    largest_dup_run: int = 0
    mmaps: list = field(default_factory=list)
    unsupported: list = field(default_factory=list)
    model_matches_disk: bool = False
    segment_rolls: int = 0
    evictions: int = 0
    results: dict = field(default_factory=dict)  # state hash -> what spool-recover returned
    slot_switches: int = 0
    samples: list = field(default_factory=list)  # (crash point, state) for the real-`run` sample
    torn: list = field(default_factory=list)  # (crash point, kind, state, expectation): nested-crash candidates
    written: dict = field(default_factory=dict)  # seq -> payload hash of every reading written
    lease_marks: int = 0
    cursor_marks: int = 0
    profile_rows: int = 0
    cursor_checked: int = 0  # recovered states whose cursor covers at least one row (the cursor-rows check bites)


def read_tree(root: str) -> dict[str, bytes | None]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = None
        for f in filenames:
            with open(os.path.join(dirpath, f), "rb") as fh:
                out[os.path.relpath(os.path.join(dirpath, f), root)] = fh.read()
    return out


def replay(bridge: str, rec: Recording, scratch: str, batch_size: int = 150, keep_failing: str | None = None,
           sample_limit: int = 0, initial: dict | None = None, baseline: Expect | None = None,
           known: dict | None = None) -> Report:
    parser = TraceParser(rec.root, os.path.realpath(rec.markers), initial)
    for i, t in enumerate(rec.traces):
        parser.feed_file(t, rec.between[i - 1] if 0 < i <= len(rec.between) else None)
    rep = Report(mmaps=parser.out.mmaps, unsupported=parser.out.unsupported)
    model, ledger = Model(rec.root, parser), Ledger(baseline, known)
    rng = random.Random(rec.workload.seed)
    results: dict[bytes, dict] = {}
    waiting: list[tuple[bytes, Expect, str, int]] = []  # (hash, expectation, kind, crash point)
    batch: dict[bytes, tuple[str, dict]] = {}
    runtime = os.path.join(scratch, "runtime")
    os.makedirs(runtime, exist_ok=True)
    meter = os.path.join(rec.spool_rel, DEVICE)

    def flush():
        items = list(batch.items())
        got = recover_batch(bridge, rec, [os.path.join(where, rec.spool_rel) for _, (where, _) in items], runtime) \
            if items else []
        for (h, _), r in zip(items, got):
            results[h] = r
        for h, e, kind, pt in waiting:
            r = results[h]
            if r["ok"]:
                rep.open_us.append(r["open_us"])
                rep.largest_dup_run = max(rep.largest_dup_run, sum(1 for s, _ in r["d1"] if s in e.acked))
            if r["ok"] and any(c <= v for _, c, _ in e.rows for v in r["cursors"].values()):
                rep.cursor_checked += 1
            for inv, why in violations(e, r, ledger.hashes):
                rep.violations[inv] += 1
                if len(rep.examples) < 5:
                    rep.examples.append(f"{rec.workload.name} crash point {pt} ({kind}): {inv}: {why}")
                if keep_failing and h in batch:
                    # The state that showed it, kept for a regression test (before recovery changed it: the
                    # recovered copy is rebuilt from the model's state).
                    dest = os.path.join(keep_failing, f"{rec.workload.name}-{pt}-{kind}-{inv}")
                    if not os.path.exists(dest) and len(os.listdir(keep_failing)) < 20:
                        materialize(batch[h][1], dest)
        waiting.clear()
        for where, _ in batch.values():
            shutil.rmtree(where)
        batch.clear()

    def consider(kind: str, state: dict, point: int):
        h = state_hash(state)
        rep.states[kind] += 1
        if h not in results and h not in batch:
            where = os.path.join(scratch, f"s{len(results) + len(batch)}")
            materialize(state, where)
            batch[h] = (where, state)
            if len(batch) >= batch_size:
                flush()
        waiting.append((h, ledger.expect(), kind, point))
        if kind.startswith("torn") and point % 5 == 0 and len(rep.torn) < 60:
            rep.torn.append((point, kind, state, ledger.expect()))

    point = 0
    for kind, state in model.states(rng):
        consider(kind, state, point)
    for op in parser.out.ops:
        model.step(op)
        ledger.see(op)
        point += 1
        # Right after a segment roll or a state-slot write: these states also go through the real `run`.
        sample_at = (op.kind == "add" and op.path.endswith(".seg")) or (
            op.kind == "sync" and op.ino == parser.ns.get(os.path.join(rec.root, meter, "state")))
        if op.kind == "marker" and op.text.startswith("evict "):
            rep.evictions += 1
        if op.kind == "marker" and op.text.startswith("lease "):
            rep.lease_marks += 1
        if op.kind == "marker" and op.text.startswith("cursor "):
            rep.cursor_marks += 1
        if op.kind == "add" and op.path.endswith(".seg"):
            rep.segment_rolls += 1
        elif sample_at:
            rep.slot_switches += 1
        states = list(model.states(rng))
        for kind, state in states:
            consider(kind, state, point)
        if sample_at and len(rep.samples) < sample_limit:
            # A power cut right there: everything unsynced dropped (or, when all is synced, the state as it is).
            kind, state = next((s for s in states if s[0] == "dropped"), states[0])
            rep.samples.append((point, kind, state, ledger.expect()))
    flush()
    rep.crash_points = point + 1
    rep.distinct = len(results)
    rep.written = ledger.hashes
    rep.profile_rows = len(ledger.rows)
    rep.results = results
    # The model's view after the last operation must be what the kernel holds: a check of the parser itself.
    rep.violations["seq"] += len(ledger.lease_regressions)
    rep.examples += [f"{rec.workload.name}: seq: durable lease below a seq handed out: {t}"
                     for t in ledger.lease_regressions[:2]]
    rep.model_matches_disk = read_tree(rec.root) == model.build(model.dir_pending, lambda i: model.cur.get(i, b""))
    return rep
