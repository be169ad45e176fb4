#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/checkpatch.pl --strict on every patch of the series. Any finding
# fails, except those listed (and justified in the commit message) in
# dev/checkpatch-exceptions.
. "$(dirname "$0")/lib.sh"

# The patches that touch a file of MAINTAINERS.fragment: get_maintainer.pl,
# on the patched tree, must name the cpu_opv entry for each of them (below).
entry=$(sed -n 's/^M:\t//p' "$ROOT/MAINTAINERS.fragment" | head -1)
paths=$(sed -n 's/^F:\t//p' "$ROOT/MAINTAINERS.fragment")
[ -n "$entry" ] && [ -n "$paths" ] || die "MAINTAINERS.fragment: no M: or F: line"
out_dir=$(mktemp -d)
trap 'rm -rf "$out_dir"' EXIT
: > "$out_dir/covered"
while read -r p; do
	case $p in 0000-cover-letter.patch|"") continue ;; esac
	touched=$(sed -n 's|^+++ b/||p' "$ROOT/patches/$p")
	for f in $touched; do
		for q in $paths; do
			case $f in "$q"|"$q"*) echo "$p" >> "$out_dir/covered"; continue 3 ;; esac
		done
	done
done < "$ROOT/series"

# checkpatch.pl on all the patches, and get_maintainer.pl on those, run at
# once, $JOBS at a time (perl on one core each: on 2 cores, half the time of
# one after the other); their outputs are then read in the order of the
# series. Each tool's exit status is kept beside its output: checkpatch.pl
# exits 0, or 1 with findings (read from its output below); anything else, as
# any failure of get_maintainer.pl, means that it did not do its work.
grep -v -e '^0000-cover-letter\.patch$' -e '^$' "$ROOT/series" |
	xargs -d '\n' -P "$JOBS" -I{} sh -c 'cd "$1" || exit 1
		perl scripts/checkpatch.pl --strict --terse --show-types --no-summary \
			"$2/patches/$3" > "$4/$3.checkpatch" 2>&1
		echo $? > "$4/$3.checkpatch.rc"
		grep -qxF "$3" "$4/covered" || { [ $? = 1 ] && exit 0; exit 1; }
		perl scripts/get_maintainer.pl --no-git --no-git-fallback \
			"$2/patches/$3" > "$4/$3.maintainers" 2>/dev/null
		echo $? > "$4/$3.maintainers.rc"' sh "$BASE_REPO" "$ROOT" {} "$out_dir" ||
	die "checkpatch.pl or get_maintainer.pl could not run"

fail=0
while read -r p; do
	case $p in 0000-cover-letter.patch|"") continue ;; esac
	case $(cat "$out_dir/$p.checkpatch.rc" 2>/dev/null) in
	0 | 1) ;;
	*) die "checkpatch.pl failed on $p: $(tail -3 "$out_dir/$p.checkpatch")" ;;
	esac
	out=$(cat "$out_dir/$p.checkpatch")
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		type=$(sed -n 's/^[^:]*:[0-9]*: \(ERROR\|WARNING\|CHECK\):\([A-Z_0-9]*\):.*/\2/p' <<< "$line")
		if [ -n "$type" ] && grep -qxF "${p#[0-9][0-9][0-9][0-9]-} $type" "$ROOT/dev/checkpatch-exceptions"; then
			continue
		fi
		echo "checkpatch: $p: $line" >&2
		fail=1
	done <<< "$out"
done < "$ROOT/series"
((fail == 0)) || die "checkpatch --strict reported findings"

# get_maintainer.pl, on the patched tree, names the cpu_opv entry for every
# patch that touches a file of MAINTAINERS.fragment.
[ -s "$out_dir/covered" ] || die "no patch touches a file of MAINTAINERS.fragment"
while read -r p; do
	[ "$(cat "$out_dir/$p.maintainers.rc" 2>/dev/null)" = 0 ] ||
		die "get_maintainer.pl failed on $p"
	if ! grep -qF "$entry" "$out_dir/$p.maintainers"; then
		echo "get_maintainer: $p does not name $entry" >&2
		fail=1
	fi
done < "$out_dir/covered"
((fail == 0)) || die "get_maintainer.pl does not name the cpu_opv entry"

# kernel-doc finds no problem in the C sources of the series.
kd=$(cd "$BASE_REPO" && ./scripts/kernel-doc -none -Wall kernel/cpu_opv_sys.c \
	include/linux/cpu_opv.h include/uapi/linux/cpu_opv.h 2>&1) || true
[ -z "$kd" ] || die "kernel-doc: $kd"
log "checkpatch: --strict clean on all patches (exceptions: $(grep -vc '^#' "$ROOT/dev/checkpatch-exceptions")); get_maintainer and kernel-doc fine"
