"""Parses `strace -f -y -xx` output into file-system operations and marker lines, in completion order.

Every string and every path strace prints is hex (`-xx`), so no escaping rules matter; `-y` annotates each
descriptor with its path. Only what happens under the recorded state root matters, plus the writes to the
marker file; a memory map of any file under the root is reported (strace cannot see writes through a map).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

HEX = r'(?:\\x[0-9a-f]{2})*'
STRING = re.compile(r'"(' + HEX + r')"')
FDPATH = re.compile(r'^(-?\d+|AT_FDCWD)<(' + HEX + r')>$')
CALL = re.compile(r'^(\d+) +(\w+)\((.*)\) += (-?\d+|0x[0-9a-f]+)(?:<(' + HEX + r')>)?(?: .*)?$')
UNFINISHED = re.compile(r'^(\d+) +(\w+)\((.*) <unfinished \.\.\.>$')
RESUMED = re.compile(r'^(\d+) +<\.\.\. (\w+) resumed>(.*)$')


def unhex(s: str) -> bytes:
    return bytes.fromhex(s.replace("\\x", ""))


@dataclass
class Op:
    """One operation on the model. kind: write (ino, off, data), trunc (ino, size), sync (ino), syncall,
    add (path, ino, is_dir), unlink (path), rename (src, dst), marker (text)."""
    kind: str
    ino: int = -1
    off: int = 0
    data: bytes = b""
    size: int = 0
    path: str = ""
    dst: str = ""
    is_dir: bool = False
    text: str = ""
    syscall: str = ""


def split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments (brackets and braces nest; strings hold only \\xNN)."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


@dataclass
class Parsed:
    ops: list[Op] = field(default_factory=list)
    mmaps: list[str] = field(default_factory=list)  # state files mapped into memory (a failure)
    unsupported: list[str] = field(default_factory=list)


class TraceParser:
    """Feeds strace lines (several files in sequence: one per agent process) into a list of Ops. Inode numbers
    are the parser's own: a descriptor keeps its inode across unlink and rename, as in the kernel."""

    def __init__(self, root: str, marker_path: str, initial: dict | None = None):
        self.root = root.rstrip("/")
        self.marker_path = marker_path
        self.ns: dict[str, int] = {self.root: 0}  # path -> inode, the current namespace
        self.sizes: dict[int, int] = {}
        self.dirs: set[int] = {0}
        self.next_ino = 1
        self.fds: dict[int, list] = {}  # fd -> [ino or None, path, shared offset cell, append]
        self.pending: dict[str, str] = {}
        self.cut: list = []  # pwrite64 calls cut by SIGKILL: (line, path, data, offset)
        self.out = Parsed()
        # Files already on disk when the trace starts (relative path -> bytes, None for a directory).
        self.initial: dict[int, bytes | None] = {}
        for rel in sorted(initial or {}):
            ino = self.next_ino
            self.next_ino += 1
            self.ns[self.root + "/" + rel] = ino
            self.initial[ino] = initial[rel]
            if initial[rel] is None:
                self.dirs.add(ino)
            else:
                self.sizes[ino] = len(initial[rel])
        self.initial_ns = dict(self.ns)

    def inside(self, path: str) -> bool:
        return path == self.root or path.startswith(self.root + "/")

    def feed_file(self, path: str, before: dict | None = None) -> None:
        """`before`: the files (absolute path -> bytes) as the previous process, killed, left them. A pwrite64
        that SIGKILL cut (`= ?`) may have completed in the kernel or not: it is applied, at the end of that
        process's operations, when `before` shows its bytes in place (a completed write the model missed would
        otherwise make a crash state lose what the next process built on it)."""
        for line, fdpath, data, off in self.cut if before is not None else []:
            if before.get(fdpath, b"")[off:off + len(data)] == data:
                self.feed(line[:-1] + str(len(data)))
        self.cut = []
        self.fds = {}  # a new process: descriptors do not carry over
        with open(path, errors="replace") as f:
            for line in f:
                self.feed(line.rstrip("\n"))

    def feed(self, line: str) -> None:
        m = UNFINISHED.match(line)
        if m:
            self.pending[m.group(1)] = f"{m.group(1)} {m.group(2)}({m.group(3)}"
            return
        m = RESUMED.match(line)
        if m:
            head = self.pending.pop(m.group(1), None)
            if head is None:
                return
            line = head + m.group(3)
        if line.endswith("= ?"):
            # Interrupted by the SIGKILL: no result. A pwrite64 is kept to be resolved against the files the
            # killed process left (feed_file); any other cut call would show as a model/disk mismatch.
            m = CALL.match(line[:-1] + "0")
            if m and m.group(2) == "pwrite64":
                args = split_args(m.group(3))
                fd, fdpath = self.fd_of(args[0])
                if fd is not None and self.inside(fdpath):
                    self.cut.append((line, fdpath, unhex(STRING.match(args[1]).group(1)), int(args[3], 0)))
            return
        m = CALL.match(line)
        if not m:
            if not re.match(r'^\d+ +(\+\+\+|---) ', line) and line.strip():
                self.out.unsupported.append(f"unparsed strace line: {line[:120]}")
            return
        name, args, ret = m.group(2), split_args(m.group(3)), m.group(4)
        if ret.startswith("-"):
            return  # failed: no effect (a partial write returns its count, not -1)
        handler = getattr(self, "sys_" + name, None)
        if handler:
            handler(args, int(ret, 0), unhex(m.group(5)).decode() if m.group(5) is not None else None)

    # --- helpers ---

    def fd_of(self, arg: str):
        m = FDPATH.match(arg)
        if not m or m.group(1) == "AT_FDCWD":
            return None, None
        return int(m.group(1)), unhex(m.group(2)).decode()

    def path_arg(self, dirarg: str | None, arg: str) -> str:
        p = unhex(STRING.match(arg).group(1)).decode()
        if p.startswith("/") or dirarg is None:
            return p
        base = FDPATH.match(dirarg)
        return unhex(base.group(2)).decode().rstrip("/") + "/" + p

    def emit(self, op: Op) -> None:
        self.out.ops.append(op)

    def file_write(self, fd: int, fdpath: str, data: bytes, off: int | None, syscall: str) -> None:
        entry = self.fds.get(fd)
        if fdpath == self.marker_path:
            for text in data.decode(errors="replace").splitlines():
                self.emit(Op("marker", text=text, syscall=syscall))
            return
        if entry is None or entry[0] is None:
            return
        ino = entry[0]
        if off is None:
            off = self.sizes.get(ino, 0) if entry[3] else entry[2][0]
            entry[2][0] = off + len(data)
        if data:
            self.sizes[ino] = max(self.sizes.get(ino, 0), off + len(data))
            self.emit(Op("write", ino=ino, off=off, data=data, path=entry[1], syscall=syscall))

    # --- system calls ---

    def sys_open(self, args, ret, retpath):
        self._open(retpath, args[1], ret)

    def sys_openat(self, args, ret, retpath):
        self._open(retpath, args[2], ret)

    def sys_creat(self, args, ret, retpath):
        self._open(retpath, "O_CREAT|O_WRONLY|O_TRUNC", ret)

    def _open(self, path, flags, fd):
        if path is None:
            return
        if not self.inside(path):
            self.fds[fd] = [None, path, [0], False]
            return
        ino = self.ns.get(path)
        if ino is None:
            ino = self.next_ino
            self.next_ino += 1
            self.ns[path] = ino
            self.sizes[ino] = 0
            self.emit(Op("add", path=path, ino=ino, syscall="open"))
        elif "O_TRUNC" in flags and ino not in self.dirs:
            self.sizes[ino] = 0
            self.emit(Op("trunc", ino=ino, size=0, syscall="open"))
        self.fds[fd] = [None if ino in self.dirs else ino, path, [0], "O_APPEND" in flags]
        if ino in self.dirs:
            self.fds[fd][0] = ("dir", ino)

    def sys_close(self, args, ret, retpath):
        fd, _ = self.fd_of(args[0])
        self.fds.pop(fd, None)

    def _dup(self, args, ret):
        fd, _ = self.fd_of(args[0])
        if fd in self.fds:
            self.fds[ret] = self.fds[fd]

    def sys_dup(self, args, ret, retpath):
        self._dup(args, ret)

    sys_dup2 = sys_dup3 = sys_dup

    def sys_write(self, args, ret, retpath):
        fd, path = self.fd_of(args[0])
        if fd is not None:
            self.file_write(fd, path, unhex(STRING.match(args[1]).group(1))[:ret], None, "write")

    def sys_pwrite64(self, args, ret, retpath):
        fd, path = self.fd_of(args[0])
        if fd is not None:
            self.file_write(fd, path, unhex(STRING.match(args[1]).group(1))[:ret], int(args[3], 0), "pwrite64")

    def _iov(self, arg: str, ret: int) -> bytes:
        data = b"".join(unhex(s) for s in re.findall(r'iov_base="(' + HEX + r')"', arg))
        return data[:ret]

    def sys_writev(self, args, ret, retpath):
        fd, path = self.fd_of(args[0])
        if fd is not None:
            self.file_write(fd, path, self._iov(args[1], ret), None, "writev")

    def sys_pwritev(self, args, ret, retpath):
        fd, path = self.fd_of(args[0])
        if fd is not None:
            self.file_write(fd, path, self._iov(args[1], ret), int(args[3], 0), "pwritev")

    sys_pwritev2 = sys_pwritev

    def _ino_of_fd(self, arg):
        fd, path = self.fd_of(arg)
        entry = self.fds.get(fd)
        if entry is None or entry[0] is None:
            return None
        return entry[0]

    def sys_ftruncate(self, args, ret, retpath):
        ino = self._ino_of_fd(args[0])
        if isinstance(ino, int):
            self.sizes[ino] = int(args[1], 0)
            self.emit(Op("trunc", ino=ino, size=int(args[1], 0), syscall="ftruncate"))

    def sys_truncate(self, args, ret, retpath):
        path = self.path_arg(None, args[0])
        if self.inside(path) and path in self.ns:
            self.emit(Op("trunc", ino=self.ns[path], size=int(args[1], 0), syscall="truncate"))

    def sys_fallocate(self, args, ret, retpath):
        ino = self._ino_of_fd(args[0])
        if isinstance(ino, int) and args[1] == "0":
            end = int(args[2], 0) + int(args[3], 0)
            if end > self.sizes.get(ino, 0):
                self.emit(Op("write", ino=ino, off=self.sizes[ino], data=bytes(end - self.sizes[ino]),
                             syscall="fallocate"))
                self.sizes[ino] = end

    def sys_fsync(self, args, ret, retpath):
        ino = self._ino_of_fd(args[0])
        if isinstance(ino, tuple):
            self.emit(Op("dirsync", ino=ino[1], path=self.fds[self.fd_of(args[0])[0]][1], syscall="fsync"))
        elif ino is not None:
            self.emit(Op("sync", ino=ino, syscall="fsync"))

    sys_fdatasync = sys_fsync

    def sys_sync(self, args, ret, retpath):
        self.emit(Op("syncall", syscall="sync"))

    sys_syncfs = sys_sync

    def sys_mkdir(self, args, ret, retpath):
        self._mkdir(self.path_arg(None, args[0]))

    def sys_mkdirat(self, args, ret, retpath):
        self._mkdir(self.path_arg(args[0], args[1]))

    def _mkdir(self, path):
        if self.inside(path) and path not in self.ns:
            ino = self.next_ino
            self.next_ino += 1
            self.ns[path] = ino
            self.dirs.add(ino)
            self.emit(Op("add", path=path, ino=ino, is_dir=True, syscall="mkdir"))

    def _unlink(self, path, syscall):
        if self.inside(path) and path in self.ns:
            ino = self.ns.pop(path)
            if ino in self.dirs and any(p.startswith(path + "/") for p in self.ns):
                self.out.unsupported.append(f"{syscall} of a non-empty directory {path}")
            self.emit(Op("unlink", path=path, ino=ino, syscall=syscall))

    def sys_unlink(self, args, ret, retpath):
        self._unlink(self.path_arg(None, args[0]), "unlink")

    def sys_unlinkat(self, args, ret, retpath):
        self._unlink(self.path_arg(args[0], args[1]), "unlinkat")

    def sys_rmdir(self, args, ret, retpath):
        self._unlink(self.path_arg(None, args[0]), "rmdir")

    def _rename(self, src, dst, syscall):
        if not (self.inside(src) or self.inside(dst)):
            return
        if not (self.inside(src) and self.inside(dst)):
            self.out.unsupported.append(f"{syscall} across the state root: {src} -> {dst}")
            return
        ino = self.ns.pop(src)
        if ino in self.dirs:
            self.out.unsupported.append(f"{syscall} of a directory {src} (the model renames files only)")
        self.ns[dst] = ino
        self.emit(Op("rename", path=src, dst=dst, ino=ino, syscall=syscall))

    def sys_rename(self, args, ret, retpath):
        self._rename(self.path_arg(None, args[0]), self.path_arg(None, args[1]), "rename")

    def sys_renameat(self, args, ret, retpath):
        self._rename(self.path_arg(args[0], args[1]), self.path_arg(args[2], args[3]), "renameat")

    sys_renameat2 = sys_renameat

    def _link(self, src, dst, syscall):
        if self.inside(dst) and src in self.ns:
            self.ns[dst] = self.ns[src]
            self.emit(Op("add", path=dst, ino=self.ns[src], syscall=syscall))

    def sys_link(self, args, ret, retpath):
        self._link(self.path_arg(None, args[0]), self.path_arg(None, args[1]), "link")

    def sys_linkat(self, args, ret, retpath):
        self._link(self.path_arg(args[0], args[1]), self.path_arg(args[2], args[3]), "linkat")

    def sys_mmap(self, args, ret, retpath):
        if len(args) >= 5:
            fd, path = self.fd_of(args[4])
            if path is not None and self.inside(path):
                self.out.mmaps.append(f"mmap({path}, {args[2]}, {args[3]})")
