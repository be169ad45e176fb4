#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the series patch by patch, in order, in the minimal configuration
# (dev/config/min.config: tinyconfig with Rust, cpu_opv and the debugging
# options that change code generation, built with GCC, in $CACHE/build-walk):
# every patch builds on its own (bisectability), and with no warning at all,
# objtool's and kallsyms' included. Run after dev/apply.sh. The test kernel
# (clang, KASAN, the full debugging configuration) is built once, at the
# last patch, by dev/build-kernel.sh y.
#
# The walk checks the patches out in a worktree of its own ($CACHE/walk),
# with its own uapi headers: the build tree stays at the series' head, so
# that dev/test builds the other kernels beside the walk (which leaves a
# core idle while it links, and while rustc compiles a crate).
#
# One build directory serves all of it, so a patch costs what it changes:
# kbuild rebuilds the objects that depend on the files the patch touches,
# and git checkout rewrites only the files that differ, so timestamps of
# unchanged files stay as they were. What is built at each patch follows
# from the files it touches:
#   - anything outside tools/, Documentation/ and MAINTAINERS: the kernel
#     (vmlinux, with clippy: compiled, linked, objtool and kallsyms run;
#     any output of the build fails; the boot image, which no patch
#     touches, only at the last patch, below);
#   - tools/testing/selftests/: the cpu_opv kselftests, against the uapi
#     headers of the tree at that patch (warnings fail);
#   - Documentation/ only: nothing here (dev/test checks the docs of the
#     whole series).
# A patch that built is remembered by its git tree hash (which depends only
# on the base and the patches up to it) and the configuration, so a change
# to patch k rebuilds from patch k on only.
. "$(dirname "$0")/lib.sh"

built=$CACHE/series.built
touch "$built"
cfg=$(sha256sum < "$ROOT/dev/config/min.config" | cut -c1-16)
base=$(base_commit)
head=$(git -C "$BASE_REPO" rev-parse cpu_opv)
commits=$(git -C "$BASE_REPO" rev-list --reverse "$base..$head")
n=$(wc -w <<< "$commits")
i=0

# One walk at a time: a walk that outlived its dev/test (killed with
# SIGKILL: the walk runs in a session of its own) would check out patches
# under this one's make.
exec 9> "$CACHE/walk.lock"
flock 9

# The walk's worktree, made anew unless it is one of $BASE_REPO's (dev/base.sh
# may have made the repository anew; a directory without its .git file would
# find a repository above it); it is left at the series' head, so that the
# next walk rewrites only the files that changed.
walk=$CACHE/walk
common=$(git -C "$BASE_REPO" rev-parse --path-format=absolute --git-common-dir)
if [ ! -f "$walk/.git" ] ||
   [ "$(git -C "$walk" rev-parse --show-toplevel 2>/dev/null)" != "$(cd "$walk" && pwd -P)" ] ||
   [ "$(git -C "$walk" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)" != "$common" ]; then
	git -C "$BASE_REPO" worktree remove -f -f "$walk" 2>/dev/null || rm -rf "$walk"
	git -C "$BASE_REPO" worktree prune
	git -C "$BASE_REPO" worktree add -q --detach "$walk" "$head"
fi
export CPU_OPV_SRC=$walk CPU_OPV_HEADERS=$CACHE/walk-headers
git -C "$walk" reset -q --hard
trap 'git -C "$walk" checkout -q --detach "$head"' EXIT

for c in $commits; do
	i=$((i + 1))
	subject=$(git -C "$BASE_REPO" log -1 --format=%s "$c")
	files=$(git -C "$BASE_REPO" diff --name-only "$c^" "$c")
	kernel=0 selftests=0
	grep -qv -e '^tools/' -e '^Documentation/' -e '^MAINTAINERS$' <<< "$files" && kernel=1
	grep -q '^tools/testing/selftests/' <<< "$files" && selftests=1
	key="$(git -C "$BASE_REPO" rev-parse "$c^{tree}") $cfg"
	if grep -qxF "$key" "$built"; then
		log "series: patch $i/$n already built"
		continue
	fi
	if ((!kernel && !selftests)); then
		log "series: patch $i/$n builds nothing: $subject"
		echo "$key" >> "$built"
		continue
	fi
	git -C "$walk" checkout -q --detach "$c"
	if ((kernel)); then
		log "series: patch $i/$n, kernel: $subject"
		# Options of min.config that the tree does not have yet (before
		# the patch that adds cpu_opv) are not an error.
		IMAGE=vmlinux CHECK_FRAGMENTS=0 "$ROOT/dev/build-kernel.sh" min walk ||
			die "series: the kernel does not build at patch $i/$n"
	fi
	if ((selftests)); then
		log "series: patch $i/$n, kselftests: $subject"
		"$ROOT/dev/build-selftests.sh" "$CACHE/selftests-each" ||
			die "series: the kselftests do not build at patch $i/$n"
	fi
	echo "$key" >> "$built"
done
# The minimal configuration as a whole, at the last patch: every option of
# min.config must be in effect (a patch whose kernel did not change was
# skipped above).
git -C "$walk" checkout -q --detach "$head"
"$ROOT/dev/build-kernel.sh" min walk || die "series: the minimal configuration does not build"
log "series: all $n patches build on their own, in the minimal configuration"
