#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Packs static busybox, the guest /init, the demo and the installed
# kselftests (and librseq's tests, if built) into $CACHE/initramfs.cpio.gz.
#   dev/mkinitramfs.sh arm64: the arm64 guest's, with arm64's busybox
#   (dev/setup.sh fetches it), the demo and the kselftests built for arm64
#   (dev/build-selftests.sh ... arm64), in $CACHE/initramfs-arm64.cpio.gz.
#   dev/mkinitramfs.sh spin: the x86 guest's for dev/insncount, which only
#   runs cpu_opv_spin: busybox, /init and the guest's programs, without the
#   kselftests (which it does not wait for), in $CACHE/initramfs-spin.cpio.gz.
. "$(dirname "$0")/lib.sh"

arch=${1:-}
busybox=/bin/busybox cc=gcc headers=$HEADERS selftests=$CACHE/selftests
out=$CACHE/initramfs.cpio.gz
if [ "$arch" = arm64 ]; then
	busybox=$CACHE/busybox-arm64 cc=$ARM64_CC headers=$HEADERS-arm64
	selftests=$CACHE/selftests-arm64 out=$CACHE/initramfs-arm64.cpio.gz
elif [ "$arch" = spin ]; then
	selftests= out=$CACHE/initramfs-spin.cpio.gz
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp}
cp "$busybox" "$root/bin/busybox"
file -L "$root/bin/busybox" 2>/dev/null | grep -q "statically linked" ||
	die "$busybox is not static (busybox-static)"
install -m 755 "$ROOT/dev/guest/init" "$root/init"
install -m 755 "$ROOT/dev/guest/breakdown.sh" "$root/bin/breakdown.sh"
$cc -static -O2 -Wall -Werror -isystem "$headers/usr/include" \
	-o "$root/bin/cpu_opv_demo" "$ROOT/dev/guest/cpu_opv_demo.c"
$cc -static -O2 -Wall -Werror -isystem "$headers/usr/include" \
	-I "$ROOT/tools/testing/selftests/cpu_opv" \
	-o "$root/bin/cpu_opv_spin" "$ROOT/dev/guest/cpu_opv_spin.c"
[ -z "$selftests" ] || cp -r "$selftests" "$root/selftests"
# The x86 guest also runs the 32-bit kselftests (compat), if built, and
# librseq's test suite, as it is and patched (dev/build-librseq.sh), if built.
if [ -z "$arch" ]; then
	[ ! -d "$CACHE/selftests32" ] || cp -r "$CACHE/selftests32" "$root/selftests32"
	for v in base patched; do
		if [ -d "$CACHE/librseq/$v/stage" ]; then
			mkdir -p "$root/librseq"
			cp -r "$CACHE/librseq/$v/stage" "$root/librseq/$v"
		fi
	done
	# The patched suite linked dynamically, where glibc registers rseq:
	# with the loader and the shared libraries it needs, at their paths
	# here.
	glibc_stage=$CACHE/librseq/patched/stage-glibc
	if [ -d "$glibc_stage" ]; then
		cp -a "$glibc_stage" "$root/librseq/glibc"
		n=$("$ROOT/userspace/librseq/guest-libs.sh" "$glibc_stage" "$root") ||
			die "initramfs: the shared libraries of $glibc_stage"
		log "initramfs: librseq/glibc, with $n shared libraries (the loader included)"
	fi
fi
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
log "initramfs${arch:+ ($arch)}: $(du -h "$out" | cut -f1)"
