#!/usr/bin/env python3
"""Bytes a static link takes from each archive or object folder, read from a GNU-style linker map (lld or ld).

Usage: map-sizes.py LINK.map. Loaded sections only (no debug info, no .bss), so the total is close to the
stripped binary. Used by `make static-size-report` to say where the bytes come from when the size test fails.
"""
import collections
import re
import sys


def main(path: str) -> None:
    sizes: collections.Counter[str] = collections.Counter()
    skip = re.compile(r"^\.(debug|comment|symtab|strtab|shstrtab|bss|tbss|note)")
    lld = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if lld is None:
                lld = line.lstrip().startswith("VMA")
                continue
            if lld:
                # lld: VMA LMA Size Align Out In Symbol; only input-section rows name "file:(section)".
                parts = line.split(None, 4)
                if len(parts) < 5 or ":(" not in parts[4]:
                    continue
                size = int(parts[2], 16)
                where = parts[4].strip()
            else:
                raise SystemExit("map-sizes.py: not an lld map (the static link uses -use-ld=lld)")
            m = re.match(r"^(\S+?)(\((\S+)\))?:\((\S+)\)$", where)
            if not m or skip.match(m.group(4)) or size == 0:
                continue
            src = m.group(1)
            name = src.rsplit("/", 1)[-1]
            if name.endswith(".o"):
                name = "objects: " + src.rsplit("/", 2)[-2]
            sizes[name] += size
    total = sum(sizes.values())
    for name, size in sizes.most_common(25):
        print(f"{size / 1e6:8.2f} MB  {name}")
    print(f"{total / 1e6:8.2f} MB  total loaded sections")


if __name__ == "__main__":
    main(sys.argv[1])
