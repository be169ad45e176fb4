#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# Takes cpu_opv() calls apart with the function graph tracer (run by /init
# in breakdown mode, on the breakdown kernel: dev/config/graph.config).
#
# For each benchmark row, cpu_opv_bench -R runs the call N times while
# function_graph traces:
#   - the system call, __x64_sys_cpu_opv, and the C functions the Rust core
#     calls directly that make the stages of a call (graph depth 2, and
#     only those functions hooked: their own callees are not traced, so
#     each shows as one line with its duration; Rust functions are not
#     traced, so the C functions they call appear as direct children);
#   - on the target CPU, the function-call IPI handler,
#     generic_smp_call_function_single_interrupt, which runs the vector.
# The raw traces go to stdout, one block per row ("=== breakdown ROW:");
# dev/breakdown.py makes the table.
N=${1:-1000}
T=/sys/kernel/tracing
B=/selftests/cpu_opv/cpu_opv_bench
[ -d $T/options ] || mount -t tracefs nodev $T
rc=0
# First, with the kernel's sampling profiler (the boot has profile=2), where
# the time of a local call goes inside the Rust core, which function_graph
# cannot see: each row run $P times, /proc/profile (one counter per 4 bytes
# of kernel text) compressed and in base64, for dev/breakdown.py. Before
# the tracer is set up: no code is patched meanwhile.
P=${2:-1000000}
if [ -w /proc/profile ]; then
	for row in opv_local_empty opv_local_add opv_local_worst; do
		echo > /proc/profile
		$B -R $row -i "$P" > /tmp/run.out 2>&1 || rc=1
		echo "=== profile $row: $(cat /tmp/run.out)"
		gzip -c /proc/profile | base64
		echo "=== profile end"
	done
fi
if [ ! -w $T/current_tracer ] || ! grep -qw function_graph $T/available_tracers; then
	echo "breakdown: no function_graph tracer"
	exit 1
fi
# w FILE VALUE [>>]: writes VALUE to the tracefs file FILE, or says why not.
w() {
	if [ "${3:-}" = ">>" ]; then
		echo "$2" >> "$T/$1"
	else
		echo "$2" > "$T/$1"
	fi || { echo "breakdown: cannot write $2 to $1"; return 1; }
}
w tracing_on 0 || exit 1
w buffer_size_kb 8192 || exit 1
ROOTS="__x64_sys_cpu_opv generic_smp_call_function_single_interrupt"
# The C functions the Rust core calls, each a stage of the call; any other is
# counted with the Rust core.
STAGES=""
for f in _copy_from_user rust_helper_copy_from_user down_read_killable \
	 rust_helper_vma_lookup mtree_load user_pte_table_lock \
	 user_pte_table_page_address pin_user_pages_fast_only pin_user_pages_fast \
	 pin_user_pages smp_call_function_single sched_call_on_idle_cpu \
	 user_pte_table_unlock up_read unpin_user_pages_dirty_lock \
	 __flush_smp_call_function_queue; do
	grep -q "^$f\b" $T/available_filter_functions && STAGES="$STAGES $f"
done
# Only these functions are hooked (set_ftrace_filter), and only once, before
# the tracer starts: the tracer's cost stays on them instead of on every
# function a call goes through, and the kernel's text is patched once (under
# TCG, code patching while other vCPUs run is best kept rare).
w set_ftrace_filter "" || exit 1
w set_graph_function "" || exit 1
for f in $ROOTS; do
	if ! grep -q "^$f\b" $T/available_filter_functions; then
		echo "breakdown: $f cannot be traced"
		exit 1
	fi
	w set_graph_function "$f" ">>" || exit 1
	w set_ftrace_filter "$f" ">>" || exit 1
done
for f in $STAGES; do
	w set_ftrace_filter "$f" ">>" || exit 1
done
w max_graph_depth 2 || exit 1
w current_tracer function_graph || exit 1
echo "breakdown: graph functions: $ROOTS; stages:$STAGES"
echo "breakdown: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource), trace_clock $(cat $T/trace_clock)"
for row in opv_local_empty opv_local_add opv_local_worst \
	   opv_remote_add_busy opv_remote_add_idle; do
	echo > $T/trace
	echo 1 > $T/tracing_on
	$B -R $row -i "$N" > /tmp/run.out 2>&1 || rc=1
	echo 0 > $T/tracing_on
	echo "=== breakdown $row: $(cat /tmp/run.out)"
	cat $T/per_cpu/cpu*/stats | grep -i overrun | tr '\n' ' '
	echo
	cat $T/trace
done
echo "=== breakdown end"
exit $rc
