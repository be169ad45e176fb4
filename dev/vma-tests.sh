#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds and runs tools/testing/vma, the user-space tests of mm/vma.c, in the
# build tree with the series applied: patch 1 moves the declaration of
# vma_needs_dirty_tracking() from mm/vma.h (which those tests build mm/vma.c
# against, with their own stubs) to include/linux/mm.h. They must still
# build without a warning and pass. Result as TAP in $CACHE/logs/vma.tap.
. "$(dirname "$0")/lib.sh"

dir=$BASE_REPO/tools/testing/vma
tap=$CACHE/logs/vma.tap
mkdir -p "$CACHE/logs"
if ! make -s -C "$dir" -j"$JOBS" > "$CACHE/vma-tests.log" 2>&1; then
	cat "$CACHE/vma-tests.log" >&2
	printf '1..1\nnot ok 1 tools/testing/vma: build failed\n' > "$tap"
	die "vma tests: build failed"
fi
# make -s prints nothing but diagnostics, and the names of the headers the
# tests generate.
if grep -qv '^Generating generated/' "$CACHE/vma-tests.log"; then
	cat "$CACHE/vma-tests.log" >&2
	printf '1..1\nnot ok 1 tools/testing/vma: build warnings\n' > "$tap"
	die "vma tests: the build printed warnings"
fi
out=$("$dir/vma" 2>&1) && rc=0 || rc=$?
summary=$(printf '%s\n' "$out" | tail -1)
if ((rc == 0)) && [[ $summary =~ ^([0-9]+)\ tests\ run,\ ([0-9]+)\ passed,\ 0\ failed ]]; then
	printf '1..1\nok 1 tools/testing/vma: %s\n' "$summary" > "$tap"
	log "vma tests: $summary"
else
	printf '%s\n' "$out" >&2
	printf '1..1\nnot ok 1 tools/testing/vma: %s\n' "$summary" > "$tap"
	die "vma tests: $summary"
fi
