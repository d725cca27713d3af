#!/usr/bin/python3
"""Runs a program under the seccomp filters that a systemd unit's settings give its service, as systemd 252 does.

Usage: unit_sandbox.py UNIT [--also-deny NAME]... [--self-test] [-- PROGRAM ARG...]

The system tests start `dlms-bridge run` through this, so that the unit's SystemCallFilter= (and what the agent
needs that it forbids) is tried on every run of `make test`, not first on a gateway. There is no systemd as
PID 1 on the test machines, so this is systemd's own recipe, carried out with libseccomp (which systemd uses):

- SystemCallFilter=: the first assignment, an allow-list, makes every other call fail; later `~` assignments
  take calls out again. Groups (`@system-service`, ...) are expanded by `systemd-analyze syscall-filter`, the
  same table the unit is loaded with. Always allowed besides, as systemd.exec(5) says: execve, exit,
  exit_group, getrlimit, rt_sigreturn, sigreturn and the clock/sleep calls (`@default`).
- SystemCallErrorNumber=: what a forbidden call returns (else the process is killed with SIGSYS).
- SystemCallArchitectures=native: libseccomp's default, a filter for the native ABI only.
- MemoryDenyWriteExecute=yes: mmap with both PROT_WRITE and PROT_EXEC, and mprotect/pkey_mprotect adding
  PROT_EXEC, fail with EPERM.
- RestrictAddressFamilies=: socket() of any other family fails with EAFNOSUPPORT.
- NoNewPrivileges=yes: set by libseccomp before loading (seccomp needs it without CAP_SYS_ADMIN anyway).

What it does not do (no PID 1 here): users, mount namespaces (ProtectSystem=, PrivateTmp=, ...), device
policy, capabilities. `systemd-analyze verify/security` check those settings (test_overlay.py).

--also-deny NAME takes a call or group out as one more `~` line would: the tests use it to show the filter
bites. --self-test loads the filters into this Python process and checks that they answer as systemd's would.
Runs with Debian's python3 and python3-seccomp (libseccomp's own binding), not the project's venv.
"""
from __future__ import annotations

import argparse
import errno
import functools
import os
import subprocess
import sys

try:
    import seccomp
except ImportError:
    sys.exit("unit_sandbox.py: the seccomp module is missing: apt-get install python3-seccomp (and run this with "
             "Debian's /usr/bin/python3)")

ALWAYS_ALLOWED = ("execve", "exit", "exit_group", "getrlimit", "rt_sigreturn", "sigreturn", "@default")
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
ADDRESS_FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}


def service_settings(unit_path: str) -> list[tuple[str, str]]:
    """(key, value) of the [Service] section in file order; repeated keys stay repeated."""
    settings, section = [], None
    with open(unit_path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                settings.append((key.strip(), value.strip()))
    return settings


@functools.cache
def expand(name: str) -> frozenset[str]:
    """A call name, or a group's calls with its nested groups expanded."""
    if not name.startswith("@"):
        return frozenset({name})
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name], capture_output=True,
                         text=True, check=True).stdout
    calls: set[str] = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            calls |= expand(item)
    return frozenset(calls)


def allowed_calls(settings, also_deny) -> tuple[set[str] | None, int | None]:
    """The allow-list the unit's SystemCallFilter= lines give (None: no filter), and the errno for the rest."""
    allowed: set[str] | None = None
    error = None
    lines = [v for k, v in settings if k == "SystemCallFilter"] + ["~" + n for n in also_deny]
    for value in lines:
        if value == "":
            allowed = None
            continue
        deny = value.startswith("~")
        names = value.lstrip("~").split()
        if allowed is None:
            if deny:
                raise SystemExit("unit_sandbox.py: a deny-list first (SystemCallFilter=~...) is not modelled")
            allowed = set()
            for n in ALWAYS_ALLOWED:
                allowed |= expand(n)
        for name in names:
            if ":" in name:
                raise SystemExit(f"unit_sandbox.py: per-call errno ({name}) is not modelled")
            allowed = (allowed - expand(name)) if deny else (allowed | expand(name))
    for key, value in settings:
        if key == "SystemCallErrorNumber":
            error = getattr(errno, value)
    return allowed, error


def filters(settings, also_deny) -> list[seccomp.SyscallFilter]:
    """The filters systemd would load, each on its own (the kernel applies the strictest answer of all)."""
    result = []
    allowed, error = allowed_calls(settings, also_deny)
    if allowed is not None:
        f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(error) if error else seccomp.KILL_PROCESS)
        for name in sorted(allowed):
            try:
                f.add_rule(seccomp.ALLOW, name)
            except (RuntimeError, ValueError):
                pass  # not a call on this architecture (systemd skips those too)
        result.append(f)
    if ("MemoryDenyWriteExecute", "yes") in settings:
        f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        wx = PROT_WRITE | PROT_EXEC
        f.add_rule(seccomp.ERRNO(errno.EPERM), "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, wx))
        f.add_rule(seccomp.ERRNO(errno.EPERM), "mprotect", seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC))
        f.add_rule(seccomp.ERRNO(errno.EPERM), "pkey_mprotect",
                   seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC))
        f.add_rule(seccomp.ERRNO(errno.EPERM), "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC))
        result.append(f)
    families = [v for k, v in settings if k == "RestrictAddressFamilies"]
    if families:
        keep = {ADDRESS_FAMILIES[n] for v in families for n in v.split()}
        f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        # socket(family, ...) with a family outside the list: every family number below the largest Linux has.
        for family in range(0, 46):
            if family not in keep:
                f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, family))
        result.append(f)
    return result


def self_test() -> None:
    """Inside the loaded filters: what the unit forbids fails as systemd makes it fail, the rest works."""
    import ctypes
    import socket

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    checks = []
    p = libc.mmap(None, 4096, PROT_WRITE | PROT_EXEC, 0x22, -1, 0)  # MAP_PRIVATE | MAP_ANONYMOUS
    checks.append(("mmap(PROT_WRITE|PROT_EXEC) fails with EPERM",
                   p in (None, ctypes.c_void_p(-1).value) and ctypes.get_errno() == errno.EPERM))
    p = libc.mmap(None, 4096, PROT_WRITE, 0x22, -1, 0)
    checks.append(("mmap(PROT_WRITE) works", p not in (None, ctypes.c_void_p(-1).value)))
    try:
        socket.socket(ADDRESS_FAMILIES["AF_NETLINK"], socket.SOCK_RAW, 0)
        checks.append(("socket(AF_NETLINK) fails with EAFNOSUPPORT", False))
    except OSError as e:
        checks.append(("socket(AF_NETLINK) fails with EAFNOSUPPORT", e.errno == errno.EAFNOSUPPORT))
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    checks.append(("socket(AF_INET) works", True))
    # setpriority is in @resources, which the unit takes out again: EPERM even for "leave it as it is".
    checks.append(("setpriority fails with EPERM (~@resources)",
                   libc.setpriority(0, 0, os.getpriority(os.PRIO_PROCESS, 0)) == -1
                   and ctypes.get_errno() == errno.EPERM))
    checks.append(("getpid works", os.getpid() > 0))
    for what, ok in checks:
        print(("ok   " if ok else "FAIL ") + what)
    sys.exit(0 if all(ok for _, ok in checks) else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("unit")
    parser.add_argument("--also-deny", action="append", default=[])
    parser.add_argument("--self-test", action="store_true")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    program = argv[split + 1:]
    if not args.self_test and not program:
        parser.error("a PROGRAM to run, after --")
    settings = service_settings(args.unit)
    loaded = filters(settings, args.also_deny)
    if not loaded:
        sys.exit(f"unit_sandbox.py: {args.unit} sets no seccomp-based sandboxing")
    # The allow-list goes last: it forbids seccomp() itself, so nothing could be loaded after it.
    for f in reversed(loaded):
        f.load()
    if args.self_test:
        self_test()
    os.execv(program[0], program)


if __name__ == "__main__":
    main()
