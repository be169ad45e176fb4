// SPDX-License-Identifier: GPL-2.0
/*
 * Draining another CPU's per-CPU cache: cpu_opv() next to the ways a
 * library can do it today, in one run.
 *
 * The cache is that of a memory allocator: each CPU has a free list of
 * object pointers (an array stack), its owner allocates by popping from the
 * list of the CPU it runs on and frees by pushing onto it, and a central
 * pool under a mutex refills an empty list and takes the objects a full or
 * unavailable list cannot. Now and then another thread, the drainer, takes
 * every object of one CPU's list back to the central pool (the caches of
 * idle CPUs are reclaimed so, or a cache is resized). Four designs of the
 * same cache:
 *
 *  1. cpu_opv: the owners' operations are rseq critical sections, handed
 *     to cpu_opv() after a few aborts; the drainer empties the list with
 *     one cpu_opv() on its CPU (opv_drain()).
 *  2. membarrier fence (tcmalloc's protocol): the owners' critical sections
 *     check a per-CPU "being drained" flag, and take the central pool
 *     while it is set; the drainer sets it, fences the CPU with
 *     membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
 *     MEMBARRIER_CMD_FLAG_CPU), empties the list with plain accesses and
 *     clears the flag. See fence_drain() for why that is safe.
 *  3. migration: the owners as in 1, without cpu_opv(); the drainer moves
 *     to the CPU with sched_setaffinity(), empties the list by rseq there
 *     and comes back (migrate_drain()).
 *  4. mutex: each CPU's list has a pthread mutex, which the owners and the
 *     drainer take.
 *
 * Designs 1-3 run the same owners' code (rseq_op()) on the same lists: the
 * flag is compared in all three and set by design 2's drainer only, and
 * design 1's fallback runs only after aborts. So their owners' figures
 * differ by what the drains do to them, not by the owners' code; the
 * price is a load and a compare that designs 1 and 3 do not need, so the
 * figures leave out that cost of design 2's protocol to its owners.
 *
 * One owner thread is pinned to each CPU of the affinity mask. The drainer
 * lives on the first of them, next to that CPU's owner: every CPU has an
 * owner, so it has to share one. It sleeps between drains, and drains the
 * other CPUs in turn, never its own: that would be a local operation, not
 * the case the designs differ in.
 *
 * Each design runs in phases of a fixed duration, without and with the
 * drainer, in rounds that interleave the designs, in the reverse order
 * every other round, so that a change of the load of the host weighs on
 * all of them alike. Figures: the owners' throughput (allocations and
 * frees per second, all owners), its ratio to the same design without the
 * drainer and to design 1, and the latency of one drain (one CPU's list),
 * its ratio to design 1's; ratios are medians of the per-round ratios,
 * with their range. Only ratios from one run are meaningful under
 * emulation, and there, with every vCPU busy, a drain that needs the
 * target CPU (an IPI, a migration) also waits for the host to run that
 * vCPU's thread.
 *
 * Every phase ends with an exact check: each object is in exactly one list
 * or in the central pool, once, and free. The owners check each object they
 * allocate (not held by anyone) and free (held by them), the drainer each
 * object it takes. Any error fails the design's test (TAP, one test a
 * design) and the program's exit status.
 *
 * Output: a table, then a CSV between "--- percpu_drain_bench csv begin ---"
 * and "--- percpu_drain_bench csv end ---" (or in the file given with -o).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"
#include "../rseq/rseq.h"
#include "bench.h"
#include "cpu_opv.h"
#include "percpu-op.h"

#define CSV_BEGIN	"--- percpu_drain_bench csv begin ---"
#define CSV_END		"--- percpu_drain_bench csv end ---"
#define CSV_HEADER	"section,name,label,n,value,lo,hi,unit"
/* Objects an owner holds at once: it allocates them all, then frees them. */
#define HOLD		4
#define MAX_ROUNDS	15
#define MAX_SAMPLES	100000
/* Aborts of one operation after which design 1's owners use cpu_opv(). */
#define OWNER_MAX_ABORTS	4

/* Options. */
static long opt_phase_ms = 400;
static int opt_rounds = 7;
static long opt_period_us = 5000;
static long opt_capacity = 64;
static long opt_batch = 32;
static long opt_warmup_ms = 200;
static const char *opt_csv;

static cpu_set_t allowed;
static int nr_cpus;		/* possible CPUs: the lists there are */
static int nr_owners;		/* CPUs of the affinity mask */
static int owner_cpu[CPU_SETSIZE];
static int home;		/* the drainer's CPU */
static int targets[CPU_SETSIZE];	/* the CPUs it drains */
static int nr_targets;
static bool have_opv, have_rseq, have_membarrier;
static atomic_int failures;

static __printf(1, 2) void fail(const char *fmt, ...)
{
	va_list ap;

	/* The first errors tell what went wrong; the count says the rest. */
	if (atomic_fetch_add(&failures, 1) >= 20)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "percpu_drain_bench: FAILED: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Objects */

/* One cache line each; held is the id + 1 of the thread that holds it. */
struct obj {
	intptr_t held;
	char pad[64 - sizeof(intptr_t)];
};

static struct obj *objs;
static long nr_objs;

/* The index of @p, or -1 (and a failure) if it is not an object. */
static long obj_index(const void *p, const char *where)
{
	const char *c = p, *base = (const char *)objs;

	if (c < base || c >= base + nr_objs * sizeof(*objs) ||
	    (c - base) % sizeof(*objs)) {
		fail("%s: %p is not an object", where, p);
		return -1;
	}
	return (c - base) / sizeof(*objs);
}

/* The central pool */

static struct {
	pthread_mutex_t lock;
	long n;
	void **items;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Takes up to @n objects into @items; returns how many. */
static long pool_take(void **items, long n)
{
	pthread_mutex_lock(&pool.lock);
	if (n > pool.n)
		n = pool.n;
	pool.n -= n;
	memcpy(items, pool.items + pool.n, n * sizeof(*items));
	pthread_mutex_unlock(&pool.lock);
	return n;
}

static void pool_put(void **items, long n)
{
	pthread_mutex_lock(&pool.lock);
	if (pool.n + n > nr_objs) {
		fail("central pool: %ld objects more than there are",
		     pool.n + n - nr_objs);
		n = nr_objs - pool.n;
	}
	memcpy(pool.items + pool.n, items, n * sizeof(*items));
	pool.n += n;
	pthread_mutex_unlock(&pool.lock);
}

/* Threads */

struct owner {
	int id, cpu;
	const struct design *d;
	struct percpu_op_ctx ctx;
	bool no_opv;		/* cpu_opv() failed: no fallback any more */
	/* Results. */
	uint64_t ops, ns;
	uint64_t refills;	/* allocations that found the list empty */
	uint64_t bypass;	/* operations on the pool: list stopped or full */
};

struct drainer {
	const struct design *d;
	struct percpu_op_ctx ctx;
	void **items;
	/*
	 * Results: drains, the latency of each (the first MAX_SAMPLES: @n of
	 * them) and objects taken.
	 */
	uint64_t *ns;
	long drains, n, objects, repinned;
};

/*
 * The phase: the threads wait for go, then run until end (now_ns()),
 * which is set before go; they stop by themselves, so that the phase does
 * not wait for the main thread to be scheduled on its busy CPU.
 */
static struct {
	atomic_int ready, go;
	uint64_t end;
} run;

/* Owners look at the clock every so many iterations. */
#define CLOCK_EVERY	16

/* Designs */

/* What an owner's pop or push on its CPU's list found. */
enum { LIST_OK, LIST_EMPTY, LIST_FULL, LIST_STOPPED };

struct design {
	const char *name;	/* CSV key */
	const char *label;
	/*
	 * The owners' and the drainer's percpu_op_ctx policy (rseq is
	 * registered unless PERCPU_OP_OPV_ONLY); OWNER_MAX_ABORTS for the
	 * owners: rseq_op() hands an operation to cpu_opv() after that many
	 * aborts of it (design 1).
	 */
	int owner_policy;
	int drainer_policy;
	/* The drainer's cpu_opv() needs the targets in its affinity mask. */
	bool remote_mask;
	const char *why;	/* cannot run here: why, or NULL */
	int (*create)(void);
	void (*destroy)(void);
	/*
	 * One pop (@push NULL: into *@pop) or push of @push on the list of
	 * the CPU the owner runs on: LIST_OK or why not.
	 */
	int (*op)(struct owner *o, void **pop, void *push);
	long (*drain)(struct drainer *dr, int cpu);
	/* For the check, while nothing runs: objects on @cpu's list. */
	long (*count)(int cpu);
	void *(*item)(int cpu, long i);
};

/*
 * Every design's list: an array stack, with what protects it from the
 * drainer in front of it. Designs 1-3 run the same owners' code on it
 * (rseq_op()), so that their owners' figures differ by the drains alone:
 * the stop flag, which only design 2's drainer sets, is compared in all
 * three, a load from the cache line of the offset.
 */
struct plain_part {
	pthread_mutex_t lock;	/* mutex design */
	intptr_t stop;		/* fence design: being drained */
	intptr_t offset;	/* number of objects */
	intptr_t slots[];
};

static char *plain_base;
static size_t plain_stride;

static struct plain_part *plain_part(int cpu)
{
	return (struct plain_part *)(plain_base + (size_t)cpu * plain_stride);
}

static int plain_create(void)
{
	size_t size = sizeof(struct plain_part) + opt_capacity * sizeof(intptr_t);
	void *p;
	int cpu;

	plain_stride = (size + PERCPU_OP_STRIDE_ALIGN - 1) &
		       ~(size_t)(PERCPU_OP_STRIDE_ALIGN - 1);
	if (posix_memalign(&p, PERCPU_OP_STRIDE_ALIGN, plain_stride * nr_cpus))
		return -1;
	plain_base = p;
	memset(plain_base, 0, plain_stride * nr_cpus);
	for (cpu = 0; cpu < nr_cpus; cpu++)
		pthread_mutex_init(&plain_part(cpu)->lock, NULL);
	return 0;
}

static void plain_destroy(void)
{
	int cpu;

	for (cpu = 0; cpu < nr_cpus; cpu++)
		pthread_mutex_destroy(&plain_part(cpu)->lock);
	free(plain_base);
}

/* Empties @part into @items, which the owners of @part cannot touch now. */
static long plain_take(struct plain_part *part, void **items)
{
	long n = RSEQ_READ_ONCE(part->offset);

	memcpy(items, part->slots, n * sizeof(*items));
	RSEQ_WRITE_ONCE(part->offset, 0);
	return n;
}

static long plain_count(int cpu)
{
	return RSEQ_READ_ONCE(plain_part(cpu)->offset);
}

static void *plain_item(int cpu, long i)
{
	return (void *)plain_part(cpu)->slots[i];
}

/* Designs 1-3: the owners' rseq critical sections. */

#ifdef __x86_64__
#define HAVE_OWNER_CS	1
/*
 * The owners' critical section: if *@stop is 0 and *@v is @expect, copies
 * *@src to *@dst and commits @newv to *@v. Returns 0 once committed, 1 if
 * a compare failed, -1 if aborted (preempted, signalled, migrated, or
 * fenced by the drainer). The load of *@stop comes first, and x86 keeps
 * loads in order: once it reads the drainer's store-release of 0, the
 * loads after it see the list the drainer left. Written as ../rseq's
 * rseq_cmpeqv_storev(), with one more compare and the copy.
 */
static __always_inline
int rseq_cmpeqz_cmpeqv_movv_storev(intptr_t *stop, intptr_t *v, intptr_t expect,
				   intptr_t *dst, const intptr_t *src,
				   intptr_t newv, int cpu)
{
	asm goto(RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f) /* start, commit, abort */
		 ".pushsection __rseq_exit_point_array, \"aw\"\n\t"
		 ".quad 1f, %l[cmpfail]\n\t"
		 ".popsection\n\t"
		 /* Start: the address of the descriptor into rseq_cs. */
		 "leaq 3b(%%rip), %%rax\n\t"
		 "movq %%rax, %%fs:" __rseq_str(RSEQ_CS_OFFSET) "(%[rseq_offset])\n\t"
		 "1:\n\t"
		 "cmpl %[cpu_id], %%fs:" __rseq_str(RSEQ_CPU_ID_OFFSET) "(%[rseq_offset])\n\t"
		 "jnz 4f\n\t"
		 "cmpq $0, %[stop]\n\t"
		 "jnz %l[cmpfail]\n\t"
		 "cmpq %[v], %[expect]\n\t"
		 "jnz %l[cmpfail]\n\t"
		 "movq (%[src]), %%rbx\n\t"
		 "movq %%rbx, (%[dst])\n\t"
		 /* final store */
		 "movq %[newv], %[v]\n\t"
		 "2:\n\t"
		 RSEQ_ASM_DEFINE_ABORT(4, "", abort)
		 : /* gcc asm goto does not allow outputs */
		 : [cpu_id]		"r" (cpu),
		   [rseq_offset]	"r" (rseq_offset),
		   [stop]		"m" (*stop),
		   [v]			"m" (*v),
		   [expect]		"r" (expect),
		   [dst]		"r" (dst),
		   [src]		"r" (src),
		   [newv]		"r" (newv)
		 : "memory", "cc", "rax", "rbx"
		 : abort, cmpfail);
	rseq_after_asm_goto();
	return 0;
abort:
	rseq_after_asm_goto();
	return -1;
cmpfail:
	rseq_after_asm_goto();
	return 1;
}
#elif defined(__aarch64__)
#define HAVE_OWNER_CS	1
/*
 * As above, from ../rseq's arm64 rseq_cmpeqv_storev(). arm64 does not keep
 * loads in order: *@stop is loaded with acquire semantics (ldar), so that
 * once it reads the drainer's store-release of 0, the loads after it see
 * the list the drainer left.
 */
static __always_inline
int rseq_cmpeqz_cmpeqv_movv_storev(intptr_t *stop, intptr_t *v, intptr_t expect,
				   intptr_t *dst, const intptr_t *src,
				   intptr_t newv, int cpu)
{
	asm goto(RSEQ_ASM_DEFINE_TABLE(1, 2f, 3f, 4f) /* start, commit, abort */
		 "	.pushsection __rseq_exit_point_array, \"aw\"\n"
		 "	.quad 2f, %l[cmpfail]\n"
		 "	.popsection\n"
		 RSEQ_ASM_STORE_RSEQ_CS(2, 1b, rseq_cs)
		 RSEQ_ASM_CMP_CPU_ID(cpu_id, current_cpu_id, 4f)
		 "	ldar	" RSEQ_ASM_TMP_REG ", %[stop]\n"
		 "	cbnz	" RSEQ_ASM_TMP_REG ", %l[cmpfail]\n"
		 "	ldr	" RSEQ_ASM_TMP_REG ", %[v]\n"
		 "	sub	" RSEQ_ASM_TMP_REG ", " RSEQ_ASM_TMP_REG ", %[expect]\n"
		 "	cbnz	" RSEQ_ASM_TMP_REG ", %l[cmpfail]\n"
		 "	ldr	" RSEQ_ASM_TMP_REG ", [%[src]]\n"
		 "	str	" RSEQ_ASM_TMP_REG ", [%[dst]]\n"
		 RSEQ_ASM_OP_FINAL_STORE(newv, v, 3)
		 RSEQ_ASM_DEFINE_ABORT(4, abort)
		 : /* gcc asm goto does not allow outputs */
		 : [cpu_id]		"r" (cpu),
		   [current_cpu_id]	"Qo" (rseq_get_abi()->cpu_id),
		   [rseq_cs]		"m" (rseq_get_abi()->rseq_cs.arch.ptr),
		   [stop]		"Q" (*stop),
		   [v]			"Qo" (*v),
		   [expect]		"r" (expect),
		   [dst]		"r" (dst),
		   [src]		"r" (src),
		   [newv]		"r" (newv)
		   RSEQ_INJECT_INPUT
		 : "memory", RSEQ_ASM_TMP_REG
		 : abort, cmpfail);
	rseq_after_asm_goto();
	return 0;
abort:
	rseq_after_asm_goto();
	return -1;
cmpfail:
	rseq_after_asm_goto();
	return 1;
}
#else
#define HAVE_OWNER_CS	0
static inline int rseq_cmpeqz_cmpeqv_movv_storev(intptr_t *stop, intptr_t *v,
						 intptr_t expect, intptr_t *dst,
						 const intptr_t *src,
						 intptr_t newv, int cpu)
{
	return -1;
}
#endif

/*
 * Design 1's fallback after OWNER_MAX_ABORTS aborts of one operation: the
 * same operation as one cpu_opv() vector on @cpu, { compare the stop flag
 * to 0 (which only design 2's drainer sets) and the offset to @off, copy
 * the slot, store @newoff }. Returns 0 once done, non-zero if the list
 * changed or was stopped, on EAGAIN, or on an error (which fails the
 * design and ends the owner's fallbacks).
 */
static int opv_op(struct owner *o, struct plain_part *part, intptr_t off,
		  intptr_t *dst, const intptr_t *src, intptr_t newoff, int cpu)
{
	intptr_t zero = 0;
	struct cpu_op ops[4] = {
		op_compare(1, &part->stop, &zero, sizeof(zero)),
		op_compare(1, &part->offset, &off, sizeof(off)),
		op_memcpy(0, dst, src, sizeof(*dst)),
		op_memcpy(0, &part->offset, &newoff, sizeof(newoff)),
	};
	int ret;

	o->ctx.stats.opv_calls++;
	ret = sys_cpu_opv(ops, 4, cpu, 0);
	if (!ret) {
		o->ctx.stats.opv_commits++;
		return 0;
	}
	o->ctx.stats.opv_retries++;
	if (ret > 0)
		return 1;
	if (errno == EAGAIN) {
		o->ctx.stats.opv_eagain++;
		return 1;
	}
	fail("owner on CPU %d: cpu_opv(): %s", o->cpu, strerror(errno));
	o->no_opv = true;
	return 1;
}

/*
 * One pop (@push NULL) or push of @push on the list of the CPU the owner
 * runs on. While the drainer has the list stopped (design 2), the owner
 * goes to the central pool instead: it never waits for the drainer. After
 * OWNER_MAX_ABORTS aborts of one operation, design 1's owners hand it to
 * cpu_opv() (a single-stepped thread, for instance, would abort every
 * time); designs 2 and 3 have no such fallback.
 */
static int rseq_op(struct owner *o, void **pop, void *push)
{
	struct plain_part *part;
	intptr_t off, newoff, v = (intptr_t)push;
	intptr_t *dst, *src;
	int cpu, ret, aborts = 0;

	for (;;) {
		cpu = rseq_cpu_start();
		part = plain_part(cpu);
		if (RSEQ_READ_ONCE(part->stop))
			return LIST_STOPPED;
		off = RSEQ_READ_ONCE(part->offset);
		if (push) {
			if (off == opt_capacity)
				return LIST_FULL;
			newoff = off + 1;
			dst = &part->slots[off];
			src = &v;
		} else {
			if (!off)
				return LIST_EMPTY;
			newoff = off - 1;
			dst = &v;
			src = &part->slots[off - 1];
		}
		if (aborts >= OWNER_MAX_ABORTS && !o->no_opv &&
		    o->d->owner_policy == OWNER_MAX_ABORTS) {
			if (aborts++ == OWNER_MAX_ABORTS)
				o->ctx.stats.fallbacks++;
			if (!opv_op(o, part, off, dst, src, newoff, cpu))
				break;
			/* Changed under it, or stopped: look again. */
			continue;
		}
		ret = rseq_cmpeqz_cmpeqv_movv_storev(&part->stop, &part->offset,
						     off, dst, src, newoff, cpu);
		if (!ret) {
			o->ctx.stats.rseq_commits++;
			break;
		}
		if (ret < 0) {
			o->ctx.stats.rseq_aborts++;
			aborts++;
		} else {
			o->ctx.stats.rseq_cmpfails++;
		}
	}
	o->ctx.stats.ops++;
	if (pop)
		*pop = (void *)v;
	return LIST_OK;
}

/*
 * Design 1's drain: one cpu_opv() on @cpu copies the offset and every slot
 * out and stores 0 to the offset, atomically with respect to the owner's
 * critical sections there (cpu_opv() aborts the one it interrupts). No
 * compare, so it cannot fail however busy the list is; the slots above
 * the offset come along and are not looked at.
 */
static long opv_drain(struct drainer *dr, int cpu)
{
	struct plain_part *part = plain_part(cpu);
	intptr_t off = 0, zero = 0;
	struct cpu_op ops[3] = {
		op_memcpy(0, &off, &part->offset, sizeof(off)),
		op_memcpy(0, dr->items, part->slots,
			  opt_capacity * sizeof(intptr_t)),
		op_memcpy(0, &part->offset, &zero, sizeof(zero)),
	};

	for (;;) {
		dr->ctx.stats.opv_calls++;
		if (!sys_cpu_opv(ops, 3, cpu, 0))
			break;
		dr->ctx.stats.opv_retries++;
		if (errno != EAGAIN) {
			fail("cpu_opv drain of CPU %d: %s", cpu, strerror(errno));
			return -1;
		}
		dr->ctx.stats.opv_eagain++;
		if (now_ns() >= run.end) {
			fail("cpu_opv drain of CPU %d: EAGAIN up to the phase's end",
			     cpu);
			return -1;
		}
	}
	dr->ctx.stats.opv_commits++;
	return off;
}

/*
 * Design 3's drain: the drainer moves to @cpu, empties the list there by an
 * rseq critical section (compare the offset, copy the slots out, store 0),
 * and goes back to its own CPU.
 */
static long migrate_drain(struct drainer *dr, int cpu)
{
	struct plain_part *part = plain_part(cpu);
	intptr_t off;
	int ret;

	if (!dr->ctx.has_rseq) {
		fail("migrate drain: no rseq");
		return -1;
	}
	for (;;) {
		/*
		 * sched_setaffinity() moves the thread before it returns; it
		 * is elsewhere again only if @cpu went offline meanwhile.
		 */
		if ((int)rseq_cpu_start() != cpu && pin_to(cpu)) {
			fail("migrate drain: sched_setaffinity(CPU %d): %s", cpu,
			     strerror(errno));
			off = -1;
			break;
		}
		if ((int)rseq_cpu_start() != cpu) {
			if (now_ns() < run.end)
				continue;
			fail("migrate drain: not on CPU %d by the phase's end", cpu);
			off = -1;
			break;
		}
		off = RSEQ_READ_ONCE(part->offset);
		ret = rseq_cmpeqv_trymemcpy_storev(RSEQ_MO_RELAXED,
						   RSEQ_PERCPU_CPU_ID,
						   &part->offset, off, dr->items,
						   part->slots,
						   off * sizeof(intptr_t), 0, cpu);
		if (!ret) {
			dr->ctx.stats.rseq_commits++;
			break;
		}
		if (ret < 0)
			dr->ctx.stats.rseq_aborts++;
		else
			dr->ctx.stats.rseq_cmpfails++;
	}
	if (pin_to(home))
		fail("migrate drain: sched_setaffinity(CPU %d): %s", home,
		     strerror(errno));
	return off;
}

/* Design 2: the stop flag and the membarrier() fence. */

/*
 * The drainer's side. Why no owner touches the list between (2) and (4):
 *
 * (1) The flag is set before the membarrier() system call, which starts
 *     with a full barrier (smp_mb()) before it looks at what @cpu runs and
 *     sends it the IPI.
 * (2) The fence: if a thread of this process runs on @cpu, the IPI handler
 *     runs a full barrier there and has any critical section it
 *     interrupted aborted before user space resumes; if none runs there,
 *     the owner is preempted or asleep, and the scheduler aborts a
 *     critical section it was preempted in when it resumes, with the
 *     barriers of the context switch (those membarrier() relies on, see
 *     kernel/sched/membarrier.c). membarrier() waits for the handler and
 *     ends with another full barrier. So each critical section of the
 *     owner either committed before the IPI, and its stores are visible to
 *     the drainer's loads after (2), or it had not committed and never
 *     will: it aborts, or it starts (or restarts) after the IPI's barrier
 *     and its load of the flag, first in it, sees 1. A critical section
 *     that read the flag as 0 before (1) but was interrupted before its
 *     commit is exactly the one the fence aborts.
 * (3) The list is the drainer's: plain loads and stores.
 * (4) The store-release of 0 orders the drain's stores before it: a
 *     critical section that reads the flag as 0 from here on sees the
 *     emptied list in its later loads (the load of the flag comes first
 *     and orders them: see rseq_cmpeqz_cmpeqv_movv_storev()), and its
 *     compare of the offset fails if it had read the offset before the
 *     drain.
 *
 * The owners' slow path (the flag is set) goes to the central pool, under
 * its mutex, and never touches the list.
 */
static long fence_drain(struct drainer *dr, int cpu)
{
	struct plain_part *part = plain_part(cpu);
	long n;

	RSEQ_WRITE_ONCE(part->stop, 1);					/* (1) */
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
		    MEMBARRIER_CMD_FLAG_CPU, cpu)) {			/* (2) */
		fail("membarrier(PRIVATE_EXPEDITED_RSEQ, CPU %d): %s", cpu,
		     strerror(errno));
		RSEQ_WRITE_ONCE(part->stop, 0);
		return -1;
	}
	n = plain_take(part, dr->items);				/* (3) */
	rseq_smp_store_release(&part->stop, 0);				/* (4) */
	return n;
}

/* Design 4: a mutex per list. */

static int mutex_op(struct owner *o, void **pop, void *push)
{
	struct plain_part *part = plain_part(percpu_op_current_cpu(&o->ctx));
	int ret = LIST_OK;

	pthread_mutex_lock(&part->lock);
	if (push) {
		if (part->offset == opt_capacity)
			ret = LIST_FULL;
		else
			part->slots[part->offset++] = (intptr_t)push;
	} else {
		if (!part->offset)
			ret = LIST_EMPTY;
		else
			*pop = (void *)part->slots[--part->offset];
	}
	pthread_mutex_unlock(&part->lock);
	return ret;
}

static long mutex_drain(struct drainer *dr, int cpu)
{
	struct plain_part *part = plain_part(cpu);
	long n;

	pthread_mutex_lock(&part->lock);
	n = plain_take(part, dr->items);
	pthread_mutex_unlock(&part->lock);
	return n;
}

static struct design designs[] = {
	{
		.name = "cpu_opv", .label = "cpu_opv drain",
		.owner_policy = OWNER_MAX_ABORTS,
		.drainer_policy = PERCPU_OP_OPV_ONLY, .remote_mask = true,
		.create = plain_create, .destroy = plain_destroy,
		.op = rseq_op, .drain = opv_drain,
		.count = plain_count, .item = plain_item,
	},
	{
		.name = "membarrier", .label = "flag + membarrier fence",
		.owner_policy = PERCPU_OP_RSEQ_ONLY,
		.drainer_policy = PERCPU_OP_RSEQ_ONLY,
		.create = plain_create, .destroy = plain_destroy,
		.op = rseq_op, .drain = fence_drain,
		.count = plain_count, .item = plain_item,
	},
	{
		.name = "migrate", .label = "migrate + rseq drain",
		.owner_policy = PERCPU_OP_RSEQ_ONLY,
		.drainer_policy = PERCPU_OP_RSEQ_ONLY,
		.create = plain_create, .destroy = plain_destroy,
		.op = rseq_op, .drain = migrate_drain,
		.count = plain_count, .item = plain_item,
	},
	{
		.name = "mutex", .label = "mutex per list",
		.owner_policy = PERCPU_OP_RSEQ_ONLY,
		.drainer_policy = PERCPU_OP_RSEQ_ONLY,
		.create = plain_create, .destroy = plain_destroy,
		.op = mutex_op, .drain = mutex_drain,
		.count = plain_count, .item = plain_item,
	},
};

#define NR_DESIGNS	ARRAY_SIZE(designs)

/* Owners */

static void *obj_alloc(struct owner *o)
{
	void *items[64], *p = NULL;
	long n, i;
	int ret;
	struct obj *obj;

	ret = o->d->op(o, &p, NULL);
	if (ret == LIST_STOPPED) {
		o->bypass++;
		n = pool_take(&p, 1);
	} else if (ret == LIST_EMPTY) {
		/* Refill: one batch from the pool, all but one onto the list. */
		o->refills++;
		n = pool_take(items, opt_batch);
		p = items[0];
		for (i = 1; i < n; i++) {
			if (o->d->op(o, NULL, items[i]) != LIST_OK) {
				pool_put(items + i, n - i);
				break;
			}
		}
	} else {
		n = 1;
	}
	if (!n) {
		/* There are enough objects for every list to be full. */
		fail("owner on CPU %d: no object anywhere", o->cpu);
		return NULL;
	}
	if (obj_index(p, "allocation") < 0)
		return NULL;
	obj = p;
	if (RSEQ_READ_ONCE(obj->held))
		fail("owner on CPU %d allocated object %ld, held by thread %ld",
		     o->cpu, obj_index(p, "allocation"),
		     (long)RSEQ_READ_ONCE(obj->held) - 1);
	RSEQ_WRITE_ONCE(obj->held, o->id + 1);
	return p;
}

static void obj_free(struct owner *o, void *p)
{
	struct obj *obj = p;

	if (!p)
		return;
	if (RSEQ_READ_ONCE(obj->held) != o->id + 1)
		fail("owner on CPU %d frees object %ld, held by thread %ld",
		     o->cpu, obj_index(p, "free"),
		     (long)RSEQ_READ_ONCE(obj->held) - 1);
	RSEQ_WRITE_ONCE(obj->held, 0);
	if (o->d->op(o, NULL, p) != LIST_OK) {
		o->bypass++;
		pool_put(&p, 1);
	}
}

static void *owner_thread(void *arg)
{
	struct owner *o = arg;
	void *held[HOLD];
	uint64_t ops = 0, t0, t1;
	long n;
	int i;

	if (pin_to(o->cpu))
		fail("owner: sched_setaffinity(CPU %d): %s", o->cpu,
		     strerror(errno));
	if (percpu_op_thread_init(&o->ctx, o->d->owner_policy))
		fail("owner on CPU %d: no rseq", o->cpu);
	atomic_fetch_add(&run.ready, 1);
	while (!atomic_load(&run.go))
		sched_yield();
	if (!o->ctx.has_rseq && o->d->op == rseq_op) {
		/* Failed above: rseq_op() would abort for ever. */
		o->ns = 1;
		percpu_op_thread_fini(&o->ctx);
		return NULL;
	}
	t0 = now_ns();
	for (n = 1;; n++) {
		for (i = 0; i < HOLD; i++)
			held[i] = obj_alloc(o);
		for (i = 0; i < HOLD; i++)
			obj_free(o, held[i]);
		ops += 2 * HOLD;
		if (n % CLOCK_EVERY)
			continue;
		t1 = now_ns();
		if (t1 >= run.end)
			break;
	}
	o->ns = t1 - t0;
	o->ops = ops;
	percpu_op_thread_fini(&o->ctx);
	return NULL;
}

/* The drainer */

static void sleep_until(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = t / 1000000000ULL,
		.tv_nsec = t % 1000000000ULL,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void *drainer_thread(void *arg)
{
	struct drainer *dr = arg;
	const struct design *d = dr->d;
	uint64_t next, t0, t1;
	long n, i, k = 0;
	int cpu;

	if (pin_to(home) || (d->remote_mask &&
			     sched_setaffinity(0, sizeof(allowed), &allowed)))
		fail("drainer: sched_setaffinity: %s", strerror(errno));
	if (percpu_op_thread_init(&dr->ctx, d->drainer_policy))
		fail("drainer: no rseq");
	atomic_fetch_add(&run.ready, 1);
	while (!atomic_load(&run.go))
		sched_yield();
	next = now_ns();
	for (;;) {
		next += opt_period_us * 1000;
		if (next >= run.end)
			break;
		sleep_until(next);
		cpu = targets[k++ % nr_targets];
		if (d->remote_mask && percpu_op_current_cpu(&dr->ctx) != home) {
			/* Woken up elsewhere: go home, the drain is remote. */
			dr->repinned++;
			if (pin_to(home) ||
			    sched_setaffinity(0, sizeof(allowed), &allowed))
				fail("drainer: sched_setaffinity: %s",
				     strerror(errno));
		}
		t0 = now_ns();
		n = d->drain(dr, cpu);
		t1 = now_ns();
		if (n < 0)
			break;	/* the drain said why */
		if (n > opt_capacity) {
			fail("%s: the drain of CPU %d returned %ld", d->name,
			     cpu, n);
			break;
		}
		for (i = 0; i < n; i++) {
			struct obj *obj = dr->items[i];

			if (obj_index(obj, "drain") >= 0 &&
			    RSEQ_READ_ONCE(obj->held))
				fail("%s: drained object %ld, held by thread %ld",
				     d->name, obj_index(obj, "drain"),
				     (long)RSEQ_READ_ONCE(obj->held) - 1);
		}
		pool_put(dr->items, n);
		dr->drains++;
		if (dr->n < MAX_SAMPLES)
			dr->ns[dr->n++] = t1 - t0;
		dr->objects += n;
		/* A drain longer than the period: the next one starts now. */
		if (next < t1)
			next = t1;
	}
	percpu_op_thread_fini(&dr->ctx);
	return NULL;
}

/* Phases */

/* A design's results over the rounds. */
struct result {
	bool failed;
	double tput[2][MAX_ROUNDS];	/* [drained][round]: owners' ops/s */
	double lat[MAX_ROUNDS];		/* per round: median drain, ns */
	uint64_t *samples;		/* every drain of every round, ns */
	long nr_samples, drains, objects, repinned;
	double drained_s;		/* time the drainer ran, s */
	/* The owners while drained, and the drainer. */
	struct percpu_op_stats stats, drainer;
	uint64_t refills, bypass;
};

static struct result results[NR_DESIGNS];

/* Each object once, in a list or the pool, and held by no one. */
static void check_objects(const struct design *d)
{
	unsigned char *seen = calloc(nr_objs, 1);
	long i, n, k;
	int cpu;

	if (!seen) {
		fail("%s: check: out of memory", d->name);
		return;
	}
	for (cpu = 0; cpu <= nr_cpus; cpu++) {
		n = cpu < nr_cpus ? d->count(cpu) : pool.n;
		if (n < 0 || (cpu < nr_cpus && n > opt_capacity)) {
			fail("%s: the list of CPU %d holds %ld objects", d->name,
			     cpu, n);
			continue;
		}
		for (i = 0; i < n; i++) {
			void *p = cpu < nr_cpus ? d->item(cpu, i) : pool.items[i];

			k = obj_index(p, d->name);
			if (k >= 0 && seen[k]++)
				fail("%s: object %ld is twice, again %s %ld",
				     d->name, k, cpu < nr_cpus ?
				     "on the list of CPU" : "in the pool, at", i);
		}
	}
	for (k = 0; k < nr_objs; k++) {
		if (!seen[k])
			fail("%s: object %ld is lost", d->name, k);
		if (objs[k].held)
			fail("%s: object %ld is still held by thread %ld",
			     d->name, k, (long)objs[k].held - 1);
	}
	free(seen);
}

/*
 * One phase of @ms of design @i, with the drainer if @drained; counted in
 * round @round, or a warm-up if @round < 0.
 */
static void run_phase(unsigned int i, bool drained, int round, long ms)
{
	struct design *d = &designs[i];
	struct result *r = &results[i];
	struct owner *owners = calloc(nr_owners, sizeof(*owners));
	struct drainer dr = { .d = d };
	pthread_t threads[CPU_SETSIZE + 1];
	int before = atomic_load(&failures), started = 0, k;
	double tput = 0;

	if (drained) {
		dr.items = calloc(opt_capacity, sizeof(*dr.items));
		dr.ns = calloc(MAX_SAMPLES, sizeof(*dr.ns));
	}
	if (!owners || (drained && (!dr.items || !dr.ns)) || d->create()) {
		fail("%s: out of memory", d->name);
		goto out;
	}
	memset(objs, 0, nr_objs * sizeof(*objs));
	for (k = 0; k < nr_objs; k++)
		pool.items[k] = &objs[k];
	pool.n = nr_objs;
	atomic_store(&run.ready, 0);
	atomic_store(&run.go, 0);
	for (k = 0; k < nr_owners; k++) {
		owners[k] = (struct owner){ .id = k, .cpu = owner_cpu[k], .d = d };
		if (pthread_create(&threads[started], NULL, owner_thread,
				   &owners[k]))
			break;
		started++;
	}
	if (started == nr_owners && drained &&
	    !pthread_create(&threads[started], NULL, drainer_thread, &dr))
		started++;
	while (atomic_load(&run.ready) < started)
		usleep(1000);
	run.end = now_ns() + ms * 1000000ULL;
	if (started < nr_owners + drained) {
		fail("%s: cannot start the threads", d->name);
		run.end = 0;
	}
	/* Release: the threads read run.end after they see go. */
	atomic_store(&run.go, 1);
	for (k = 0; k < started; k++)
		pthread_join(threads[k], NULL);
	check_objects(d);
	d->destroy();

	for (k = 0; k < nr_owners; k++) {
		if (owners[k].ns)
			tput += owners[k].ops * 1e9 / owners[k].ns;
		if (drained && round >= 0) {
			percpu_op_stats_add(&r->stats, &owners[k].ctx.stats);
			r->refills += owners[k].refills;
			r->bypass += owners[k].bypass;
		}
	}
	if (round >= 0) {
		r->tput[drained][round] = tput;
		if (drained && dr.n) {
			memcpy(r->samples + r->nr_samples, dr.ns,
			       dr.n * sizeof(*dr.ns));
			r->nr_samples += dr.n;
			qsort(dr.ns, dr.n, sizeof(*dr.ns), cmp_u64);
			r->lat[round] = percentile(dr.ns, dr.n, 50);
		}
		r->drains += dr.drains;
		percpu_op_stats_add(&r->drainer, &dr.ctx.stats);
		r->objects += dr.objects;
		r->repinned += dr.repinned;
		if (drained)
			r->drained_s += ms / 1000.0;
	}
out:
	if (atomic_load(&failures) > before)
		r->failed = true;
	free(dr.items);
	free(dr.ns);
	free(owners);
}

/* Figures */

struct spread {
	double median, lo, hi;
	int n;
};

/* Median and range of @v[0..@n), ignoring zeros (not measured). */
static struct spread spread_of(const double *v, int n)
{
	double s[MAX_ROUNDS];
	struct spread sp = { 0 };
	int k;

	for (k = 0; k < n; k++) {
		if (v[k])
			s[sp.n++] = v[k];
	}
	if (!sp.n)
		return sp;
	qsort(s, sp.n, sizeof(*s), cmp_double);
	sp.median = s[sp.n / 2];
	sp.lo = s[0];
	sp.hi = s[sp.n - 1];
	return sp;
}

/* Per round, @a[k] / @b[k]: its median and range. */
static struct spread ratio_of(const double *a, const double *b)
{
	double v[MAX_ROUNDS];
	int k;

	for (k = 0; k < opt_rounds; k++)
		v[k] = div_or_0(a[k], b[k]);
	return spread_of(v, opt_rounds);
}

static bool measured(unsigned int i)
{
	return !designs[i].why && results[i].tput[1][0];
}

struct figures {
	struct spread tput[2], self, vs1[2], lat, lat_vs1;
	double p99, objs, per_s, retries;
};

static struct figures figures_of(unsigned int i)
{
	struct result *r = &results[i], *r1 = &results[0];
	struct figures f = { 0 };
	int p;

	for (p = 0; p < 2; p++) {
		f.tput[p] = spread_of(r->tput[p], opt_rounds);
		f.vs1[p] = ratio_of(r->tput[p], r1->tput[p]);
	}
	f.self = ratio_of(r->tput[1], r->tput[0]);
	f.lat = spread_of(r->lat, opt_rounds);
	f.lat_vs1 = ratio_of(r->lat, r1->lat);
	if (r->nr_samples) {
		qsort(r->samples, r->nr_samples, sizeof(*r->samples), cmp_u64);
		f.lat.median = percentile(r->samples, r->nr_samples, 50);
		f.p99 = percentile(r->samples, r->nr_samples, 99);
	}
	f.objs = div_or_0(r->objects, r->drains);
	f.per_s = div_or_0(r->drains, r->drained_s);
	f.retries = div_or_0(r->drainer.opv_eagain + r->drainer.rseq_aborts +
			     r->drainer.rseq_cmpfails, r->drains);
	return f;
}

/* "1.23 [1.01..1.50]", or "n/a". */
static const char *fmt_spread(char *buf, size_t len, struct spread s)
{
	int d = ratio_digits(s.lo);

	if (!s.n)
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.*f [%.*f..%.*f]", d, s.median, d, s.lo,
			 d, s.hi);
	return buf;
}

static void print_table(void)
{
	char a[48], b[48], c[48];
	struct utsname u;
	unsigned int i;
	int k;

	uname(&u);
	printf("\npercpu_drain_bench: Linux %s %s, %d CPUs, an owner on each;",
	       u.release, u.machine, nr_owners);
	printf(" the drainer on CPU %d\n", home);
	printf("A per-CPU object cache: lists of %ld object pointers, refilled %ld at\n",
	       opt_capacity, opt_batch);
	printf("a time from a central pool (mutex); each owner allocates %d objects and\n",
	       HOLD);
	printf("frees them, in a loop. The drainer takes one CPU's whole list every\n");
	printf("%ld us, CPUs", opt_period_us);
	for (k = 0; k < nr_targets; k++)
		printf("%s %d", k ? "," : "", targets[k]);
	printf(" in turn, and gives the objects to the pool.\n");
	printf("%d rounds; in each, every design runs %ld ms without and %ld ms with\n",
	       opt_rounds, opt_phase_ms, opt_phase_ms);
	printf("the drainer, one design after the other, in the reverse order (of the\n");
	printf("designs and of the two phases) every other round; before them, each\n");
	printf("design ran %ld ms with the drainer as a warm-up.\n", opt_warmup_ms);
	printf("Only ratios between figures of this run are claimed: absolute times\n");
	printf("under emulation (QEMU TCG) are distorted, and a drain that needs the\n");
	printf("target CPU (an IPI, a migration) also waits for the host to run that\n");
	printf("busy vCPU. Ratios: the median of the per-round ratios, [lowest..highest]\n");
	printf("over the rounds.\n");

	printf("\nOwners' throughput: all owners, Mops/s (median over the rounds; an op\n");
	printf("is an allocation or a free), and ratios\n");
	printf("%-25s %9s %9s  %-19s %-20s %s\n", "design", "undrained", "drained",
	       "drained/undrained", "drained: x design 1", "undrained: x design 1");
	for (i = 0; i < NR_DESIGNS; i++) {
		struct figures f;

		if (!measured(i)) {
			printf("%u %-23s n/a (%s)\n", i + 1, designs[i].label,
			       designs[i].why ? designs[i].why : "failed");
			continue;
		}
		f = figures_of(i);
		printf("%u %-23s %9.2f %9.2f  %-19s %-20s %s\n", i + 1,
		       designs[i].label, f.tput[0].median / 1e6,
		       f.tput[1].median / 1e6,
		       fmt_spread(a, sizeof(a), f.self),
		       fmt_spread(b, sizeof(b), f.vs1[1]),
		       fmt_spread(c, sizeof(c), f.vs1[0]));
	}

	printf("\nDrain of one CPU's list: us (the median of all drains and the lowest..\n");
	printf("highest per-round median; the 99th percentile of all drains), and ratio;\n");
	printf("retries: the drainer's tries per drain that took nothing (cpu_opv()'s\n");
	printf("EAGAIN; the rseq drain's aborts and failed compares of the offset)\n");
	printf("%-25s %6s %7s %6s %7s %9s %-19s %9s  %s\n", "design", "drains",
	       "per s", "objs", "retries", "median", "[round medians]", "p99",
	       "x design 1");
	for (i = 0; i < NR_DESIGNS; i++) {
		struct figures f;

		if (!measured(i))
			continue;
		f = figures_of(i);
		snprintf(a, sizeof(a), "[%.2f..%.2f]", f.lat.lo / 1e3,
			 f.lat.hi / 1e3);
		printf("%u %-23s %6ld %7.1f %6.1f %7.3f %9.2f %-19s %9.2f  %s\n",
		       i + 1, designs[i].label, results[i].drains, f.per_s,
		       f.objs, f.retries, f.lat.median / 1e3, a, f.p99 / 1e3,
		       fmt_spread(b, sizeof(b), f.lat_vs1));
	}

	printf("\nThe owners while drained, per drain: rseq aborts, operations by\n");
	printf("cpu_opv() (design 1's fallback), refills of an empty list, operations\n");
	printf("that went to the pool because the list was stopped or full\n");
	printf("%-25s %9s %9s %9s %9s\n", "design", "aborts", "cpu_opv",
	       "refills", "to pool");
	for (i = 0; i < NR_DESIGNS; i++) {
		struct result *r = &results[i];
		double n = r->drains;

		if (!measured(i))
			continue;
		printf("%u %-23s %9.2f %9.2f %9.2f %9.2f\n", i + 1,
		       designs[i].label, div_or_0(r->stats.rseq_aborts, n),
		       div_or_0(r->stats.opv_commits, n),
		       div_or_0(r->refills, n), div_or_0(r->bypass, n));
	}
	if (results[0].repinned)
		printf("(the drainer of design 1, whose mask has every CPU for cpu_opv(),\n"
		       "woke up away from CPU %d before %ld drains, and was moved back)\n",
		       home, results[0].repinned);
}

/* Ratios with four significant digits, throughputs in whole ops/s. */
static void csv_spread(FILE *f, const char *section, unsigned int i,
		       struct spread s, bool ratio)
{
	const char *fmt = ratio ? "%s,%s,%s,%d,%.4g,%.4g,%.4g,%s\n" :
				  "%s,%s,%s,%d,%.0f,%.0f,%.0f,%s\n";

	if (s.n)
		fprintf(f, fmt, section, designs[i].name, designs[i].label, s.n,
			s.median, s.lo, s.hi, ratio ? "ratio" : "ops/s");
}

static void print_csv(FILE *f)
{
	unsigned int i;

	fprintf(f, "%s\n", CSV_HEADER);
	for (i = 0; i < NR_DESIGNS; i++) {
		struct result *r = &results[i];
		struct figures f1;

		if (!measured(i))
			continue;
		f1 = figures_of(i);
		csv_spread(f, "throughput_undrained", i, f1.tput[0], false);
		csv_spread(f, "throughput_drained", i, f1.tput[1], false);
		csv_spread(f, "throughput_drained_vs_undrained", i, f1.self, true);
		csv_spread(f, "throughput_drained_vs_cpu_opv", i, f1.vs1[1], true);
		csv_spread(f, "throughput_undrained_vs_cpu_opv", i, f1.vs1[0], true);
		/* n: the drains; lo and hi: the per-round medians. */
		if (r->nr_samples)
			fprintf(f, "drain_latency,%s,%s,%ld,%.1f,%.1f,%.1f,ns\n",
				designs[i].name, designs[i].label, r->nr_samples,
				f1.lat.median, f1.lat.lo, f1.lat.hi);
		if (r->nr_samples)
			fprintf(f, "drain_latency_p99,%s,%s,%ld,%.1f,,,ns\n",
				designs[i].name, designs[i].label, r->nr_samples,
				f1.p99);
		csv_spread(f, "drain_latency_vs_cpu_opv", i, f1.lat_vs1, true);
		fprintf(f, "drain_objects,%s,%s,%ld,%.2f,,,objects per drain\n",
			designs[i].name, designs[i].label, r->drains, f1.objs);
		fprintf(f, "drain_retries,%s,%s,%ld,%.3f,,,tries per drain that took nothing\n",
			designs[i].name, designs[i].label, r->drains,
			f1.retries);
	}
}

/* Main */

static void usage(const char *prog, int status)
{
	fprintf(status ? stderr : stdout,
		"Usage: %s [options]\n"
		"  -d MS      duration of each phase (default %ld)\n"
		"  -r ROUNDS  rounds, each a phase without and one with the drainer\n"
		"             per design (default %d, at most %d)\n"
		"  -p US      period of the drains (default %ld)\n"
		"  -c N       capacity of each CPU's list (default %ld, at most %ld:\n"
		"             one cpu_opv() copy)\n"
		"  -b N       objects a refill takes from the pool (default %ld)\n"
		"  -w MS      warm-up phase of each design, with the drainer (default %ld)\n"
		"  -o FILE    write the CSV to FILE; by default it goes to stdout,\n"
		"             between the lines \"%s\" and \"%s\"\n",
		prog, opt_phase_ms, opt_rounds, MAX_ROUNDS, opt_period_us,
		opt_capacity, (long)(CPU_OP_DATA_LEN_MAX / sizeof(void *)),
		opt_batch, opt_warmup_ms, CSV_BEGIN, CSV_END);
	exit(status);
}

/* Sets up what every design needs; says in designs[].why what cannot run. */
static void detect(void)
{
	int ret, cpu;
	unsigned int i;

	have_rseq = percpu_op_rseq_available();
	have_opv = percpu_op_opv_available();
	ret = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	have_membarrier = ret > 0 &&
		(ret & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) &&
		!syscall(__NR_membarrier,
			 MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &allowed))
			owner_cpu[nr_owners++] = cpu;
	}
	home = owner_cpu[0];
	for (i = 1; i < (unsigned int)nr_owners; i++)
		targets[nr_targets++] = owner_cpu[i];
	if (!have_opv)
		designs[0].why = "cpu_opv() is not available";
	if (!have_membarrier)
		designs[1].why = "membarrier() has no rseq fence";
	for (i = 0; i < NR_DESIGNS; i++) {
		/* The mutex design needs no rseq: the others do. */
		if (designs[i].op == rseq_op && !HAVE_OWNER_CS)
			designs[i].why = "no owners' critical section for this architecture";
		else if (designs[i].op == rseq_op && !have_rseq)
			designs[i].why = "no rseq";
		if (!nr_targets)
			designs[i].why = "needs two CPUs";
	}
}

int main(int argc, char **argv)
{
	uint64_t t0 = now_ns();
	unsigned int i, k;
	int c, round;

	while ((c = getopt(argc, argv, "d:r:p:c:b:w:o:h")) != -1) {
		switch (c) {
		case 'd':
			opt_phase_ms = arg_long(optarg, argv[0], 10, 3600000);
			break;
		case 'r':
			opt_rounds = arg_long(optarg, argv[0], 1, MAX_ROUNDS);
			break;
		case 'p':
			opt_period_us = arg_long(optarg, argv[0], 10, 10000000);
			break;
		case 'c':
			opt_capacity = arg_long(optarg, argv[0], 2,
						CPU_OP_DATA_LEN_MAX / sizeof(void *));
			break;
		case 'b':
			opt_batch = arg_long(optarg, argv[0], 1, 64);
			break;
		case 'w':
			opt_warmup_ms = arg_long(optarg, argv[0], 0, 3600000);
			break;
		case 'o':
			opt_csv = optarg;
			break;
		case 'h':
			usage(argv[0], KSFT_PASS);
			break;
		default:
			usage(argv[0], KSFT_FAIL);
		}
	}
	if (opt_batch > opt_capacity)
		usage(argv[0], KSFT_FAIL);

	ksft_print_header();
	ksft_set_plan(NR_DESIGNS);
	nr_cpus = percpu_op_init();
	if (nr_cpus <= 0 || sched_getaffinity(0, sizeof(allowed), &allowed))
		ksft_exit_fail_msg("percpu_op_init or sched_getaffinity failed\n");
	detect();
	/*
	 * Enough objects for every list to be full while every owner holds
	 * its objects, and a refill's worth for each owner on top.
	 */
	nr_objs = nr_cpus * (opt_capacity + HOLD + opt_batch);
	objs = aligned_alloc(64, nr_objs * sizeof(*objs));
	pool.items = calloc(nr_objs, sizeof(*pool.items));
	for (i = 0; i < NR_DESIGNS; i++)
		results[i].samples = calloc((size_t)opt_rounds * MAX_SAMPLES,
					    sizeof(*results[i].samples));
	if (!objs || !pool.items)
		ksft_exit_fail_msg("out of memory\n");
	/* The main thread waits on the drainer's CPU, out of the owners' way. */
	if (pin_to(home))
		ksft_exit_fail_msg("sched_setaffinity: %s\n", strerror(errno));

	for (i = 0; i < NR_DESIGNS; i++) {
		if (!designs[i].why && !results[i].samples)
			designs[i].why = "out of memory";
		if (!designs[i].why && opt_warmup_ms)
			run_phase(i, true, -1, opt_warmup_ms);
	}
	/*
	 * Every other round runs the designs, and the phases of each, in the
	 * reverse order: a drift of the load of the host weighs on both
	 * sides of each ratio alike.
	 */
	for (round = 0; round < opt_rounds; round++) {
		bool odd = round % 2;

		for (k = 0; k < NR_DESIGNS; k++) {
			i = odd ? NR_DESIGNS - 1 - k : k;
			if (designs[i].why)
				continue;
			run_phase(i, odd, round, opt_phase_ms);
			run_phase(i, !odd, round, opt_phase_ms);
		}
	}

	print_table();
	if (opt_csv) {
		FILE *f = fopen(opt_csv, "w");

		if (!f) {
			fail("%s: %s", opt_csv, strerror(errno));
		} else {
			print_csv(f);
			if (fclose(f))
				fail("%s: %s", opt_csv, strerror(errno));
		}
	} else {
		printf("%s\n", CSV_BEGIN);
		print_csv(stdout);
		printf("%s\n", CSV_END);
	}
	printf("run time: %.1f s\n", (now_ns() - t0) / 1e9);
	if (atomic_load(&failures) > 20)
		printf("# %d errors in all (the first 20 are printed)\n",
		       atomic_load(&failures));
	for (i = 0; i < NR_DESIGNS; i++) {
		struct result *r = &results[i];

		if (designs[i].why)
			ksft_test_result_skip("design %u, %s: %s\n", i + 1,
					      designs[i].label, designs[i].why);
		else if (r->failed)
			ksft_test_result_fail("design %u, %s: errors (see above)\n",
					      i + 1, designs[i].label);
		else
			ksft_test_result_pass("design %u, %s: %ld drains, no error\n",
					      i + 1, designs[i].label, r->drains);
	}
	if (atomic_load(&failures))
		ksft_exit_fail();
	ksft_finished();
}
