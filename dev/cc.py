#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The per-patch Cc: trailers of the series, from get_maintainer.pl.

    cc.py SRCTREE PATCHES_DIR SERIES_DIR [--check]

For each patch of PATCHES_DIR (not the cover letter), in the series order
of SERIES_DIR's NN-* directories, get_maintainer.pl of SRCTREE (a tree with
the whole series applied, so that MAINTAINERS has the cpu_opv entry) names
its maintainers, reviewers and lists, without git history. Those already
among SERIES_DIR/recipients (every mail gets them) and the maintainers of
MAINTAINERS.fragment's entry (who send it) are dropped; the rest is
written to SERIES_DIR/NN-*/cc, one per line, which dev/mkseries turns into
Cc: trailers (b4 and git send-email send each patch to its own trailers,
and the cover letter to all of them). --check: fail if a cc file differs.

A patch that touches the system call tables of many architectures (the
wiring of a new call, as every new call has) would be sent to every
architecture's maintainers: such a patch gets the lists of all the files
it touches (the architecture lists, linux-arch, linux-api) and the people
of its files outside arch/ only (the asm-generic and syscall table
maintainers), as new system calls are usually sent; for that patch, by its
files only (its commit message names architectures, which MAINTAINERS
keywords would match).
"""

import concurrent.futures
import email.utils
import os
import re
import subprocess
import sys
import tempfile

# Architectures touched, from which a patch counts as "every architecture".
MANY_ARCHES = 4


def get_maintainer(srctree, args):
    out = subprocess.run(
        [os.path.join(srctree, "scripts/get_maintainer.pl"), "--no-git",
         "--no-git-fallback", "--no-rolestats"] + args,
        cwd=srctree, capture_output=True, text=True, check=True).stdout
    return [l.strip() for l in out.splitlines() if l.strip()]


def files_of(patch):
    return sorted(set(re.findall(r"^\+\+\+ b/(\S+)$", open(patch).read(), re.M)))


def addr(line):
    return email.utils.parseaddr(line)[1].lower()


def recipients_of(srctree, patches, name):
    """get_maintainer.pl's answer for one patch, as cc.py's rules take it."""
    # Without the Cc: trailers this script made: their names would
    # match MAINTAINERS keywords (K: rust) and make themselves.
    text = open(os.path.join(patches, name)).read()
    msg, sep, diff = text.partition("\n---\n")
    msg = "\n".join(l for l in msg.split("\n") if not l.startswith("Cc: "))
    with tempfile.NamedTemporaryFile("w", suffix=".patch") as tmp:
        tmp.write(msg + sep + diff)
        tmp.flush()
        files = files_of(tmp.name)
        arches = {f.split("/")[1] for f in files if f.startswith("arch/")}
        if len(arches) >= MANY_ARCHES:
            # By its files only: the commit message names architectures
            # (MAINTAINERS keywords such as "riscv") that it does not touch.
            people = get_maintainer(srctree, ["--nol", "--no-keywords", "-f"] +
                                    [f for f in files if not f.startswith("arch/")])
            return people + get_maintainer(srctree, ["--nom", "--nor", "--no-keywords",
                                                     "-f"] + files)
        return get_maintainer(srctree, [tmp.name])


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    check = "--check" in sys.argv[1:]
    srctree, patches, series = args
    # MAINTAINERS as the whole series leaves it (the cpu_opv entry): the
    # tree dev/apply.sh checked out, the tip of its branch cpu_opv.
    head, tip = (subprocess.run(["git", "-C", srctree, "rev-parse", ref], capture_output=True,
                                text=True).stdout.strip() for ref in ("HEAD", "cpu_opv"))
    if not head or head != tip:
        sys.exit(f"cc.py: {srctree} is not at the tip of its branch cpu_opv (run dev/apply.sh)")
    everyone = {addr(l.split(":", 1)[1]) for l in open(os.path.join(series, "recipients"))
                if re.match(r"^(To|Cc):", l)}
    # The maintainers of MAINTAINERS.fragment's entry send the series.
    fragment = os.path.join(os.path.dirname(os.path.abspath(series)), "..", "MAINTAINERS.fragment")
    everyone |= {addr(l[3:]) for l in open(fragment) if l.startswith("M:\t")}
    dirs = sorted(d for d in os.listdir(series)
                  if re.match(r"^\d\d-", d) and os.path.isdir(os.path.join(series, d)))
    names = sorted(p for p in os.listdir(patches)
                   if p.endswith(".patch") and not p.startswith("0000-"))
    if len(dirs) != len(names):
        sys.exit(f"cc.py: {len(dirs)} patch directories, {len(names)} patches")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        answers = list(pool.map(lambda n: recipients_of(srctree, patches, n), names))
    stale = 0
    for d, cc in zip(dirs, answers):
        seen = set(everyone)
        lines = []
        for c in cc:
            if addr(c) not in seen:
                seen.add(addr(c))
                lines.append(c)
        text = "".join(l + "\n" for l in lines)
        path = os.path.join(series, d, "cc")
        old = open(path).read() if os.path.exists(path) else ""
        if old != text:
            if check:
                print(f"cc.py: {d}/cc is stale", file=sys.stderr)
                stale += 1
            else:
                open(path, "w").write(text)
        print(f"{d}: {len(lines)} Cc")
    if stale:
        sys.exit("cc.py: run dev/cc.py and dev/mkseries, and commit the result")


if __name__ == "__main__":
    main()
