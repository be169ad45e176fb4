// SPDX-License-Identifier: GPL-2.0
/*
 * Per-CPU data structures on rseq, with cpu_opv() as the slow path that
 * guarantees progress: see percpu-op.h.
 *
 * The rseq critical sections are those of ../rseq/rseq.h, whose
 * registration cooperates with glibc's (__rseq_offset). Each critical
 * section gets the delay injection points of the rseq selftests, so that
 * the tests can widen the windows in which preemption, migration and
 * signals abort it.
 */

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"
#include "cpu_opv.h"
#include "percpu-op.h"

/*
 * Loop counts of the injection points. Not static: the busy loops in the
 * critical sections read them by symbol.
 */
int percpu_op_inject_loops[PERCPU_OP_NR_INJECT];
static int inject_yield_every;
static __thread int inject_yield_count __attribute__((tls_model("initial-exec")));

#if defined(__x86_64__)
#define RSEQ_INJECT_CLOBBER \
	, "rax"
#define RSEQ_INJECT_ASM(n)						\
	"movl percpu_op_inject_loops + 4 * " #n "(%%rip), %%eax\n\t"	\
	"testl %%eax, %%eax\n\t"					\
	"jz 333f\n\t"							\
	"222:\n\t"							\
	"decl %%eax\n\t"						\
	"jnz 222b\n\t"							\
	"333:\n\t"
#elif defined(__aarch64__)
/*
 * In the scratch register of ../rseq's arm64 critical sections (x15), which
 * they clobber already, as ../rseq/param_test.c does.
 */
#define RSEQ_INJECT_ASM(n)						\
	"adrp x15, percpu_op_inject_loops + 4 * " #n "\n\t"		\
	"ldr w15, [x15, #:lo12:percpu_op_inject_loops + 4 * " #n "]\n\t"	\
	"cbz w15, 333f\n\t"						\
	"222:\n\t"							\
	"sub w15, w15, #1\n\t"						\
	"cbnz w15, 222b\n\t"						\
	"333:\n\t"
#endif

static inline void inject_c(int n);
/* Expanded at the start of each critical section, without a semicolon. */
#define RSEQ_INJECT_C(n)	{ inject_c(n); }

#include "../rseq/rseq.h"

static inline void inject_c(int n)
{
	int i, loops = RSEQ_READ_ONCE(percpu_op_inject_loops[n]);

	for (i = 0; i < loops; i++)
		rseq_barrier();
	if (n == 9 && inject_yield_every &&
	    ++inject_yield_count >= inject_yield_every) {
		inject_yield_count = 0;
		sched_yield();
	}
}

void percpu_op_set_inject(const int loops[PERCPU_OP_NR_INJECT], int yield_every)
{
	memcpy(percpu_op_inject_loops, loops, sizeof(percpu_op_inject_loops));
	inject_yield_every = yield_every;
}

static int nr_cpus = -1;
static bool rseq_ok, opv_ok;

/*
 * A cpu_opv() that keeps failing with EINVAL for a CPU the caller wants is
 * waiting for the CPU to come back into its affinity mask. Past this long,
 * it is a bug.
 */
#define EINVAL_TIMEOUT_NS	(30ULL * 1000000000ULL)
static __thread uint64_t einval_since __attribute__((tls_model("initial-exec")));
static __thread int einval_streak __attribute__((tls_model("initial-exec")));

static __noreturn __printf(1, 2) void fatal(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	printf("# percpu-op: ");
	vprintf(fmt, args);
	printf("\n");
	va_end(args);
	fflush(stdout);
	abort();
}

int percpu_op_init(void)
{
	nr_cpus = nr_possible_cpus();
	if (nr_cpus <= 0)
		return -1;
	rseq_ok = rseq_available() && !rseq_register_current_thread();
	/* Not built in, or refused by seccomp: as good as not there. */
	opv_ok = sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) >= 0;
	return nr_cpus;
}

int percpu_op_nr_cpus(void)
{
	return nr_cpus;
}

bool percpu_op_rseq_available(void)
{
	return rseq_ok;
}

bool percpu_op_opv_available(void)
{
	return opv_ok;
}

int percpu_op_thread_init(struct percpu_op_ctx *ctx, int max_aborts)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->max_aborts = max_aborts;
	if (!rseq_ok)
		return 0;
	if (rseq_register_current_thread())
		return -1;
	ctx->has_rseq = true;
	return 0;
}

void percpu_op_thread_fini(struct percpu_op_ctx *ctx)
{
	if (ctx->has_rseq && rseq_unregister_current_thread())
		fatal("rseq_unregister_current_thread() failed");
	ctx->has_rseq = false;
}

int percpu_op_current_cpu(struct percpu_op_ctx *ctx)
{
	return ctx->has_rseq ? (int)rseq_current_cpu() : sched_getcpu();
}

void percpu_op_stats_print(const char *head, const struct percpu_op_stats *stats,
			   const char *tail)
{
	const struct {
		const char *name;
		uint64_t value;
	} fields[] = {
		{ "ops", stats->ops },
		{ "empty", stats->empty },
		{ "rseq_commits", stats->rseq_commits },
		{ "rseq_aborts", stats->rseq_aborts },
		{ "rseq_cmpfails", stats->rseq_cmpfails },
		{ "fallbacks", stats->fallbacks },
		{ "opv_commits", stats->opv_commits },
		{ "opv_calls", stats->opv_calls },
		{ "opv_retries", stats->opv_retries },
		{ "opv_eagain", stats->opv_eagain },
		{ "opv_einval", stats->opv_einval },
		{ "remote", stats->remote },
	};
	unsigned int i;

	printf("# %s", head);
	for (i = 0; i < ARRAY_SIZE(fields); i++)
		printf(" %s=%llu", fields[i].name,
		       (unsigned long long)fields[i].value);
	printf("%s%s\n", *tail ? " " : "", tail);
}

void percpu_op_stats_add(struct percpu_op_stats *sum,
			 const struct percpu_op_stats *stats)
{
	sum->ops += stats->ops;
	sum->empty += stats->empty;
	sum->rseq_commits += stats->rseq_commits;
	sum->rseq_aborts += stats->rseq_aborts;
	sum->rseq_cmpfails += stats->rseq_cmpfails;
	sum->opv_commits += stats->opv_commits;
	sum->opv_calls += stats->opv_calls;
	sum->opv_retries += stats->opv_retries;
	sum->opv_eagain += stats->opv_eagain;
	sum->opv_einval += stats->opv_einval;
	sum->remote += stats->remote;
	sum->fallbacks += stats->fallbacks;
}

/* The state of one operation's attempts. */
struct attempt {
	int aborts;
	bool fallback;
};

/* Whether the next attempt of an operation uses rseq. */
static bool use_rseq(struct percpu_op_ctx *ctx, struct attempt *a)
{
	int max_aborts = RSEQ_READ_ONCE(ctx->max_aborts);

	if (!ctx->has_rseq || RSEQ_READ_ONCE(ctx->force_opv))
		return false;
	if (max_aborts == PERCPU_OP_RSEQ_ONLY || a->aborts < max_aborts)
		return true;
	if (max_aborts > 0 && !a->fallback) {
		a->fallback = true;
		ctx->stats.fallbacks++;
	}
	return false;
}

/* Counts the outcome of an rseq critical section that did not commit. */
static void rseq_failed(struct percpu_op_ctx *ctx, int ret, struct attempt *a)
{
	if (ret < 0) {
		ctx->stats.rseq_aborts++;
		a->aborts++;
	} else {
		ctx->stats.rseq_cmpfails++;
	}
}

/* What opv_run() returns, besides 0 and the index + 1 of a failed compare. */
#define OPV_RETRY		(-1)	/* EAGAIN: retry */
#define OPV_NOT_ALLOWED		(-2)	/* EINVAL: the CPU is not in the affinity mask */

/*
 * Runs the vector on @cpu. An unexpected error is a bug: the library never
 * builds a vector that the kernel should refuse.
 */
static int opv_run(struct percpu_op_ctx *ctx, struct cpu_op *ops, int cnt,
		   int cpu)
{
	int ret;

	inject_c(7);
	ctx->stats.opv_calls++;
	ret = sys_cpu_opv(ops, cnt, cpu, 0);
	if (!ret) {
		einval_since = 0;
		einval_streak = 0;
		return 0;
	}
	ctx->stats.opv_retries++;
	if (ret > 0)
		return ret;
	switch (errno) {
	case EAGAIN:
		ctx->stats.opv_eagain++;
		return OPV_RETRY;
	case EINVAL:
		ctx->stats.opv_einval++;
		if (!einval_since)
			einval_since = now_ns();
		else if (now_ns() - einval_since > EINVAL_TIMEOUT_NS)
			fatal("cpu_opv(cpu %d) keeps failing with EINVAL", cpu);
		/* Give whoever changes the mask time to change it back. */
		if (++einval_streak > 8)
			usleep(100);
		else
			sched_yield();
		return OPV_NOT_ALLOWED;
	default:
		fatal("cpu_opv(%d ops, cpu %d): %s", cnt, cpu, strerror(errno));
	}
}

/*
 * Without cpu_opv(), the way to another CPU's data is to go there: moves the
 * calling thread to @cpu. The first time (*@moved false), it counts the
 * operation as remote and saves the affinity mask in @saved, for
 * move_back().
 */
static void move_to(struct percpu_op_ctx *ctx, int cpu, cpu_set_t *saved,
		    bool *moved)
{
	cpu_set_t set;

	if (!*moved) {
		if (sched_getaffinity(0, sizeof(*saved), saved))
			fatal("sched_getaffinity: %s", strerror(errno));
		*moved = true;
		ctx->stats.remote++;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fatal("sched_setaffinity(CPU %d): %s", cpu, strerror(errno));
}

/* Restores the affinity mask that move_to() saved, if it moved the thread. */
static void move_back(const cpu_set_t *saved, bool moved)
{
	if (moved && sched_setaffinity(0, sizeof(*saved), saved))
		fatal("sched_setaffinity: %s", strerror(errno));
}

static size_t stride_of(size_t size)
{
	return (size + PERCPU_OP_STRIDE_ALIGN - 1) & ~(size_t)(PERCPU_OP_STRIDE_ALIGN - 1);
}

static char *alloc_parts(size_t stride)
{
	void *p;

	if (nr_cpus <= 0 ||
	    posix_memalign(&p, PERCPU_OP_STRIDE_ALIGN, stride * nr_cpus))
		return NULL;
	memset(p, 0, stride * nr_cpus);
	return p;
}

static intptr_t *word_of(char *base, int cpu)
{
	return (intptr_t *)(base + (size_t)cpu * PERCPU_OP_STRIDE_ALIGN);
}

/* Spinlock. */

int percpu_lock_create(struct percpu_lock *lock)
{
	lock->base = alloc_parts(PERCPU_OP_STRIDE_ALIGN);
	return lock->base ? 0 : -1;
}

void percpu_lock_destroy(struct percpu_lock *lock)
{
	free(lock->base);
}

int percpu_lock(struct percpu_op_ctx *ctx, struct percpu_lock *lock)
{
	intptr_t zero = 0, one = 1, *v;
	struct attempt a = { 0 };
	int cpu, ret;
	struct cpu_op ops[2];

	for (;;) {
		if (use_rseq(ctx, &a)) {
			cpu = rseq_cpu_start();
			v = word_of(lock->base, cpu);
			ret = rseq_cmpeqv_storev(RSEQ_MO_RELAXED, RSEQ_PERCPU_CPU_ID,
						 v, 0, 1, cpu);
			if (!ret) {
				ctx->stats.rseq_commits++;
				break;
			}
			rseq_failed(ctx, ret, &a);
			if (ret > 0)
				sched_yield();	/* held: let the holder run */
			continue;
		}
		cpu = percpu_op_current_cpu(ctx);
		v = word_of(lock->base, cpu);
		ops[0] = op_compare(1, v, &zero, sizeof(*v));
		ops[1] = op_memcpy(0, v, &one, sizeof(*v));
		ret = opv_run(ctx, ops, 2, cpu);
		if (!ret) {
			ctx->stats.opv_commits++;
			break;
		}
		if (ret > 0)
			sched_yield();
	}
	/* Acquire: pairs with the store-release of percpu_unlock(). */
	rseq_smp_acquire__after_ctrl_dep();
	ctx->stats.ops++;
	return cpu;
}

void percpu_unlock(struct percpu_lock *lock, int cpu)
{
	rseq_smp_store_release(word_of(lock->base, cpu), 0);
}

/* Counters. */

int percpu_counter_create(struct percpu_counter *counter)
{
	counter->base = alloc_parts(PERCPU_OP_STRIDE_ALIGN);
	return counter->base ? 0 : -1;
}

void percpu_counter_destroy(struct percpu_counter *counter)
{
	free(counter->base);
}

int percpu_counter_add(struct percpu_op_ctx *ctx,
		       struct percpu_counter *counter, intptr_t count)
{
	struct attempt a = { 0 };
	int cpu, ret;
	struct cpu_op op;
	intptr_t *v;

	for (;;) {
		if (use_rseq(ctx, &a)) {
			cpu = rseq_cpu_start();
			v = word_of(counter->base, cpu);
			ret = rseq_addv(RSEQ_MO_RELAXED, RSEQ_PERCPU_CPU_ID, v,
					count, cpu);
			if (!ret) {
				ctx->stats.rseq_commits++;
				break;
			}
			rseq_failed(ctx, ret, &a);
			continue;
		}
		cpu = percpu_op_current_cpu(ctx);
		v = word_of(counter->base, cpu);
		op = op_add(0, v, count, sizeof(*v));
		if (!opv_run(ctx, &op, 1, cpu)) {
			ctx->stats.opv_commits++;
			break;
		}
	}
	ctx->stats.ops++;
	return cpu;
}

intptr_t percpu_counter_read(struct percpu_counter *counter, int cpu)
{
	return RSEQ_READ_ONCE(*word_of(counter->base, cpu));
}

/* LIFO linked list. */

int percpu_list_create(struct percpu_list *list)
{
	list->base = alloc_parts(PERCPU_OP_STRIDE_ALIGN);
	return list->base ? 0 : -1;
}

void percpu_list_destroy(struct percpu_list *list)
{
	free(list->base);
}

int percpu_list_push(struct percpu_op_ctx *ctx, struct percpu_list *list,
		     struct percpu_list_node *node)
{
	intptr_t *head, expect, newv = (intptr_t)node;
	struct attempt a = { 0 };
	int cpu, ret;
	struct cpu_op ops[2];

	for (;;) {
		if (use_rseq(ctx, &a)) {
			cpu = rseq_cpu_start();
			head = word_of(list->base, cpu);
			expect = RSEQ_READ_ONCE(*head);
			node->next = (struct percpu_list_node *)expect;
			ret = rseq_cmpeqv_storev(RSEQ_MO_RELAXED, RSEQ_PERCPU_CPU_ID,
						 head, expect, newv, cpu);
			if (!ret) {
				ctx->stats.rseq_commits++;
				break;
			}
			rseq_failed(ctx, ret, &a);
			continue;
		}
		cpu = percpu_op_current_cpu(ctx);
		head = word_of(list->base, cpu);
		expect = RSEQ_READ_ONCE(*head);
		node->next = (struct percpu_list_node *)expect;
		ops[0] = op_compare(1, head, &expect, sizeof(*head));
		ops[1] = op_memcpy(0, head, &newv, sizeof(*head));
		if (!opv_run(ctx, ops, 2, cpu)) {
			ctx->stats.opv_commits++;
			break;
		}
	}
	ctx->stats.ops++;
	return cpu;
}

static void list_pop_ops(struct cpu_op ops[2], intptr_t *head, intptr_t *expect,
			 bool expect_fault)
{
	struct percpu_list_node *node = (struct percpu_list_node *)*expect;

	ops[0] = op_compare(1, head, expect, sizeof(*head));
	/* head->next may be gone: freed and unmapped by its new owner. */
	ops[1] = op_memcpy(0, head, &node->next, sizeof(*head));
	ops[1].u.memcpy_op.expect_fault_src = expect_fault;
}

struct percpu_list_node *percpu_list_pop(struct percpu_op_ctx *ctx,
					 struct percpu_list *list, int *cpu)
{
	intptr_t *head, expect, load;
	struct attempt a = { 0 };
	int ret;
	struct cpu_op ops[2];

	for (;;) {
		if (use_rseq(ctx, &a)) {
			*cpu = rseq_cpu_start();
			head = word_of(list->base, *cpu);
			ret = rseq_cmpnev_storeoffp_load(RSEQ_MO_RELAXED,
							 RSEQ_PERCPU_CPU_ID, head, 0,
							 offsetof(struct percpu_list_node, next),
							 &load, *cpu);
			if (!ret) {
				ctx->stats.rseq_commits++;
				break;
			}
			if (ret > 0) {
				ctx->stats.empty++;
				return NULL;
			}
			rseq_failed(ctx, ret, &a);
			continue;
		}
		*cpu = percpu_op_current_cpu(ctx);
		head = word_of(list->base, *cpu);
		expect = RSEQ_READ_ONCE(*head);
		if (!expect) {
			ctx->stats.empty++;
			return NULL;
		}
		list_pop_ops(ops, head, &expect, true);
		if (!opv_run(ctx, ops, 2, *cpu)) {
			ctx->stats.opv_commits++;
			load = expect;
			break;
		}
	}
	ctx->stats.ops++;
	return (struct percpu_list_node *)load;
}

int percpu_list_pop_vector(struct percpu_list *list, int cpu,
			   struct percpu_list_node *head, bool expect_fault)
{
	intptr_t expect = (intptr_t)head;
	struct cpu_op ops[2];

	list_pop_ops(ops, word_of(list->base, cpu), &expect, expect_fault);
	return sys_cpu_opv(ops, 2, cpu, 0);
}

struct percpu_list_node *percpu_list_head(struct percpu_list *list, int cpu)
{
	return (struct percpu_list_node *)RSEQ_READ_ONCE(*word_of(list->base, cpu));
}

/* Stack of pointers. */

struct stack_part {
	intptr_t offset;
	intptr_t slots[];
};

static struct stack_part *stack_part(struct percpu_stack *stack, int cpu)
{
	return (struct stack_part *)(stack->base + (size_t)cpu * stack->stride);
}

int percpu_stack_create(struct percpu_stack *stack, long capacity)
{
	stack->capacity = capacity;
	stack->stride = stride_of(sizeof(struct stack_part) +
				  capacity * sizeof(intptr_t));
	stack->base = alloc_parts(stack->stride);
	return stack->base ? 0 : -1;
}

void percpu_stack_destroy(struct percpu_stack *stack)
{
	free(stack->base);
}

static void stack_push_ops(struct cpu_op ops[3], struct stack_part *part,
			   intptr_t *off, intptr_t *item, intptr_t *newoff)
{
	ops[0] = op_compare(1, &part->offset, off, sizeof(*off));
	ops[1] = op_memcpy(0, &part->slots[*off], item, sizeof(*item));
	/* Release: a peek that sees the new offset sees the item. */
	ops[2] = op_memcpy(1, &part->offset, newoff, sizeof(*newoff));
}

static void stack_pop_ops(struct cpu_op ops[3], struct stack_part *part,
			  intptr_t *off, intptr_t *top, intptr_t *newoff)
{
	ops[0] = op_compare(1, &part->offset, off, sizeof(*off));
	ops[1] = op_compare(1, &part->slots[*off - 1], top, sizeof(*top));
	ops[2] = op_memcpy(0, &part->offset, newoff, sizeof(*newoff));
}

int percpu_stack_push(struct percpu_op_ctx *ctx, struct percpu_stack *stack,
		      void *item)
{
	intptr_t off, newoff, v = (intptr_t)item;
	struct attempt a = { 0 };
	int cpu, ret;
	struct stack_part *part;
	struct cpu_op ops[3];

	for (;;) {
		bool rseq = use_rseq(ctx, &a);

		cpu = rseq ? (int)rseq_cpu_start() : percpu_op_current_cpu(ctx);
		part = stack_part(stack, cpu);
		off = RSEQ_READ_ONCE(part->offset);
		if (off == stack->capacity) {
			ctx->stats.empty++;
			return -1;
		}
		newoff = off + 1;
		if (rseq) {
			ret = rseq_cmpeqv_trystorev_storev(RSEQ_MO_RELEASE,
							   RSEQ_PERCPU_CPU_ID,
							   &part->offset, off,
							   &part->slots[off], v,
							   newoff, cpu);
			if (!ret) {
				ctx->stats.rseq_commits++;
				break;
			}
			rseq_failed(ctx, ret, &a);
			continue;
		}
		stack_push_ops(ops, part, &off, &v, &newoff);
		if (!opv_run(ctx, ops, 3, cpu)) {
			ctx->stats.opv_commits++;
			break;
		}
	}
	ctx->stats.ops++;
	return cpu;
}

void *percpu_stack_pop(struct percpu_op_ctx *ctx, struct percpu_stack *stack,
		       int *cpu)
{
	intptr_t off, newoff, top;
	struct stack_part *part;
	struct attempt a = { 0 };
	int ret;
	struct cpu_op ops[3];

	for (;;) {
		bool rseq = use_rseq(ctx, &a);

		*cpu = rseq ? (int)rseq_cpu_start() : percpu_op_current_cpu(ctx);
		part = stack_part(stack, *cpu);
		off = RSEQ_READ_ONCE(part->offset);
		if (!off) {
			ctx->stats.empty++;
			return NULL;
		}
		top = RSEQ_READ_ONCE(part->slots[off - 1]);
		newoff = off - 1;
		if (rseq) {
			ret = rseq_cmpeqv_cmpeqv_storev(RSEQ_MO_RELAXED,
							RSEQ_PERCPU_CPU_ID,
							&part->offset, off,
							&part->slots[off - 1], top,
							newoff, *cpu);
			if (!ret) {
				ctx->stats.rseq_commits++;
				break;
			}
			rseq_failed(ctx, ret, &a);
			continue;
		}
		stack_pop_ops(ops, part, &off, &top, &newoff);
		if (!opv_run(ctx, ops, 3, *cpu)) {
			ctx->stats.opv_commits++;
			break;
		}
	}
	ctx->stats.ops++;
	return (void *)top;
}

void *percpu_stack_peek(struct percpu_stack *stack, int cpu)
{
	struct stack_part *part = stack_part(stack, cpu);
	intptr_t off = rseq_smp_load_acquire(&part->offset);

	return off ? (void *)RSEQ_READ_ONCE(part->slots[off - 1]) : NULL;
}

int percpu_stack_steal(struct percpu_op_ctx *ctx, struct percpu_stack *stack,
		       int from, int *to, void **item)
{
	struct stack_part *part = stack_part(stack, from);
	intptr_t off, newoff, top;
	struct cpu_op ops[3];
	int ret;

	off = rseq_smp_load_acquire(&part->offset);
	if (!off)
		return 1;
	top = RSEQ_READ_ONCE(part->slots[off - 1]);
	newoff = off - 1;
	stack_pop_ops(ops, part, &off, &top, &newoff);
	ret = opv_run(ctx, ops, 3, from);
	if (ret == OPV_NOT_ALLOWED)
		return -1;
	if (ret)
		return 1;
	ctx->stats.opv_commits++;
	ctx->stats.ops++;

	/* The item is ours now: it must land somewhere. */
	for (;;) {
		part = stack_part(stack, *to);
		off = RSEQ_READ_ONCE(part->offset);
		if (off == stack->capacity)
			fatal("steal: no room on CPU %d", *to);
		newoff = off + 1;
		stack_push_ops(ops, part, &off, &top, &newoff);
		ret = opv_run(ctx, ops, 3, *to);
		if (!ret)
			break;
		if (ret == OPV_NOT_ALLOWED)
			*to = percpu_op_current_cpu(ctx);
	}
	ctx->stats.opv_commits++;
	ctx->stats.ops++;
	ctx->stats.remote++;
	*item = (void *)top;
	return 0;
}

long percpu_stack_drain(struct percpu_op_ctx *ctx, struct percpu_stack *stack,
			int cpu, void **items)
{
	struct stack_part *part = stack_part(stack, cpu);
	size_t len = stack->capacity * sizeof(intptr_t);
	intptr_t off = 0, zero = 0;
	struct attempt a = { 0 };
	bool moved = false, remote;
	cpu_set_t saved;
	struct cpu_op ops[3];
	int ret;

	if (stack->capacity > PERCPU_STACK_DRAIN_MAX)
		return -1;
	for (;;) {
		if (use_rseq(ctx, &a)) {
			if ((int)rseq_cpu_start() == cpu) {
				off = RSEQ_READ_ONCE(part->offset);
				ret = rseq_cmpeqv_trymemcpy_storev(RSEQ_MO_RELAXED,
								   RSEQ_PERCPU_CPU_ID,
								   &part->offset, off,
								   items, part->slots,
								   off * sizeof(intptr_t),
								   0, cpu);
				if (!ret) {
					ctx->stats.rseq_commits++;
					break;
				}
				rseq_failed(ctx, ret, &a);
				continue;
			}
			if (RSEQ_READ_ONCE(ctx->max_aborts) == PERCPU_OP_RSEQ_ONLY) {
				/* Without cpu_opv(), go to the CPU to drain it. */
				move_to(ctx, cpu, &saved, &moved);
				continue;
			}
		}
		/*
		 * No compare: the vector reads the offset and the slots in the
		 * same step as it empties the stack, so whatever the owners did
		 * before it, it takes exactly what was there. The slots above
		 * the offset come along and are not looked at.
		 */
		ops[0] = op_memcpy(0, &off, &part->offset, sizeof(off));
		ops[1] = op_memcpy(0, items, part->slots, len);
		ops[2] = op_memcpy(0, &part->offset, &zero, sizeof(zero));
		remote = percpu_op_current_cpu(ctx) != cpu;
		ret = opv_run(ctx, ops, 3, cpu);
		if (!ret) {
			ctx->stats.opv_commits++;
			if (remote)
				ctx->stats.remote++;
			break;
		}
		if (ret == OPV_NOT_ALLOWED) {
			off = -1;
			break;
		}
	}
	move_back(&saved, moved);
	if (off >= 0)
		ctx->stats.ops++;
	return off;
}

long percpu_stack_count(struct percpu_stack *stack, int cpu)
{
	return RSEQ_READ_ONCE(stack_part(stack, cpu)->offset);
}

void *percpu_stack_item(struct percpu_stack *stack, int cpu, long i)
{
	return (void *)stack_part(stack, cpu)->slots[i];
}

/* Stack of copied items. */

/* The offset, in bytes, then the items from the next stride on. */
static intptr_t *copy_offset(struct percpu_copy_stack *stack, int cpu)
{
	return (intptr_t *)(stack->base + (size_t)cpu * stack->stride);
}

static char *copy_data(struct percpu_copy_stack *stack, int cpu)
{
	return stack->base + (size_t)cpu * stack->stride + PERCPU_OP_STRIDE_ALIGN;
}

int percpu_copy_stack_create(struct percpu_copy_stack *stack, size_t item_size,
			     long capacity)
{
	if (!item_size || item_size > CPU_OP_DATA_LEN_MAX)
		return -1;
	stack->item_size = item_size;
	stack->capacity = capacity;
	stack->stride = stride_of(PERCPU_OP_STRIDE_ALIGN + item_size * capacity);
	stack->base = alloc_parts(stack->stride);
	return stack->base ? 0 : -1;
}

void percpu_copy_stack_destroy(struct percpu_copy_stack *stack)
{
	free(stack->base);
}

/*
 * One push (@in) or pop (@out) on the stack of the CPU it runs on. The two
 * differ only in the direction of the copy and of the offset update.
 */
static int copy_op(struct percpu_op_ctx *ctx, struct percpu_copy_stack *stack,
		   const void *in, void *out)
{
	intptr_t len = stack->item_size, off, newoff, *offp;
	intptr_t size = len * stack->capacity;
	struct attempt a = { 0 };
	int cpu, ret;
	struct cpu_op ops[3];
	char *dst, *src;

	for (;;) {
		bool rseq = use_rseq(ctx, &a);

		cpu = rseq ? (int)rseq_cpu_start() : percpu_op_current_cpu(ctx);
		offp = copy_offset(stack, cpu);
		off = RSEQ_READ_ONCE(*offp);
		if (in ? off + len > size : off < len) {
			ctx->stats.empty++;
			return -1;
		}
		if (in) {
			newoff = off + len;
			dst = copy_data(stack, cpu) + off;
			src = (char *)in;
		} else {
			newoff = off - len;
			dst = out;
			src = copy_data(stack, cpu) + newoff;
		}
		if (rseq) {
			ret = rseq_cmpeqv_trymemcpy_storev(RSEQ_MO_RELAXED,
							   RSEQ_PERCPU_CPU_ID,
							   offp, off, dst, src, len,
							   newoff, cpu);
			if (!ret) {
				ctx->stats.rseq_commits++;
				break;
			}
			rseq_failed(ctx, ret, &a);
			continue;
		}
		ops[0] = op_compare(1, offp, &off, sizeof(off));
		ops[1] = op_memcpy(0, dst, src, len);
		ops[2] = op_memcpy(0, offp, &newoff, sizeof(newoff));
		if (!opv_run(ctx, ops, 3, cpu)) {
			ctx->stats.opv_commits++;
			break;
		}
	}
	ctx->stats.ops++;
	return cpu;
}

int percpu_copy_push(struct percpu_op_ctx *ctx, struct percpu_copy_stack *stack,
		     const void *item)
{
	return copy_op(ctx, stack, item, NULL);
}

int percpu_copy_pop(struct percpu_op_ctx *ctx, struct percpu_copy_stack *stack,
		    void *item)
{
	return copy_op(ctx, stack, NULL, item);
}

long percpu_copy_count(struct percpu_copy_stack *stack, int cpu)
{
	return RSEQ_READ_ONCE(*copy_offset(stack, cpu)) / stack->item_size;
}

void *percpu_copy_item(struct percpu_copy_stack *stack, int cpu, long i)
{
	return copy_data(stack, cpu) + i * stack->item_size;
}

/* FIFO ring buffer. */

/*
 * Each CPU's part: the head (reserved positions) and the tail (consumed
 * positions) in cache lines of their own, the commit counts of the
 * sub-buffers, then the slots. Positions only grow; position p is in slot
 * p % (nr_subbufs * subbuf_slots), in sub-buffer (p / subbuf_slots) %
 * nr_subbufs, whose commit count is the number of its slots committed since
 * the ring was created.
 */
#define RING_HEAD	0
#define RING_TAIL	PERCPU_OP_STRIDE_ALIGN
#define RING_COMMIT	(2 * PERCPU_OP_STRIDE_ALIGN)

static intptr_t *ring_word(struct percpu_ring *ring, int cpu, size_t where)
{
	return (intptr_t *)(ring->base + (size_t)cpu * ring->stride + where);
}

static intptr_t *ring_commit(struct percpu_ring *ring, int cpu, long pos)
{
	return ring_word(ring, cpu, RING_COMMIT) +
	       (pos / ring->subbuf_slots) % ring->nr_subbufs;
}

static long ring_slots(struct percpu_ring *ring)
{
	return ring->nr_subbufs * ring->subbuf_slots;
}

int percpu_ring_create(struct percpu_ring *ring, size_t slot_size,
		       long nr_subbufs, long subbuf_slots)
{
	ring->slot_size = slot_size;
	ring->nr_subbufs = nr_subbufs;
	ring->subbuf_slots = subbuf_slots;
	ring->stride = stride_of(RING_COMMIT + nr_subbufs * sizeof(intptr_t)) +
		       stride_of(slot_size * ring_slots(ring));
	ring->base = alloc_parts(ring->stride);
	return ring->base ? 0 : -1;
}

void percpu_ring_destroy(struct percpu_ring *ring)
{
	free(ring->base);
}

void *percpu_ring_slot(struct percpu_ring *ring, int cpu, long pos)
{
	size_t slots = stride_of(RING_COMMIT + ring->nr_subbufs * sizeof(intptr_t));

	return ring->base + (size_t)cpu * ring->stride + slots +
	       (pos % ring_slots(ring)) * ring->slot_size;
}

long percpu_ring_head(struct percpu_ring *ring, int cpu)
{
	return RSEQ_READ_ONCE(*ring_word(ring, cpu, RING_HEAD));
}

long percpu_ring_reserve(struct percpu_op_ctx *ctx, struct percpu_ring *ring,
			 int *cpu)
{
	intptr_t *head, pos, newpos, tail;
	struct attempt a = { 0 };
	int ret;
	struct cpu_op ops[2];

	for (;;) {
		bool rseq = use_rseq(ctx, &a);

		*cpu = rseq ? (int)rseq_cpu_start() : percpu_op_current_cpu(ctx);
		head = ring_word(ring, *cpu, RING_HEAD);
		pos = RSEQ_READ_ONCE(*head);
		/* Acquire: the consumer is done with the slots before the tail. */
		tail = rseq_smp_load_acquire(ring_word(ring, *cpu, RING_TAIL));
		if (pos - tail >= ring_slots(ring)) {
			ctx->stats.empty++;
			return -1;
		}
		newpos = pos + 1;
		if (rseq) {
			ret = rseq_cmpeqv_storev(RSEQ_MO_RELAXED, RSEQ_PERCPU_CPU_ID,
						 head, pos, newpos, *cpu);
			if (!ret) {
				ctx->stats.rseq_commits++;
				break;
			}
			rseq_failed(ctx, ret, &a);
			continue;
		}
		ops[0] = op_compare(1, head, &pos, sizeof(pos));
		ops[1] = op_memcpy(0, head, &newpos, sizeof(newpos));
		if (!opv_run(ctx, ops, 2, *cpu)) {
			ctx->stats.opv_commits++;
			break;
		}
	}
	ctx->stats.ops++;
	return pos;
}

void percpu_ring_commit(struct percpu_op_ctx *ctx, struct percpu_ring *ring,
			int cpu, long pos)
{
	intptr_t *commit = ring_commit(ring, cpu, pos);
	struct attempt a = { 0 };
	int cur, ret;
	bool moved = false;
	cpu_set_t saved;
	struct cpu_op op;

	for (;;) {
		if (use_rseq(ctx, &a)) {
			cur = rseq_cpu_start();
			if (cur == cpu) {
				/*
				 * rseq_addv() has no release variant; x86 does
				 * not reorder stores, the barrier keeps the
				 * compiler from doing it.
				 */
				rseq_smp_wmb();
				ret = rseq_addv(RSEQ_MO_RELAXED, RSEQ_PERCPU_CPU_ID,
						commit, 1, cpu);
				if (!ret) {
					ctx->stats.rseq_commits++;
					break;
				}
				rseq_failed(ctx, ret, &a);
				continue;
			}
			if (RSEQ_READ_ONCE(ctx->max_aborts) == PERCPU_OP_RSEQ_ONLY) {
				/* Without cpu_opv(), go to the CPU to commit. */
				move_to(ctx, cpu, &saved, &moved);
				continue;
			}
			/* Migrated since the reserve: commit there. */
		}
		cur = percpu_op_current_cpu(ctx);
		op = op_add(1, commit, 1, sizeof(*commit));
		if (!opv_run(ctx, &op, 1, cpu)) {
			ctx->stats.opv_commits++;
			if (cur != cpu)
				ctx->stats.remote++;
			break;
		}
	}
	move_back(&saved, moved);
	ctx->stats.ops++;
}

long percpu_ring_consume(struct percpu_ring *ring, int cpu,
			 percpu_ring_fn fn, void *arg)
{
	intptr_t *tailp = ring_word(ring, cpu, RING_TAIL);
	long tail = *tailp, lap = tail / ring_slots(ring), pos, committed;
	long full = (lap + 1) * ring->subbuf_slots;

	/* Acquire: pairs with the release of the commits. */
	committed = rseq_smp_load_acquire(ring_commit(ring, cpu, tail));
	if (committed > full)
		return -1;
	if (committed < full)
		return 0;
	for (pos = tail; pos < tail + ring->subbuf_slots; pos++)
		fn(percpu_ring_slot(ring, cpu, pos), pos, cpu, arg);
	rseq_smp_store_release(tailp, tail + ring->subbuf_slots);
	return ring->subbuf_slots;
}

long percpu_ring_drain(struct percpu_ring *ring, int cpu,
		       percpu_ring_fn fn, void *arg)
{
	long head = percpu_ring_head(ring, cpu), tail, pos, s, n = 0, ret;
	long subbufs = head / ring->subbuf_slots;

	while ((ret = percpu_ring_consume(ring, cpu, fn, arg)) > 0)
		n += ret;
	if (ret < 0)
		return -1;
	/*
	 * Every position reserved was committed exactly once, in the commit
	 * count of its own sub-buffer: sub-buffer s has seen the complete
	 * sequence sub-buffers s, s + nr_subbufs, ... and the partial one.
	 */
	for (s = 0; s < ring->nr_subbufs; s++) {
		long expect = 0, i;

		for (i = s; i <= subbufs; i += ring->nr_subbufs)
			expect += i < subbufs ? ring->subbuf_slots :
				  head % ring->subbuf_slots;
		if (*ring_word(ring, cpu, RING_COMMIT + s * sizeof(intptr_t)) != expect)
			return -1;
	}
	tail = *ring_word(ring, cpu, RING_TAIL);
	for (pos = tail; pos < head; pos++)
		fn(percpu_ring_slot(ring, cpu, pos), pos, cpu, arg);
	return n + head - tail;
}
