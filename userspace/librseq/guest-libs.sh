#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Copy into a guest's root the loader and the shared libraries that the
# dynamically linked programs of a stage of build.sh --glibc need, each
# at its path on this host (/lib64/ld-linux-x86-64.so.2,
# /lib/x86_64-linux-gnu/libc.so.6, ...: the loader's default search
# path). librseq.so stays in the stage's lib/ (run-guest.sh sets
# LD_LIBRARY_PATH). The guest runs the host's C library: build and guest
# are the same distribution.
#
# Usage: guest-libs.sh STAGE_DIR ROOT_DIR
# Prints the number of files copied.

set -eu

[ $# = 2 ] || { echo "usage: $0 STAGE_DIR ROOT_DIR" >&2; exit 2; }
STAGE=$(cd "$1" && pwd)
ROOT=$2

list=$(mktemp)
trap 'rm -f "$list"' EXIT
for f in "$STAGE"/tests/* "$STAGE"/tests/unit/* "$STAGE"/lib/*.so; do
	[ -f "$f" ] || continue
	case "$(file -b "$f")" in
	*ELF*"dynamically linked"* | *ELF*"shared object"*) ;;
	*) continue ;;
	esac
	# "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and the
	# loader, "/lib64/ld-linux-x86-64.so.2 (0x...)".
	deps=$(LD_LIBRARY_PATH="$STAGE/lib" ldd "$f") ||
		{ echo "$0: ldd $f failed" >&2; exit 1; }
	if printf '%s\n' "$deps" | grep -q "not found"; then
		echo "$0: $f: a library is not found" >&2
		exit 1
	fi
	printf '%s\n' "$deps" |
		awk '$2 == "=>" && $3 ~ /^\// { print $3; next }
		     $1 ~ /^\// { print $1 }' >>"$list"
done
n=0
for lib in $(sort -u "$list"); do
	case $lib in
	"$STAGE"/*) continue ;;
	esac
	mkdir -p "$ROOT$(dirname "$lib")"
	cp -L "$lib" "$ROOT$lib"
	n=$((n + 1))
done
echo "$n"
