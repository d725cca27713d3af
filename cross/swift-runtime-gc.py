#!/usr/bin/env python3
"""A copy of the toolchain's static Swift resource folder whose libswiftCore.a the linker can garbage-collect.

Usage: swift-runtime-gc.py STATIC_RESOURCE_DIR OUT_DIR

Why: the toolchain compiles the standard library with one section per function, but marks the sections of
its public functions SHF_GNU_RETAIN (they are `llvm.used`, so that no client of the shared library loses
them). In a static executable nothing can reach a function that no relocation names (there is no dynamic
symbol table), yet `--gc-sections` must keep all 8,000 of those sections: measured, 0.9 MB of the 12.5 MB
binary. This tool makes OUT_DIR a mirror of STATIC_RESOURCE_DIR (symbolic links: the same modules, shims,
swiftrt.o and static-executable-args.lnk) in which linux/libswiftCore.a is a copy with the retain flag
cleared on code sections (`.text.*`) only. Data, metadata and the runtime's registration sections
(`swift5_*`, found through __start_/__stop_ symbols) keep their flags. `make static` passes OUT_DIR to
swiftc as `-resource-dir`.

Only one bit per section header changes; the archive keeps its size and layout. Rebuilt only when the
toolchain's archive or this tool changes (a stamp in OUT_DIR names both).
"""
import hashlib
import os
import shutil
import struct
import sys

SHF_GNU_RETAIN = 0x200000
ARCHIVE = "libswiftCore.a"


def clear_retain_in_elf(buf: bytearray, base: int) -> int:
    """Clears SHF_GNU_RETAIN on `.text.*` sections of the ELF64 little-endian object at buf[base:]."""
    if buf[base:base + 4] != b"\x7fELF" or buf[base + 4] != 2 or buf[base + 5] != 1:
        return 0
    shoff = struct.unpack_from("<Q", buf, base + 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", buf, base + 0x3A)
    if shnum == 0:  # more than 0xff00 sections: the real count is in section 0's sh_size
        shnum = struct.unpack_from("<Q", buf, base + shoff + 0x20)[0]
    if shstrndx == 0xFFFF:  # likewise the string table's index, in section 0's sh_link
        shstrndx = struct.unpack_from("<I", buf, base + shoff + 0x28)[0]
    names = base + struct.unpack_from("<Q", buf, base + shoff + shstrndx * shentsize + 0x18)[0]
    cleared = 0
    for index in range(shnum):
        header = base + shoff + index * shentsize
        name_offset = struct.unpack_from("<I", buf, header)[0]
        flags = struct.unpack_from("<Q", buf, header + 8)[0]
        if not flags & SHF_GNU_RETAIN:
            continue
        start = names + name_offset
        if buf[start:start + 6] == b".text.":
            struct.pack_into("<Q", buf, header + 8, flags & ~SHF_GNU_RETAIN)
            cleared += 1
    return cleared


def clear_retain_in_archive(buf: bytearray) -> int:
    """Walks a System V `ar` archive in place; returns how many section headers changed."""
    if buf[:8] != b"!<arch>\n":
        raise SystemExit("swift-runtime-gc: not an ar archive")
    pos, cleared = 8, 0
    while pos + 60 <= len(buf):
        size = int(buf[pos + 48:pos + 58].decode().strip())
        cleared += clear_retain_in_elf(buf, pos + 60)
        pos += 60 + size + (size & 1)
    return cleared


def fingerprint(source: str) -> str:
    st = os.stat(source)
    with open(__file__, "rb") as f:
        tool = hashlib.sha256(f.read()).hexdigest()[:16]
    return f"{os.path.realpath(source)} {st.st_size} {st.st_mtime_ns} {tool}\n"


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.split("\n\n")[1])
    src, out = (os.path.abspath(p) for p in sys.argv[1:])
    source_archive = os.path.join(src, "linux", ARCHIVE)
    if not os.path.isfile(source_archive):
        raise SystemExit(f"swift-runtime-gc: {source_archive} not found: is {src} the toolchain's "
                         "usr/lib/swift_static (swift build --static-swift-stdlib needs it)?")
    stamp = os.path.join(out, ".source")
    want = fingerprint(source_archive)
    if os.path.isfile(stamp) and open(stamp).read() == want:
        return
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "linux"))
    for entry in os.listdir(src):
        if entry != "linux":
            os.symlink(os.path.join(src, entry), os.path.join(out, entry))
    for entry in os.listdir(os.path.join(src, "linux")):
        if entry != ARCHIVE:
            os.symlink(os.path.join(src, "linux", entry), os.path.join(out, "linux", entry))
    with open(source_archive, "rb") as f:
        buf = bytearray(f.read())
    cleared = clear_retain_in_archive(buf)
    if cleared == 0:
        # A toolchain that stops retaining needs none of this; say so rather than pretend.
        print(f"swift-runtime-gc: no retained code sections in {source_archive}; copied unchanged")
    with open(os.path.join(out, "linux", ARCHIVE), "wb") as f:
        f.write(buf)
    with open(stamp, "w") as f:
        f.write(want)
    print(f"swift-runtime-gc: {out}/linux/{ARCHIVE}: retain flag cleared on {cleared} code sections")


if __name__ == "__main__":
    main()
