#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks the documentation against the code, so that it cannot silently rot.

- man/man2/cpu_opv.2 renders with groff -wall without a warning, and its
  EXAMPLES program compiles against the patched uapi headers;
- the limits the man page and the rst document state are the uapi header's;
- the ERRORS section lists exactly the errnos the code can return;
- Documentation/userspace-api/cpu_opv.rst parses as reStructuredText with no
  warning (Sphinx-only roles are accepted as such).

Prints one TAP line per check and exits non-zero if any fails.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Errnos that appear in the code but never reach user space, and why.
INTERNAL = {
    "ENXIO": "smp_call_function_single() on an offline CPU: handled by the offline fallback",
}
# Errnos user space can get that do not appear literally in kernel/cpu_opv.rs.
FROM_ELSEWHERE = {
    "ENOSYS": "kernel built without CONFIG_CPU_OPV (sys_ni.c)",
    "ENOMEM": "pin_user_pages_fast() faulting pages in",
}


class Checks:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        self.n += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} {what}")
        if not ok:
            self.failed += 1
            for line in str(detail).splitlines():
                print(f"# {line}")


def uapi_limits():
    text = open(os.path.join(ROOT, "include/uapi/linux/cpu_opv.h")).read()
    macros = dict(re.findall(r"#define\s+(CPU_OP_\w+)\s+(\d+)\b", text))
    enum = re.search(r"enum cpu_op_type \{(.*?)\};", text, re.S).group(1)
    ops = [m for m in re.findall(r"\b(CPU_\w+_OP)\b", enum)]
    vec = int(macros["CPU_OP_VEC_LEN_MAX"])
    data = int(macros["CPU_OP_DATA_LEN_MAX"])
    arith = int(macros["CPU_OP_ARITHMETIC_DATA_LEN_MAX"])
    return {
        "CPU_OP_VEC_LEN_MAX": vec,
        "CPU_OP_DATA_LEN_MAX": data,
        "CPU_OP_VEC_DATA_LEN_MAX": data + (vec - 1) * arith,
        "NR_CPU_OPS": len(ops),
    }


def errno_names(headers):
    """The errno names the uapi headers define (asm-generic/errno*.h)."""
    names = set()
    for name in ("errno-base.h", "errno.h"):
        text = open(os.path.join(headers, "asm-generic", name)).read()
        names |= set(re.findall(r"^#define\s+(E[A-Z0-9]+)\s", text, re.M))
    return names


def code_errnos(errnos):
    """The errnos the code names: identifiers that are errno names (not, say, Mem::EMPTY)."""
    found = set()
    for path in ("kernel/cpu_opv.rs", "rust/kernel/mm/pin.rs"):
        text = open(os.path.join(ROOT, path)).read()
        # Only the code, not the tests: they name errnos they expect. Nor
        # the comments, which may name errnos the code maps to others.
        text = text.split("#[kunit_tests")[0]
        text = "\n".join(line.split("//")[0] for line in text.splitlines())
        found |= set(re.findall(r"\b(E[A-Z]{3,})\b", text)) & errnos
    return found


def man_errors(man):
    section = man.split(".SH ERRORS", 1)[1].split(".SH ", 1)[0]
    return set(re.findall(r"^\.TP\n\.B (E[A-Z]+)", section, re.M))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--headers", required=True, help="installed uapi headers (usr/include)")
    args = ap.parse_args()
    c = Checks()
    man_path = os.path.join(ROOT, "man/man2/cpu_opv.2")
    man = open(man_path).read()
    rst_path = os.path.join(ROOT, "Documentation/userspace-api/cpu_opv.rst")
    rst = open(rst_path).read()

    r = subprocess.run(["groff", "-man", "-wall", "-ww", "-z", man_path],
                       capture_output=True, text=True)
    c.check(r.returncode == 0 and not r.stderr.strip(), "man page renders with groff -wall",
            r.stderr)

    src = re.search(r"\.\\\" SRC BEGIN.*?\n\.EX\n(.*?)\.EE\n", man, re.S).group(1)
    src = src.replace("\\&", "").replace("\\-", "-").replace("\\e", "\\")
    with tempfile.TemporaryDirectory() as tmp:
        c_path = os.path.join(tmp, "example.c")
        open(c_path, "w").write(src)
        r = subprocess.run(["gcc", "-Wall", "-Wextra", "-Werror", "-isystem", args.headers,
                            "-o", os.path.join(tmp, "example"), c_path],
                           capture_output=True, text=True)
    c.check(r.returncode == 0, "man page EXAMPLES program compiles with -Wall -Wextra -Werror",
            r.stderr)

    limits = uapi_limits()
    c.check(limits == {"CPU_OP_VEC_LEN_MAX": 4, "CPU_OP_DATA_LEN_MAX": 4096,
                       "CPU_OP_VEC_DATA_LEN_MAX": 4120, "NR_CPU_OPS": 6},
            "uapi limits are the v9 ABI's (4 ops, 4096, 4120, 6 op types)", limits)
    for doc_name, doc in (("man page", man), ("rst", rst)):
        missing = [f"{k} ({v})" for k, v in limits.items()
                   if k != "NR_CPU_OPS" and not re.search(rf"\b{v}\b", doc)]
        c.check(not missing, f"{doc_name} states the uapi limits", missing)
    c.check(bool(re.search(rf"NR_CPU_OPS\n\({limits['NR_CPU_OPS']}\)", man)),
            "man page states NR_CPU_OPS")

    code = code_errnos(errno_names(args.headers)) - set(INTERNAL)
    expected = code | set(FROM_ELSEWHERE)
    documented = man_errors(man)
    c.check(documented == expected, "man page ERRORS lists exactly the errnos of the code",
            f"documented only: {sorted(documented - expected)}\n"
            f"undocumented: {sorted(expected - documented)}")

    try:
        import docutils.core
        import docutils.parsers.rst.roles as roles
        import docutils.utils

        def sphinx_role(name, rawtext, text, lineno, inliner, options=None, content=None):
            return [docutils.nodes.literal(rawtext, text)], []

        for role in ("doc", "ref"):
            roles.register_local_role(role, sphinx_role)
        warnings = []

        class Stream:
            def write(self, s):
                warnings.append(s)

        docutils.core.publish_doctree(rst, settings_overrides={
            "report_level": 2, "halt_level": 5, "warning_stream": Stream()})
        c.check(not "".join(warnings).strip(), "rst document parses without warnings",
                "".join(warnings))
    except ImportError:
        c.check(False, "rst document parses without warnings", "docutils is not installed")

    print(f"1..{c.n}")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
