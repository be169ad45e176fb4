#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Boot a kernel under QEMU (TCG, 4 vCPUs) with an initramfs made of
# busybox and a stage of build.sh (stage, or stage-glibc with the
# loader and the shared libraries it needs), run run-guest.sh there, and
# print its TAP stream.
#
# Usage: boot-guest.sh BZIMAGE STAGE_DIR WORKDIR
#
# The console log is kept in WORKDIR/console. Needs qemu-system-x86_64,
# cpio and a static busybox (/bin/busybox, Debian's busybox-static).

set -eu

[ $# = 3 ] || { echo "usage: $0 BZIMAGE STAGE_DIR WORKDIR" >&2; exit 2; }
KERNEL=$1
STAGE=$(cd "$2" && pwd)
WORK=$3
BUSYBOX=${BUSYBOX:-/bin/busybox}

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
ROOT=$WORK/initramfs
rm -rf "$ROOT"
mkdir -p "$ROOT/bin" "$ROOT/sbin" "$ROOT/usr/bin" "$ROOT/usr/sbin" \
	"$ROOT/dev" "$ROOT/proc" "$ROOT/sys" "$ROOT/tmp" "$ROOT/librseq"
cp "$BUSYBOX" "$ROOT/bin/busybox"
mknod "$ROOT/dev/console" c 5 1
cp -r "$STAGE/." "$ROOT/librseq/"
# A stage of build.sh --glibc (stage-glibc): the loader and the C library.
if [ -d "$STAGE/lib" ]; then
	"$(dirname "$0")/guest-libs.sh" "$STAGE" "$ROOT" >/dev/null
fi
cat >"$ROOT/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
echo "=== librseq guest: begin $(date +%s)"
sh /librseq/run-guest.sh /librseq/tests
echo "=== librseq guest: end $(date +%s) status $?"
sync
reboot -f
INIT
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet) | gzip -1 >"$WORK/initramfs.cpio.gz"

rm -f "$WORK/console"
timeout "${TIMEOUT:-600}" qemu-system-x86_64 -accel tcg,thread=multi -smp 4 -m 4G -nodefaults \
	-display none -no-reboot -kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" \
	-append 'console=ttyS0 panic=-1' -serial file:"$WORK/console" || true
sed -n '/^=== librseq guest: begin/,/^=== librseq guest: end/p' "$WORK/console" | tr -d '\r'
