#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reads what the guests printed and says honestly what passed.

KUnit results are parsed with the kernel's own parser (tools/testing/kunit/
kunit_parser.py). The kselftest runner's output is parsed here: kunit_parser
expects KTAP nesting by indentation, while run_kselftest.sh nests each
program's TAP under a "# " prefix, which kunit_parser reads as diagnostics.

Prints one line per suite or program, then "N passed, N failed[, N skipped]",
and exits non-zero on any failure, on a kernel report in any console log, or
when no test ran at all.
"""

import argparse
import csv
import io
import re
import statistics
import sys

# What a healthy kernel never prints. Each match fails the run.
REPORTS = re.compile(
    r"WARNING:|BUG:|Oops|KASAN|UBSAN:|KFENCE: |general protection fault|"
    r"possible .*(deadlock|recursive locking|circular locking).* detected|"
    r"inconsistent lock state|suspicious RCU usage|rcu.*(self-)?detected stall|"
    r"Call [Tt]race|Kernel panic|sleeping function called from invalid context|"
    r"scheduling while atomic|rust_panic|panicked at"
)


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped


def kunit(console, srctree, label="kunit"):
    sys.path.insert(0, f"{srctree}/tools/testing/kunit")
    import kunit_parser
    import kunit_printer

    with open(console, errors="replace") as f:
        lines = f.read().splitlines()
    printer = kunit_printer.Printer(print=False, output=io.StringIO())
    run = kunit_parser.parse_run_tests(lines, printer)
    total = Tally()
    for suite in run.subtests:
        c = suite.counts
        t = Tally()
        t.passed, t.failed, t.skipped = c.passed, c.failed + c.crashed + c.errors, c.skipped
        print(f"{label} {suite.name}: {t.passed} passed, {t.failed} failed, {t.skipped} skipped")
        total.add(t)
    if run.counts.errors and not run.subtests:
        print(f"{label}: no KTAP output found")
        total.failed += 1
    return total


RESULT = re.compile(r"^(not ok|ok) \d+ (.*?)(\s+#\s*(SKIP|skip).*)?$")


def tap(path, label):
    """Counts a kselftest runner's (or a plain TAP program's) results.

    Nested test cases ("# ok N name") are counted one by one; a program
    without nested results counts as one test. A program that fails at the
    top level fails even if all its cases passed (it crashed or timed out).
    """
    total = Tally()
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        print(f"{label}: no results file {path}")
        total.failed += 1
        return total
    nested = Tally()
    seen_plan = False
    for line in lines:
        if line.startswith("1.."):
            seen_plan = True
        if line.startswith("# "):
            m = RESULT.match(line[2:])
            if m:
                if m.group(3):
                    nested.skipped += 1
                elif m.group(1) == "ok":
                    nested.passed += 1
                else:
                    nested.failed += 1
                    print(f"{label}: FAILED {m.group(2)}")
            continue
        m = RESULT.match(line)
        if not m:
            continue
        name = m.group(2)
        top_failed = m.group(1) == "not ok"
        if nested.passed + nested.failed + nested.skipped == 0:
            if m.group(3):
                nested.skipped = 1
            elif top_failed:
                nested.failed = 1
            else:
                nested.passed = 1
        elif top_failed and nested.failed == 0:
            nested.failed = 1
        if top_failed:
            print(f"{label}: FAILED {name}")
        print(f"{label} {name}: {nested.passed} passed, {nested.failed} failed, "
              f"{nested.skipped} skipped")
        total.add(nested)
        nested = Tally()
    if not seen_plan:
        print(f"{label}: no TAP plan in {path}")
        total.failed += 1
    return total


def plain_tap(path, label):
    """Counts a plain TAP stream with one test case a line (librseq's suite).

    Prints the failed cases and one summary line. The stream must have a
    plan, and as many results as the plan says; a program's exit status
    that the guest wrote in it ("guest: ... exit status N") must be 0.
    """
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        print(f"{label}: no results file {path}")
        total = Tally()
        total.failed += 1
        return total
    return plain_tap_lines(lines, label, path)


def plain_tap_lines(lines, label, path):
    """plain_tap() on the lines of @path that hold the stream."""
    total = Tally()
    plan = None
    bad_status = 0
    for line in lines:
        if re.match(r"^1\.\.\d+", line):
            plan = int(line[3:].split()[0])
            continue
        if re.match(r"^guest: .* exit status \d+$", line):
            if not line.endswith(" exit status 0"):
                print(f"{label}: FAILED ({line})")
                bad_status += 1
            continue
        m = RESULT.match(line)
        if not m:
            continue
        if m.group(3):
            total.skipped += 1
        elif m.group(1) == "ok":
            total.passed += 1
        else:
            total.failed += 1
            print(f"{label}: FAILED {m.group(2)}")
    seen = total.passed + total.failed + total.skipped
    if plan is None or plan != seen:
        print(f"{label}: TAP plan {plan} but {seen} results in {path}")
        total.failed += 1
    total.failed += bad_status
    print(f"{label}: {total.passed} passed, {total.failed} failed, {total.skipped} skipped")
    return total


def print_notes(path, label):
    """Prints the diagnostic ("# ") lines of a TAP stream: what a test measured."""
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("# ") and not line.startswith("# Totals"):
                    print(f"{label}: {line[2:].rstrip()}")
    except FileNotFoundError:
        pass


def csv_rows(lines, program):
    """The rows of @program's CSV, between its markers in @lines."""
    begin, end = f"--- {program} csv begin ---", f"--- {program} csv end ---"
    block = lines[lines.index(begin) + 1:lines.index(end)] if begin in lines and end in lines else []
    # The first line of the block names the columns.
    return list(csv.DictReader(block))


def read_lines(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def bench(path):
    """The benchmark counts as one test: it passes if it ran to the end.

    cpu_opv_bench checks every measured loop (each call succeeded, each
    counter holds what it should) and exits non-zero otherwise; the guest
    prints its exit status after its output. It fails too if the
    benchmark's own hygiene check found instrumentation on in the measured
    path (a tracer, an enabled event, lockdep, cpu_opv's debug options).
    The floors are figures, not tests: they are shown, met or missed, and
    do not change the count.
    percpu_drain_bench, after it in the same log, counts by drain().
    """
    total = Tally()
    lines = read_lines(path)
    rows = csv_rows(lines, "cpu_opv_bench")
    # The benchmark's own hygiene check: figures from a kernel with
    # instrumentation on in the measured path are not figures.
    hygiene = [l for l in lines if l.startswith(("Clocksource:", "Instrumentation in", "Compiled in,"))]
    for l in hygiene:
        print(f"bench hygiene: {l}")
    dirty = [l for l in hygiene if l.startswith("Instrumentation in") and not l.endswith(": none")]
    for row in rows:
        if row["section"] == "floor":
            rng = (f" [{row['lo']}..{row['hi']} over {row['n']}]" if row.get("n") else "")
            print(f"bench floor, the kernel as built: {row['label']}: {row['ratio']}{rng} "
                  f"(limit {row['limit']}): "
                  f"{row['result']}")
        elif row["section"] == "noise":
            print(f"bench noise, the kernel as built: {row['label']}: {row['ratio']} "
                  f"[{row['lo']}..{row['hi']} over {row['n']}]")
    if dirty:
        print(f"bench: FAILED (instrumentation on in the measured path, {path})")
        total.failed = 1
    elif rows and "guest: benchmark exit status 0" in lines:
        print("bench cpu_opv_bench: 1 passed, 0 failed, 0 skipped")
        total.passed = 1
    else:
        print(f"bench: FAILED (no complete run in {path})")
        total.failed = 1
    total.add(drain(lines, path))
    return total


def layouts(bench_path, specs):
    """The floors over layouts of the same code (dev/bench-layouts).

    Under QEMU TCG a path's time depends on where its code lies (QEMU's
    jump cache, see dev/bench-layouts): one kernel is one sample of the
    layouts. Each floor is judged here on the median of its value over the
    benchmark kernel's run (@bench_path) and the runs of the shifted copies
    (@specs, LABEL=FILE), with the range. Each shifted run counts as one
    test, as the benchmark does: cpu_opv_bench checks every loop it times.
    The run of the kernel as built is counted, and its exit status and
    hygiene checked, by bench().
    """
    total = Tally()
    runs = [("+0x0", csv_rows(read_lines(bench_path), "cpu_opv_bench"))]
    for spec in specs:
        label, _, path = spec.partition("=")
        lines = read_lines(path)
        rows = csv_rows(lines, "cpu_opv_bench")
        if rows and "guest: cpu_opv_bench exit status 0" in lines:
            print(f"bench layout {label}: 1 passed, 0 failed, 0 skipped")
            total.passed += 1
            runs.append((label, rows))
        else:
            print(f"bench layout {label}: FAILED (no complete run in {path})")
            total.failed += 1
    floors = {}
    for label, rows in runs:
        for row in rows:
            if row["section"] == "floor" and row["result"] != "n/a":
                floors.setdefault(row["name"], []).append((label, row))
    for seen in floors.values():
        first = seen[0][1]
        values = [float(row["ratio"]) for _, row in seen]
        m, limit = statistics.median(values), float(first["limit"])
        met = m <= limit if first["config"] == "<=" else m >= limit
        each = " ".join(f"{label} {float(row['ratio']):.2f}" for label, row in seen)
        print(f"bench floor over {len(seen)} layouts: {first['label']}: median {m:.3f} "
              f"[{min(values):.3f}..{max(values):.3f}] (limit {first['limit']}): "
              f"{'met' if met else 'MISSED'} ({each})")
    # The floors' noise, where the benchmark measures it: the same statistic
    # on a comparison in which nothing differs (the scaling of null syscalls
    # by threads and by processes).
    noise = {}
    for label, rows in runs:
        for row in rows:
            if row["section"] == "noise":
                noise.setdefault(row["name"], []).append((label, row))
    for seen in noise.values():
        values = [float(row["ratio"]) for _, row in seen]
        each = " ".join(f"{label} {float(row['ratio']):.2f}" for label, row in seen)
        print(f"bench noise over {len(seen)} layouts: {seen[0][1]['label']}: median "
              f"{statistics.median(values):.3f} [{min(values):.3f}..{max(values):.3f}] ({each})")
    return total


DRAIN_RATIOS = {
    "throughput_drained_vs_undrained": "owners drained/undrained",
    "throughput_drained_vs_cpu_opv": "owners drained x design 1",
    "drain_latency_vs_cpu_opv": "drain latency x design 1",
}


def drain(lines, path):
    """percpu_drain_bench, which runs after cpu_opv_bench in the same log.

    Its TAP results count, one test a design (every object accounted for
    after each phase, no error), and it must exit 0. Its ratios are shown,
    and are not tests.
    """
    status = "guest: percpu_drain_bench exit status "
    start = next((i for i, l in enumerate(lines)
                  if l.startswith("guest: benchmark exit status")), None)
    end = next((i for i, l in enumerate(lines) if l.startswith(status)), None)
    if start is None or end is None or end < start:
        print(f"bench percpu_drain_bench: FAILED (no complete run in {path})")
        total = Tally()
        total.failed = 1
        return total
    part = lines[start + 1:end]
    figures = {}
    for row in csv_rows(part, "percpu_drain_bench"):
        if row["section"] in DRAIN_RATIOS:
            figures.setdefault(row["label"], []).append(
                f"{DRAIN_RATIOS[row['section']]} {row['value']} [{row['lo']}..{row['hi']}]")
    for label, text in figures.items():
        print(f"drain {label}: {', '.join(text)}")
    total = plain_tap_lines(part, "bench percpu_drain_bench", path)
    if lines[end] != status + "0":
        print(f"bench percpu_drain_bench: FAILED ({lines[end]})")
        total.failed += 1
    return total


def irqoff(path, label="irqoff"):
    """The irq-off statistic (cpu_opv_bench -I on the test kernel): one test.

    It passes if the statistic was read back for the worst-case vector on
    both the local and a remote CPU, which cpu_opv_bench -I checks.
    """
    total = Tally()
    lines = read_lines(path)
    for line in lines:
        if line.startswith(("remote ", "local ")):
            print(f"{label} {line}")
    if "guest: irqoff exit status 0" in lines:
        print(f"{label} cpu_opv_bench -I: 1 passed, 0 failed, 0 skipped")
        total.passed = 1
    else:
        print(f"{label}: FAILED (no complete run in {path})")
        total.failed = 1
    return total


def breakdown(path):
    """The breakdown of a call (dev/breakdown.py's table): one test.

    It passes if every row was traced and taken apart; the table is
    printed with the results.
    """
    total = Tally()
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    print(text, end="")
    if "Where the time of a cpu_opv() call goes" in text \
            and "no complete call" not in text and "no IPI handler" not in text:
        print("breakdown: 1 passed, 0 failed, 0 skipped")
        total.passed = 1
    else:
        print(f"breakdown: FAILED (no complete table in {path})")
        total.failed = 1
    return total


def reports(console):
    found = 0
    with open(console, errors="replace") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if REPORTS.search(line):
            found += 1
            if found == 1:
                print(f"kernel report in {console}:")
                print("\n".join("    " + l for l in lines[max(0, i - 5):i + 30]))
    if found:
        print(f"kernel reports: {found} line(s) in {console}")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--srctree", required=True)
    ap.add_argument("--kunit", action="append", default=[], metavar="[LABEL=]FILE",
                    help="console log with KUnit output")
    ap.add_argument("--tap", action="append", default=[], metavar="LABEL=FILE")
    ap.add_argument("--plain-tap", action="append", default=[], metavar="LABEL=FILE",
                    help="a plain TAP stream, one case a line")
    ap.add_argument("--show-notes", action="append", default=[], metavar="LABEL",
                    help="also print the '# ' lines of that plain TAP stream (measurements)")
    ap.add_argument("--bench", action="append", default=[],
                    help="output of the benchmark boot: cpu_opv_bench, then percpu_drain_bench")
    ap.add_argument("--layout", action="append", default=[], metavar="LABEL=FILE",
                    help="cpu_opv_bench on a shifted copy of the benchmark kernel "
                    "(dev/bench-layouts): the floors over layouts, with the --bench run")
    ap.add_argument("--irqoff", action="append", default=[], metavar="[LABEL=]FILE",
                    help="output of cpu_opv_bench -I")
    ap.add_argument("--breakdown", action="append", default=[],
                    help="dev/breakdown.py's table of where a call's time goes")
    ap.add_argument("--console", action="append", default=[], help="console log to check for reports")
    args = ap.parse_args()

    def labelled(spec, default):
        """[LABEL=]FILE: (LABEL or @default, FILE)."""
        label, sep, path = spec.partition("=")
        return (label, path) if sep else (default, spec)

    total = Tally()
    for spec in args.kunit:
        label, path = labelled(spec, "kunit")
        total.add(kunit(path, args.srctree, label))
    for spec in args.tap:
        label, _, path = spec.partition("=")
        total.add(tap(path, label))
    for spec in args.plain_tap:
        label, _, path = spec.partition("=")
        if label in args.show_notes:
            print_notes(path, label)
        total.add(plain_tap(path, label))
    for path in args.bench:
        total.add(bench(path))
    if args.layout:
        total.add(layouts(args.bench[0] if args.bench else "", args.layout))
    for spec in args.irqoff:
        label, path = labelled(spec, "irqoff")
        total.add(irqoff(path, label))
    for path in args.breakdown:
        total.add(breakdown(path))
    bad = 0
    for console in args.console:
        bad += reports(console)
    if bad:
        total.failed += 1
    print(f"{total.passed} passed, {total.failed} failed, {total.skipped} skipped")
    if total.passed == 0:
        print("no test passed: treating the run as failed")
        return 1
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main())
