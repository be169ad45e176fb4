# SPDX-License-Identifier: GPL-2.0
"""QEMU TCG's jump cache, as dev/insncount.py and dev/placements.py count
it on a single-stepped trace of (pc, sp) pairs.

QEMU chains a translated block straight to the next one only when the
branch stays on the guest page the block starts on; a branch to another
page, a return or an indirect branch looks the next block up in a per-vCPU
cache of 4096 entries, indexed by a hash of the guest address
(tb_jmp_cache_hash_func() in QEMU 7.2's include/exec/tb-hash.h), and goes
to QEMU's hash table when the entry holds another block. Counted from the
trace: a transition to another page, or a return (the stack pointer rises
by 8, not to the next instruction). A lower bound, and an approximation:
QEMU decides by the page the block starts on, not that of the branch;
indirect calls and jumps within a page are not counted.
"""


def is_return(a, sa, b, sb):
    """Whether the step from a (stack pointer sa) to b (sb) is a return."""
    return sb == sa + 8 and not 0 < b - a <= 15


def looks_up(a, sa, b, sb):
    """Whether the step from a to b looks b's block up in the jump cache."""
    return a >> 12 != b >> 12 or is_return(a, sa, b, sb)


def slot(pc):
    """The jump-cache entry of a guest address (tb_jmp_cache_hash_func())."""
    tmp = pc ^ (pc >> 6)
    return ((tmp >> 6) & 0xfc0) | (tmp & 0x3f)


def lookups(trace):
    """The addresses looked up in the jump cache along a trace, in order."""
    return [b for (a, sa), (b, sb) in zip(trace, trace[1:])
            if looks_up(a, sa, b, sb)]
