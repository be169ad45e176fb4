#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the cpu_opv kselftests, statically linked, with the kernel's own
# selftest build (lib.mk) against the uapi headers of the patched tree.
# Output: $CACHE/selftests/cpu_opv/ (the programs and run list).
. "$(dirname "$0")/lib.sh"


out=$CACHE/selftests
make -s -C "$BASE_REPO" O="$CACHE/build-y" headers
rm -rf "$out"
mkdir -p "$out"
# The kselftest install target lays tests out as run_kselftest.sh expects.
if ! make -s -C "$BASE_REPO/tools/testing/selftests" TARGETS=cpu_opv \
	USERCFLAGS=-static USERLDFLAGS=-static \
	O="$CACHE/build-y" INSTALL_PATH="$out" install > "$CACHE/selftests.log" 2>&1; then
	cat "$CACHE/selftests.log" >&2
	die "selftests: build failed"
fi
if grep -E 'warning:' "$CACHE/selftests.log" >&2; then
	die "selftests: the build printed warnings"
fi
log "selftests: $(cat "$out/kselftest-list.txt" | tr '\n' ' ')"
