#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Prepares the base tree: Linux 7.3.4 as Debian ships it, as a git repository
# with one pristine commit on branch "base". Uses the pinned tarball in
# ../shared/kernel when there is one, else Debian's linux-source-7.3 package.
. "$(dirname "$0")/lib.sh"

# One at a time (dev/test runs it in the background): a second would
# remove the tree that the first is unpacking; it waits, then finds the
# commit.
mkdir -p "$CACHE"
exec 9> "$CACHE/base.lock"
flock 9

if base_commit >/dev/null; then
	exit 0
fi

tarball=$BASE_TARBALL
pinned=$(cat "$ROOT/dev/base.sha256")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -f "$tarball" ]; then
	log "base: pinned tarball $tarball"
	echo "$pinned  $tarball" | sha256sum -c --quiet - || die "base tarball checksum mismatch"
else
	log "base: no pinned tarball, downloading linux-source-7.3 from Debian trixie-backports"
	mkdir -p "$tmp/lists/partial"
	echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main' \
		> "$tmp/sources.list"
	o=(-o Dir::Etc::SourceList="$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
	   -o Dir::State::Lists="$tmp/lists" -o Dir::Cache::archives="$tmp")
	apt-get "${o[@]}" update -qq >/dev/null
	(cd "$tmp" && apt-get "${o[@]}" download -qq linux-source-7.3 >/dev/null)
	dpkg-deb -x "$tmp"/linux-source-7.3_*.deb "$tmp/deb"
	tarball=$(ls "$tmp"/deb/usr/src/linux-source-7.3.tar.xz)
	if ! echo "$pinned  $tarball" | sha256sum -c --quiet - 2>/dev/null; then
		log "WARNING: Debian now ships another 7.3 tree than the pinned $BASE_VERSION;" \
		    "the series may not apply"
	fi
fi

rm -rf "$BASE_REPO"
tar -C "$CACHE" -xJf "$tarball"
[ -f "$BASE_REPO/Makefile" ] || die "unexpected tarball layout"
cd "$BASE_REPO"
git init -q -b base .
# No automatic gc or maintenance: a repack of the ~90k objects of the tree
# costs minutes of a cold run and buys nothing here.
git config gc.auto 0
git config maintenance.auto false
# Debian's .gitignore ignores the whole top level: force-add everything.
git add -f -A
GIT_AUTHOR_DATE=$BASE_DATE GIT_COMMITTER_DATE=$BASE_DATE \
	git -c user.name=base -c user.email=base@localhost \
	commit -q -m "Linux $BASE_VERSION (Debian linux-source-7.3 7.3.4-1~bpo13+1)"
log "base: commit $(git rev-parse --short=12 HEAD)"
