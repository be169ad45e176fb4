# SPDX-License-Identifier: GPL-2.0
"""Counts the instructions of one system call of each kind that
dev/guest/cpu_opv_spin.c makes, single-stepping the guest through QEMU's
gdb stub (gdb -x this file; see dev/insncount, which sets the environment).

TCG's timings magnify whatever the emulator does slowly (a soft-TLB miss,
an indirect branch); an instruction count is exact and repeatable, and is
what a native CPU's time follows most closely for short kernel paths.
Each call is stepped from entry_SYSCALL_64 to the first user-space
instruction after it, interrupts masked (QEMU's default for gdb
single-stepping). A rep-prefixed string instruction counts once. Reports,
per kind: the total, the instructions per function (self), and the
instructions inside the calls of the functions the stages of a cpu_opv()
call are made of (inclusive, from the stack pointer: a function's call
ends when the stack pointer rises above its entry value).
"""
import bisect
import collections
import io
import os
import subprocess
import sys

import gdb

# dev/tcg_trace.py, beside this file (gdb -x does not put its directory on
# the module path; dev/insncount names it).
sys.path.insert(0, os.environ.get("INSN_DEV") or os.path.dirname(os.path.abspath(__file__)))
import tcg_trace  # noqa: E402

VMLINUX = os.environ["INSN_VMLINUX"]
NR_GETPPID = 110
NR_CPU_OPV = int(os.environ.get("INSN_NR_CPU_OPV", "473"))
ROUNDS = int(os.environ.get("INSN_ROUNDS", "3"))
# A call stepped this long spins on a lock that a stopped vCPU holds (only
# the stepped vCPU runs): it is dropped, and another call is taken. Calls
# that fault their pages in are far shorter, and not counted (faulted()).
MAX_STEPS = int(os.environ.get("INSN_MAX_STEPS", "50000"))
CPU_MEMCPY_OP = 2
USER_TOP = 1 << 47

# (stage, functions whose inclusive counts it sums; of the names in a tuple,
# the largest count is taken: other names of one function, or a wrapper and
# the function it calls, or functions a call only uses one of). In the order a call
# goes through them; "entry and exit" is what lies outside the system call's
# function, "the Rust core" what no stage counts: the validation, the
# decisions, the layout or the mapping of the operands, the interpreter.
SYSCALL = "__x64_sys_cpu_opv"
STAGES = [
    ("copy-in", [("rust_helper_copy_from_user", "_copy_from_user", "_inline_copy_from_user")]),
    ("mmap lock", [("rust_helper_mmap_read_lock_killable", "down_read_killable")]),
    ("VMA lookup (policy)", [("rust_helper_vma_lookup", "vma_lookup", "find_vma")]),
    ("untagging", ["cpu_opv_untag_addrs"]),
    ("page tables: lock", ["user_pte_table_lock"]),
    ("page checks", ["user_pte_table_page_address"]),
    ("pin", [("pin_user_pages_fast_only", "pin_user_pages_fast")]),
    ("dispatch: IPI", ["smp_call_function_single"]),
    ("dispatch: idle CPU", ["sched_call_on_idle_cpu"]),
    ("interrupts off, on", ["rust_helper_local_interrupt_disable",
                            "rust_helper_local_interrupt_enable"]),
    ("vector lock", ["cpu_opv_lock_vectors", "cpu_opv_unlock_vectors"]),
    ("user accesses", ["rust_helper_pagefault_disable", "rust_helper_pagefault_enable"]
     + ["rust_helper_%s_user_u%d" % (d, w) for d in ("get", "put") for w in (8, 16, 32, 64)]),
    ("memcpy", [("memcpy", "__memcpy", "__pi_memcpy")]),
    ("page tables: unlock", ["user_pte_table_unlock"]),
    ("mmap unlock", [("rust_helper_mmap_read_unlock", "up_read")]),
    ("unpin and dirty", [("unpin_user_pages_dirty_lock", "unpin_user_page",
                          "unpin_user_pages")]),
    ("fatal signal check", ["rust_helper_fatal_signal_pending"]),
]


def symbols():
    out = subprocess.run(["nm", "-n", "-C", VMLINUX], capture_output=True,
                         text=True, check=True).stdout
    addrs, names = [], []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            addrs.append(int(parts[0], 16))
            names.append(parts[2])
    return addrs, names


ADDRS, NAMES = symbols()
STARTS = {}
for a, n in zip(ADDRS, NAMES):
    STARTS.setdefault(a, n)


def func(pc):
    i = bisect.bisect_right(ADDRS, pc) - 1
    return NAMES[i] if i >= 0 else hex(pc)


def reg(name):
    return int(gdb.parse_and_eval("$" + name)) & ((1 << 64) - 1)


def kind():
    nr = reg("rax")
    if nr == NR_GETPPID:
        return "getppid"
    if nr != NR_CPU_OPV:
        return None
    cnt = reg("rsi")
    if cnt == 0:
        return "empty vector"
    op = int(gdb.parse_and_eval("*(int *)%d" % reg("rdi")))
    if cnt == 1:
        return "4096B copy" if op == CPU_MEMCPY_OP else "1 add"
    if cnt == 4:
        return "worst case" if op == CPU_MEMCPY_OP else "4 compares"
    return None


FAULT_HANDLERS = ("asm_exc_page_fault", "exc_page_fault")


def faulted(trace):
    """Whether the stepped call took a page fault: it faulted its pages in
    (or a NUMA hinting fault hit them), and is longer than the calls that
    the benchmark times."""
    return any(func(pc) in FAULT_HANDLERS for pc, _ in trace)


def step_call():
    """Steps one system call; returns [(pc, sp)], a rep string once, or
    None after MAX_STEPS instructions."""
    trace = []
    while True:
        pc = reg("pc")
        if pc < USER_TOP:
            return trace
        if len(trace) >= MAX_STEPS:
            return None
        if not trace or trace[-1][0] != pc:
            trace.append((pc, reg("rsp")))
        gdb.execute("stepi", to_string=True)


def inclusive(trace):
    """Instructions inside each call of a function, summed per name."""
    incl = collections.Counter()
    calls = collections.Counter()
    for i, (pc, sp) in enumerate(trace):
        name = STARTS.get(pc)
        if name is None:
            continue
        j = i + 1
        while j < len(trace) and trace[j][1] <= sp:
            j += 1
        incl[name] += j - i
        calls[name] += 1
    return incl, calls


def jump_cache(trace, rounds=3):
    """QEMU TCG's jump-cache lookups of one call (dev/tcg_trace.py says
    which steps look up), and how many of them miss once the call repeats.

    Two hot blocks of a call whose addresses hash alike evict each other
    on every call: the misses are what the code's placement adds to the
    call's time under TCG (about 27 ns each here,
    dev/results/perf-changes.txt), and differ between two builds of the
    same code. The lookups of the entry point and of the user-space return
    address (outside the trace) are not counted.
    """
    targets = tcg_trace.lookups(trace)
    cache = {}
    misses = 0
    for _ in range(rounds):
        misses = 0
        for t in targets:
            if cache.get(tcg_trace.slot(t)) != t:
                misses += 1
                cache[tcg_trace.slot(t)] = t
    return len(targets), misses


def main():
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute("target remote localhost:%s" % os.environ.get("INSN_PORT", "1234"))
    # Step the vCPU that hit the breakpoint only.
    gdb.execute("set scheduler-locking step")
    entry = next(a for a, n in zip(ADDRS, NAMES) if n == "entry_SYSCALL_64")
    gdb.execute("hbreak *0x%x" % entry, to_string=True)
    want = ["getppid", "empty vector", "1 add", "4096B copy", "4 compares",
            "worst case"]
    traces = collections.defaultdict(list)
    dropped = 0
    faults = 0
    while any(len(traces[k]) < ROUNDS for k in want):
        gdb.execute("continue", to_string=True)
        k = kind()
        if k is None or len(traces[k]) >= ROUNDS:
            continue
        trace = step_call()
        if trace is None:
            dropped += 1
            if dropped > 10 * ROUNDS:
                raise gdb.GdbError("%d calls stepped past %d instructions"
                                   % (dropped, MAX_STEPS))
            continue
        if faulted(trace):
            faults += 1
            if faults > 10 * ROUNDS:
                raise gdb.GdbError("%d calls took a page fault" % faults)
            continue
        traces[k].append(trace)
    gdb.execute("delete")
    gdb.execute("detach")
    dump = os.environ.get("INSN_DUMP")
    if dump:
        # The stepped calls, for a closer look: "kind round pc sp" lines.
        with open(dump, "w") as f:
            for k in want:
                for r, trace in enumerate(traces[k]):
                    for pc, sp in trace:
                        f.write("%s\t%d\t%x\t%x\n" % (k, r, pc, sp))
    # The table is written whole, or not at all: a script that raised
    # halfway would leave gdb -batch's exit status 0 and a cut-off table.
    saved, sys.stdout = sys.stdout, io.StringIO()
    try:
        report(traces, want, faults, dropped)
        text = sys.stdout.getvalue()
    finally:
        sys.stdout = saved
    path = os.environ.get("INSN_OUT")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    else:
        sys.stdout.write(text)


def report(traces, want, faults, dropped):
    """Prints the tables of the stepped calls."""

    totals = {k: sorted(len(t) for t in traces[k]) for k in want}
    base = totals["getppid"][0]
    print("Instructions per system call, from entry_SYSCALL_64 to the return to")
    print("user space (QEMU gdb stub, single-stepped, interrupts masked); %d call%s"
          % (ROUNDS, "" if ROUNDS == 1 else "s"))
    print("of each kind, counted after the benchmark's loop ran a while; a call")
    print("that takes a page fault is not counted (%d skipped)." % faults)
    if dropped:
        print("(%d call%s dropped after %d instructions: spinning on a lock that"
              % (dropped, "" if dropped == 1 else "s", MAX_STEPS))
        print("a stopped vCPU held)")
    print()
    print("%-14s %30s %10s" % ("call", "instructions (each call)", "x getppid"))
    for k in want:
        print("%-14s %30s %10.2f" % (k, " ".join(map(str, totals[k])),
                                     totals[k][0] / base))
    print("(x getppid: the shortest call of each kind)")
    print()
    print("QEMU TCG jump cache, per call repeated (see jump_cache() in")
    print("dev/insncount.py): lookups, and misses that the code's placement causes")
    for k in want:
        lookups, misses = jump_cache(min(traces[k], key=len))
        print("  %-14s %5d lookups %4d misses" % (k, lookups, misses))
    for k in want[1:]:
        # The shortest call.
        trace = min(traces[k], key=len)
        own = collections.Counter(func(pc) for pc, _ in trace)
        incl, calls = inclusive(trace)
        print()
        print("%s: %d instructions; stages (each the instructions inside the "
              "calls of its functions)" % (k, len(trace)))
        def row(stage, n, c=None):
            print("  %-22s %6d  %5.1f%%%s" % (
                stage, n, 100 * n / len(trace),
                "" if c is None else "  (%d call%s)" % (c, "" if c == 1 else "s")))
        if not incl[SYSCALL]:
            raise gdb.GdbError("%s: no call of %s in the trace" % (k, SYSCALL))
        outside = len(trace) - incl[SYSCALL]
        row("entry and exit", outside)
        staged = outside
        for stage, funcs in STAGES:
            n = c = 0
            for f in funcs:
                names = f if isinstance(f, tuple) else (f,)
                n += max(incl[name] for name in names)
                c += max(calls[name] for name in names)
            if n:
                row(stage, n, c)
                staged += n
        row("the Rust core (rest)", len(trace) - staged)
        print("  functions by own instructions (the first 25):")
        for name, n in own.most_common(25):
            print("  %6d  %-70s %s" % (n, name[:70],
                                       "(%d calls)" % calls[name] if calls[name] else ""))


main()
