#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Inserts the MAINTAINERS.fragment entry into MAINTAINERS, in order.

    maintainers.py MAINTAINERS FRAGMENT EXISTING_PATH...

Writes the new MAINTAINERS on stdout. F: lines whose path is not among EXISTING_PATH (files or directories
that exist in the tree at this point of the series) are left out, so each
patch of the series adds the F: lines of the files it adds. An entry already
present (from an earlier patch) is replaced.
"""

import re
import sys


def is_title(lines, i):
    """A section title: after a blank line, before the first X:<tab> line."""
    return (i > 0 and lines[i - 1] == "" and re.match(r"^[A-Z0-9]", lines[i]) is not None
            and re.match(r"^[A-Z]:\t", lines[i]) is None and i + 1 < len(lines)
            and re.match(r"^[A-Z]:\t", lines[i + 1]) is not None)


def main():
    maintainers, fragment, *existing = sys.argv[1:]
    existing = set(existing)
    lines = open(maintainers).read().split("\n")
    entry = [l for l in open(fragment).read().strip("\n").split("\n")
             if not l.startswith("F:\t") or l[3:] in existing]
    title = entry[0]

    start = lines.index("Maintainers List") if "Maintainers List" in lines else 0
    # Drop the entry if an earlier patch of the series added it.
    if title in lines:
        i = lines.index(title)
        j = i + 1
        while j < len(lines) and lines[j] != "":
            j += 1
        del lines[i:j + 1]
    # MAINTAINERS is sorted, with the odd misplaced entry: insert before the
    # first title that sorts after ours and is followed by one that does too.
    titles = [i for i in range(start, len(lines)) if is_title(lines, i)]
    key = title.upper()
    for n, i in enumerate(titles[:-1]):
        if lines[i].upper() > key and lines[titles[n + 1]].upper() > key:
            lines[i:i] = entry + [""]
            break
    else:
        sys.exit("maintainers.py: no place for the entry")
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    main()
