"""An in-memory model of the state directory under power loss, and the crash states it may leave.

What a power cut may do (the model; docs/spool.md explains it):
- Data written to a file and not yet fsync'ed/fdatasync'ed may be lost, in part or whole, in any combination of
  512-byte sectors, and the sector being written may be torn (the rest of it old, zero or garbage).
- A directory entry created, renamed or removed is durable only once that directory is fsync'ed (an fsync of
  the file is not assumed to persist its name: POSIX does not promise it and some file systems do not do it).
- A completed fsync/fdatasync makes that file's data and size durable; a directory fsync makes its entries
  durable; sync/syncfs everything. Nothing durable is lost (a card that lies about a flush is out of scope).
"""
from __future__ import annotations

import hashlib
import os
import random

from straceparse import Op

SECTOR = 512


def apply(base: bytes, ops) -> bytearray:
    out = bytearray(base)
    for op in ops:
        if op.kind == "write":
            end = op.off + len(op.data)
            if end > len(out):
                out.extend(bytes(end - len(out)))
            out[op.off:end] = op.data
        elif op.kind == "trunc":
            if op.size < len(out):
                del out[op.size:]
            else:
                out.extend(bytes(op.size - len(out)))
    return out


def sector_pieces(op: Op) -> list[Op]:
    """A write split at 512-byte boundaries of the file: the units a power cut may keep or lose."""
    if op.kind != "write":
        return [op]
    pieces, pos = [], op.off
    end = op.off + len(op.data)
    while pos < end:
        nxt = min(end, (pos // SECTOR + 1) * SECTOR)
        pieces.append(Op("write", ino=op.ino, off=pos, data=op.data[pos - op.off:nxt - op.off]))
        pos = nxt
    return pieces


class Model:
    def __init__(self, root: str, parser=None):
        self.root = root
        self.cur_ns: dict[str, int] = {root: 0}
        self.dur_ns: dict[str, int] = {root: 0}
        self.dir_pending: list[Op] = []  # create/rename/unlink not yet made durable by a directory fsync
        self.dirs = {0}
        self.cur: dict[int, bytearray] = {}
        self.dur: dict[int, bytes] = {}
        self.pend: dict[int, list[Op]] = {}  # unsynced writes and truncations per inode, in order
        self.last_write: Op | None = None
        if parser is not None and parser.initial:
            # A trace that starts on an existing directory (a crash state): all of it durable.
            for path, ino in parser.initial_ns.items():
                if ino in parser.initial:
                    self.cur_ns[path] = self.dur_ns[path] = ino
                    if parser.initial[ino] is None:
                        self.dirs.add(ino)
                    else:
                        self.cur[ino] = bytearray(parser.initial[ino])
                        self.dur[ino] = parser.initial[ino]

    @staticmethod
    def parents(op: Op) -> set[str]:
        out = {os.path.dirname(op.path)}
        if op.kind == "rename":
            out.add(os.path.dirname(op.dst))
        return out

    @staticmethod
    def apply_dir(ns: dict[str, int], op: Op) -> None:
        if op.kind == "add":
            ns[op.path] = op.ino
        elif op.kind == "unlink":
            ns.pop(op.path, None)
        elif op.kind == "rename" and op.path in ns:
            ns[op.dst] = ns.pop(op.path)

    def step(self, op: Op) -> None:
        k = op.kind
        if k in ("write", "trunc"):
            self.cur.setdefault(op.ino, bytearray())
            self.cur[op.ino] = apply(self.cur[op.ino], [op])
            self.pend.setdefault(op.ino, []).append(op)
            self.last_write = op if k == "write" else None
        elif k == "sync":
            self.dur[op.ino] = bytes(self.cur.get(op.ino, b""))
            self.pend[op.ino] = []
            if self.last_write is not None and self.last_write.ino == op.ino:
                self.last_write = None
        elif k in ("add", "unlink", "rename"):
            if k == "add" and op.is_dir:
                self.dirs.add(op.ino)
            if k == "add" and not op.is_dir:
                self.cur.setdefault(op.ino, bytearray())
            self.apply_dir(self.cur_ns, op)
            self.dir_pending.append(op)
        elif k == "dirsync":
            keep = []
            for d in self.dir_pending:
                if op.path in self.parents(d):
                    self.apply_dir(self.dur_ns, d)
                else:
                    keep.append(d)
            self.dir_pending = keep
        elif k == "syncall":
            for d in self.dir_pending:
                self.apply_dir(self.dur_ns, d)
            self.dir_pending = []
            for ino, data in self.cur.items():
                self.dur[ino] = bytes(data)
                self.pend[ino] = []
            self.last_write = None

    # --- crash states ---

    def build(self, dir_ops, content) -> dict[str, bytes | None]:
        """A crash state: relative path -> bytes (None for a directory). `dir_ops` are the pending directory
        operations that reached the card; `content(ino)` the bytes of a file."""
        ns = dict(self.dur_ns)
        for op in dir_ops:
            self.apply_dir(ns, op)
        out: dict[str, bytes | None] = {}
        for path, ino in ns.items():
            if path == self.root:
                continue
            parent = os.path.dirname(path)
            reachable = True
            while parent != self.root:  # an entry in a directory whose own entry was lost is gone with it
                if ns.get(parent) not in self.dirs:
                    reachable = False
                    break
                parent = os.path.dirname(parent)
            if reachable:
                out[os.path.relpath(path, self.root)] = None if ino in self.dirs else bytes(content(ino))
        return out

    def durable(self, ino):
        return self.dur.get(ino, b"")

    def states(self, rng: random.Random, omit_limit: int = 8, random_count: int = 2):
        """(kind, state) for every kind of crash state at this point."""
        cur = lambda ino: self.cur.get(ino, b"")
        pending_writes = [op for ops in self.pend.values() for op in ops]
        yield "prefix", self.build(self.dir_pending, cur)
        if pending_writes or self.dir_pending:
            yield "dropped", self.build([], self.durable)
        # Each unsynced write left out alone (evenly sampled beyond omit_limit, always the first and last).
        chosen = pending_writes
        if len(chosen) > omit_limit:
            step = (len(chosen) - 1) / (omit_limit - 1)
            chosen = [pending_writes[round(i * step)] for i in range(omit_limit)]
        for left_out in chosen:
            yield "omit-one", self.build(self.dir_pending, lambda ino, x=left_out: (
                apply(self.durable(ino), [o for o in self.pend.get(ino, []) if o is not x])
                if ino == x.ino else cur(ino)))
        # The last write torn after each sector boundary inside it: the rest zero, or garbage.
        w = self.last_write
        if w is not None and w.kind == "write":
            start, end = w.off, w.off + len(w.data)
            for b in range((start // SECTOR + 1) * SECTOR, end, SECTOR):
                keep = b - start
                for kind, fill in (("torn-zero", bytes(len(w.data) - keep)),
                                   ("torn-garbage", rng.randbytes(len(w.data) - keep))):
                    torn = Op("write", ino=w.ino, off=w.off, data=w.data[:keep] + fill)
                    yield kind, self.build(self.dir_pending, lambda ino, t=torn: (
                        apply(self.durable(ino), [t if o is w else o for o in self.pend.get(ino, [])])
                        if ino == w.ino else cur(ino)))
        # Each create/rename/unlink not yet followed by a directory fsync undone alone.
        for undone in self.dir_pending:
            yield "undo-dirop", self.build([d for d in self.dir_pending if d is not undone], cur)
        # Seeded random subsets of the unsynced sectors and directory operations.
        if pending_writes or self.dir_pending:
            for _ in range(random_count):
                kept_dirs = [d for d in self.dir_pending if rng.random() < 0.5]
                picks = {}
                for ino, ops in self.pend.items():
                    picks[ino] = [p for o in ops for p in sector_pieces(o) if rng.random() < 0.5]
                yield "random", self.build(kept_dirs, lambda ino: apply(self.durable(ino), picks.get(ino, [])))


def state_hash(state: dict[str, bytes | None]) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(state):
        data = state[path]
        h.update(path.encode() + (b"/D" if data is None else b"/F%d:" % len(data)))
        if data is not None:
            h.update(data)
    return h.digest()


def materialize(state: dict[str, bytes | None], where: str) -> None:
    os.makedirs(where, exist_ok=True)
    for path in sorted(state):
        full = os.path.join(where, path)
        if state[path] is None:
            os.makedirs(full, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(state[path])
