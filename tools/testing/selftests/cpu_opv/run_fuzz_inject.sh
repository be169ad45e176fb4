#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs fuzz_test in its inject mode, the default kselftest run's: 10000
# vectors checked against the model while failslab, fail_page_alloc and
# fail_usercopy fail the allocations and user copies of the calls. It
# skips (4) without root, without cpu_opv(), or without the fault
# injection debugfs (CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB,
# CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_USERCOPY). More vectors,
# another seed:
#
#	./run_fuzz_inject.sh [N [SEED]]

cd "$(dirname "$0")" || exit 1
exec ./fuzz_test -m inject -s "${2:-1}" -n "${1:-10000}"
