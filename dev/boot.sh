#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boots a kernel under QEMU (TCG: KVM guests hang on these machines) with
# 4 CPUs and the initramfs, in one of the guest's modes:
#   dev/boot.sh y|n|bench|graph|arm64[-kasan] test|demo|enosys|bench|librseq|
#               librseq-full|breakdown|isolation|run|spin [time limit in s]
# The arm64 kernel boots on QEMU's virt machine (-cpu max), with
# $CACHE/initramfs-arm64.cpio.gz; its guest writes the results to virtio
# consoles instead of the second to fourth serial ports.
# (mode run: the kselftest named by CPU_OPV_RUN, see dev/run-one; modes
# librseq and librseq-full: the runs it names, e.g. patched,glibc).
# CPU_OPV_CMDLINE: more kernel command line parameters, for experiments.
# CPU_OPV_QEMU: more QEMU arguments (dev/insncount: its gdb stub).
# CPU_OPV_INITRD: another x86 initramfs (dev/insncount: the spin guest's).
# Console log: $CACHE/logs/<y|n>-<mode>.console; results written by the
# guest to its second serial port: $CACHE/logs/<y|n>-<mode>.tap, to its
# third: $CACHE/logs/<y|n>-<mode>.extra, to its fourth:
# $CACHE/logs/<y|n>-<mode>.compat.
# In demo mode the console is also shown on the terminal.
. "$(dirname "$0")/lib.sh"

v=${1:?y|n} mode=${2:?test|demo|enosys} limit=${3:-900}
kernel=$CACHE/build-$v/arch/x86/boot/bzImage initrd=${CPU_OPV_INITRD:-$CACHE/initramfs.cpio.gz}
arm64=0
case $v in
arm64*) kernel=$CACHE/build-$v/arch/arm64/boot/Image initrd=$CACHE/initramfs-arm64.cpio.gz
	arm64=1 ;;
esac
# The test kernels split their memory into two NUMA nodes (migration tests).
numa=
case $v in y|kcsan|arm64*) numa=numa=fake=2 ;; esac
# The isolation mode isolates the last CPU (the test kernel has NO_HZ_FULL).
isol=
# KUnit ran in the test boot already.
[ "$mode" = isolation ] && isol="nohz_full=3 isolcpus=domain,3 kunit.enable=0"
# librseq's mempool_test maps 2 GiB at once, which the kernel's overcommit
# heuristic refuses with 2 GiB of memory.
mem=2G
case $mode in librseq*) mem=4G ;; esac
logs=$CACHE/logs
mkdir -p "$logs"
console=$logs/$v-$mode.console tap=$logs/$v-$mode.tap extra=$logs/$v-$mode.extra
compat=$logs/$v-$mode.compat
rm -f "$console" "$tap" "$extra" "$compat"
append="panic=-1 cpu_opv.mode=$mode${numa:+ $numa}${isol:+ $isol}${CPU_OPV_CMDLINE:+ $CPU_OPV_CMDLINE}${CPU_OPV_RUN:+ cpu_opv.run=$CPU_OPV_RUN}"
if ((arm64)); then
	# pauth-impdef: pointer authentication with QEMU's own hash, much
	# faster to emulate than the architected QARMA5.
	qemu=(qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on -accel tcg,thread=multi
	      -smp 4 -m "$mem"
	      -no-reboot -nodefaults -display none -kernel "$kernel" -initrd "$initrd"
	      -append "console=ttyAMA0 $append")
	# The results: /dev/hvc0, hvc1 and hvc2 in the guest.
	ports=(-device virtio-serial-device)
	i=0
	for f in "$tap" "$extra" "$compat"; do
		i=$((i + 1))
		ports+=(-chardev "file,id=port$i,path=$f" -device "virtconsole,chardev=port$i")
	done
	demo_ports=()
else
	qemu=(qemu-system-x86_64 -accel tcg,thread=multi -smp 4 -m "$mem" -no-reboot
	      -nodefaults -display none -kernel "$kernel" -initrd "$initrd"
	      -append "console=ttyS0 $append")
	# shellcheck disable=SC2206 # split on purpose: several arguments
	[ -z "${CPU_OPV_QEMU:-}" ] || qemu+=($CPU_OPV_QEMU)
	ports=(-serial "file:$tap" -serial "file:$extra" -serial "file:$compat")
	demo_ports=(-serial null)
fi
rc=0
if [ "$mode" = demo ]; then
	timeout "$limit" "${qemu[@]}" -serial stdio "${demo_ports[@]}" < /dev/null |
		tee "$console" || rc=$?
else
	timeout "$limit" "${qemu[@]}" -serial "file:$console" "${ports[@]}" < /dev/null || rc=$?
fi
if ((rc == 124)); then
	log "boot $v-$mode: guest did not finish within $limit s"
	exit 124
fi
((rc == 0)) || die "boot $v-$mode: qemu exited with $rc"
grep -q "guest: done" "$console" || die "boot $v-$mode: the guest did not finish (see $console)"
