#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the kernel (CONFIG_CPU_OPV=y, in $CACHE/build-each) at every patch
# of the series but the last, which dev/build-kernel.sh builds: each patch
# builds on its own (bisectability). Run after dev/apply.sh.
#
# The patches are built with dev/config/each-patch.config on top, which
# turns the debug-only options off: the final build has them on, so both
# variants of the code go through the compiler and clippy.
#
# A tree that built is remembered (by its git tree hash, which depends only
# on the base and the patches up to it), so a later change to patch k
# rebuilds from patch k on only.
. "$(dirname "$0")/lib.sh"

built=$CACHE/each-patch.built
touch "$built"
cfg=$(cat "$ROOT"/dev/config/{base,cpu_opv-y,each-patch}.config | sha256sum | cut -c1-16)
base=$(base_commit)
head=$(git -C "$BASE_REPO" rev-parse cpu_opv)
commits=$(git -C "$BASE_REPO" rev-list --reverse "$base..$head")
n=$(wc -w <<< "$commits")
i=0
trap 'git -C "$BASE_REPO" checkout -q --detach "$head"' EXIT
for c in $commits; do
	i=$((i + 1))
	[ "$c" = "$head" ] && break	# the last one is the normal build
	key="$(git -C "$BASE_REPO" rev-parse "$c^{tree}") $cfg"
	if grep -qxF "$key" "$built"; then
		log "each-patch: patch $i/$n already built"
		continue
	fi
	git -C "$BASE_REPO" checkout -q --detach "$c"
	log "each-patch: building patch $i/$n: $(git -C "$BASE_REPO" log -1 --format=%s "$c")"
	CHECK_FRAGMENTS=0 EXTRA_FRAGMENT=$ROOT/dev/config/each-patch.config \
		"$ROOT/dev/build-kernel.sh" y each ||
		die "each-patch: the kernel does not build at patch $i/$n"
	echo "$key" >> "$built"
done
log "each-patch: all $n patches build on their own"
