#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run librseq's TAP test suite in a minimal guest: busybox sh only (no
# bash, no make), static test programs staged by build.sh. Prints one
# TAP stream on stdout: one line per test case of the programs (their
# own numbering replaced by the stream's), the plan at the end.
#
# Usage: run-guest.sh [TESTS_DIR]    (default: the tests/ directory
#                                     beside this script)
#
# The cases are those of librseq's tests/Makefile.am TESTS and of its
# tests/run_*.tap scripts, with reduced iteration counts so that the
# suite takes less than 3 minutes on 4 vCPUs under QEMU TCG. Knobs:
# RSEQ_REPS (param_test -r, default 10), RSEQ_THREADS (param_test -t,
# default the number of CPUs), RSEQ_LOOPS (loop injection, default 1000),
# RSEQ_PARAM_FULL=1 (all 1184 param_test runs instead of 320),
# RSEQ_SLOW=1 (also run mempool_test and basic_percpu_ops_test, whose
# sizes are fixed: minutes under TCG),
# RSEQ_OPV_REPS (cpu_opv tests -r, default 200).

T=${1:-$(dirname "$0")/tests}

# The test programs are static: librseq cannot find glibc's rseq
# registration (__rseq_offset, looked up with dlsym(RTLD_NEXT)) in a
# static executable, so glibc must leave the registration to librseq, as
# the run_fork/unregistered/syscall_errors scripts already do.
GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.pthread.rseq=0"
export GLIBC_TUNABLES

NR_CPUS=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null)
[ -n "$NR_CPUS" ] && [ "$NR_CPUS" -gt 0 ] || NR_CPUS=1
REPS=${RSEQ_REPS:-10}
THREADS=${RSEQ_THREADS:-$NR_CPUS}
LOOPS=${RSEQ_LOOPS:-1000}
OPV_REPS=${RSEQ_OPV_REPS:-200}

N=0
FAILED=0
SKIPPED=0
OUT=/tmp/run-guest.$$
START=$(date +%s)

result() {	# result STATUS(0=ok) DESCRIPTION [DIRECTIVE]
	N=$((N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $N - $2${3:+ # $3}"
	else
		FAILED=$((FAILED + 1))
		echo "not ok $N - $2"
	fi
}

skip() {	# skip DESCRIPTION REASON
	N=$((N + 1))
	SKIPPED=$((SKIPPED + 1))
	echo "ok $N - $1 # SKIP $2"
}

diag() {
	echo "# [$(($(date +%s) - START)) s] $*"
}

# tap NAME PROGRAM [ARGS...]: run a TAP program, and renumber its results
# into the stream. A crash, a non-zero exit status or missing results
# make one more failed case.
tap() {
	name=$1
	prog=$2
	shift 2
	if [ ! -x "$T/$prog" ]; then
		skip "$name" "$prog not built"
		return
	fi
	"$T/$prog" "$@" >"$OUT" 2>"$OUT.err"
	rc=$?
	awk -v n="$N" -v name="$name" -v cnt="$OUT.count" '
		/^1\.\.[0-9]+/ { sub(/^1\.\./, ""); plan = $0 + 0; next }
		/^(not )?ok/ {
			notok = /^not ok/
			sub(/^(not )?ok[ \t]*[0-9]*[ \t]*(- )?/, "")
			if (match($0, /#[ \t]*[Ss][Kk][Ii][Pp]/)) {
				reason = substr($0, RSTART + RLENGTH)
				sub(/^[ \t]*/, "", reason)
				desc = substr($0, 1, RSTART - 1)
				sub(/[ \t]*$/, "", desc)
				printf "ok %d - %s%s%s # SKIP %s\n", ++n, name, desc == "" ? "" : ": ", desc, reason
				skipped++
			} else {
				printf "%s %d - %s: %s\n", notok ? "not ok" : "ok", ++n, name, $0
				if (notok)
					failed++
			}
			seen++
			next
		}
		/^#/ { print; next }
		END {
			print n, failed + 0, skipped + 0, seen + 0, plan + 0 > cnt
		}' "$OUT"
	read -r n f s seen plan <"$OUT.count"
	N=$n
	FAILED=$((FAILED + f))
	SKIPPED=$((SKIPPED + s))
	if [ "$rc" != 0 ] || [ "$seen" != "$plan" ] || [ "$seen" = 0 ]; then
		sed 's/^/# stderr: /' "$OUT.err" | tail -5
		result 1 "$name: exit status $rc, $seen results of $plan planned"
	fi
}

# param NAME PROGRAM ARGS...: one case per run, as run_param_test.tap.
param() {
	name=$1
	prog=$2
	shift 2
	if [ ! -x "$T/$prog" ]; then
		skip "$name" "$prog not built"
		return
	fi
	"$T/$prog" "$@" -r "$REPS" -t "$THREADS" >/dev/null 2>"$OUT.err"
	rc=$?
	[ "$rc" = 0 ] || sed 's/^/# stderr: /' "$OUT.err" | tail -3
	result "$rc" "$name"
}

param_mm_cid() {	# As param, with exit status 2 meaning "mm_cid unavailable".
	name=$1
	prog=$2
	shift 2
	"$T/$prog" "$@" -r "$REPS" -t "$THREADS" >/dev/null 2>"$OUT.err"
	rc=$?
	if [ "$rc" = 2 ]; then
		skip "$name" "mm_cid unavailable"
	else
		result "$rc" "$name"
	fi
}

# do_test TEST_NAME ARGS...: the 4 runs of run_param_test.tap, or those of
# $VARIANTS: "all", "cpu_id mm_cid" (param_test, param_test_mm_cid) or
# "cpu_id" (param_test).
do_test() {
	tn=$1
	shift
	param "Running test $tn ($*)" param_test "$@"
	case "$VARIANTS" in
	all)
		param "Running compare-twice test $tn ($*)" param_test_compare_twice "$@"
		;;
	esac
	case "$VARIANTS" in
	all|*mm_cid*)
		param_mm_cid "Running mm_cid test $tn ($*)" param_test_mm_cid "$@"
		;;
	esac
	case "$VARIANTS" in
	all)
		param_mm_cid "Running compare-twice mm_cid test $tn ($*)" param_test_mm_cid_compare_twice "$@"
		;;
	esac
}

do_tests() {
	do_test "spinlock" -T s "$@"
	do_test "list" -T l "$@"
	do_test "buffer" -T b "$@"
	do_test "buffer with barrier" -T b -M "$@"
	do_test "memcpy" -T m "$@"
	do_test "memcpy with barrier" -T m -M "$@"
	do_test "increment" -T i "$@"
	do_test "membarrier" -T r "$@"
}

do_tests_loops() {
	for i in 1 2 3 4 5 6 7 8 9; do
		do_tests -$i "$1"
	done
}

do_tests_inject() {
	do_tests -7 -1 "$@"
	do_tests -8 -1 "$@"
	do_tests -9 -1 "$@"
}

diag "librseq test suite: $NR_CPUS CPUs, kernel $(uname -r), $(cat "$T/../VARIANT" 2>/dev/null || echo unknown) build"
diag "GLIBC_TUNABLES=$GLIBC_TUNABLES; param_test -r $REPS -t $THREADS, loops $LOOPS; cpu_opv tests -r $OPV_REPS"

# librseq's per-CPU memory pool (param_test, mempool tests) needs madvise()
# (MADV_DONTFORK, MADV_WIPEONFORK): say so when the kernel lacks it.
if [ -r /proc/kallsyms ] && grep -q ' T __x64_sys_getpid$' /proc/kallsyms &&
   ! grep -q ' T __x64_sys_madvise$' /proc/kallsyms; then
	diag "WARNING: this kernel has no madvise() (CONFIG_ADVISE_SYSCALLS=n): the mempool COW_INIT"
	diag "WARNING: ranges of param_test and the mempool tests cannot be created (ENOMEM)"
fi

# tests/Makefile.am TESTS, in its order.
tap "unit/arch_mo" unit/arch_mo.tap
tap "unit/arch_mo_cxx" unit/arch_mo_cxx.tap
tap "unit/cpu_opv_vec" unit/cpu_opv_vec.tap
tap "unit/cpu_opv_vec_cxx" unit/cpu_opv_vec_cxx.tap
tap "unit/cpu_opv_fallback" unit/cpu_opv_fallback.tap
tap "unit/cpu_opv_fallback_cxx" unit/cpu_opv_fallback_cxx.tap
tap "basic_test" basic_test.tap
tap "basic_test_cxx" basic_test_cxx.tap
tap "run_fork_test" fork_test.tap
tap "run_fork_test_cxx" fork_test_cxx.tap
tap "run_unregistered_test" unregistered_test.tap
tap "run_unregistered_test_cxx" unregistered_test_cxx.tap
tap "run_syscall_errors_test" syscall_errors_test.tap
tap "run_syscall_errors_test_cxx" syscall_errors_test_cxx.tap
tap "mempool_cow_race_test" mempool_cow_race_test.tap
tap "mempool_cow_race_test_cxx" mempool_cow_race_test_cxx.tap
if [ "${RSEQ_SLOW:-0}" = 1 ]; then
	tap "mempool_test" mempool_test.tap
	tap "mempool_test_cxx" mempool_test_cxx.tap
else
	skip "mempool_test" "fixed sizes up to 4 MiB x 1024 CPUs, 30 s native, no option to reduce (RSEQ_SLOW=1 runs it)"
	skip "mempool_test_cxx" "fixed sizes up to 4 MiB x 1024 CPUs, 30 s native, no option to reduce (RSEQ_SLOW=1 runs it)"
fi
skip "run_no_syscall_test" "needs a shared build with libseccomp (LD_PRELOAD), as in make check"
skip "run_no_syscall_test_cxx" "needs a shared build with libseccomp (LD_PRELOAD), as in make check"
for t in basic_percpu_ops_test basic_percpu_ops_test_cxx \
	 basic_percpu_ops_mm_cid_test basic_percpu_ops_mm_cid_test_cxx; do
	if [ "${RSEQ_SLOW:-0}" = 1 ]; then
		tap "$t" "$t.tap"
	else
		skip "$t" "fixed 200 threads x 100000 iterations, 20 s native, no option to reduce (RSEQ_SLOW=1 runs it)"
	fi
done

# run_param_test.tap, with -r $REPS -t $THREADS and $LOOPS loops.
if [ -x "$T/param_test" ] && { "$T/param_test" -c; [ $? = 2 ]; }; then
	skip "run_param_test" "The rseq syscall is unavailable"
else
	# Each run costs a process and its threads, a fifth of a second
	# under TCG: the 4 variants run with the default parameters, and
	# param_test alone with the injections (320 runs of 1184).
	# RSEQ_PARAM_FULL=1: all 1184.
	if [ "${RSEQ_PARAM_FULL:-0}" = 1 ]; then
		V_LOOPS=all
		V_INJECT=all
	else
		V_LOOPS=cpu_id
		V_INJECT=cpu_id
	fi
	diag "run_param_test: Default parameters"
	VARIANTS=all
	do_tests
	diag "run_param_test: Loop injection: $LOOPS loops (variants: $V_LOOPS)"
	VARIANTS=$V_LOOPS
	do_tests_loops "$LOOPS"
	diag "run_param_test: injections below (variants: $V_INJECT)"
	VARIANTS=$V_INJECT
	diag "run_param_test: Yield injection (25%)"
	do_tests_inject -m 4 -y
	diag "run_param_test: Yield injection (50%)"
	do_tests_inject -m 2 -y
	diag "run_param_test: Yield injection (100%)"
	do_tests_inject -m 1 -y
	diag "run_param_test: Kill injection (25%)"
	do_tests_inject -m 4 -k
	diag "run_param_test: Kill injection (50%)"
	do_tests_inject -m 2 -k
	diag "run_param_test: Kill injection (100%)"
	do_tests_inject -m 1 -k
	diag "run_param_test: Sleep injection (1ms, 25%)"
	do_tests_inject -m 4 -s 1
	diag "run_param_test: Sleep injection (1ms, 50%)"
	do_tests_inject -m 2 -s 1
	diag "run_param_test: Sleep injection (1ms, 100%)"
	do_tests_inject -m 1 -s 1
fi
skip "run_param_test_cxx" "C++ build of run_param_test's program, skipped for time"

# The cpu_opv tests of the series, C and C++ builds (they skip without
# cpu_opv).
diag "cpu_opv tests"
for sfx in "" _cxx; do
	tap "cpu_opv_remote_test$sfx" "cpu_opv_remote_test$sfx.tap" -r "$OPV_REPS" -t $((2 * NR_CPUS))
	diag "cpu_opv_percpu_ops_test$sfx"
	tap "cpu_opv_percpu_ops_test$sfx" "cpu_opv_percpu_ops_test$sfx.tap" -r "$OPV_REPS" -t $((2 * NR_CPUS))
	diag "cpu_opv_singlestep_test$sfx"
	tap "cpu_opv_singlestep_test$sfx" "cpu_opv_singlestep_test$sfx.tap"
done

rm -f "$OUT" "$OUT.err" "$OUT.count"
END=$(date +%s)
diag "$N cases: $((N - FAILED - SKIPPED)) passed, $SKIPPED skipped, $FAILED failed, in $((END - START)) s"
echo "1..$N"
[ "$FAILED" = 0 ]
