#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/checkpatch.pl --strict on every patch of the series. Any finding
# fails, except those listed (and justified in the commit message) in
# dev/checkpatch-exceptions.
. "$(dirname "$0")/lib.sh"

fail=0
while read -r p; do
	case $p in 0000-cover-letter.patch|"") continue ;; esac
	out=$(cd "$BASE_REPO" && perl scripts/checkpatch.pl --strict --terse --show-types \
		--no-summary "$ROOT/patches/$p" 2>&1) || true
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		type=$(sed -n 's/^[^:]*:[0-9]*: \(ERROR\|WARNING\|CHECK\):\([A-Z_0-9]*\):.*/\2/p' <<< "$line")
		if [ -n "$type" ] && grep -qxF "$p $type" "$ROOT/dev/checkpatch-exceptions"; then
			continue
		fi
		echo "checkpatch: $p: $line" >&2
		fail=1
	done <<< "$out"
done < "$ROOT/series"
((fail == 0)) || die "checkpatch --strict reported findings"
log "checkpatch: --strict clean on all patches (exceptions: $(grep -vc '^#' "$ROOT/dev/checkpatch-exceptions"))"
