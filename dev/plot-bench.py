#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Renders the CSV of cpu_opv_bench into a PNG with two panels, or three.

    dev/plot-bench.py INPUT [-o OUTPUT.png] [--insncount INSNCOUNT.txt]

INPUT is the CSV written by "cpu_opv_bench -o FILE", or any log holding the
CSV that cpu_opv_bench prints between its "--- cpu_opv_bench csv begin ---"
and "--- cpu_opv_bench csv end ---" lines (a guest's serial console log, for
instance): the last such block is used, and kernel messages interleaved with
it are skipped. Left panel: median and p99 latency per operation, log scale.
Right panel: throughput of 1..N workers over that of one, for getppid and
local cpu_opv, as threads of one process and as separate processes.
With --insncount (dev/insncount's table), a third panel below: the
instructions of one local call of each kind, by stage.

Needs matplotlib from PyPI: "python3 -m pip install matplotlib" (in a venv,
or with --break-system-packages for Debian 12's own python3).
"""

import argparse
import csv
import re
import sys

BEGIN = "--- cpu_opv_bench csv begin ---"
END = "--- cpu_opv_bench csv end ---"
HEADER = "section,name,label,config,n,batch,median_ns,p99_ns,max_ns,ops_per_s,ratio,limit,result,lo,hi"
SECTIONS = ("latency", "scaling", "scaling_ratio", "irqoff", "floor")


def read_rows(path):
    """The CSV rows as dicts, from a plain CSV or from a log."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line.rstrip("\r\n").strip("\r") for line in f]
    if BEGIN in lines:
        start = len(lines) - 1 - lines[::-1].index(BEGIN)
        end = lines.index(END, start) if END in lines[start:] else len(lines)
        lines = lines[start + 1:end]
    if HEADER not in lines:
        sys.exit(f"{path}: no cpu_opv_bench CSV found")
    fields = HEADER.split(",")
    data = [line for line in lines if line.split(",", 1)[0] in SECTIONS]
    return [r for r in csv.DictReader(data, fieldnames=fields)
            if None not in r.values() and None not in r]


def read_stages(path):
    """dev/insncount's stages: [(call, total, [(stage, instructions)])], with
    getppid's total as its only stage."""
    calls, current = [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f.read().splitlines():
            m = re.match(r"^getppid\s+(\d+)\s+1\.00$", line)
            if m:
                calls.insert(0, ("getppid", int(m.group(1)), [("getppid", int(m.group(1)))]))
                continue
            m = re.match(r"^(.+): (\d+) instructions; stages", line)
            if m:
                current = (m.group(1), int(m.group(2)), [])
                calls.append(current)
                continue
            m = re.match(r"^  (\S.*?)\s+(\d+)\s+[\d.]+%", line)
            if current and m:
                current[2].append((m.group(1), int(m.group(2))))
            elif not line.startswith("  "):
                current = None
    return calls


def plot_stages(ax, calls):
    """Stacked bars: each call's instructions by stage."""
    from matplotlib import colormaps

    order = list(dict.fromkeys(stage for _, _, stages in calls for stage, _ in stages))
    colour = {stage: colormaps["tab20"](i % 20) for i, stage in enumerate(order)}
    labelled = set()
    y = range(len(calls))
    for i, (_, total, stages) in zip(y, calls):
        left = 0
        for stage, n in stages:
            ax.barh(i, n, left=left, height=0.6, color=colour[stage],
                    label=None if stage in labelled else stage)
            labelled.add(stage)
            left += n
        ax.annotate(f"{total:,}", (left, i), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(list(y), [c for c, _, _ in calls])
    ax.invert_yaxis()
    ax.set_xlabel("instructions of one call (dev/insncount: exact, single-stepped)")
    ax.set_title("Where a local call's instructions go, by stage", loc="left")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)


def plot(rows, out, stages=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if stages:
        fig = plt.figure(figsize=(15, 11))
        grid = fig.add_gridspec(2, 2, width_ratios=[3, 2], height_ratios=[6.5, 4])
        lat, sca = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        plot_stages(fig.add_subplot(grid[1, :]), stages)
    else:
        fig, (lat, sca) = plt.subplots(1, 2, figsize=(15, 6.5),
                                       gridspec_kw={"width_ratios": [3, 2]})

    latency = [r for r in rows if r["section"] == "latency"]
    labels = [r["label"] for r in latency]
    median = [float(r["median_ns"]) for r in latency]
    p99 = [float(r["p99_ns"]) for r in latency]
    y = range(len(latency))
    lat.barh([i - 0.2 for i in y], median, height=0.4, label="median")
    lat.barh([i + 0.2 for i in y], p99, height=0.4, label="p99")
    lat.set_yticks(list(y), labels)
    lat.invert_yaxis()
    lat.set_xscale("log")
    lat.set_xlim(min(median) / 2, max(p99) * 8)
    for i, v in zip(y, median):
        lat.annotate(f"{v:,.0f}", (max(v, p99[i]), i), xytext=(4, 0),
                     textcoords="offset points", va="center", fontsize=8)
    lat.set_xlabel("ns per operation (log scale; label: median)")
    lat.set_title("Latency", loc="left")
    lat.grid(axis="x", alpha=0.3)
    lat.legend(loc="lower right", bbox_to_anchor=(1, 1), ncol=2)

    scaling = [r for r in rows if r["section"] == "scaling"]
    top = 1
    for config, style in (("threads", "-"), ("processes", "--")):
        for name, marker in (("getppid", "o"), ("cpu_opv", "s")):
            pts = sorted((int(r["n"]), float(r["ratio"])) for r in scaling
                         if r["config"] == config and r["name"] == name)
            if not pts:
                continue
            n, s = zip(*pts)
            top = max(top, max(n))
            sca.plot(n, s, style, marker=marker, label=f"{name}, {config}")
    sca.plot([1, top], [1, top], ":", color="grey", label="linear")
    sca.set_xticks(range(1, top + 1))
    sca.set_xlabel("workers on distinct CPUs")
    sca.set_ylabel("throughput / throughput of 1 worker")
    sca.set_title("Scaling: local 1-add cpu_opv vs getppid")
    sca.grid(alpha=0.3)
    sca.legend()

    fig.suptitle("cpu_opv_bench: one boot; only ratios are meaningful "
                 "(absolute times under emulation are distorted)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("input", help="CSV, or a log containing the CSV")
    ap.add_argument("-o", "--output", default="cpu_opv_bench.png",
                    help="PNG to write (default: %(default)s)")
    ap.add_argument("--insncount", metavar="FILE",
                    help="dev/insncount's table: adds the panel of stages")
    args = ap.parse_args()
    rows = read_rows(args.input)
    stages = read_stages(args.insncount) if args.insncount else None
    try:
        plot(rows, args.output, stages)
    except ImportError:
        sys.exit("matplotlib is missing: python3 -m pip install matplotlib")
    print(args.output)


if __name__ == "__main__":
    main()
