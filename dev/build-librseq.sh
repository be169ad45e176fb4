#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds librseq's test suite, statically, against the uapi headers of the
# test kernel: "patched", with the whole librseq series of
# userspace/librseq (cpu_opv), and the same linked dynamically, where glibc
# registers rseq (build.sh --glibc). With LIBRSEQ_BASE=1 (dev/librseq-full
# base, an opt-in) also "base": the snapshot in ../shared/librseq with only
# the first patch of the series (a fix without which the snapshot's own
# tests fail on Linux 7.3, whatever the kernel series: the thread
# unregisters with another length than it registered with). Output:
# $CACHE/librseq/{patched,base}/stage, which dev/mkinitramfs.sh puts in the
# guest as /librseq/{patched,base}, and $CACHE/librseq/patched/stage-glibc,
# the guest's /librseq/glibc. Rebuilds only when the series, its scripts,
# the snapshot, the headers or the builds asked for change.
. "$(dirname "$0")/lib.sh"

tarball=$ROOT/../shared/librseq/librseq-cbdabc4.tar.gz
[ -f "$tarball" ] || die "librseq: no snapshot at $tarball"
khdr=$HEADERS/usr/include
[ -f "$khdr/linux/cpu_opv.h" ] || die "librseq: no uapi headers in $khdr (run dev/build-selftests.sh first)"
out=$CACHE/librseq
variants=(patched)
[ "${LIBRSEQ_BASE:-0}" = 0 ] || variants+=(base)
stamp=$( { echo "${variants[*]}"; sha256sum < "$tarball"; cat "$ROOT"/userspace/librseq/patches/*.patch \
	"$ROOT"/userspace/librseq/*.sh "$ROOT"/userspace/librseq/*.c; find "$khdr" -type f -name '*.h' | sort | xargs cat; } |
	sha256sum | cut -c1-16)
if [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
	log "librseq: up to date"
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
for v in "${variants[@]}"; do
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
