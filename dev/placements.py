#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""QEMU TCG's jump-cache lookups of a call, over placements of its code.

Opt-in, for a closer look at dev/insncount's traces: under TCG a branch to
another page of code, a return or an indirect branch costs a lookup (see
dev/tcg_trace.py), so the same code costs more where a hot loop straddles
a page. dev/bench-layouts measures five such placements;
this counts the lookups of one stepped call in many, by moving the trace's
addresses from cpu_opv.o's first function on (everything linked after it
moves with it, memcpy() included), as dev/bench-layouts moves the code.

    INSN_DUMP=/tmp/dump.txt dev/insncount 1
    dev/placements.py ~/.cache/cpu_opv/build-bench/vmlinux /tmp/dump.txt \\
        "worst case" [PLACEMENTS [STEP [TOP]]]

Prints the mean, median and range of the lookups over PLACEMENTS shifts
(default 64) of STEP bytes (default 0x40), how many of them, on average,
are branches within a function that cross a page (what placement adds)
and how many go to another function, then the TOP (default 30) sources of
lookups by function, on average per call.
"""

import bisect
import collections
import statistics
import sys

import tcg_trace


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    vmlinux, dump, kind = sys.argv[1:4]
    nshift = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    step = int(sys.argv[5], 0) if len(sys.argv) > 5 else 0x40
    top = int(sys.argv[6]) if len(sys.argv) > 6 else 30

    syms = []
    first = None
    with open(vmlinux.replace("vmlinux", "System.map")) as f:
        for line in f:
            addr, typ, name = line.split()[:3]
            if typ not in "tTwW":
                continue
            syms.append((int(addr, 16), name))
            if first is None and name.startswith("_R") and "7cpu_opv" in name:
                first = int(addr, 16)
    if first is None:
        sys.exit("no cpu_opv function in the System.map beside " + vmlinux)
    syms.sort()
    addrs = [a for a, _ in syms]

    def function(pc):
        return syms[bisect.bisect_right(addrs, pc) - 1][1]

    calls = collections.defaultdict(list)
    with open(dump) as f:
        for line in f:
            k, r, pc, sp = line.rstrip("\n").split("\t")
            if k == kind:
                calls[int(r)].append((int(pc, 16), int(sp, 16)))
    if not calls:
        sys.exit("no call of kind %r in %s" % (kind, dump))
    # The shortest call, as dev/insncount counts it.
    trace = min(calls.values(), key=len)
    names = [function(pc) for pc, _ in trace]

    per = collections.Counter()
    totals = []
    for k in range(nshift):
        shift = k * step
        moved = [(pc + shift if pc >= first else pc, sp) for pc, sp in trace]
        n = 0
        for i, ((a, sa), (b, sb)) in enumerate(zip(moved, moved[1:])):
            if not tcg_trace.looks_up(a, sa, b, sb):
                continue
            ret = tcg_trace.is_return(a, sa, b, sb)
            n += 1
            src, dst = names[i], names[i + 1]
            how = "return" if ret else ("within" if src == dst else "to another")
            per[(src, how)] += 1
        totals.append(n)

    within = sum(v for (_, how), v in per.items() if how == "within") / nshift
    print("%s: %d instructions; lookups over %d placements %#x apart: "
          "mean %.1f, median %g [%d..%d]"
          % (kind, len(trace), nshift, step, statistics.mean(totals),
             statistics.median(totals), min(totals), max(totals)))
    print("  within a function, across a page: %.1f; calls, returns and "
          "branches to another function: %.1f"
          % (within, statistics.mean(totals) - within))
    for (name, how), v in per.most_common(top):
        print("  %6.2f  %-10s %s" % (v / nshift, how, name[:70]))


if __name__ == "__main__":
    main()
