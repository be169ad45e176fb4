#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the series patch by patch, in order, in the test kernel's build
# directory ($CACHE/build-y): every patch builds on its own (bisectability),
# and the build at the last patch is the test kernel. Run after dev/apply.sh.
#
# One build directory serves all of it, so a patch costs what it changes:
# kbuild rebuilds the objects that depend on the files the patch touches,
# and git checkout rewrites only the files that differ, so timestamps of
# unchanged files stay as they were. What is built at each patch follows
# from the files it touches:
#   - anything outside tools/, Documentation/ and MAINTAINERS: the kernel (bzImage, with
#     clippy, warnings fail), as dev/build-kernel.sh y does;
#   - tools/testing/selftests/: the cpu_opv kselftests, against the uapi
#     headers of the tree at that patch (warnings fail);
#   - Documentation/ only: nothing here (dev/test checks the docs of the
#     whole series).
# A patch that built is remembered by its git tree hash (which depends only
# on the base and the patches up to it) and the configuration, so a change
# to patch k rebuilds from patch k on only. The last patch is always built:
# it is the test kernel, and nothing but its own build says it is current.
. "$(dirname "$0")/lib.sh"

built=$CACHE/series.built
touch "$built"
cfg=$(cat "$ROOT"/dev/config/{base,cpu_opv-y}.config | sha256sum | cut -c1-16)
base=$(base_commit)
head=$(git -C "$BASE_REPO" rev-parse cpu_opv)
commits=$(git -C "$BASE_REPO" rev-list --reverse "$base..$head")
n=$(wc -w <<< "$commits")
i=0
trap 'git -C "$BASE_REPO" checkout -q --detach "$head"' EXIT

selftests_at() {
	local out=$CACHE/selftests-each
	make -s -C "$BASE_REPO" O="$CACHE/build-y" headers
	rm -rf "$out"
	if ! make -s -C "$BASE_REPO/tools/testing/selftests" TARGETS=cpu_opv \
		USERCFLAGS=-static USERLDFLAGS=-static O="$CACHE/build-y" \
		INSTALL_PATH="$out" install > "$CACHE/selftests-each.log" 2>&1; then
		cat "$CACHE/selftests-each.log" >&2
		return 1
	fi
	! grep -E 'warning:' "$CACHE/selftests-each.log" >&2
}

for c in $commits; do
	i=$((i + 1))
	subject=$(git -C "$BASE_REPO" log -1 --format=%s "$c")
	files=$(git -C "$BASE_REPO" diff --name-only "$c^" "$c")
	kernel=0 selftests=0
	grep -qv -e '^tools/' -e '^Documentation/' -e '^MAINTAINERS$' <<< "$files" && kernel=1
	grep -q '^tools/testing/selftests/' <<< "$files" && selftests=1
	[ "$c" = "$head" ] && kernel=1
	key="$(git -C "$BASE_REPO" rev-parse "$c^{tree}") $cfg"
	if [ "$c" != "$head" ] && grep -qxF "$key" "$built"; then
		log "series: patch $i/$n already built"
		continue
	fi
	if ((!kernel && !selftests)); then
		log "series: patch $i/$n builds nothing: $subject"
		echo "$key" >> "$built"
		continue
	fi
	git -C "$BASE_REPO" checkout -q --detach "$c"
	if ((kernel)); then
		log "series: patch $i/$n, kernel: $subject"
		if [ "$c" = "$head" ]; then
			"$ROOT/dev/build-kernel.sh" y
		else
			CHECK_FRAGMENTS=0 "$ROOT/dev/build-kernel.sh" y
		fi || die "series: the kernel does not build at patch $i/$n"
	fi
	if ((selftests)); then
		log "series: patch $i/$n, kselftests: $subject"
		selftests_at || die "series: the kselftests do not build at patch $i/$n"
	fi
	echo "$key" >> "$built"
done
log "series: all $n patches build on their own; the test kernel is the last"
