// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() next to what Linux already offers for per-CPU data, in one run:
 *
 * - baselines: null system call (getppid), lock-prefixed atomic add, rseq
 *   per-CPU add;
 * - cpu_opv() on the current CPU: one add, the worst-case vector (a 4096-byte
 *   copy across a page boundary and three adds, two of them in the data
 *   segment: two page tables), the same on one page table, the worst case's
 *   copy alone and a 16-byte copy of its pages, four compares;
 * - cpu_opv() on another CPU, idle or busy, next to the alternatives for
 *   remote per-CPU data: the membarrier() rseq fence to one CPU, and
 *   migrating there with sched_setaffinity(), operating, and coming back;
 * - scaling: 1..N threads (or processes) on distinct CPUs doing local
 *   cpu_opv() on private data, next to the same curve for getppid;
 * - the time a worst-case vector keeps interrupts off, as recorded by the
 *   kernel with CONFIG_CPU_OPV_DEBUG_IRQOFF=y.
 *
 * Each latency figure is the median and 99th percentile of a fixed number
 * of samples, taken after warm-up in rounds that interleave the rows, so
 * that a change of the load of the host weighs on all of them alike. A
 * sample times a batch of operations (one for system calls) and is divided
 * by the batch. Every measured loop is checked: a failed call or a wrong
 * counter fails the benchmark (exit 1). The floors of the cover letter are
 * printed as met or MISSED and do not change the exit status: timing under
 * emulation is noisy.
 *
 * Output: a table on stdout and a CSV, on stdout between the lines
 * "--- cpu_opv_bench csv begin ---" and "--- cpu_opv_bench csv end ---"
 * (so it can be cut out of a serial console log), or in the file given with
 * -o. dev/plot-bench.py renders either into a PNG.
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
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"
#include "../rseq/rseq.h"
#include "bench.h"
#include "cpu_opv.h"

#define PAGE_SZ		4096
#define MAX_THREADS	256
#define MAX_SWEEPS	15
#define IRQOFF_PATH	"/sys/kernel/debug/cpu_opv/irqoff_ns"
#define DELAY_PATH	"/sys/kernel/debug/cpu_opv/dispatch_delay_us"
#define CLOCKSOURCE	"/sys/devices/system/clocksource/clocksource0/current_clocksource"
#define NOHZ_FULL	"/sys/devices/system/cpu/nohz_full"
#define IRQOFF_RING	1024
#define CSV_BEGIN	"--- cpu_opv_bench csv begin ---"
#define CSV_END		"--- cpu_opv_bench csv end ---"
#define CSV_HEADER	\
	"section,name,label,config,n,batch,median_ns,p99_ns,max_ns,ops_per_s,ratio,limit,result,lo,hi"

/* Options. */
static long opt_iters = 10000;
static long opt_warmup = -1;
static long opt_migrate_iters = 1000;
static int opt_rounds = 10;
static long opt_scale_ms = 500;
static int opt_sweeps = 3;
static long opt_gap_kb = PAGE_SZ / 1024;
static long opt_irqoff_iters = 1000;
static int opt_max_threads;
static const char *opt_csv;
static bool opt_irqoff_only;
static const char *opt_run_row;

static int cpu_a = -1, cpu_b = -1;
static int have_opv, have_rseq, have_membarrier;
static int failed;
static double ns_per_tick = 1.0;

static __printf(1, 2) void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "cpu_opv_bench: FAILED: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failed = 1;
}

/* Clock */

/*
 * The TSC where there is one: clock_gettime() is a system call when the
 * guest's clocksource has no vDSO support (as under emulation, once the TSC
 * is found unstable), which would cost as much as what it times.
 */
static inline uint64_t ticks(void)
{
#ifdef __x86_64__
	uint32_t lo, hi;

	asm volatile("lfence\n\trdtsc\n\tlfence" : "=a" (lo), "=d" (hi)
		     : : "memory");
	return ((uint64_t)hi << 32) | lo;
#else
	return now_ns();
#endif
}

static void calibrate_clock(void)
{
#ifdef __x86_64__
	uint64_t t0 = now_ns(), c0 = ticks(), t1, c1;

	do {
		t1 = now_ns();
	} while (t1 - t0 < 100000000ULL);
	c1 = ticks();
	ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
#endif
}

/* CPUs */

static cpu_set_t allowed;

/* Runs on @a and may run on @b: cpu_opv(@b) needs @b in the mask. */
static int pin_to_pair(int a, int b)
{
	cpu_set_t set;

	if (pin_to(a))
		return -1;
	CPU_ZERO(&set);
	CPU_SET(a, &set);
	CPU_SET(b, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static int current_cpu(void)
{
	return have_rseq ? rseq_current_cpu_raw() : sched_getcpu();
}

/* The @n-th CPU of the initial affinity mask, or -1. */
static int nth_cpu(int n)
{
	int cpu;

	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &allowed) && n-- == 0)
			return cpu;
	}
	return -1;
}

/* Data of the latency loops */

/* One cache line per CPU. */
struct percpu_count {
	intptr_t v;
	char pad[64 - sizeof(intptr_t)];
};

/* The operands, and what they should hold. */
struct bench_data {
	uint64_t add, add_expect;
	uint64_t atomic, atomic_expect;
	uint64_t wc_more[2];
	uint64_t cmp_a[4], cmp_b[4];
	intptr_t percpu_expect;
};

static struct bench_data d;

static struct percpu_count *percpu;
static int nr_percpu;
/*
 * A worst-case vector and its memory: a 4096-byte copy whose source and
 * destination each cross a page, then adds to the source's first word and
 * to two more words. The copy reads the first word of the source, which the
 * first add increments: after n vectors the destination holds n - 1 there,
 * which shows that each copy ran, after the previous vector's add.
 */
struct worst {
	char *src, *dst;
	uint64_t *more;		/* the two more words */
	uint64_t expect;	/* vectors run */
	struct cpu_op ops[4];
};

/* The worst case: its two more words in the data segment, a second table. */
static struct worst wc;
/*
 * The same with its two more words on a fifth page of the copy's mapping:
 * one page table. What the second table costs.
 */
static struct worst wt;

static struct cpu_op op_add1[1];
/* The worst case's copy alone, and 16 bytes across the same two page pairs. */
static struct cpu_op op_copy4k[1], op_copy16[1];
static struct cpu_op op_cmp4[4];

/*
 * Five zeroed pages of private anonymous memory, in the range that one
 * last-level page table maps (2 MiB with 4 KiB pages): a mapping that
 * crosses into the next range is kept (the next mmap() goes elsewhere).
 */
static char *map_table_pages(void)
{
	const uintptr_t table = 512 * PAGE_SZ, len = 5 * PAGE_SZ;
	char *map = MAP_FAILED;
	int tries;

	for (tries = 0; tries < 8; tries++) {
		map = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED ||
		    (uintptr_t)map / table == ((uintptr_t)map + len - 1) / table)
			break;
		map = MAP_FAILED;
	}
	if (map != MAP_FAILED)
		memset(map, 0, len);
	return map;
}

/*
 * Lays @w out on five pages of one page table: the copy's source on pages 0
 * and 1, its destination on pages 2 and 3, the two more words at @more, or
 * on page 4 if NULL.
 */
static int setup_worst(struct worst *w, uint64_t *more)
{
	char *map = map_table_pages();
	int i;

	if (map == MAP_FAILED)
		return -1;
	w->src = map + PAGE_SZ / 2;
	w->dst = map + 2 * PAGE_SZ + PAGE_SZ / 2;
	w->more = more ? more : (uint64_t *)(map + 4 * PAGE_SZ);
	for (i = 8; i < PAGE_SZ; i++)
		w->src[i] = (char)(i * 7 + 1);
	w->ops[0] = op_memcpy(0, w->dst, w->src, PAGE_SZ);
	w->ops[1] = op_add(0, w->src, 1, 8);
	w->ops[2] = op_add(0, &w->more[0], 1, 8);
	w->ops[3] = op_add(0, &w->more[1], 1, 8);
	return 0;
}

static int setup_data(void)
{
	int i;

	nr_percpu = nr_possible_cpus();
	if (nr_percpu < 1)
		nr_percpu = CPU_SETSIZE;
	percpu = aligned_alloc(64, nr_percpu * sizeof(*percpu));
	if (!percpu || setup_worst(&wc, d.wc_more) || setup_worst(&wt, NULL))
		return -1;
	memset(percpu, 0, nr_percpu * sizeof(*percpu));
	for (i = 0; i < 4; i++) {
		d.cmp_a[i] = 0x5a5a5a5a00000000ULL + i;
		d.cmp_b[i] = d.cmp_a[i];
	}

	op_add1[0] = op_add(0, &d.add, 1, sizeof(d.add));
	op_copy4k[0] = wc.ops[0];
	op_copy16[0] = op_memcpy(0, wc.dst + PAGE_SZ / 2 - 8,
				 wc.src + PAGE_SZ / 2 - 8, 16);
	for (i = 0; i < 4; i++)
		op_cmp4[i] = op_compare(1, &d.cmp_a[i], &d.cmp_b[i], 8);
	return 0;
}

/* Operations. Each runs @n times: 0 on success, 1 to retry, -1 on error. */

static int run_getppid(long n)
{
	while (n--)
		getppid();
	return 0;
}

static int run_atomic(long n)
{
	d.atomic_expect += n;
	while (n--)
		__atomic_fetch_add(&d.atomic, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int run_rseq_add(long n)
{
	d.percpu_expect += n;
	while (n--) {
		int cpu;

		do {
			cpu = rseq_current_cpu_raw();
		} while (rseq_addv(RSEQ_MO_RELAXED, RSEQ_PERCPU_CPU_ID,
				   &percpu[cpu].v, 1, cpu));
	}
	return 0;
}

static int opv(struct cpu_op *ops, int cnt, int cpu)
{
	int ret = sys_cpu_opv(ops, cnt, cpu, 0);

	if (ret) {
		fail("cpu_opv(%d ops, cpu %d) returned %d, errno %d (%s)",
		     cnt, cpu, ret, errno, strerror(errno));
		return -1;
	}
	return 0;
}

static int run_opv_add(int cpu, long n)
{
	while (n--) {
		if (opv(op_add1, 1, cpu))
			return -1;
		d.add_expect++;
	}
	return 0;
}

static int run_opv_worst(struct worst *w, int cpu, long n)
{
	while (n--) {
		if (opv(w->ops, 4, cpu))
			return -1;
		w->expect++;
	}
	return 0;
}

/* A vector of no operation: what every call costs besides its operations. */
static int run_opv_local_empty(long n)
{
	while (n--) {
		if (opv(op_add1, 0, cpu_a))
			return -1;
	}
	return 0;
}

static int run_opv_local_add(long n)
{
	return run_opv_add(cpu_a, n);
}

static int run_opv_local_worst(long n)
{
	return run_opv_worst(&wc, cpu_a, n);
}

static int run_opv_local_worst1t(long n)
{
	return run_opv_worst(&wt, cpu_a, n);
}

/*
 * The worst case's copy alone, and a 16-byte copy across the same pages:
 * what the copy costs, told apart from what its pages cost. Neither changes
 * what check_worst() checks (the first word of the destination is the worst
 * case's, which copies it again; the rest are copies of unchanged bytes).
 */
static int run_opv_local_copy(struct cpu_op *op, long n)
{
	while (n--) {
		if (opv(op, 1, cpu_a))
			return -1;
	}
	return 0;
}

static int run_opv_local_copy4k(long n)
{
	return run_opv_local_copy(op_copy4k, n);
}

static int run_opv_local_copy16(long n)
{
	return run_opv_local_copy(op_copy16, n);
}

static int run_opv_local_cmp4(long n)
{
	while (n--) {
		if (opv(op_cmp4, 4, cpu_a))
			return -1;
	}
	return 0;
}

/*
 * Remote calls run on CPU A with B allowed: a sample taken after the thread
 * moved is not a remote call; move back and take it again.
 */
static int on_cpu_a(void)
{
	if (current_cpu() == cpu_a)
		return 1;
	pin_to_pair(cpu_a, cpu_b);
	return 0;
}

static int run_opv_remote_add(long n)
{
	if (!on_cpu_a())
		return 1;
	if (run_opv_add(cpu_b, n))
		return -1;
	return on_cpu_a() ? 0 : 1;
}

static int run_opv_remote_worst(long n)
{
	if (!on_cpu_a())
		return 1;
	if (run_opv_worst(&wc, cpu_b, n))
		return -1;
	return on_cpu_a() ? 0 : 1;
}

static int run_membarrier(long n)
{
	while (n--) {
		if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
			    MEMBARRIER_CMD_FLAG_CPU, cpu_b)) {
			fail("membarrier(PRIVATE_EXPEDITED_RSEQ, cpu %d): %s",
			     cpu_b, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Moves to B, adds to B's counter with rseq there, and comes back to A. */
static int run_migrate(long n)
{
	while (n--) {
		int tries = 0;

		if (pin_to(cpu_b)) {
			fail("sched_setaffinity(%d): %s", cpu_b, strerror(errno));
			return -1;
		}
		while (rseq_addv(RSEQ_MO_RELAXED, RSEQ_PERCPU_CPU_ID,
				 &percpu[cpu_b].v, 1, cpu_b)) {
			if (++tries == 1000) {
				fail("rseq add: not on CPU %d after sched_setaffinity()",
				     cpu_b);
				return -1;
			}
		}
		d.percpu_expect++;
		if (pin_to(cpu_a)) {
			fail("sched_setaffinity(%d): %s", cpu_a, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Checks after each measured loop */

static int check_none(void)
{
	return 0;
}

static int check_u64(const char *what, uint64_t got, uint64_t expect)
{
	if (got == expect)
		return 0;
	fail("%s: counter is %llu, expected %llu", what,
	     (unsigned long long)got, (unsigned long long)expect);
	return -1;
}

static int check_atomic(void)
{
	return check_u64("atomic add", d.atomic, d.atomic_expect);
}

static int check_percpu(void)
{
	intptr_t sum = 0;
	int i;

	for (i = 0; i < nr_percpu; i++)
		sum += percpu[i].v;
	return check_u64("per-CPU counters", sum, d.percpu_expect);
}

static int check_add(void)
{
	return check_u64("cpu_opv add", d.add, d.add_expect);
}

static int check_worst_of(const struct worst *w)
{
	uint64_t src0, dst0;

	memcpy(&src0, w->src, 8);
	memcpy(&dst0, w->dst, 8);
	if (check_u64("worst-case add 1", src0, w->expect) ||
	    check_u64("worst-case add 2", w->more[0], w->expect) ||
	    check_u64("worst-case add 3", w->more[1], w->expect) ||
	    check_u64("worst-case copy", dst0, w->expect - 1))
		return -1;
	if (memcmp(w->dst + 8, w->src + 8, PAGE_SZ - 8)) {
		fail("worst-case copy: destination differs from source");
		return -1;
	}
	return 0;
}

static int check_worst(void)
{
	return check_worst_of(&wc);
}

static int check_worst1t(void)
{
	return check_worst_of(&wt);
}

/* Latency rows */

enum need { NEED_NONE, NEED_RSEQ, NEED_OPV, NEED_MEMBARRIER };
enum where { LOCAL, REMOTE_IDLE, REMOTE_BUSY };

struct row {
	const char *name;	/* CSV key */
	const char *label;	/* table and plot */
	enum need need;
	enum where where;
	long batch;
	bool slow;		/* uses the migrate iteration count */
	int (*run)(long n);
	int (*check)(void);
	/* Results, in ns per operation. */
	bool done;
	const char *why;	/* not done: why */
	uint64_t *samples;	/* in ticks, per batch */
	long iters, retries;
	double median, p99, max;
	double *round_median;	/* per round, ns per operation */
};

#define ROW(_name, _label, _need, _where, _batch, _slow, _run, _check) {	\
	.name = _name, .label = _label, .need = _need, .where = _where,	\
	.batch = _batch, .slow = _slow, .run = _run, .check = _check,	\
}

static struct row rows[] = {
	ROW("getppid", "null syscall (getppid)",
	    NEED_NONE, LOCAL, 1, false, run_getppid, check_none),
	ROW("atomic_add", "lock-prefixed atomic add",
	    NEED_NONE, LOCAL, 64, false, run_atomic, check_atomic),
	ROW("rseq_add", "rseq per-CPU add",
	    NEED_RSEQ, LOCAL, 64, false, run_rseq_add, check_percpu),
	ROW("opv_local_empty", "cpu_opv local: empty vector",
	    NEED_OPV, LOCAL, 1, false, run_opv_local_empty, check_none),
	ROW("opv_local_add", "cpu_opv local: 1 add",
	    NEED_OPV, LOCAL, 1, false, run_opv_local_add, check_add),
	ROW("opv_local_worst", "cpu_opv local: 4096B copy + 3 adds",
	    NEED_OPV, LOCAL, 1, false, run_opv_local_worst, check_worst),
	ROW("opv_local_worst1t", "cpu_opv local: the same on one page table",
	    NEED_OPV, LOCAL, 1, false, run_opv_local_worst1t, check_worst1t),
	ROW("opv_local_copy4k", "cpu_opv local: the worst case's 4096B copy",
	    NEED_OPV, LOCAL, 1, false, run_opv_local_copy4k, check_none),
	ROW("opv_local_copy16", "cpu_opv local: 16B copy, same pages",
	    NEED_OPV, LOCAL, 1, false, run_opv_local_copy16, check_none),
	ROW("opv_local_cmp4", "cpu_opv local: 4 compares",
	    NEED_OPV, LOCAL, 1, false, run_opv_local_cmp4, check_none),
	ROW("opv_remote_add_idle", "cpu_opv remote: 1 add (idle target)",
	    NEED_OPV, REMOTE_IDLE, 1, false, run_opv_remote_add, check_add),
	ROW("opv_remote_add_busy", "cpu_opv remote: 1 add (busy target)",
	    NEED_OPV, REMOTE_BUSY, 1, false, run_opv_remote_add, check_add),
	ROW("opv_remote_worst_idle", "cpu_opv remote: worst case (idle target)",
	    NEED_OPV, REMOTE_IDLE, 1, false, run_opv_remote_worst, check_worst),
	ROW("membarrier_idle", "membarrier rseq fence (idle: no IPI sent)",
	    NEED_MEMBARRIER, REMOTE_IDLE, 1, false, run_membarrier, check_none),
	ROW("membarrier_busy", "membarrier rseq fence (busy target)",
	    NEED_MEMBARRIER, REMOTE_BUSY, 1, false, run_membarrier, check_none),
	ROW("migrate_idle", "migrate + rseq add + return (idle)",
	    NEED_RSEQ, REMOTE_IDLE, 1, true, run_migrate, check_percpu),
	ROW("migrate_busy", "migrate + rseq add + return (busy)",
	    NEED_RSEQ, REMOTE_BUSY, 1, true, run_migrate, check_percpu),
};

#define NR_ROWS	ARRAY_SIZE(rows)

static struct row *find_row(const char *name)
{
	unsigned int i;

	for (i = 0; i < NR_ROWS; i++) {
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	}
	return NULL;
}

static uint64_t timer_overhead;

static void measure_timer_overhead(void)
{
	uint64_t samples[1000];
	long i, n = ARRAY_SIZE(samples);

	for (i = 0; i < n; i++) {
		uint64_t t0 = ticks();

		samples[i] = ticks() - t0;
	}
	qsort(samples, n, sizeof(*samples), cmp_u64);
	timer_overhead = percentile(samples, n, 50);
}

/* The busy target: a thread of this process spinning on CPU B. */
static atomic_int spin_stop, spin_running;

static void *spinner(void *arg)
{
	(void)arg;
	if (pin_to(cpu_b))
		return NULL;
	atomic_store(&spin_running, 1);
	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
		;
	return NULL;
}

static pthread_t spin_thread;
static bool spinning;

static int start_spinner(void)
{
	atomic_store(&spin_stop, 0);
	atomic_store(&spin_running, 0);
	if (pthread_create(&spin_thread, NULL, spinner, NULL))
		return -1;
	while (!atomic_load(&spin_running))
		usleep(1000);
	spinning = true;
	return 0;
}

static void stop_spinner(void)
{
	if (!spinning)
		return;
	atomic_store(&spin_stop, 1);
	pthread_join(spin_thread, NULL);
	spinning = false;
}

/* Whether @r can be measured here; if not, r->why says why. */
static bool row_possible(struct row *r)
{
	switch (r->need) {
	case NEED_RSEQ:
		if (!have_rseq)
			r->why = "rseq not available";
		break;
	case NEED_OPV:
		if (!have_opv)
			r->why = "cpu_opv not available";
		break;
	case NEED_MEMBARRIER:
		if (!have_membarrier)
			r->why = "membarrier rseq fence not available";
		break;
	default:
		break;
	}
	if (r->where != LOCAL && cpu_b < 0)
		r->why = "needs two CPUs";
	return !r->why;
}

static long row_iters(const struct row *r)
{
	return r->slow ? opt_migrate_iters : opt_iters;
}

/* Takes the share of round @round of the samples of @r, then checks. */
static int measure_round(struct row *r, int round)
{
	long iters = row_iters(r), warm = opt_warmup;
	long i = iters * round / opt_rounds;
	long end = iters * (round + 1) / opt_rounds;
	int ret;

	if (warm < 0)
		warm = iters / 10 / opt_rounds ? iters / 10 / opt_rounds : 1;
	/* Migrating threads go from A to B and back; the others stay on A. */
	if (r->where == LOCAL || r->run == run_migrate)
		ret = pin_to(cpu_a);
	else
		ret = pin_to_pair(cpu_a, cpu_b);
	if (ret) {
		fail("%s: sched_setaffinity: %s", r->name, strerror(errno));
		return -1;
	}
	if (r->run(warm * r->batch) < 0)
		return -1;
	while (i < end) {
		uint64_t t0, t1;

		t0 = ticks();
		ret = r->run(r->batch);
		t1 = ticks() - t0;
		if (ret < 0)
			return -1;
		if (ret > 0) {
			/* Not the measured operation: take it again. */
			if (++r->retries > iters) {
				fail("%s: the thread keeps leaving CPU %d",
				     r->name, cpu_a);
				return -1;
			}
			continue;
		}
		r->samples[i++] = t1 > timer_overhead ? t1 - timer_overhead : 0;
	}
	return r->check();
}

/*
 * The rows are measured in interleaved rounds, so that a change of the
 * load of the host (of an emulator) weighs on all of them alike.
 */
static void measure_latency(void)
{
	unsigned int i;
	int round, where;

	for (i = 0; i < NR_ROWS; i++) {
		struct row *r = &rows[i];

		if (!row_possible(r))
			continue;
		r->samples = calloc(row_iters(r), sizeof(*r->samples));
		if (!r->samples) {
			fail("%s: out of memory", r->name);
			r->why = "failed";
		}
	}
	for (round = 0; round < opt_rounds; round++) {
		for (where = LOCAL; where <= REMOTE_BUSY; where++) {
			if (where != REMOTE_BUSY) {
				stop_spinner();
			} else if (cpu_b >= 0 && start_spinner()) {
				fail("cannot start the thread that keeps CPU %d busy",
				     cpu_b);
				return;
			}
			for (i = 0; i < NR_ROWS; i++) {
				struct row *r = &rows[i];

				if (r->why || r->where != (enum where)where)
					continue;
				if (measure_round(r, round))
					r->why = "failed";
			}
		}
	}
	stop_spinner();

	for (i = 0; i < NR_ROWS; i++) {
		struct row *r = &rows[i];
		long n = row_iters(r);

		if (r->why)
			continue;
		r->round_median = calloc(opt_rounds, sizeof(*r->round_median));
		if (!r->round_median) {
			fail("%s: out of memory", r->name);
			r->why = "failed";
			continue;
		}
		for (round = 0; round < opt_rounds; round++) {
			long b = n * round / opt_rounds;
			long e = n * (round + 1) / opt_rounds;

			qsort(r->samples + b, e - b, sizeof(*r->samples), cmp_u64);
			r->round_median[round] = percentile(r->samples + b, e - b, 50) *
						 ns_per_tick / r->batch;
		}
		qsort(r->samples, n, sizeof(*r->samples), cmp_u64);
		r->iters = n;
		r->median = percentile(r->samples, n, 50) * ns_per_tick / r->batch;
		r->p99 = percentile(r->samples, n, 99) * ns_per_tick / r->batch;
		r->max = r->samples[n - 1] * ns_per_tick / r->batch;
		r->done = true;
	}
}

/* Scaling */

struct worker_result {
	uint64_t ops;
	uint64_t ns;
	int error;
};

struct scale_shared {
	atomic_int ready;
	atomic_int go;
	atomic_int stop;
	struct worker_result res[MAX_THREADS];
};

static struct scale_shared *sh;
/* The workers' counters, opt_gap_kb apart (private after fork()). */
static char *scale_data;

struct worker_arg {
	int idx, cpu;
	bool opv;
};

static void *worker(void *p)
{
	struct worker_arg *w = p;
	struct worker_result *res = &sh->res[w->idx];
	uint64_t *counter, ops = 0, t0;
	struct cpu_op op;

	counter = (uint64_t *)(scale_data + w->idx * opt_gap_kb * 1024);
	if (pin_to(w->cpu)) {
		res->error = errno;
		atomic_fetch_add(&sh->ready, 1);
		return NULL;
	}
	*counter = 0;
	op = op_add(0, counter, 1, sizeof(*counter));
	atomic_fetch_add(&sh->ready, 1);
	while (!atomic_load(&sh->go))
		sched_yield();
	t0 = ticks();
	if (w->opv) {
		while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
			if (sys_cpu_opv(&op, 1, w->cpu, 0)) {
				res->error = errno ? errno : EINVAL;
				break;
			}
			ops++;
		}
		if (!res->error && *counter != ops)
			res->error = EBADMSG;
	} else {
		while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
			getppid();
			ops++;
		}
	}
	res->ns = (ticks() - t0) * ns_per_tick;
	res->ops = ops;
	return NULL;
}

/* Operations per second of @n workers on the first @n allowed CPUs. */
static double scale_point(int n, bool opv, bool processes)
{
	struct worker_arg args[MAX_THREADS];
	pthread_t threads[MAX_THREADS];
	pid_t pids[MAX_THREADS];
	struct timespec ts = {
		.tv_sec = opt_scale_ms / 1000,
		.tv_nsec = opt_scale_ms % 1000 * 1000000L,
	};
	double total = 0;
	int i, started = 0;

	memset(sh, 0, sizeof(*sh));
	for (i = 0; i < n; i++) {
		args[i].idx = i;
		args[i].cpu = nth_cpu(i);
		args[i].opv = opv;
		if (processes) {
			pids[i] = fork();
			if (pids[i] == 0) {
				worker(&args[i]);
				_exit(0);
			}
			if (pids[i] < 0)
				break;
		} else if (pthread_create(&threads[i], NULL, worker, &args[i])) {
			break;
		}
		started++;
	}
	while (atomic_load(&sh->ready) < started)
		usleep(1000);
	atomic_store(&sh->go, 1);
	if (started == n)
		nanosleep(&ts, NULL);
	atomic_store(&sh->stop, 1);
	for (i = 0; i < started; i++) {
		if (processes)
			waitpid(pids[i], NULL, 0);
		else
			pthread_join(threads[i], NULL);
	}
	if (started < n) {
		fail("scaling: cannot start %d workers", n);
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct worker_result *res = &sh->res[i];

		if (res->error) {
			fail("scaling: %s worker on CPU %d: %s",
			     opv ? "cpu_opv" : "getppid", args[i].cpu,
			     res->error == EBADMSG ? "wrong counter" :
			     strerror(res->error));
			return 0;
		}
		if (res->ns)
			total += res->ops * 1e9 / res->ns;
	}
	return total;
}

/* [processes][opv][n - 1]: median over the sweeps, operations per second. */
static double scale[2][2][MAX_THREADS];
/* [processes][opv][n - 1][sweep]: each sweep's, in the order they ran. */
static double runs[2][2][MAX_THREADS][MAX_SWEEPS];
static int scale_n;

static void measure_scaling(void)
{
	size_t data_len;
	int p, n, opv, k;

	scale_n = CPU_COUNT(&allowed);
	if (opt_max_threads && opt_max_threads < scale_n)
		scale_n = opt_max_threads;
	if (scale_n > MAX_THREADS)
		scale_n = MAX_THREADS;
	data_len = (size_t)scale_n * opt_gap_kb * 1024;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/*
	 * Only the counters' pages are accessible: the mappings stay smaller
	 * than a huge page, whatever the distance between the counters.
	 */
	scale_data = mmap(NULL, data_len, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (n = 0; scale_data != MAP_FAILED && n < scale_n; n++) {
		if (mprotect(scale_data + n * opt_gap_kb * 1024, PAGE_SZ,
			     PROT_READ | PROT_WRITE))
			break;
	}
	if (sh == MAP_FAILED || scale_data == MAP_FAILED || n < scale_n) {
		fail("scaling: mmap: %s", strerror(errno));
		scale_n = 0;
		return;
	}
	/*
	 * The sweeps, and the two curves within a sweep, are interleaved so
	 * that both see the same changes of load of the host.
	 */
	for (k = 0; k < opt_sweeps; k++) {
		for (p = 0; p < 2; p++) {
			for (n = 1; n <= scale_n; n++) {
				for (opv = 0; opv < 1 + have_opv; opv++)
					runs[p][opv][n - 1][k] =
						scale_point(n, opv, p);
			}
		}
	}
	for (p = 0; p < 2; p++) {
		for (n = 1; n <= scale_n; n++) {
			for (opv = 0; opv < 2; opv++) {
				double r[MAX_SWEEPS];

				memcpy(r, runs[p][opv][n - 1], sizeof(r));
				qsort(r, opt_sweeps, sizeof(*r), cmp_double);
				scale[p][opv][n - 1] = r[opt_sweeps / 2];
			}
		}
	}
	munmap(scale_data, data_len);
	munmap(sh, sizeof(*sh));
}

/* cpu_opv's scaling at @n over getppid's, for threads or processes. */
static double scale_ratio(int p, int n)
{
	double so, sg;

	if (!scale[p][1][0] || !scale[p][0][0] || !scale[p][0][n - 1])
		return 0;
	so = scale[p][1][n - 1] / scale[p][1][0];
	sg = scale[p][0][n - 1] / scale[p][0][0];
	return so / sg;
}

/* Interrupts-off time recorded by the kernel */

struct irqoff {
	bool available;
	const char *why;	/* not available: why */
	int cpu[2];		/* remote (target), local */
	long count[2];
	double median[2], p99[2], max[2];
};

static struct irqoff irq;

static void measure_irqoff(void)
{
	static uint64_t ns[2][IRQOFF_RING * 4];
	long n = opt_irqoff_iters, cap = IRQOFF_RING * 4, tries = 0;
	unsigned long long v;
	FILE *f;
	int k, c;

	if (!have_opv || cpu_b < 0)
		return;
	f = fopen(IRQOFF_PATH, "w");
	if (!f) {
		irq.why = errno == ENOENT ? "CONFIG_CPU_OPV_DEBUG_IRQOFF=n" :
			  strerror(errno);
		return;
	}
	if (fputs("0\n", f) == EOF || fclose(f)) {
		fail("clearing %s: %s", IRQOFF_PATH, strerror(errno));
		return;
	}
	irq.cpu[0] = cpu_b;
	irq.cpu[1] = cpu_a;
	/*
	 * A busy target: the vector runs in an IPI there (an idle target's
	 * vector would run here, and be recorded for this CPU).
	 */
	if (!spinning && start_spinner()) {
		fail("irq-off: cannot start the spinner on CPU %d", cpu_b);
		return;
	}
	if (pin_to_pair(cpu_a, cpu_b)) {
		fail("irq-off: sched_setaffinity: %s", strerror(errno));
		stop_spinner();
		return;
	}
	while (n) {
		/* Migrated calls ran locally: they do not count. */
		uint64_t before = wc.expect;
		int ret = run_opv_remote_worst(1);

		if (ret < 0) {
			stop_spinner();
			return;
		}
		if (ret == 0 && wc.expect != before) {
			n--;
		} else if (++tries > opt_irqoff_iters) {
			fail("irq-off: the thread keeps leaving CPU %d", cpu_a);
			stop_spinner();
			return;
		}
	}
	stop_spinner();
	if (pin_to(cpu_a)) {
		fail("irq-off: sched_setaffinity: %s", strerror(errno));
		return;
	}
	if (run_opv_local_worst(opt_irqoff_iters) || check_worst())
		return;

	f = fopen(IRQOFF_PATH, "r");
	if (!f) {
		fail("reading %s: %s", IRQOFF_PATH, strerror(errno));
		return;
	}
	while (fscanf(f, "%d %llu", &c, &v) == 2) {
		for (k = 0; k < 2; k++) {
			if (c == irq.cpu[k] && irq.count[k] < cap)
				ns[k][irq.count[k]++] = v;
		}
	}
	fclose(f);
	irq.available = true;
	for (k = 0; k < 2; k++) {
		long cnt = irq.count[k];

		if (!cnt)
			continue;
		qsort(ns[k], cnt, sizeof(ns[k][0]), cmp_u64);
		irq.median[k] = percentile(ns[k], cnt, 50);
		irq.p99[k] = percentile(ns[k], cnt, 99);
		irq.max[k] = ns[k][cnt - 1];
	}
}

/* Measurement hygiene */

/* The first word of @path, or "?" if it cannot be read. */
static void read_word(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f || fscanf(f, "%31s", buf) != 1)
		snprintf(buf, len, "?");
	if (f)
		fclose(f);
}

static char clock_start[32], clock_end[32];

/* Where tracefs is, mounted or reachable through debugfs; NULL: nowhere. */
static const char *tracefs(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[64];

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/current_tracer", dirs[i]);
		if (!access(path, R_OK))
			return dirs[i];
	}
	return NULL;
}

/* Whether the tracefs file @name has a line that is not a comment. */
static bool tracefs_lists(const char *dir, const char *name)
{
	char path[96], line[256];
	bool any = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!any && fgets(line, sizeof(line), f))
		any = line[0] != '#' && line[0] != '\n';
	fclose(f);
	return any;
}

/*
 * What could distort the figures, said with them: a clocksource other than
 * the TSC (the TSC found unstable: the kernel's time is then read from an
 * emulated device), and instrumentation in the measured path (the
 * debug-only irq-off statistic or dispatch delay, lockdep, a tracer, an
 * enabled trace event, a function hooked through ftrace, full dynticks
 * on). Tracers compiled in and off cost a NOP per function and a static
 * branch per trace event: said, not counted as instrumentation.
 */
static void print_hygiene(void)
{
	const char *tdir = tracefs();
	char word[32];
	bool clean = true;

	printf("Clocksource: %s at the start, %s at the end", clock_start,
	       clock_end);
	if (strcmp(clock_start, "tsc") || strcmp(clock_end, "tsc"))
		printf(" (NOT tsc: the figures are suspect)");
	printf("\nInstrumentation in the measured path:");
	if (!access(IRQOFF_PATH, F_OK)) {
		printf(" irq-off statistic (CONFIG_CPU_OPV_DEBUG_IRQOFF)");
		clean = false;
	}
	if (!access(DELAY_PATH, F_OK)) {
		printf(" dispatch delay (CONFIG_CPU_OPV_DEBUG_DELAY)");
		clean = false;
	}
	if (!access("/proc/lockdep", F_OK)) {
		printf(" lockdep");
		clean = false;
	}
	if (tdir) {
		char path[64];

		snprintf(path, sizeof(path), "%s/current_tracer", tdir);
		read_word(path, word, sizeof(word));
		if (strcmp(word, "nop")) {
			printf(" tracer %s", word);
			clean = false;
		}
		if (tracefs_lists(tdir, "set_event")) {
			printf(" trace events enabled");
			clean = false;
		}
		if (tracefs_lists(tdir, "enabled_functions")) {
			printf(" functions hooked by ftrace");
			clean = false;
		}
	}
	read_word(NOHZ_FULL, word, sizeof(word));
	if (strcmp(word, "?") && strcmp(word, "(null)")) {
		printf(" nohz_full=%s (context tracking)", word);
		clean = false;
	}
	printf("%s\n", clean ? " none" : "");
	if (tdir)
		printf("Compiled in, off: ftrace (NOPs), trace events (static branches)\n");
}

/* Output */

struct floor {
	const char *name;
	const char *label;
	double value;		/* 0: not measured */
	bool at_most;
	double limit;
	double lo, hi;		/* spread: over the rounds (sweeps), 0: none */
	int spread_n;
};

static struct floor floors[5];

static double median_of(const char *name)
{
	struct row *r = find_row(name);

	return r && r->done ? r->median : 0;
}

/*
 * A latency floor over the rounds: each round's ratio of the two rows'
 * medians; the figure is the median of those ratios, the spread their range.
 * (The ratio of the medians of all samples can lie outside that range.)
 */
static void latency_floor(struct floor *f, const char *num, const char *den)
{
	struct row *a = find_row(num), *b = find_row(den);
	int k, n = 0;
	double *v;

	if (!f->value || !a || !b || !a->done || !b->done)
		return;
	v = calloc(opt_rounds, sizeof(*v));
	if (!v)
		return;
	for (k = 0; k < opt_rounds; k++) {
		double r = div_or_0(a->round_median[k], b->round_median[k]);

		if (r)
			v[n++] = r;
	}
	if (n) {
		qsort(v, n, sizeof(*v), cmp_double);
		f->value = v[n / 2];
		f->lo = v[0];
		f->hi = v[n - 1];
		f->spread_n = n;
	}
	free(v);
}

/* A scaling statistic: its median over the sweeps, their range and count. */
struct sweeps {
	double value, lo, hi;
	int n;
};

/*
 * The scaling of curve @a over that of curve @b (each a runs[p][opv]: its
 * throughput at n over its own at 1): each sweep's worst ratio over n >= 2,
 * their median and range.
 */
static struct sweeps scale_over(double (*a)[MAX_SWEEPS],
				double (*b)[MAX_SWEEPS])
{
	struct sweeps s = { 0 };
	double v[MAX_SWEEPS];
	int k, n;

	for (k = 0; scale_n >= 2 && k < opt_sweeps; k++) {
		double worst = 0;

		for (n = 2; n <= scale_n; n++) {
			double r = div_or_0(div_or_0(a[n - 1][k], a[0][k]),
					    div_or_0(b[n - 1][k], b[0][k]));

			if (n == 2 || r < worst)
				worst = r;
		}
		v[s.n++] = worst;
	}
	if (s.n) {
		qsort(v, s.n, sizeof(*v), cmp_double);
		s.value = v[s.n / 2];
		s.lo = v[0];
		s.hi = v[s.n - 1];
	}
	return s;
}

/*
 * What the scaling floor's statistic makes of noise alone: getppid's thread
 * scaling over its own process scaling (null syscalls both, nothing shared).
 * With more vCPUs than the host has cores, the host's scheduling moves it as
 * much as it moves the floor.
 */
static struct sweeps scale_noise;

static void compute_floors(void)
{
	/* Scaling: cpu_opv's threads over getppid's. */
	struct sweeps scale = scale_over(runs[0][1], runs[0][0]);

	scale_noise = scale_over(runs[0][0], runs[1][0]);
	floors[0] = (struct floor){ .name = "local_add_vs_getppid",
		.label = "local 1-add cpu_opv / getppid",
		.value = div_or_0(median_of("opv_local_add"),
				  median_of("getppid")),
		.at_most = true, .limit = 5 };
	floors[1] = (struct floor){ .name = "migrate_vs_remote",
		.label = "migrate-operate-return / remote cpu_opv (idle targets)",
		.value = div_or_0(median_of("migrate_idle"),
				  median_of("opv_remote_add_idle")),
		.at_most = false, .limit = 10 };
	floors[2] = (struct floor){ .name = "remote_vs_membarrier",
		.label = "remote cpu_opv / membarrier rseq fence (busy targets)",
		.value = div_or_0(median_of("opv_remote_add_busy"),
				  median_of("membarrier_busy")),
		.at_most = true, .limit = 3 };
	floors[3] = (struct floor){ .name = "worst_vs_local_add",
		.label = "worst-case vector / local 1-add (local)",
		.value = div_or_0(median_of("opv_local_worst"),
				  median_of("opv_local_add")),
		.at_most = true, .limit = 3 };
	floors[4] = (struct floor){ .name = "thread_scaling",
		.label = "cpu_opv / getppid scaling: threads (worst n >= 2)",
		.value = scale.value, .at_most = false, .limit = 0.8 };
	latency_floor(&floors[0], "opv_local_add", "getppid");
	latency_floor(&floors[1], "migrate_idle", "opv_remote_add_idle");
	latency_floor(&floors[2], "opv_remote_add_busy", "membarrier_busy");
	latency_floor(&floors[3], "opv_local_worst", "opv_local_add");
	if (scale.n && scale.value) {
		floors[4].lo = scale.lo;
		floors[4].hi = scale.hi;
		floors[4].spread_n = scale.n;
	}
}

static const char *floor_result(const struct floor *f)
{
	if (!f->value)
		return "n/a";
	if (f->at_most)
		return f->value <= f->limit ? "met" : "MISSED";
	return f->value >= f->limit ? "met" : "MISSED";
}

/*
 * The worst case, in local 1-adds (medians of all samples): the same vector
 * on one page table (what its second table costs), its copy alone, and the
 * part of that copy which only the 4080 more bytes cost.
 */
static void print_worst_parts(void)
{
	double add = median_of("opv_local_add");
	double worst = median_of("opv_local_worst");
	double worst1t = median_of("opv_local_worst1t");
	double copy = median_of("opv_local_copy4k");
	double copy16 = median_of("opv_local_copy16");

	if (!add || !worst || !worst1t || !copy || !copy16)
		return;
	printf("worst case, in local 1-adds: %.2f; on one page table %.2f (its second\n",
	       worst / add, worst1t / add);
	printf("table %.2f); its 4096B copy alone %.2f, of which the 4080 bytes more\n",
	       (worst - worst1t) / add, copy / add);
	printf("than a 16B copy of the same pages %.2f\n", (copy - copy16) / add);
}

#define SCALE_NOISE_LABEL "getppid / getppid scaling: threads over processes"

static void print_scale_noise(void)
{
	if (!scale_noise.n)
		return;
	printf("scaling noise: the floor's statistic on null syscalls alone, nothing\n");
	printf("shared (%s):\n", SCALE_NOISE_LABEL);
	printf("%.2f [%.2f..%.2f over %d sweeps]\n", scale_noise.value,
	       scale_noise.lo, scale_noise.hi, scale_noise.n);
}

static void print_irqoff(void)
{
	static const char * const kind[2] = { "remote", "local" };
	int p;

	if (irq.why)
		printf("\nirq-off statistic: not available (%s)\n", irq.why);
	if (!irq.available)
		return;
	printf("\nInterrupts off per worst-case vector (kernel, %s)\n",
	       IRQOFF_PATH);
	if (!access("/proc/lockdep", F_OK))
		printf("(this kernel has lockdep: an upper bound)\n");
	for (p = 0; p < 2; p++) {
		printf("%-6s on CPU %d: %5ld samples, median %7.0f ns,",
		       kind[p], irq.cpu[p], irq.count[p], irq.median[p]);
		printf(" p99 %7.0f ns, max %7.0f ns%s\n",
		       irq.p99[p], irq.max[p],
		       irq.count[p] < opt_irqoff_iters ?
		       "  (fewer samples than calls)" : "");
	}
}

static void print_table(void)
{
	double base = median_of("getppid"), ratio;
	struct utsname u;
	unsigned int i;
	int p, n;

	uname(&u);
	printf("\ncpu_opv benchmark: Linux %s %s, CPUs %d (A=%d, B=%d)\n",
	       u.release, u.machine, CPU_COUNT(&allowed), cpu_a, cpu_b);
	printf("All figures are from one boot. Only the ratios between them are claimed:\n");
	printf("absolute times under emulation (QEMU TCG) are distorted.\n");
	if (!access("/proc/lockdep", F_OK))
		printf("This kernel has lockdep: the costs of locking are inflated.\n");
	putchar('\n');
	printf("Latency: %ld samples per row (%ld for migrate rows), in %d interleaved\n",
	       opt_iters, opt_migrate_iters, opt_rounds);
	printf("rounds after warm-up; a sample times a batch of operations, less the\n");
	printf("timer overhead (%.0f ns). Local: on CPU A; remote: from A to B; busy:\n",
	       timer_overhead * ns_per_tick);
	printf("a thread of the benchmark spins on B.\n");
	print_hygiene();
	putchar('\n');
	printf("%-42s %5s %10s %10s %9s\n", "operation (ns per operation)",
	       "batch", "median", "p99", "x getppid");
	for (i = 0; i < NR_ROWS; i++) {
		struct row *r = &rows[i];

		if (!r->done) {
			printf("%-42s %5ld %10s %10s %9s  (%s)\n", r->label,
			       r->batch, "n/a", "n/a", "",
			       r->why ? r->why : "failed");
			continue;
		}
		ratio = div_or_0(r->median, base);
		printf("%-42s %5ld %10.0f %10.0f %9.*f", r->label, r->batch,
		       r->median, r->p99, ratio_digits(ratio), ratio);
		if (r->retries)
			printf("  (%ld samples retaken)", r->retries);
		putchar('\n');
	}

	if (scale_n) {
		printf("\nScaling: local 1-add cpu_opv and getppid on 1..%d CPUs, median of\n",
		       scale_n);
		printf("%d sweeps of %ld ms per point; counters %ld KiB apart\n",
		       opt_sweeps, opt_scale_ms, opt_gap_kb);
		printf("%-10s %3s %14s %14s %8s %8s %8s\n", "workers", "n",
		       "getppid ops/s", "cpu_opv ops/s", "getppid", "cpu_opv",
		       "ratio");
		for (p = 0; p < 2; p++) {
			for (n = 1; n <= scale_n; n++) {
				double *g = scale[p][0], *o = scale[p][1];

				printf("%-10s %3d %14.0f %14.0f %7.2fx %7.2fx %8.2f\n",
				       p ? "processes" : "threads", n,
				       g[n - 1], o[n - 1],
				       div_or_0(g[n - 1], g[0]),
				       div_or_0(o[n - 1], o[0]),
				       scale_ratio(p, n));
			}
		}
		printf("(getppid, cpu_opv: throughput over 1 worker;");
		printf(" ratio: cpu_opv's scaling over getppid's)\n");
	}

	print_irqoff();

	printf("\nFloors (from this run: each round's ratio of medians, the median of\n");
	printf("those ratios and, in brackets, their range. Scaling: each sweep's\n");
	printf("worst ratio over n >= 2, their median and, in brackets, their range):\n");
	for (i = 0; i < 5; i++) {
		struct floor *f = &floors[i];

		if (f->value)
			printf("floor: %-56s %7.2f %s %-4g %-6s [%.2f..%.2f over %d %s]\n",
			       f->label, f->value, f->at_most ? "<=" : ">=",
			       f->limit, floor_result(f), f->lo, f->hi,
			       f->spread_n, i == 4 ? "sweeps" : "rounds");
		else
			printf("floor: %-56s %7s %s %-4g n/a\n", f->label, "-",
			       f->at_most ? "<=" : ">=", f->limit);
	}
	print_worst_parts();
	print_scale_noise();
}

static void print_csv(FILE *f)
{
	unsigned int i;
	int p, n, k;

	fprintf(f, "%s\n", CSV_HEADER);
	for (i = 0; i < NR_ROWS; i++) {
		static const char * const where[] = {
			"local", "remote-idle", "remote-busy"
		};
		struct row *r = &rows[i];

		if (!r->done)
			continue;
		fprintf(f, "latency,%s,%s,%s,%ld,%ld,%.1f,%.1f,%.1f,,%.3f,,,,\n",
			r->name, r->label, where[r->where], r->iters, r->batch,
			r->median, r->p99, r->max,
			div_or_0(r->median, median_of("getppid")));
	}
	for (p = 0; p < 2; p++) {
		for (n = 1; n <= scale_n; n++) {
			for (k = 0; k < 2; k++) {
				double *t = scale[p][k];

				if (!t[n - 1])
					continue;
				fprintf(f, "scaling,%s,%s,%s,%d,,,,,%.0f,%.3f,,,,\n",
					k ? "cpu_opv" : "getppid",
					k ? "local 1-add cpu_opv" : "getppid",
					p ? "processes" : "threads", n,
					t[n - 1], t[n - 1] / t[0]);
			}
			if (scale_ratio(p, n))
				fprintf(f,
					"scaling_ratio,cpu_opv/getppid,%s,%s,%d,,,,,,%.3f,,,,\n",
					"cpu_opv scaling over getppid scaling",
					p ? "processes" : "threads", n,
					scale_ratio(p, n));
		}
	}
	for (k = 0; irq.available && k < 2; k++) {
		fprintf(f,
			"irqoff,worst_%s,%s %s,cpu%d,%ld,,%.0f,%.0f,%.0f,,,,,,\n",
			k ? "local" : "remote",
			"interrupts off: worst-case vector",
			k ? "local" : "remote",
			irq.cpu[k], irq.count[k], irq.median[k], irq.p99[k],
			irq.max[k]);
	}
	for (i = 0; i < 5; i++) {
		struct floor *fl = &floors[i];

		fprintf(f, "floor,%s,%s,%s,%d,,,,,,%.3f,%g,%s,%.3f,%.3f\n",
			fl->name, fl->label, fl->at_most ? "<=" : ">=",
			fl->spread_n, fl->value, fl->limit, floor_result(fl),
			fl->lo, fl->hi);
	}
	if (scale_noise.n)
		fprintf(f, "noise,thread_scaling_noise,%s,>=,%d,,,,,,%.3f,,,%.3f,%.3f\n",
			SCALE_NOISE_LABEL, scale_noise.n, scale_noise.value,
			scale_noise.lo, scale_noise.hi);
}

/*
 * Runs the row named @name @n times and nothing else: for a tracer that
 * takes the call apart (dev/guest/breakdown.sh).
 */
static int run_one_row(const char *name, long n)
{
	struct row *r = find_row(name);
	long done = 0, tries = 0;
	int ret;

	if (!r) {
		fprintf(stderr, "no row %s\n", name);
		return KSFT_FAIL;
	}
	if (!row_possible(r)) {
		printf("%s: %s\n", name, r->why);
		return KSFT_SKIP;
	}
	if (r->where == REMOTE_BUSY && start_spinner())
		return KSFT_FAIL;
	ret = r->where == LOCAL || r->run == run_migrate ? pin_to(cpu_a) :
	      pin_to_pair(cpu_a, cpu_b);
	while (!ret && done < n) {
		ret = r->run(1);
		if (ret > 0 && ++tries > n) {
			fail("%s: the thread keeps leaving CPU %d", name, cpu_a);
			break;
		}
		if (!ret)
			done++;
		ret = ret > 0 ? 0 : ret;
	}
	stop_spinner();
	if (ret || r->check())
		return KSFT_FAIL;
	printf("%s: %ld runs\n", name, done);
	return KSFT_PASS;
}

/* Main */

static void usage(const char *prog, int status)
{
	fprintf(status ? stderr : stdout,
		"Usage: %s [options]\n"
		"  -i ITERS   samples per latency row (default %ld)\n"
		"  -m ITERS   samples per migrate-operate-return row (default %ld)\n"
		"  -r ROUNDS  interleaved rounds the samples are taken in (default %d)\n"
		"  -w WARMUP  warm-up operations per row and round\n"
		"             (default: a tenth of the round's samples)\n"
		"  -s MS      duration of each scaling point (default %ld)\n"
		"  -S SWEEPS  scaling sweeps, the median is kept (default %d, at most %d)\n"
		"  -g KB      distance between the counters of the scaling workers,\n"
		"             each on a small page (default %ld: adjacent pages, as in\n"
		"             a per-CPU area; 4096: each in a page table of its own)\n"
		"  -t N       scale up to N workers (default: every allowed CPU)\n"
		"  -q ITERS   worst-case vectors per kind for the irq-off statistic\n"
		"             (default %ld, at most %d)\n"
		"  -I         measure the irq-off statistic only, and print it\n"
		"             (the statistic instruments the measured path: the\n"
		"             latencies come from a kernel without it)\n"
		"  -R ROW     run the row named ROW (its CSV name) -i times, nothing else\n"
		"  -o FILE    write the CSV to FILE; by default it goes to stdout,\n"
		"             between the lines \"%s\" and \"%s\"\n",
		prog, opt_iters, opt_migrate_iters, opt_rounds, opt_scale_ms,
		opt_sweeps, MAX_SWEEPS, opt_gap_kb, opt_irqoff_iters,
		IRQOFF_RING, CSV_BEGIN, CSV_END);
	exit(status);
}

static void detect(void)
{
	int ret;

	/* Every operation the benchmark uses is known to the kernel. */
	ret = sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG);
	have_opv = ret >= NR_CPU_OPS;
	if (!have_opv)
		printf("cpu_opv() is not available (%s): its rows are skipped\n",
		       ret < 0 ? strerror(errno) : "too few operations");
	have_rseq = !rseq_register_current_thread() &&
		    rseq_current_cpu_raw() >= 0;
	ret = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	have_membarrier = ret > 0 &&
		(ret & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) &&
		!syscall(__NR_membarrier,
			 MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0);
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "i:m:r:w:s:S:g:t:q:IR:o:h")) != -1) {
		switch (c) {
		case 'i':
			opt_iters = arg_long(optarg, argv[0], 1, 100000000);
			break;
		case 'm':
			opt_migrate_iters = arg_long(optarg, argv[0], 1,
						     100000000);
			break;
		case 'r':
			opt_rounds = arg_long(optarg, argv[0], 1, 1000);
			break;
		case 'w':
			opt_warmup = arg_long(optarg, argv[0], 0, 100000000);
			break;
		case 's':
			opt_scale_ms = arg_long(optarg, argv[0], 1, 3600000);
			break;
		case 'S':
			opt_sweeps = arg_long(optarg, argv[0], 1, MAX_SWEEPS);
			break;
		case 'g':
			opt_gap_kb = arg_long(optarg, argv[0], PAGE_SZ / 1024,
					      65536);
			break;
		case 't':
			opt_max_threads = arg_long(optarg, argv[0], 1,
						   MAX_THREADS);
			break;
		case 'q':
			opt_irqoff_iters = arg_long(optarg, argv[0], 1,
						    IRQOFF_RING);
			break;
		case 'I':
			opt_irqoff_only = true;
			break;
		case 'R':
			opt_run_row = optarg;
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

	if (sched_getaffinity(0, sizeof(allowed), &allowed)) {
		perror("sched_getaffinity");
		return KSFT_FAIL;
	}
	cpu_a = nth_cpu(0);
	cpu_b = nth_cpu(1);
	if (setup_data()) {
		perror("cpu_opv_bench: allocation");
		return KSFT_FAIL;
	}
	detect();
	calibrate_clock();
	if (pin_to(cpu_a)) {
		perror("sched_setaffinity");
		return KSFT_FAIL;
	}
	measure_timer_overhead();

	if (opt_run_row)
		return run_one_row(opt_run_row, opt_iters);
	if (opt_irqoff_only) {
		measure_irqoff();
		print_irqoff();
		if (!irq.available)
			fail("irq-off statistic: not available");
		return failed ? KSFT_FAIL : KSFT_PASS;
	}
	read_word(CLOCKSOURCE, clock_start, sizeof(clock_start));
	measure_latency();
	measure_irqoff();
	sched_setaffinity(0, sizeof(allowed), &allowed);
	measure_scaling();
	read_word(CLOCKSOURCE, clock_end, sizeof(clock_end));
	compute_floors();

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
	fflush(stdout);
	if (failed) {
		printf("cpu_opv_bench: FAILED\n");
		return KSFT_FAIL;
	}
	return have_opv ? KSFT_PASS : KSFT_SKIP;
}
