#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run librseq's TAP test suite in a minimal guest: busybox sh only (no
# bash, no make), test programs staged by build.sh. Prints one TAP
# stream on stdout: one line per test case of the programs (their own
# numbering replaced by the stream's), the plan at the end.
#
# Usage: run-guest.sh [TESTS_DIR]    (default: the tests/ directory
#                                     beside this script)
#
# The cases are those of librseq's tests/Makefile.am TESTS and of its
# tests/run_*.tap scripts. By default every run of run_param_test.tap
# and run_param_test_cxx.tap (every test type, build and injection)
# with smaller counts than librseq's, so that the suite takes a minute or
# two on 4 vCPUs under QEMU TCG; RSEQ_FULL=1: librseq's own counts.
#
#                  default (reduced)    RSEQ_FULL=1 (librseq's)
#   param_test -r  10                   1000
#   param_test -t  number of CPUs       6 x number of CPUs
#   loop injection 1000 loops           10000 loops
#   cpu_opv tests  -r 200 -t 2 x CPUs   their defaults
#   mempool_test,  skipped              run
#   basic_percpu_ops_*test
#
# Knobs (override the above): RSEQ_REPS, RSEQ_THREADS, RSEQ_LOOPS,
# RSEQ_OPV_REPS, RSEQ_SLOW=0|1 (mempool_test, basic_percpu_ops_*test,
# whose sizes are fixed: minutes under TCG), RSEQ_PARAM=all|default
# (default: the param_test runs with the default parameters only).
#
# Who registers rseq: the stage's REGISTRATION file (or
# RSEQ_REGISTRATION). "librseq" (static programs): glibc's registration
# is disabled, GLIBC_TUNABLES=glibc.pthread.rseq=0, since librseq cannot
# find it in a static executable. "glibc" (dynamically linked programs,
# the stage's lib/ has librseq.so): glibc registers every thread and
# librseq uses that registration; that run checks it first (rseq_owner)
# and runs the unit, basic and cpu_opv tests, fork_test also without the
# tunable of run_fork_test.tap, run_no_syscall_test (LD_PRELOAD, so only
# here), mempool_cow_race_test, and param_test with the default
# parameters (RSEQ_FULL=1 or RSEQ_PARAM=all: every run); not the
# fixed-size tests (RSEQ_SLOW=1).

T=${1:-$(dirname "$0")/tests}
REGISTRATION=${RSEQ_REGISTRATION:-$(cat "$T/../REGISTRATION" 2>/dev/null || echo librseq)}
FULL=${RSEQ_FULL:-0}

# The run_*.tap scripts of librseq that disable glibc's registration
# themselves (fork, unregistered, syscall_errors) run with this.
RSEQ_OFF="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.pthread.rseq=0"
case $REGISTRATION in
librseq)
	# The test programs are static: librseq cannot find glibc's rseq
	# registration (__rseq_offset, looked up with dlsym(RTLD_NEXT)) in
	# a static executable, so glibc must leave the registration to
	# librseq, as the run_fork/unregistered/syscall_errors scripts
	# already do.
	GLIBC_TUNABLES=$RSEQ_OFF
	export GLIBC_TUNABLES
	PARAM=${RSEQ_PARAM:-all}
	SLOW=${RSEQ_SLOW:-$FULL}
	;;
glibc)
	# Dynamically linked: glibc registers, librseq.so is in the stage.
	LD_LIBRARY_PATH="$T/../lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
	PARAM=${RSEQ_PARAM:-$([ "$FULL" = 1 ] && echo all || echo default)}
	SLOW=${RSEQ_SLOW:-0}
	;;
*)
	echo "Bail out! unknown registration $REGISTRATION"
	exit 1
	;;
esac

NR_CPUS=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null)
[ -n "$NR_CPUS" ] && [ "$NR_CPUS" -gt 0 ] || NR_CPUS=1
if [ "$FULL" = 1 ]; then
	# tests/run_param_test.tap: REPS=1000, NR_THREADS=6 x nproc, 10000
	# loops; the cpu_opv tests with their own defaults.
	REPS=${RSEQ_REPS:-1000}
	THREADS=${RSEQ_THREADS:-$((6 * NR_CPUS))}
	LOOPS=${RSEQ_LOOPS:-10000}
	OPV_ARGS=${RSEQ_OPV_REPS:+-r $RSEQ_OPV_REPS}
else
	REPS=${RSEQ_REPS:-10}
	THREADS=${RSEQ_THREADS:-$NR_CPUS}
	LOOPS=${RSEQ_LOOPS:-1000}
	OPV_ARGS="-r ${RSEQ_OPV_REPS:-200} -t $((2 * NR_CPUS))"
fi

# absent NAME PROGRAM: a program that is not in the stage. Only a
# program that the series adds (cpu_opv_*), in a stage of its first
# patches only (build.sh --first N), may be absent: a skip. Any other
# missing program is a failure, not a test that passes without running.
VARIANT=$(cat "$T/../VARIANT" 2>/dev/null)
absent() {
	case "$VARIANT:$2" in
	first*:cpu_opv_* | first*:*/cpu_opv_*)
		skip "$1" "$2: not in this build ($VARIANT; a later patch of the series adds it)"
		;;
	*)
		result 1 "$1: $2 is not in the stage"
		;;
	esac
}

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
		absent "$name" "$prog"
		return
	fi
	t0=$(date +%s)
	"$T/$prog" "$@" >"$OUT" 2>"$OUT.err"
	rc=$?
	[ $(($(date +%s) - t0)) -lt 2 ] || diag "$name: $(($(date +%s) - t0)) s"
	awk -v n="$N" -v name="$name" -v cnt="$OUT.count" '
		/^1\.\.[0-9]+/ {
			sub(/^1\.\./, "")
			plan = $0 + 0
			# "1..0 # Skip reason" (plan_skip_all): one skipped case.
			if (plan == 0 && match($0, /#[ \t]*[Ss][Kk][Ii][Pp]/)) {
				reason = substr($0, RSTART + RLENGTH)
				sub(/^[ \t]*/, "", reason)
				printf "ok %d - %s # SKIP %s\n", ++n, name, reason
				skipped++
				skipall = 1
			}
			next
		}
		/^(not )?ok/ {
			notok = /^not ok/
			sub(/^(not )?ok[ \t]*[0-9]*[ \t]*(- )?/, "")
			# A failed case stays failed, whatever its directive says
			# (as librseq'"'"'s tap-driver.sh counts it).
			if (!notok && match($0, /#[ \t]*[Ss][Kk][Ii][Pp]/)) {
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
			print n, failed + 0, skipped + 0, seen + 0, plan + 0, skipall + 0 > cnt
		}' "$OUT"
	read -r n f s seen plan skipall <"$OUT.count"
	N=$n
	FAILED=$((FAILED + f))
	SKIPPED=$((SKIPPED + s))
	if [ "$rc" != 0 ] || [ "$seen" != "$plan" ] || { [ "$seen" = 0 ] && [ "$skipall" = 0 ]; }; then
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
		absent "$name" "$prog"
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
	if [ ! -x "$T/$prog" ]; then
		absent "$name" "$prog"
		return
	fi
	"$T/$prog" "$@" -r "$REPS" -t "$THREADS" >/dev/null 2>"$OUT.err"
	rc=$?
	if [ "$rc" = 2 ]; then
		skip "$name" "mm_cid unavailable"
	else
		[ "$rc" = 0 ] || sed 's/^/# stderr: /' "$OUT.err" | tail -3
		result "$rc" "$name"
	fi
}

# do_test TEST_NAME ARGS...: the runs of run_param_test.tap (SFX empty:
# the 4 builds of param_test) or of run_param_test_cxx.tap (SFX=_cxx:
# param_test_cxx and param_test_compare_twice_cxx).
do_test() {
	tn=$1
	shift
	param "$SCRIPT: Running test $tn ($*)" "param_test$SFX" "$@"
	param "$SCRIPT: Running compare-twice test $tn ($*)" "param_test_compare_twice$SFX" "$@"
	if [ -z "$SFX" ]; then
		param_mm_cid "$SCRIPT: Running mm_cid test $tn ($*)" param_test_mm_cid "$@"
		param_mm_cid "$SCRIPT: Running compare-twice mm_cid test $tn ($*)" \
			param_test_mm_cid_compare_twice "$@"
	fi
}

# The test types: run_param_test_cxx.tap has no membarrier test.
do_tests() {
	do_test "spinlock" -T s "$@"
	do_test "list" -T l "$@"
	do_test "buffer" -T b "$@"
	do_test "buffer with barrier" -T b -M "$@"
	do_test "memcpy" -T m "$@"
	do_test "memcpy with barrier" -T m -M "$@"
	do_test "increment" -T i "$@"
	[ -n "$SFX" ] || do_test "membarrier" -T r "$@"
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

# run_param_test SUFFIX: run_param_test.tap (C) or run_param_test_cxx.tap
# (_cxx), in their order: 37 sets of runs ($PARAM=all) or the first.
run_param_test() {
	SFX=$1
	SCRIPT=run_param_test$SFX
	if [ -x "$T/param_test$SFX" ] && { "$T/param_test$SFX" -c; [ $? = 2 ]; }; then
		skip "$SCRIPT" "The rseq syscall is unavailable"
		return
	fi
	diag "$SCRIPT: Default parameters"
	do_tests
	[ "$PARAM" = all ] || return 0
	diag "$SCRIPT: Loop injection: $LOOPS loops"
	do_tests_loops "$LOOPS"
	diag "$SCRIPT: Yield injection (25%)"
	do_tests_inject -m 4 -y
	diag "$SCRIPT: Yield injection (50%)"
	do_tests_inject -m 2 -y
	diag "$SCRIPT: Yield injection (100%)"
	do_tests_inject -m 1 -y
	diag "$SCRIPT: Kill injection (25%)"
	do_tests_inject -m 4 -k
	diag "$SCRIPT: Kill injection (50%)"
	do_tests_inject -m 2 -k
	diag "$SCRIPT: Kill injection (100%)"
	do_tests_inject -m 1 -k
	diag "$SCRIPT: Sleep injection (1ms, 25%)"
	do_tests_inject -m 4 -s 1
	diag "$SCRIPT: Sleep injection (1ms, 50%)"
	do_tests_inject -m 2 -s 1
	diag "$SCRIPT: Sleep injection (1ms, 100%)"
	do_tests_inject -m 1 -s 1
}

# tap_env VARIABLE VALUE COMMAND...: run COMMAND (tap or another
# tap_env) with VARIABLE=VALUE exported, then restore VARIABLE.
tap_env() {
	local var=$1 was_set saved
	eval "was_set=\${$var+set} saved=\${$var-}"
	eval "$var=\$2; export $var"
	shift 2
	"$@"
	if [ "$was_set" = set ]; then
		eval "$var=\$saved"
	else
		unset "$var"
	fi
}

# tap_rseq_off NAME PROGRAM: as tap, with glibc's registration disabled,
# as librseq's run_*.tap wrapper scripts do.
tap_rseq_off() {
	tap_env GLIBC_TUNABLES "$RSEQ_OFF" tap "$@"
}

diag "librseq test suite: $NR_CPUS CPUs, kernel $(uname -r), ${VARIANT:-unknown} build"
diag "rseq registered by $REGISTRATION; GLIBC_TUNABLES=${GLIBC_TUNABLES-}; $([ "$FULL" = 1 ] && echo "librseq's counts" || echo "reduced counts"): param_test -r $REPS -t $THREADS, loops $LOOPS, runs: $PARAM; cpu_opv tests ${OPV_ARGS:-with their defaults}; fixed-size tests: $([ "$SLOW" = 1 ] && echo run || echo skipped)"

# librseq's per-CPU memory pool (param_test, mempool tests) needs madvise()
# (MADV_DONTFORK, MADV_WIPEONFORK): say so when the kernel lacks it.
if [ -r /proc/kallsyms ] && grep -q ' T __x64_sys_getpid$' /proc/kallsyms &&
   ! grep -q ' T __x64_sys_madvise$' /proc/kallsyms; then
	diag "WARNING: this kernel has no madvise() (CONFIG_ADVISE_SYSCALLS=n): the mempool COW_INIT"
	diag "WARNING: ranges of param_test and the mempool tests cannot be created (ENOMEM)"
fi

# Who registered rseq, and whether librseq uses that registration.
tap "rseq_owner" rseq_owner "$REGISTRATION"

# tests/Makefile.am TESTS, in its order.
tap "unit/arch_mo" unit/arch_mo.tap
tap "unit/arch_mo_cxx" unit/arch_mo_cxx.tap
tap "unit/cpu_opv_vec" unit/cpu_opv_vec.tap
tap "unit/cpu_opv_vec_cxx" unit/cpu_opv_vec_cxx.tap
tap "unit/cpu_opv_fallback" unit/cpu_opv_fallback.tap
tap "unit/cpu_opv_fallback_cxx" unit/cpu_opv_fallback_cxx.tap
tap "basic_test" basic_test.tap
tap "basic_test_cxx" basic_test_cxx.tap
tap_rseq_off "run_fork_test" fork_test.tap
tap_rseq_off "run_fork_test_cxx" fork_test_cxx.tap
if [ "$REGISTRATION" = glibc ]; then
	# fork_test without the tunable: glibc's registration survives fork().
	tap "fork_test (glibc's registration)" fork_test.tap
	tap "fork_test_cxx (glibc's registration)" fork_test_cxx.tap
fi
tap_rseq_off "run_unregistered_test" unregistered_test.tap
tap_rseq_off "run_unregistered_test_cxx" unregistered_test_cxx.tap
tap_rseq_off "run_syscall_errors_test" syscall_errors_test.tap
tap_rseq_off "run_syscall_errors_test_cxx" syscall_errors_test_cxx.tap
tap "mempool_cow_race_test" mempool_cow_race_test.tap
tap "mempool_cow_race_test_cxx" mempool_cow_race_test_cxx.tap
# fixed_size NAME SIZES: a test whose sizes librseq fixed, run with
# RSEQ_SLOW=1 only.
fixed_size() {
	if [ "$SLOW" = 1 ]; then
		tap "$1" "$1.tap"
	else
		skip "$1" "$2, no option to reduce (RSEQ_SLOW=1 runs it: dev/librseq-full --fixed-size)"
	fi
}
for t in mempool_test mempool_test_cxx; do
	fixed_size "$t" "fixed sizes up to 2 MiB x 1024 CPUs, 30 s native, 4 min under TCG"
done
# run_no_syscall_test.tap: the program with a preloaded seccomp filter
# that makes rseq(2) fail with ENOSYS, which needs a dynamically linked
# program. And with glibc's registration disabled, which librseq's script
# does not do: glibc registers the main thread in the loader, before the
# preloaded library's constructor installs the filter, and librseq then
# takes glibc's registration (rseq_size 32, cpu_id set: the test fails
# wherever glibc's registration succeeds). A kernel without rseq(2) would
# have failed glibc's registration too; the tunable stands for that.
NO_SYSCALL=$T/../lib/libdisable-rseq-syscall.so
for sfx in "" _cxx; do
	if [ "$REGISTRATION" != glibc ]; then
		skip "run_no_syscall_test$sfx" "LD_PRELOAD needs a dynamically linked program: the glibc run makes it"
	elif [ ! -f "$NO_SYSCALL" ]; then
		result 1 "run_no_syscall_test$sfx: libdisable-rseq-syscall.so is not in the stage"
	else
		tap_env LD_PRELOAD "$NO_SYSCALL" \
			tap_rseq_off "run_no_syscall_test$sfx" "no_syscall_test$sfx.tap"
	fi
done
for t in basic_percpu_ops_test basic_percpu_ops_test_cxx \
	 basic_percpu_ops_mm_cid_test basic_percpu_ops_mm_cid_test_cxx; do
	fixed_size "$t" "fixed 200 threads x 100000 iterations, 20 s native, 1.5 min under TCG"
done

# run_param_test.tap and run_param_test_cxx.tap.
run_param_test ""
run_param_test _cxx

# The cpu_opv tests of the series, C and C++ builds (they skip without
# cpu_opv).
diag "cpu_opv tests"
for sfx in "" _cxx; do
	# shellcheck disable=SC2086 # empty or options
	tap "cpu_opv_remote_test$sfx" "cpu_opv_remote_test$sfx.tap" $OPV_ARGS
	# shellcheck disable=SC2086 # empty or options
	tap "cpu_opv_percpu_ops_test$sfx" "cpu_opv_percpu_ops_test$sfx.tap" $OPV_ARGS
	tap "cpu_opv_singlestep_test$sfx" "cpu_opv_singlestep_test$sfx.tap"
done

rm -f "$OUT" "$OUT.err" "$OUT.count"
END=$(date +%s)
diag "$N cases: $((N - FAILED - SKIPPED)) passed, $SKIPPED skipped, $FAILED failed, in $((END - START)) s"
echo "1..$N"
[ "$FAILED" = 0 ]
