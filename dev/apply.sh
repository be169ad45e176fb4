#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Applies series + patches/ with git am onto a fresh branch of the pristine
# base, then moves the build tree ($BASE_REPO's work tree) to the result.
#
# git am runs in a throwaway worktree: moving the build tree with one
# checkout rewrites only the files that differ from what was built last
# time, so incremental builds stay incremental. The worktree is sparse:
# git am only needs the files that the patches touch (about 50 of the
# tree's 96,000, whose checkout took about 30 s a run); it makes the same
# commits (the same trees) as in a full one.
. "$(dirname "$0")/lib.sh"

"$ROOT/dev/base.sh"
base=$(base_commit)
wt=$CACHE/am
git -C "$BASE_REPO" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
git -C "$BASE_REPO" worktree prune
git -C "$BASE_REPO" worktree add -q --detach --no-checkout "$wt" "$base"
sed -n 's|^diff --git a/\(.*\) b/\(.*\)$|/\1\n/\2|p' "$ROOT"/patches/0*.patch | sort -u |
	git -C "$wt" sparse-checkout set --no-cone --stdin
git -C "$wt" checkout -q --detach "$base"
cleanup() { git -C "$BASE_REPO" worktree remove --force "$wt" 2>/dev/null || true; }
trap cleanup EXIT

n=0
while read -r p; do
	[ -n "$p" ] || continue
	case $p in 0000-cover-letter.patch) continue ;; esac
	[ -f "$ROOT/patches/$p" ] || die "series names $p, which is not in patches/"
	if ! git -C "$wt" -c user.name=am -c user.email=am@localhost \
		am -q --keep-cr "$ROOT/patches/$p" >"$CACHE/am.log" 2>&1; then
		cat "$CACHE/am.log" >&2
		die "patch does not apply: $p"
	fi
	n=$((n + 1))
done < "$ROOT/series"
head=$(git -C "$wt" rev-parse HEAD)
git -C "$BASE_REPO" branch -f cpu_opv "$head"
log "apply: $n patches applied with git am onto $(git -C "$BASE_REPO" rev-parse --short=12 "$base")"

git -C "$BASE_REPO" reset -q --hard
git -C "$BASE_REPO" checkout -q --detach "$head"
