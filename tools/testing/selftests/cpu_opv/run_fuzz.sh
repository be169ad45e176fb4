#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs fuzz_test: the model mode on a few seeds, N vectors each, then the
# churn mode, then the inject mode (N vectors, with failures injected into
# the calls; skipped without root or fault injection, see
# run_fuzz_inject.sh). A mismatch prints the vector and the command line
# that replays it; the exit status is that of kselftest (4: cpu_opv()
# missing).
#
#	./run_fuzz.sh [N [CHURN_SECONDS]]
#
# N defaults to 1000000 vectors per seed: minutes in an emulated guest,
# where fuzz_test on its own (10^5 vectors) is the quick run. The seeds are
# 2, 3 and one from the clock (fuzz_test alone uses 1); the inject mode
# uses 2.

cd "$(dirname "$0")" || exit 1
n=${1:-1000000}
secs=${2:-15}
ksft_skip=4

# fuzz_test brings back the CPU it offlines, also when killed by a signal
# it catches; this covers its being killed outright.
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

rc=0
for seed in 2 3 $(($(date +%s) % 1000000 + 4)); do
	echo "# run_fuzz: model, seed $seed, $n vectors"
	./fuzz_test -m model -s "$seed" -n "$n"
	r=$?
	[ $r = $ksft_skip ] && exit $ksft_skip
	[ $r = 0 ] || rc=1
done
echo "# run_fuzz: churn, $secs s"
./fuzz_test -m churn -s 2 -t "$secs"
r=$?
[ $r = 0 ] || [ $r = $ksft_skip ] || rc=1
echo "# run_fuzz: inject, seed 2, $n vectors"
./fuzz_test -m inject -s 2 -n "$n"
r=$?
[ $r = 0 ] || [ $r = $ksft_skip ] || rc=1
exit $rc
