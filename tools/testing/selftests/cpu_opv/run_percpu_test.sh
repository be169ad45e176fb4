#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs percpu_test: every per-CPU structure of percpu-op.h in every mode
# (rseq, opv, mixed, migrate, hotplug, inject), then the deliberate
# expect_fault test of the list. The default iterations fit the kselftest
# timeout in an emulated 4-CPU guest. To stress harder, scale them and add
# threads, e.g.:
#
#	./run_percpu_test.sh -x 50 -t 4
#
# The options are those of percpu_test; the main ones:
#	-x SCALE	multiply each structure's iterations per thread
#	-t THREADS	threads per CPU (default 2)
#	-s STRUCT,...	only these structures (spinlock counter list stack
#			steal copy ring fault)
#	-m MODE,...	only these modes

cd "$(dirname "$0")" || exit 1

# percpu_test brings back the CPUs it offlined, also when it crashes; this
# covers its being killed outright.
online=""
for f in /sys/devices/system/cpu/cpu[0-9]*/online; do
	[ -w "$f" ] && [ "$(cat "$f")" = 1 ] && online="$online $f"
done
restore_cpus()
{
	for f in $online; do
		[ "$(cat "$f")" = 1 ] || echo 1 > "$f"
	done
}
trap restore_cpus EXIT
trap 'exit 1' INT TERM

./percpu_test "$@"
exit $?
