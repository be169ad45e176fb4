#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Puts a git format-patch series through b4's submission flow, offline, and
# checks that the mails b4 would send carry our patches unchanged.
#
#   b4-check.sh [options] REPO PATCHDIR [SERIES]
#
#   REPO      git repository holding the base (branch "base", or the commit
#             named by the cover letter's base-commit:). Only read: the work
#             happens in a clone --shared of it under WORKDIR.
#   PATCHDIR  the format-patch output: 0000-cover-letter.patch + the patches
#   SERIES    the list of patches, in order (default: PATCHDIR/../series)
#
#   -w DIR    work directory (default: the directory of this script + /run);
#             the clone is WORKDIR/linux, reused by later runs
#   -b REF    base ref of REPO when the cover has no base-commit (default: base)
#   -N NAME   b4 series name (default: cpu_opv)
#   -A        skip b4 prep --auto-to-cc (get_maintainer.pl on every patch)
#   -K        skip b4 prep --check (checkpatch on every patch)
#   -c ID     use this b4 change-id (default: b4 makes a new random one,
#             YYYYMMDD-NAME-<12 hex>, each run)
#
# Environment: B4 (default: the b4 that dev/setup.sh installs in
# $CPU_OPV_CACHE/b4-venv, else venv/bin/b4 beside this script), IDENTITY
# ("Name <email>" for user.name/user.email of the clone; default: the From:
# of the cover letter).
#
# Steps: b4 prep --new (cover letter kept by b4 in an empty commit), revision
# and prefixes taken from the cover's subject, cover text set with
# --edit-cover (with the series-wide recipients, the first patch's To:/Cc:
# headers, as the cover's To:/Cc: trailers, where b4 keeps them), git am of
# the series (each patch's Cc: trailers are its own recipients), base-commit recorded with --edit-deps;
# b4 prep --check, --check-deps, --auto-to-cc; b4 send -o (dry run: nothing
# is sent; --no-sign; a mail transport of /bin/false, which the dry run never
# calls); then b4cmp.py compares the mails with PATCHDIR.
# Exit status: 0 when every patch's subject, commit message, diff and
# recipients equal ours, 1 when one differs or a step fails. Checkpatch findings are printed,
# not fatal. No network is used (b4 runs with --offline-mode).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${CPU_OPV_CACHE:-$HOME/.cache/cpu_opv}
if [ -z "${B4:-}" ]; then
	B4=$here/venv/bin/b4
	[ -x "$cache/b4-venv/bin/b4" ] && B4=$cache/b4-venv/bin/b4
fi
work=$here/run
baseref=base
name=cpu_opv
auto_to_cc=1
do_check=1
change_id=
while getopts w:b:N:AKc: opt; do
	case $opt in
	w) work=$OPTARG ;;
	b) baseref=$OPTARG ;;
	N) name=$OPTARG ;;
	A) auto_to_cc=0 ;;
	K) do_check=0 ;;
	c) change_id=$OPTARG ;;
	*) sed -n '3,/^set -euo/{/^set -euo/d;p}' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || { sed -n '3,/^set -euo/{/^set -euo/d;p}' "$0" >&2; exit 2; }
repo=$(cd "$1" && pwd)
patchdir=$(cd "$2" && pwd)
series=${3:-$patchdir/../series}
series=$(cd "$(dirname "$series")" && pwd)/$(basename "$series")
cover=$patchdir/0000-cover-letter.patch

die() { printf 'b4-check: FAIL: %s\n' "$*" >&2; exit 1; }
T0=$SECONDS
times=()
stage() { # name cmd...: runs and records the time
	local n=$1 t=$SECONDS rc=0
	shift
	printf '\n=== %s\n' "$n"
	"$@" || rc=$?
	times+=("$n: $((SECONDS - t)) s")
	return $rc
}

[ -x "$B4" ] || die "no b4 at $B4 (install: python3 -m venv venv && venv/bin/pip install b4)"
[ -f "$cover" ] || die "no cover letter $cover"
[ -f "$series" ] || die "no series file $series"
for t in git perl python3; do command -v $t >/dev/null || die "$t not found"; done

mkdir -p "$work"
work=$(cd "$work" && pwd)
clone=$work/linux
meta=$work/cover
out=$work/mails
rm -rf "$meta" "$out"

# Hermetic: no global/system git config (diff.algorithm, format.* or an
# identity there would change what b4 produces), b4's cache, config and
# patatt keys under $work, no editor, no pager, no network.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export XDG_CONFIG_HOME=$work/xdg/config XDG_CACHE_HOME=$work/xdg/cache XDG_DATA_HOME=$work/xdg/data
export GIT_PAGER=cat PAGER=cat GIT_TERMINAL_PROMPT=0
mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_DATA_HOME"
b4() { (cd "$clone" && "$B4" --no-interactive --offline-mode "$@"); }
git_c() { git -C "$clone" "$@"; }

echo "b4-check: $($B4 --version 2>&1 | tail -1) ($B4), $(git --version)"
echo "b4-check: repo $repo, patches $patchdir, series $series ($(grep -vc '^\s*$' "$series") entries)"

# --- the cover letter: subject, blurb, revision, prefixes, base-commit
python3 "$here/b4cmp.py" cover "$cover" "$meta"
rev=$(cat "$meta/revision")
prefixes=$(cat "$meta/prefixes")
cover_base=$(cat "$meta/base")
if [ -z "${IDENTITY:-}" ]; then
	IDENTITY=$(python3 -c 'import email,email.policy,sys
m=email.message_from_binary_file(open(sys.argv[1],"rb"),policy=email.policy.default)
print(m["From"])' "$cover")
fi
id_name=${IDENTITY% <*}
id_email=${IDENTITY##*<}
id_email=${id_email%>}

# --- the clone (clone --shared: objects are borrowed from $repo, never written there)
prepare_clone() {
	if [ ! -d "$clone/.git" ]; then
		git -c init.defaultBranch=base clone -q --shared --no-checkout "$repo" "$clone"
	fi
	git_c config user.name "$id_name"
	git_c config user.email "$id_email"
	git_c config core.abbrev 12      # as the kernel's own .gitconfig wants
	git_c config gc.auto 0
	git_c config advice.detachedHead false
	# Leftovers of an interrupted run
	git_c am --abort >/dev/null 2>&1 || true
	# Sparse, before any checkout: the files the patches touch and the
	# tree's top-level files, with what checkpatch.pl and get_maintainer.pl
	# need (scripts/, LICENSES/, and a file in each directory of their test
	# for a kernel tree), not the other 96,000 or so, whose checkout took
	# about 35 s of a cold run. The order matters: the first two patterns
	# keep the top-level files only, the others add to them.
	{
		printf '%s\n' '/*' '!/*/' /scripts/ /LICENSES/ /Documentation/Makefile \
			/arch/Kconfig /include/Kbuild /drivers/Makefile /fs/Makefile \
			/init/Makefile /ipc/Makefile /kernel/Makefile /lib/Makefile
		sed -n 's|^diff --git a/\(.*\) b/\(.*\)$|/\1\n/\2|p' "$patchdir"/0*.patch |
			sort -u
	} | git_c sparse-checkout set --no-cone --stdin
	git_c checkout -q -f --detach HEAD 2>/dev/null || true
	git_c fetch -q --no-tags "$repo" "+refs/heads/$baseref:refs/heads/$baseref"
	if [ -n "$cover_base" ]; then
		git_c cat-file -e "$cover_base^{commit}" 2>/dev/null ||
			git_c fetch -q --no-tags "$repo" "$cover_base" 2>/dev/null ||
			die "the cover's base-commit $cover_base is not in $repo"
		base=$(git_c rev-parse "$cover_base^{commit}")
		[ "$base" = "$(git_c rev-parse "$baseref")" ] ||
			echo "b4-check: note: base-commit $base is not $baseref ($(git_c rev-parse "$baseref"))"
		git_c branch -f b4-check-base "$base"
		fork=b4-check-base
	else
		base=$(git_c rev-parse "$baseref")
		fork=$baseref
	fi
	git_c checkout -q -f "$fork"
	git_c clean -q -fdx
	git_c branch -D "b4/$name" >/dev/null 2>&1 || true
	# b4 tags a sent series (sent/...); a dry run does not, but be thorough
	git_c tag -l "sent/*" | xargs -r git -C "$clone" tag -d >/dev/null
	rm -rf "$XDG_CACHE_HOME/b4"
	echo "fork point: $fork = $base"
}
stage clone prepare_clone

# --- b4 prep: new series, cover, patches
prep_series() {
	local args=(prep --new "$name" --fork-point "$fork" --force-revision "$rev")
	# shellcheck disable=SC2206
	[ -n "$prefixes" ] && args+=(--set-prefixes $prefixes)
	echo "+ b4 ${args[*]}"
	b4 "${args[@]}"
	if [ -n "$change_id" ]; then
		# b4 has no option for it: the change-id lives in the tracking JSON
		# of the cover commit, which is HEAD right after "prep --new".
		echo "+ change-id of the cover commit set to $change_id (git commit --amend)"
		git_c show -s --format=%B HEAD |
			sed -E 's/^(  *"change-id": ")[^"]*(",?)$/\1'"$change_id"'\2/' |
			git_c commit -q --amend --allow-empty -F -
		git_c show -s --format=%B HEAD | grep -qF "\"change-id\": \"$change_id\"" ||
			die "could not set the change-id"
	fi
	echo "+ GIT_EDITOR='cp cover.txt' b4 prep --edit-cover"
	GIT_EDITOR="cp $meta/cover.txt" b4 prep --edit-cover
	local files=() p
	while read -r p; do
		[ -n "$p" ] || continue
		case $p in 0000-cover-letter.patch) continue ;; esac
		[ -f "$patchdir/$p" ] || die "series names $p, not in $patchdir"
		files+=("$patchdir/$p")
	done < "$series"
	echo "+ git am --keep-cr (${#files[@]} patches)"
	git_c am -q --keep-cr "${files[@]}" || { git_c am --abort; die "git am failed"; }
	if [ -n "$cover_base" ]; then
		printf 'base-commit: %s\n' "$base" > "$meta/deps.txt"
		echo "+ GIT_EDITOR='cp deps.txt' b4 prep --edit-deps   # base-commit: $base"
		GIT_EDITOR="cp $meta/deps.txt" b4 prep --edit-deps
	fi
	git_c log --oneline "$base..HEAD" | cat
}
stage prep prep_series

# --- b4's checks
# (--no-cache: checkpatch runs again each time, not from b4's cache)
run_logged() { # file cmd...
	local f=$1
	shift
	"$@" 2>&1 | tee "$f"
}
if ((do_check)); then
	stage check run_logged "$work/check.txt" b4 prep --check --no-cache ||
		die "b4 prep --check failed"
	grep -q '^Success: ' "$work/check.txt" || die "b4 prep --check printed no summary"
fi
stage check-deps run_logged "$work/check-deps.txt" b4 prep --check-deps ||
	die "b4 prep --check-deps failed"
if ((auto_to_cc)); then
	if [ -x "$clone/scripts/get_maintainer.pl" ]; then
		stage auto-to-cc b4 prep --auto-to-cc > "$work/auto-to-cc.txt" 2>&1 ||
			{ cat "$work/auto-to-cc.txt"; die "b4 prep --auto-to-cc failed"; }
		echo "auto-to-cc: $(grep -c '^    + To:' "$work/auto-to-cc.txt") To, $(grep -c '^    + Cc:' "$work/auto-to-cc.txt") Cc (list: $work/auto-to-cc.txt)"
		grep -F "+ To: $id_name <$id_email>" "$work/auto-to-cc.txt" || true
	else
		echo "auto-to-cc: no scripts/get_maintainer.pl, skipped"
	fi
fi
echo
b4 prep --show-info 2>/dev/null | grep -E '^(branch|cover-subject|base-commit|prefixes|change-id|revision|cover-strategy|needs-|has-prereq|misplaced|preflight)' || true

# --- the mails: b4 send -o (dry run). No SMTP server or web endpoint is
# contacted: -o writes files only. Without a mail transport in the config, b4
# picks its web endpoint for a kernel tree, which insists on a patatt
# signature (a key), so name a transport that cannot send anything.
send_mails() {
	GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=sendemail.sendmailcmd GIT_CONFIG_VALUE_0=/bin/false \
		b4 send --output-dir "$out" --no-sign
}
stage send send_mails > "$work/send.txt" 2>&1 || { cat "$work/send.txt"; die "b4 send -o failed"; }
tail -1 "$work/send.txt"

rc=0
stage compare python3 "$here/b4cmp.py" compare "$patchdir" "$series" "$out" || rc=1

printf '\n=== times\n'
printf '  %s\n' "${times[@]}"
echo "  total: $((SECONDS - T0)) s"
if ((rc)); then
	echo "b4-check: FAIL: b4's mails differ from $patchdir"
else
	echo "b4-check: OK: b4's mails carry the patches of $patchdir unchanged"
fi
exit $rc
