// SPDX-License-Identifier: GPL-2.0
/*
 * The progress guarantee cpu_opv() gives rseq: a thread single-stepped with
 * PTRACE_SINGLESTEP traps after every instruction, which aborts its rseq
 * critical section each time, so that rseq alone never completes an
 * operation; once the fallback to cpu_opv() is allowed, every operation
 * completes.
 *
 * For each structure of percpu-op.h, a child first does its operations
 * untraced with rseq only (the control: rseq works), then is traced and
 * single-stepped: for a number of steps with rseq only, where no operation
 * may complete, then with the fallback allowed (the tracer changes the
 * child's policy in shared memory) until all its operations are done, none
 * of them by rseq. The child then checks its structure.
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest.h"
#include "percpu-op.h"

static long opt_ops = 4;		/* -n: operations per phase */
static long opt_stuck_steps = 1000;	/* -s: steps with rseq only */
static long opt_max_steps = 1000000;	/* -m: step budget with the fallback */

struct shared {
	struct percpu_op_ctx ctx;	/* the traced child's */
	struct percpu_op_stats control;	/* the untraced child's */
};

static struct shared *sh;
static int nr_cpus;

struct target {
	const char *name;
	int (*setup)(void);
	void (*op)(struct percpu_op_ctx *ctx, long i);
	/* After @ops operations in all. */
	bool (*check)(long ops);
};

#define NR_ITEMS	4

static struct percpu_counter counter;
static struct percpu_lock lock;
static struct percpu_list list;
static struct percpu_list_node nodes[NR_ITEMS];
static struct percpu_stack stack;
static struct percpu_copy_stack copy;
static struct percpu_ring ring;
/* What an even operation took, for the odd one to give back. */
static void *held;
static int held_cpu;
static long held_pos;

static int counter_setup(void)
{
	return percpu_counter_create(&counter);
}

static void counter_op(struct percpu_op_ctx *ctx, long i)
{
	percpu_counter_add(ctx, &counter, 1);
}

static bool counter_check(long ops)
{
	intptr_t sum = 0;
	int cpu;

	for (cpu = 0; cpu < nr_cpus; cpu++)
		sum += percpu_counter_read(&counter, cpu);
	return sum == ops;
}

static int lock_setup(void)
{
	return percpu_lock_create(&lock);
}

static void lock_op(struct percpu_op_ctx *ctx, long i)
{
	percpu_unlock(&lock, percpu_lock(ctx, &lock));
}

static bool lock_check(long ops)
{
	return true;
}

/* List, stack and copy stack: pop (even operations) and push back (odd). */
static int list_setup(void)
{
	struct percpu_op_ctx ctx;
	int i;

	if (percpu_list_create(&list))
		return -1;
	percpu_op_thread_init(&ctx, PERCPU_OP_RSEQ_ONLY);
	for (i = 0; i < NR_ITEMS; i++)
		percpu_list_push(&ctx, &list, &nodes[i]);
	return 0;
}

static void list_op(struct percpu_op_ctx *ctx, long i)
{
	int cpu;

	if (i & 1) {
		percpu_list_push(ctx, &list, held);
		return;
	}
	/* Every other CPU's list is empty: wait until on the right one. */
	while (!(held = percpu_list_pop(ctx, &list, &cpu)))
		sched_yield();
}

static bool list_check(long ops)
{
	struct percpu_list_node *node;
	int cpu, n = 0;

	for (cpu = 0; cpu < nr_cpus; cpu++)
		for (node = percpu_list_head(&list, cpu); node && n <= NR_ITEMS;
		     node = node->next)
			n++;
	return n == NR_ITEMS;
}

static int stack_setup(void)
{
	struct percpu_op_ctx ctx;
	int i;

	if (percpu_stack_create(&stack, NR_ITEMS))
		return -1;
	percpu_op_thread_init(&ctx, PERCPU_OP_RSEQ_ONLY);
	for (i = 0; i < NR_ITEMS; i++)
		percpu_stack_push(&ctx, &stack, &nodes[i]);
	return 0;
}

static void stack_op(struct percpu_op_ctx *ctx, long i)
{
	int cpu;

	if (i & 1) {
		percpu_stack_push(ctx, &stack, held);
		return;
	}
	while (!(held = percpu_stack_pop(ctx, &stack, &cpu)))
		sched_yield();
}

static bool stack_check(long ops)
{
	long n = 0;
	int cpu;

	for (cpu = 0; cpu < nr_cpus; cpu++)
		n += percpu_stack_count(&stack, cpu);
	return n == NR_ITEMS;
}

#define COPY_SIZE	64

static char copy_buf[COPY_SIZE];

static int copy_setup(void)
{
	struct percpu_op_ctx ctx;
	int i;

	if (percpu_copy_stack_create(&copy, COPY_SIZE, NR_ITEMS))
		return -1;
	percpu_op_thread_init(&ctx, PERCPU_OP_RSEQ_ONLY);
	for (i = 0; i < NR_ITEMS; i++) {
		memset(copy_buf, i + 1, sizeof(copy_buf));
		percpu_copy_push(&ctx, &copy, copy_buf);
	}
	return 0;
}

static void copy_op(struct percpu_op_ctx *ctx, long i)
{
	if (i & 1) {
		percpu_copy_push(ctx, &copy, copy_buf);
		return;
	}
	while (percpu_copy_pop(ctx, &copy, copy_buf) < 0)
		sched_yield();
}

static bool copy_check(long ops)
{
	bool seen[NR_ITEMS] = { false };
	long n, j;
	char *item;
	int cpu, k;

	for (cpu = 0; cpu < nr_cpus; cpu++) {
		n = percpu_copy_count(&copy, cpu);
		for (j = 0; j < n; j++) {
			item = percpu_copy_item(&copy, cpu, j);
			k = item[0] - 1;
			if (k < 0 || k >= NR_ITEMS || seen[k])
				return false;
			seen[k] = true;
			if (memchr(item, 0, COPY_SIZE) ||
			    memcmp(item, item + 1, COPY_SIZE - 1))
				return false;
		}
	}
	for (k = 0; k < NR_ITEMS; k++)
		if (!seen[k])
			return false;
	return true;
}

/* Ring: reserve (even operations), then commit (odd). */
static int ring_setup(void)
{
	return percpu_ring_create(&ring, sizeof(long), 2, 64);
}

static void ring_op(struct percpu_op_ctx *ctx, long i)
{
	if (i & 1) {
		*(long *)percpu_ring_slot(&ring, held_cpu, held_pos) = i;
		percpu_ring_commit(ctx, &ring, held_cpu, held_pos);
		return;
	}
	held_pos = percpu_ring_reserve(ctx, &ring, &held_cpu);
}

static void ring_count(const void *slot, long pos, int cpu, void *arg)
{
	(*(long *)arg)++;
}

static bool ring_check(long ops)
{
	long n = 0;
	int cpu;

	for (cpu = 0; cpu < nr_cpus; cpu++)
		if (percpu_ring_drain(&ring, cpu, ring_count, &n) < 0)
			return false;
	return n == ops / 2;
}

static const struct target targets[] = {
	{ "counter", counter_setup, counter_op, counter_check },
	{ "spinlock", lock_setup, lock_op, lock_check },
	{ "list", list_setup, list_op, list_check },
	{ "stack", stack_setup, stack_op, stack_check },
	{ "copy", copy_setup, copy_op, copy_check },
	{ "ring", ring_setup, ring_op, ring_check },
};

static __noreturn void child(const struct target *t)
{
	struct percpu_op_ctx control;
	cpu_set_t set;
	long i;

	/* One CPU: the items the pops want are all there. */
	CPU_ZERO(&set);
	CPU_SET(sched_getcpu(), &set);
	if (sched_setaffinity(0, sizeof(set), &set) || t->setup())
		_exit(2);
	/* Untraced, rseq alone completes every operation. */
	percpu_op_thread_init(&control, PERCPU_OP_RSEQ_ONLY);
	for (i = 0; i < opt_ops; i++)
		t->op(&control, i);
	sh->control = control.stats;

	percpu_op_thread_init(&sh->ctx, PERCPU_OP_RSEQ_ONLY);
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
		_exit(3);
	raise(SIGSTOP);
	for (i = 0; i < opt_ops; i++)
		t->op(&sh->ctx, i);
	_exit(t->check(2 * opt_ops) ? 0 : 1);
}

/* Single-steps @pid once; false if it did not stop for the step. */
static bool step(pid_t pid)
{
	int status;

	if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL))
		return false;
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP;
}

static void run(const struct target *t)
{
	struct percpu_op_stats *st = &sh->ctx.stats, stuck;
	char head[128];
	bool ok = true;
	long steps;
	int status;
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_perror("fork");
	if (!pid)
		child(t);
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status) ||
	    WSTOPSIG(status) != SIGSTOP)
		ksft_exit_fail_msg("%s: child did not stop (status %#x)\n", t->name,
				   status);
	ptrace(PTRACE_SETOPTIONS, pid, NULL, PTRACE_O_EXITKILL);

	/* rseq only: the operation in progress never completes. */
	for (steps = 0; steps < opt_stuck_steps && ok; steps++)
		ok = step(pid);
	/* The child is stopped: a consistent snapshot. */
	stuck = *st;
	if (!ok || stuck.ops || stuck.rseq_commits || !stuck.rseq_aborts) {
		ksft_print_msg("%s: %llu operations, %llu aborts in %ld steps, rseq only\n",
			       t->name, (unsigned long long)stuck.ops,
			       (unsigned long long)stuck.rseq_aborts, steps);
		ok = false;
	}

	/* With the fallback: all of them complete, by cpu_opv(). */
	__atomic_store_n(&sh->ctx.max_aborts, 2, __ATOMIC_RELAXED);
	for (steps = 0; ok && steps < opt_max_steps &&
	     __atomic_load_n(&st->ops, __ATOMIC_RELAXED) < opt_ops; steps++)
		ok = step(pid);
	if (ok && steps == opt_max_steps) {
		ksft_print_msg("%s: %llu operations of %ld in %ld steps with the fallback\n",
			       t->name, (unsigned long long)st->ops, opt_ops, steps);
		ok = false;
	}
	if (ok && ptrace(PTRACE_CONT, pid, NULL, NULL))
		ok = false;
	if (!ok)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		ksft_print_msg("%s: child status %#x\n", t->name, status);
		ok = false;
	}
	if (st->rseq_commits || st->opv_commits != (uint64_t)opt_ops ||
	    sh->control.rseq_commits != (uint64_t)opt_ops ||
	    sh->control.opv_calls) {
		ksft_print_msg("%s: paths do not add up\n", t->name);
		ok = false;
	}
	snprintf(head, sizeof(head), "singlestep struct=%s phase=control", t->name);
	percpu_op_stats_print(head, &sh->control, "");
	snprintf(head, sizeof(head), "singlestep struct=%s phase=stuck steps=%ld",
		 t->name, opt_stuck_steps);
	percpu_op_stats_print(head, &stuck, "");
	snprintf(head, sizeof(head), "singlestep struct=%s phase=fallback steps=%ld",
		 t->name, steps);
	percpu_op_stats_print(head, st, "");
	ksft_test_result(ok, "%s\n", t->name);
}

int main(int argc, char **argv)
{
	unsigned int i;
	int c;

	while ((c = getopt(argc, argv, "n:s:m:")) != -1) {
		switch (c) {
		case 'n':
			opt_ops = atol(optarg);
			break;
		case 's':
			opt_stuck_steps = atol(optarg);
			break;
		case 'm':
			opt_max_steps = atol(optarg);
			break;
		default:
			fprintf(stderr, "Usage: %s [-n operations] %s\n", argv[0],
				"[-s steps with rseq only] [-m step budget]");
			return KSFT_FAIL;
		}
	}
	/* Pairs of operations, so that what is popped is pushed back. */
	opt_ops = (opt_ops + 1) & ~1L;

	ksft_print_header();
	nr_cpus = percpu_op_init();
	if (nr_cpus < 0)
		ksft_exit_fail_msg("cannot count the possible CPUs\n");
	if (!percpu_op_rseq_available())
		ksft_exit_skip("rseq is not available\n");
	if (!percpu_op_opv_available())
		ksft_exit_skip("cpu_opv() is not available\n");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_perror("mmap");
	ksft_set_plan(ARRAY_SIZE(targets));
	for (i = 0; i < ARRAY_SIZE(targets); i++)
		run(&targets[i]);
	ksft_finished();
}
