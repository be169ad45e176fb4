#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds librseq's test suite twice, statically, against the uapi headers of
# the test kernel: "base", the snapshot in ../shared/librseq with only the
# first patch of the librseq series of userspace/librseq (a fix without which
# the snapshot's own tests fail on Linux 7.3, whatever the kernel series: the
# thread unregisters with another length than it registered with), and
# "patched", with the whole series (cpu_opv). Output:
# $CACHE/librseq/{base,patched}/stage, which dev/mkinitramfs.sh puts in the
# guest as /librseq/{base,patched}; and the patched build linked
# dynamically, where glibc registers rseq (build.sh --glibc):
# $CACHE/librseq/patched/stage-glibc, the guest's /librseq/glibc.
# Rebuilds only when the series, its scripts, the snapshot or the headers
# change.
. "$(dirname "$0")/lib.sh"

tarball=$ROOT/../shared/librseq/librseq-cbdabc4.tar.gz
[ -f "$tarball" ] || die "librseq: no snapshot at $tarball"
khdr=$HEADERS/usr/include
[ -f "$khdr/linux/cpu_opv.h" ] || die "librseq: no uapi headers in $khdr (run dev/build-selftests.sh first)"
out=$CACHE/librseq
stamp=$( { sha256sum "$tarball"; cat "$ROOT"/userspace/librseq/patches/*.patch \
	"$ROOT"/userspace/librseq/*.sh "$ROOT"/userspace/librseq/*.c; find "$khdr" -type f -name '*.h' | sort | xargs cat; } |
	sha256sum | cut -c1-16)
if [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
	log "librseq: up to date"
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
for v in base patched; do
	args=(--glibc)
	[ $v = base ] && args=(--first 1)
	if ! LIBRSEQ_TARBALL=$tarball JOBS=$JOBS \
		"$ROOT/userspace/librseq/build.sh" "$out/$v" "$khdr" "${args[@]}" \
		> "$out/$v.log" 2>&1; then
		tail -30 "$out/$v.log" >&2
		die "librseq: the $v build failed (log: $out/$v.log)"
	fi
	log "librseq: $(grep '^build.sh:' "$out/$v.log" | tr '\n' ' ')"
done
echo "$stamp" > "$out/stamp"
