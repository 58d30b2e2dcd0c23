#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tbprof.py VMLINUX WINDOW [N]: a harness/tbprof.c window summed by kernel
function, the N (default 30) largest first, with the total; for each, the
instructions, their share, and the calls (runs of the block at the
function's first address; '-' for windows of an older tbprof)."""
import bisect
import subprocess
import sys


def main():
    vmlinux, window = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    syms = []
    nm = subprocess.run(["nm", "-n", vmlinux], capture_output=True, text=True, check=True)
    for line in nm.stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
    starts = [a for a, _ in syms]
    per, calls = {}, {}
    with open(window) as f:
        for line in f:
            addr, count, *runs = line.split()
            a = int(addr, 16)
            i = bisect.bisect_right(starts, a) - 1
            name = syms[i][1] if i >= 0 else "?"
            per[name] = per.get(name, 0) + int(count)
            if runs and i >= 0 and syms[i][0] == a:
                calls[name] = calls.get(name, 0) + int(runs[0])
    total = sum(per.values())
    print(f"{total:14d} instructions in the kernel")
    for name, count in sorted(per.items(), key=lambda x: -x[1])[:top]:
        n = calls.get(name, "-")
        print(f"{count:14d} {100 * count / max(total, 1):6.2f}% {n:>9} {name}")


main()
