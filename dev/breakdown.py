#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where the time of a cpu_opv() call goes, from function_graph traces.

Reads what dev/guest/breakdown.sh wrote (the guest's second serial port in
breakdown mode): for each benchmark row, a trace of N calls with graph depth
2 (the system call and the C functions the Rust core calls that make the
stages of a call, each with its duration; Rust functions are not traced, so
what the core does itself is the remainder). Prints, per row, the median
time of each stage of a call, and the share of each.

The durations are those of the breakdown kernel, whose tracer adds its own
cost to every traced function: they locate the cost, the benchmark's table
(another kernel, without a tracer) measures it. With the benchmark's
output, the tracer's cost per traced function is estimated from the
difference.

Usage: dev/breakdown.py GRAPH_TAP [--bench BENCH_TAP]
"""

import argparse
import base64
import bisect
import gzip
import re
import statistics
import struct
import sys

# The stage each C function belongs to, in the order a call goes through them.
STAGES = [
    ("copy-in", ("_copy_from_user", "copy_from_user", "__copy_from_user",
                 "_inline_copy_from_user", "rust_helper_copy_from_user")),
    ("mmap lock", ("down_read_killable", "down_read", "mmap_read_lock_killable",
                   "rust_helper_mmap_read_lock_killable", "__mmap_lock_do_trace_acquire_returned")),
    ("policy (VMA lookup)", ("find_vma", "vma_lookup", "rust_helper_vma_lookup", "mt_find",
                             "mtree_load")),
    ("page tables: lock", ("user_pte_table_lock",)),
    ("page tables: pages", ("user_pte_table_page_address",)),
    ("pin", ("pin_user_pages_fast_only", "pin_user_pages_fast", "get_user_pages_fast",
             "pin_user_pages", "internal_get_user_pages_fast")),
    ("dispatch", ("smp_call_function_single", "generic_exec_single", "sched_call_on_idle_cpu",
                  "__flush_smp_call_function_queue")),
    ("page tables: unlock", ("user_pte_table_unlock",)),
    ("mmap unlock", ("up_read", "rust_helper_mmap_read_unlock", "mmap_read_unlock")),
    ("unpin and dirty", ("unpin_user_pages_dirty_lock", "unpin_user_pages", "unpin_user_page",
                         "unpin_user_page_range_dirty_lock", "unpin_folio")),
]
STAGE_OF = {fn: stage for stage, fns in STAGES for fn in fns}
SYSCALLS = ("__x64_sys_cpu_opv",)
HANDLER = "generic_smp_call_function_single_interrupt"

LINE = re.compile(r"^\s*(\d+)\)\s*(?:[+!#*@$]\s*)?(?:([\d.]+) us\s*)?\|\s?(.*)$")
BLOCK = re.compile(r"^=== breakdown (\S+): (.*)$")


def parse_block(lines):
    """Calls of a block: (syscall durations, per-call child sums, handler durations)."""
    stacks = {}
    totals, children, handlers = [], [], []
    irq = {}
    for line in lines:
        if "==========>" in line or "<==========" in line:
            m = re.match(r"^\s*(\d+)\)", line)
            if m:
                cpu = int(m.group(1))
                irq[cpu] = irq.get(cpu, 0) + (1 if "==========>" in line else -1)
            continue
        m = LINE.match(line)
        if not m:
            continue
        cpu, dur, text = int(m.group(1)), m.group(2), m.group(3).strip()
        stack = stacks.setdefault(cpu, [])
        if text.endswith("{"):
            name = text[:-1].strip().rstrip("()")
            stack.append([name, {}])
            continue
        if text.startswith("}"):
            if not stack:
                continue
            name, kids = stack.pop()
            if dur is None:
                continue
            if name in SYSCALLS and not stack:
                totals.append(float(dur))
                children.append(kids)
            elif name == HANDLER and not stack:
                handlers.append(float(dur))
            elif stack:
                # A callee at depth 1 that has its own (depth-2) callees.
                add(stack[-1][1], name, float(dur))
            continue
        if text.endswith("();") and dur is not None:
            name = text[:-3].strip()
            if not stack:
                if name in SYSCALLS:
                    totals.append(float(dur))
                    children.append({})
                elif name == HANDLER:
                    handlers.append(float(dur))
                continue
            if irq.get(cpu, 0) > 0 and stack[-1][0] in SYSCALLS:
                name = "(interrupts)"
            add(stack[-1][1], name, float(dur))
    return totals, children, handlers


def add(kids, name, dur):
    """Adds a call of @name that took @dur to @kids: name -> [total, calls]."""
    entry = kids.setdefault(name, [0.0, 0])
    entry[0] += dur
    entry[1] += 1


def read(path):
    blocks, cur, header = {}, None, []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            m = BLOCK.match(line)
            if m:
                cur = m.group(1)
                blocks[cur] = {"status": m.group(2), "lines": []}
                continue
            if line.startswith("=== breakdown end"):
                cur = None
                continue
            if cur:
                blocks[cur]["lines"].append(line)
            elif line.startswith("breakdown:"):
                header.append(line)
    return blocks, header


def median(xs):
    return statistics.median(xs) if xs else 0.0


def bench_medians(path):
    """Medians of the benchmark's latency rows (ns), from its CSV."""
    out = {}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(",")
                if parts[0] == "latency" and len(parts) > 6:
                    out[parts[1]] = float(parts[6])
    except FileNotFoundError:
        pass
    return out


ROWS = [
    ("opv_local_empty", "local, empty vector"),
    ("opv_local_add", "local, 1 add"),
    ("opv_local_worst", "local, worst case"),
    ("opv_remote_add_busy", "remote 1 add, busy target"),
    ("opv_remote_add_idle", "remote 1 add, idle target"),
]


PROFILE = re.compile(r"^=== profile (\S+): (.*)$")
# What an idle CPU runs: the profile counts every CPU, and the benchmark
# keeps one busy; these samples are left out of the shares.
IDLE = re.compile(r"idle|halt|mwait|cpu_startup_entry")


def rust_name(sym):
    """A readable name for a Rust (v0-mangled) symbol: its identifiers, in order."""
    if not sym.startswith("_R"):
        return sym
    # Crate roots carry a disambiguator hash (Cs<base-62>_): drop it.
    sym = re.sub(r"Cs[0-9A-Za-z]*_", "C", sym)
    idents, i = [], 2
    while i < len(sym):
        m = re.match(r"(\d+)_?", sym[i:])
        if not m:
            i += 1
            continue
        n, start = int(m.group(1)), i + len(m.group(0))
        ident = sym[start:start + n]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident) and n > 1:
            idents.append(ident)
        i = start + n if n else start
    return "::".join(idents) if idents else sym


def profile(path, sysmap, top=12):
    """Prints, per profiled row, where the sampling profiler found the CPU."""
    syms = []
    with open(sysmap) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in "tTwW":
                syms.append((int(parts[0], 16), parts[2]))
    syms.sort()
    addrs = [a for a, _ in syms]
    stext = next(a for a, n in syms if n == "_stext")
    blocks, cur, buf = {}, None, []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            m = PROFILE.match(line)
            if m:
                cur, buf = (m.group(1), m.group(2)), []
                continue
            if line.startswith("=== profile end") and cur:
                blocks[cur] = "".join(buf)
                cur = None
                continue
            if cur:
                buf.append(line.strip())
    if not blocks:
        print("\nno sampling profile (boot the breakdown kernel with profile=2)")
        return 0
    print("\nWhere a local call's time goes inside the kernel, from the sampling")
    print("profiler (profile=2: the timer tick records where it interrupted the")
    print("kernel, per 4 bytes of text), the same kernel without the tracer")
    print("enabled; shares of the samples not in the idle loop (other CPUs idle).")
    print("Rust functions that the compiler inlined count in their caller:")
    print("cpu_opv_syscall is the core's own code. A tick that comes while")
    print("interrupts are off is taken once they are back on, after the return")
    print("of the helper that turns them on (sti's shadow), in cpu_opv::dispatch:")
    print("its share holds the interrupts-off time (the vector's lock and the")
    print("vector itself), besides its own code.")
    for (row, status), b64 in blocks.items():
        data = gzip.decompress(base64.b64decode(b64))
        vals = struct.unpack(f"<{len(data) // 4}I", data[:len(data) // 4 * 4])
        shift, counts = vals[0].bit_length() - 1, vals[1:]
        per = {}
        for i, c in enumerate(counts):
            if c:
                j = bisect.bisect_right(addrs, stext + (i << shift)) - 1
                name = syms[j][1] if j >= 0 else "?"
                per[name] = per.get(name, 0) + c
        busy = {n: c for n, c in per.items() if not IDLE.search(n)}
        total = sum(busy.values())
        print(f"\n{row}: {status}; {total} samples ({sum(per.values()) - total} idle)")
        for name, c in sorted(busy.items(), key=lambda x: -x[1])[:top]:
            print(f"  {100 * c / max(total, 1):5.1f}%  {rust_name(name)[:100]}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("graph")
    ap.add_argument("--bench", help="the benchmark's output, for its medians")
    ap.add_argument("--system-map", help="the breakdown kernel's System.map, for the profile")
    args = ap.parse_args()
    blocks, header = read(args.graph)
    bench = bench_medians(args.bench) if args.bench else {}
    missing = [r for r, _ in ROWS if r not in blocks]
    if missing:
        print(f"breakdown: no trace for {', '.join(sorted(set(missing)))} in {args.graph}")
        return 1

    print("Where the time of a cpu_opv() call goes: function_graph on the breakdown")
    print("kernel (the benchmark kernel with the tracer), medians over the traced")
    print("calls, in us of emulated time (TCG): only the shares mean something.")
    for line in header:
        print(line)
    print("Stages are the C functions the Rust core calls (traced at depth 2);")
    print("'Rust core' is the rest of the system call (validation, the decisions,")
    print("the C functions not traced); the vector itself runs within dispatch")
    print("(locally, or in the target's IPI handler). 'traced us': medians as")
    print("traced, tracer cost included; 'est. us': less the tracer's cost inside")
    print("each traced function, the Rust core as what is left of the benchmark's")
    print("median; shares of the benchmark's median. Entry and exit are not")
    print("traceable (noinstr): getppid's benchmark median stands for them.")
    bad = 0
    for row, label in ROWS:
        t2, kids, h2 = parse_block(blocks[row]["lines"])
        if not t2:
            print(f"\n{label}: no complete call traced ({blocks[row]['status']})")
            bad += 1
            continue
        names = sorted({n for k in kids for n in k})
        per = {n: median([k.get(n, [0.0, 0])[0] for k in kids]) for n in names}
        calls = {n: median([k.get(n, [0.0, 0])[1] for k in kids]) for n in names}
        total2 = median(t2)
        self_t = median([t - sum(v[0] for v in k.values()) for t, k in zip(t2, kids)])
        have_bench = row in bench and "getppid" in bench
        print(f"\n{label}: {len(t2)} calls traced; system call {total2:.2f} us traced"
              + (f"; benchmark median {bench[row] / 1000:.2f} us, getppid's "
                 f"{bench['getppid'] / 1000:.2f} us" if have_bench else ""))
        # The tracer's cost: inside a traced function, the traced duration of
        # up_read() (an atomic decrement); in all, the traced system call less
        # the benchmark's (less getppid's: entry and exit), over the traced
        # functions of a call.
        n_calls = sum(calls.values()) + 1
        est = {}
        if have_bench and "up_read" in per:
            body = (bench[row] - bench["getppid"]) / 1000
            inside = per["up_read"] / max(calls["up_read"], 1)
            est = {n: max(per[n] - inside * calls[n], 0.0) for n in names}
            est_rust = body - sum(est.values())
            if est_rust < 0:
                print(f"  (the stages' estimates exceed the benchmark's median by "
                      f"{-est_rust:.2f} us: the two kernels' runs differ by more than the Rust "
                      f"core costs; shown as 0)")
                est_rust = 0.0
            print(f"  tracer cost: {(total2 - body) / n_calls:.2f} us per traced function "
                  f"({n_calls:g} a call), {inside:.2f} us of it inside the function")
        whole = bench[row] / 1000 if have_bench else 0.0
        print(f"  {'stage':<20} {'function':<30} {'calls':>5} {'traced us':>9}"
              + (f" {'est. us':>8} {'share':>6}" if est else ""))
        if est:
            print(f"  {'entry and exit':<20} {'(getppid, benchmark)':<30} {'':>5} {'':>9} "
                  f"{bench['getppid'] / 1000:>8.2f} {100 * bench['getppid'] / 1000 / whole:>5.1f}%")
        grouped = {}
        for n in names:
            grouped.setdefault(STAGE_OF.get(n, "other C"), []).append(n)
        order = [s for s, _ in STAGES] + ["other C"]
        for stage in order:
            for n in sorted(grouped.get(stage, []), key=lambda n: -per[n]):
                line = f"  {stage:<20} {n:<30} {calls[n]:>5g} {per[n]:>9.2f}"
                if est:
                    line += f" {est[n]:>8.2f} {100 * est[n] / whole:>5.1f}%"
                print(line)
        line = f"  {'Rust core':<20} {'(the remainder)':<30} {'':>5} {self_t:>9.2f}"
        if est:
            line += f" {est_rust:>8.2f} {100 * est_rust / whole:>5.1f}%"
        print(line)
        if row.startswith("opv_remote"):
            if h2:
                print(f"  {'on the target CPU':<20} {'the IPI handler (the vector)':<30} "
                      f"{len(h2):>5} {median(h2):>9.2f} (within dispatch)")
            else:
                print("  no IPI handler traced on the target CPU")
                bad += 1
    if args.system_map:
        bad += profile(args.graph, args.system_map)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
