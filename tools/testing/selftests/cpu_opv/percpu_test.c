// SPDX-License-Identifier: GPL-2.0
/*
 * The per-CPU data structures of percpu-op.h under several threads per CPU,
 * in each of these modes:
 *
 *   rseq     rseq only, as if there were no cpu_opv()
 *   opv      cpu_opv() only, as if there were no rseq
 *   mixed    rseq, cpu_opv() for every opv_every-th operation and after
 *            max_aborts aborts of an operation
 *   migrate  mixed, while a thread changes the workers' CPU affinity all
 *            the time (and ring producers move between reserve and commit)
 *   hotplug  mixed, while CPUs other than CPU 0 go off- and online (root)
 *   inject   mixed, with delay loops inside the critical sections and
 *            before cpu_opv(), yields, and a signal to each worker every
 *            signal_us of its CPU time, delivered where it runs
 *
 * Each run checks the exact invariant of its structure at the end (and what
 * it can along the way), and that every operation completed through
 * exactly one of the two paths; it prints its figures as a TAP diagnostic
 * line "# percpu struct=S mode=M key=value ...".
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"
#include "cpu_opv.h"
#include "percpu-op.h"

enum mode { MODE_RSEQ, MODE_OPV, MODE_MIXED, MODE_MIGRATE, MODE_HOTPLUG,
	    MODE_INJECT, NR_MODES };

static const char * const mode_names[NR_MODES] = {
	"rseq", "opv", "mixed", "migrate", "hotplug", "inject",
};

static struct {
	int threads_per_cpu;	/* -t */
	long ops;		/* -n: iterations per thread, for every structure */
	long scale;		/* -x: multiplies the structures' own iterations */
	int max_aborts;		/* -a */
	int opv_every;		/* -f */
	long item_size;		/* -b: bytes per item of the copy stack */
	long items_per_cpu;	/* -i */
	int churn_us;		/* -c: period of the affinity and hotplug churn */
	int timeout_s;		/* -w: longest a run may take */
	int inject_loops;	/* -l */
	int signal_us;		/* -g: CPU time between signals in inject mode */
} opt = {
	.threads_per_cpu = 2,
	.scale = 1,
	.max_aborts = 2,
	.opv_every = 4,
	.item_size = 4096,
	.items_per_cpu = 8,
	.churn_us = 1000,
	.timeout_s = 90,
	.inject_loops = 3000,
	.signal_us = 1000,
};

struct worker;
struct run;

struct structure {
	const char *name;
	/* Iterations per thread (scale 1): a few seconds in an emulated guest. */
	long ops;
	int (*setup)(struct run *r);
	void (*iteration)(struct worker *w, long i);
	bool (*check)(struct run *r);
	void (*teardown)(struct run *r);
};

/* An item of the list and pointer stacks. */
struct item {
	struct percpu_list_node node;
	long id;
	int owner;
	long pops;
};

/* Header of an item of the copy stack; bytes follow up to opt.item_size. */
struct blob {
	long id;
	long gen;
};

/* A record of the ring. */
struct rec {
	int32_t producer;
	int32_t cpu;
	int64_t seq;
	int64_t pos;
	uint64_t check;
};

/* What a CPU's lock protects, in a cache line of its own. */
struct lock_data {
	long count;
	int owner;
	char pad[PERCPU_OP_STRIDE_ALIGN - sizeof(long) - sizeof(int)];
};

struct run {
	const struct structure *s;
	enum mode mode;
	long ops;
	int nr_allowed;
	int allowed[CPU_SETSIZE];
	cpu_set_t allowed_set;
	int nr_threads;
	struct worker *workers;
	atomic_int ready;
	atomic_int go;
	atomic_int stop;
	atomic_int churning;
	atomic_int abandon;
	atomic_long errors;

	struct percpu_lock lock;
	struct lock_data *lock_data;
	struct percpu_counter counter;
	struct percpu_list list;
	struct percpu_stack stack;
	struct percpu_copy_stack copy;
	struct percpu_ring ring;
	struct item *items;
	long nr_items;
	atomic_char *in_flight;
	atomic_long *item_pops;

	/* Ring consumer. */
	pthread_t consumer;
	unsigned char *seen;
	int64_t *last_seq;
	long consumed;

	/* Churn. */
	long churns;
	long hotplugs;
};

struct worker {
	struct run *r;
	int index;
	pthread_t thread;
	atomic_int tid;
	struct percpu_op_ctx ctx;
	uint64_t rand;
	char *buf;
	long pops, pushes, steals, drains, peeks, full, signals;
	int64_t added;
};

static int nr_cpus;

static __printf(2, 3) void fail(struct run *r, const char *fmt, ...)
{
	char msg[256];
	va_list args;

	/* The first few say what happened; the count says how often. */
	if (atomic_fetch_add(&r->errors, 1) >= 10)
		return;
	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	printf("# %s %s: %s\n", r->s->name, mode_names[r->mode], msg);
}

static uint32_t next_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x >> 32;
}

static int random_cpu(struct run *r, uint64_t *state)
{
	return r->allowed[next_rand(state) % r->nr_allowed];
}

/* A random allowed CPU other than @cpu, if there is one. */
static int other_cpu(struct run *r, uint64_t *state, int cpu)
{
	int other;

	do
		other = random_cpu(r, state);
	while (other == cpu && r->nr_allowed > 1);
	return other;
}

/* Hotplug: the online files of the CPUs we may offline, and which are off. */
static int online_fd[CPU_SETSIZE];
static atomic_int offlined[CPU_SETSIZE];
static int hotplug_cpus[CPU_SETSIZE], nr_hotplug_cpus;

static int set_online(int cpu, bool online)
{
	if (!online)
		atomic_store(&offlined[cpu], 1);
	if (pwrite(online_fd[cpu], online ? "1" : "0", 1, 0) != 1)
		return -1;
	if (online)
		atomic_store(&offlined[cpu], 0);
	return 0;
}

/* Async-signal-safe: also run from the handlers of fatal signals. */
static void restore_cpus(void)
{
	int i;

	for (i = 0; i < nr_hotplug_cpus; i++) {
		int cpu = hotplug_cpus[i];

		if (atomic_load(&offlined[cpu]) &&
		    pwrite(online_fd[cpu], "1", 1, 0) == 1)
			atomic_store(&offlined[cpu], 0);
	}
}

static void fatal_signal(int sig)
{
	restore_cpus();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The CPUs, other than CPU 0, that are online and that we can offline. */
static void find_hotplug_cpus(struct run *r)
{
	static const int sigs[] = { SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE,
				    SIGINT, SIGTERM, SIGHUP };
	char path[64];
	unsigned int i;
	int cpu, fd;

	if (geteuid())
		return;
	for (i = 0; i < (unsigned int)r->nr_allowed; i++) {
		cpu = r->allowed[i];
		if (!cpu)
			continue;
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online",
			 cpu);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		online_fd[cpu] = fd;
		hotplug_cpus[nr_hotplug_cpus++] = cpu;
	}
	atexit(restore_cpus);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], fatal_signal);
}

static void *hotplug_thread(void *arg)
{
	struct run *r = arg;
	uint64_t rand = 0x9e3779b97f4a7c15ULL;
	int cpu, tries;

	while (!atomic_load(&r->stop)) {
		cpu = hotplug_cpus[next_rand(&rand) % nr_hotplug_cpus];
		if (!set_online(cpu, false))
			r->hotplugs++;
		/* The run starts with a CPU offline. */
		if (r->hotplugs)
			atomic_store(&r->churning, 1);
		usleep(opt.churn_us * 10);
		/* It must come back; it can be busy for a moment. */
		for (tries = 0; set_online(cpu, true); tries++) {
			if (tries == 10000) {
				fail(r, "CPU %d does not come back online", cpu);
				return NULL;
			}
			usleep(1000);
		}
		usleep(opt.churn_us * 10);
	}
	return NULL;
}

/*
 * Moves every worker to one or two random CPUs, every churn_us: they migrate
 * all the time, and cpu_opv() for a CPU they had a moment ago is EINVAL.
 */
static void *affinity_thread(void *arg)
{
	struct run *r = arg;
	uint64_t rand = 0x2545f4914f6cdd1dULL;
	cpu_set_t set;
	int i, tid;

	while (!atomic_load(&r->stop)) {
		for (i = 0; i < r->nr_threads; i++) {
			tid = atomic_load(&r->workers[i].tid);
			if (!tid)
				continue;
			CPU_ZERO(&set);
			CPU_SET(random_cpu(r, &rand), &set);
			if (next_rand(&rand) & 1)
				CPU_SET(random_cpu(r, &rand), &set);
			if (!sched_setaffinity(tid, sizeof(set), &set))
				r->churns++;
		}
		atomic_store(&r->churning, 1);
		usleep(opt.churn_us);
	}
	return NULL;
}

static __thread long signals_received __attribute__((tls_model("initial-exec")));

static void count_signal(int sig)
{
	signals_received++;
}

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id	_sigev_un._tid
#endif

/*
 * Signals the calling thread every signal_us of its CPU time: the timer
 * fires from the tick that interrupts the thread, so the signal lands where
 * it runs, often in a critical section stretched by the delay loops.
 */
static int arm_signals(timer_t *timer)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = SIGUSR1,
	};
	struct itimerspec its = {
		.it_value.tv_nsec = opt.signal_us * 1000L,
		.it_interval.tv_nsec = opt.signal_us * 1000L,
	};

	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, timer))
		return -1;
	return timer_settime(*timer, 0, &its, NULL);
}

static int max_aborts_of(enum mode mode)
{
	switch (mode) {
	case MODE_RSEQ:
		return PERCPU_OP_RSEQ_ONLY;
	case MODE_OPV:
		return PERCPU_OP_OPV_ONLY;
	default:
		return opt.max_aborts;
	}
}

static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	bool forced = r->mode >= MODE_MIXED && opt.opv_every > 0;
	timer_t timer;
	long i;

	if (percpu_op_thread_init(&w->ctx, max_aborts_of(r->mode)))
		fail(r, "worker %d: rseq registration failed", w->index);
	if (r->mode == MODE_INJECT && arm_signals(&timer))
		fail(r, "worker %d: timer: %s", w->index, strerror(errno));
	atomic_store(&w->tid, gettid());
	atomic_fetch_add(&r->ready, 1);
	while (!atomic_load(&r->go))
		sched_yield();
	for (i = 0; i < r->ops && !atomic_load(&r->abandon); i++) {
		if (forced)
			w->ctx.force_opv = i % opt.opv_every == opt.opv_every - 1;
		r->s->iteration(w, i);
	}
	/* Not a target for churn any more. */
	atomic_store(&w->tid, 0);
	if (r->mode == MODE_INJECT)
		timer_delete(timer);
	w->signals = signals_received;
	percpu_op_thread_fini(&w->ctx);
	return NULL;
}

/* Pushes item @id where the caller runs; returns that CPU. */
typedef int (*push_fn)(struct run *r, struct percpu_op_ctx *ctx, long id);

/* Pushes items onto each allowed CPU's structure, from that CPU. */
static int distribute(struct run *r, push_fn push)
{
	struct percpu_op_ctx ctx;
	long id = 0, n;
	int i, cpu;

	percpu_op_thread_init(&ctx, percpu_op_opv_available() ?
			      4 : PERCPU_OP_RSEQ_ONLY);
	for (i = 0; i < r->nr_allowed; i++) {
		if (pin_to(r->allowed[i]))
			return -1;
		for (n = 0; n < opt.items_per_cpu; n++) {
			cpu = push(r, &ctx, id++);
			if (cpu != r->allowed[i])
				return -1;
		}
	}
	return sched_setaffinity(0, sizeof(r->allowed_set), &r->allowed_set);
}

static bool valid_item(struct run *r, void *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)r->items;

	return off < r->nr_items * sizeof(struct item) &&
	       !(off % sizeof(struct item));
}

/* The worker now owns the item it popped: nobody else may. */
static void take(struct worker *w, struct item *it)
{
	int prev = __atomic_exchange_n(&it->owner, w->index + 1, __ATOMIC_RELAXED);

	if (prev)
		fail(w->r, "item %ld popped by worker %d while worker %d had it",
		     it->id, w->index, prev - 1);
	it->pops++;
	w->pops++;
}

static void give(struct worker *w, struct item *it)
{
	__atomic_store_n(&it->owner, 0, __ATOMIC_RELAXED);
	w->pushes++;
}

static int alloc_items(struct run *r)
{
	long i;

	r->nr_items = opt.items_per_cpu * r->nr_allowed;
	r->items = calloc(r->nr_items, sizeof(*r->items));
	if (!r->items)
		return -1;
	for (i = 0; i < r->nr_items; i++)
		r->items[i].id = i;
	return 0;
}

/*
 * Every item is in exactly one place, @found of them were found, and each
 * was popped as many times as the workers say.
 */
static bool check_items(struct run *r, long found, bool *seen)
{
	long pops = 0, worker_pops = 0, pushes = 0, i;
	bool ok = true;

	for (i = 0; i < r->nr_items; i++) {
		pops += r->items[i].pops;
		if (r->items[i].owner) {
			fail(r, "item %ld still owned", i);
			ok = false;
		}
		if (!seen[i]) {
			fail(r, "item %ld lost", i);
			ok = false;
		}
	}
	for (i = 0; i < r->nr_threads; i++) {
		worker_pops += r->workers[i].pops;
		pushes += r->workers[i].pushes;
	}
	if (found != r->nr_items || pops != worker_pops || pushes != worker_pops) {
		fail(r, "%ld items of %ld; %ld pops by items, %ld by workers; %ld pushes",
		     found, r->nr_items, pops, worker_pops, pushes);
		ok = false;
	}
	return ok;
}

/* Marks item @p seen; false if it is not an item or was already seen. */
static bool see_item(struct run *r, bool *seen, void *p, int cpu)
{
	struct item *it = p;

	if (!valid_item(r, p)) {
		fail(r, "CPU %d holds %p, not an item", cpu, p);
		return false;
	}
	if (seen[it->id]) {
		fail(r, "item %ld found twice (CPU %d)", it->id, cpu);
		return false;
	}
	seen[it->id] = true;
	return true;
}

/* Spinlock: lock, increment that CPU's count non-atomically, unlock. */

static int lock_setup(struct run *r)
{
	if (percpu_lock_create(&r->lock))
		return -1;
	r->lock_data = aligned_alloc(PERCPU_OP_STRIDE_ALIGN,
				     nr_cpus * sizeof(*r->lock_data));
	if (!r->lock_data)
		return -1;
	memset(r->lock_data, 0, nr_cpus * sizeof(*r->lock_data));
	return 0;
}

static void lock_iteration(struct worker *w, long i)
{
	struct run *r = w->r;
	int cpu = percpu_lock(&w->ctx, &r->lock);
	struct lock_data *d = &r->lock_data[cpu];
	int me = w->index + 1, prev;
	long count;

	prev = __atomic_exchange_n(&d->owner, me, __ATOMIC_RELAXED);
	if (prev)
		fail(r, "lock of CPU %d taken by worker %d while worker %d held it",
		     cpu, w->index, prev - 1);
	count = d->count;
	/* Now and then, let others run while holding the lock. */
	if (!(i % 4))
		sched_yield();
	d->count = count + 1;
	prev = __atomic_exchange_n(&d->owner, 0, __ATOMIC_RELAXED);
	if (prev != me)
		fail(r, "lock of CPU %d: worker %d found owner %d when releasing it",
		     cpu, w->index, prev - 1);
	percpu_unlock(&r->lock, cpu);
	w->pops++;
}

static bool lock_check(struct run *r)
{
	long sum = 0, want = 0;
	int i;

	for (i = 0; i < nr_cpus; i++)
		sum += r->lock_data[i].count;
	for (i = 0; i < r->nr_threads; i++)
		want += r->workers[i].pops;
	if (sum != want || want != r->nr_threads * r->ops) {
		fail(r, "counts add up to %ld, %ld locks taken", sum, want);
		return false;
	}
	return true;
}

static void lock_teardown(struct run *r)
{
	percpu_lock_destroy(&r->lock);
	free(r->lock_data);
}

/* Counters: add 1 to 4. */

static int counter_setup(struct run *r)
{
	return percpu_counter_create(&r->counter);
}

static void counter_iteration(struct worker *w, long i)
{
	intptr_t count = 1 + (i & 3);

	percpu_counter_add(&w->ctx, &w->r->counter, count);
	w->added += count;
}

static bool counter_check(struct run *r)
{
	int64_t sum = 0, want = 0;
	int i;

	for (i = 0; i < nr_cpus; i++)
		sum += percpu_counter_read(&r->counter, i);
	for (i = 0; i < r->nr_threads; i++)
		want += r->workers[i].added;
	if (sum != want) {
		fail(r, "counters add up to %lld, %lld added", (long long)sum,
		     (long long)want);
		return false;
	}
	return true;
}

static void counter_teardown(struct run *r)
{
	percpu_counter_destroy(&r->counter);
}

/* LIFO list: pop an item, own it, push it back. */

static int list_push_id(struct run *r, struct percpu_op_ctx *ctx, long id)
{
	return percpu_list_push(ctx, &r->list, &r->items[id].node);
}

static int list_setup(struct run *r)
{
	if (percpu_list_create(&r->list) || alloc_items(r))
		return -1;
	return distribute(r, list_push_id);
}

static void list_iteration(struct worker *w, long i)
{
	struct percpu_list_node *node;
	struct item *it;
	int cpu;

	node = percpu_list_pop(&w->ctx, &w->r->list, &cpu);
	if (!node)
		return;
	it = (struct item *)node;
	take(w, it);
	give(w, it);
	percpu_list_push(&w->ctx, &w->r->list, node);
}

static bool list_check(struct run *r)
{
	bool *seen = calloc(r->nr_items, sizeof(*seen)), ok = true;
	struct percpu_list_node *node;
	long found = 0;
	int cpu;

	for (cpu = 0; cpu < nr_cpus && ok; cpu++) {
		for (node = percpu_list_head(&r->list, cpu); node && ok;
		     node = node->next) {
			ok = see_item(r, seen, node, cpu);
			found++;
		}
	}
	ok = ok && check_items(r, found, seen);
	free(seen);
	return ok;
}

static void list_teardown(struct run *r)
{
	percpu_list_destroy(&r->list);
	free(r->items);
}

/* Pointer stack: pop an item, own it, push it back. */

static int stack_push_id(struct run *r, struct percpu_op_ctx *ctx, long id)
{
	return percpu_stack_push(ctx, &r->stack, &r->items[id]);
}

static int stack_setup(struct run *r)
{
	/* Room for every item on each CPU: a push never finds it full. */
	if (alloc_items(r) || percpu_stack_create(&r->stack, r->nr_items))
		return -1;
	return distribute(r, stack_push_id);
}

static void stack_iteration(struct worker *w, long i)
{
	struct item *it;
	int cpu;

	it = percpu_stack_pop(&w->ctx, &w->r->stack, &cpu);
	if (!it)
		return;
	take(w, it);
	give(w, it);
	if (percpu_stack_push(&w->ctx, &w->r->stack, it) < 0)
		fail(w->r, "stack full");
}

static bool stack_check(struct run *r)
{
	bool *seen = calloc(r->nr_items, sizeof(*seen)), ok = true;
	long found = 0, n, i;
	int cpu;

	for (cpu = 0; cpu < nr_cpus && ok; cpu++) {
		n = percpu_stack_count(&r->stack, cpu);
		for (i = 0; i < n && ok; i++, found++)
			ok = see_item(r, seen, percpu_stack_item(&r->stack, cpu, i),
				      cpu);
	}
	ok = ok && check_items(r, found, seen);
	free(seen);
	return ok;
}

static void stack_teardown(struct run *r)
{
	percpu_stack_destroy(&r->stack);
	free(r->items);
}

/*
 * Whether the stacks of @r, of capacity r->nr_items, can be drained:
 * percpu_stack_drain() refuses a larger one.
 */
static bool stack_drainable(const struct run *r)
{
	return r->nr_items <= PERCPU_STACK_DRAIN_MAX;
}

/*
 * The drain of another CPU's stack, as a per-CPU cache is reclaimed
 * (percpu_stack_drain(): one cpu_opv() on that CPU): the worker owns each
 * item it took and pushes it onto the stack of its own CPU.
 */
static void drain_iteration(struct worker *w)
{
	struct run *r = w->r;
	void *items[PERCPU_STACK_DRAIN_MAX];
	struct item *it;
	long n, k;
	int from;

	if (!stack_drainable(r))
		return;
	from = other_cpu(r, &w->rand, percpu_op_current_cpu(&w->ctx));
	n = percpu_stack_drain(&w->ctx, &r->stack, from, items);
	if (n < 0)
		return;		/* @from is not in the affinity mask (churn) */
	for (k = 0; k < n; k++) {
		it = items[k];
		if (!valid_item(r, it)) {
			fail(r, "drained %p, not an item", it);
			continue;
		}
		take(w, it);
		give(w, it);
		if (percpu_stack_push(&w->ctx, &r->stack, it) < 0)
			fail(r, "stack full");
	}
	w->drains++;
}

/*
 * Work stealing: each iteration peeks at a random CPU's top; every fourth,
 * the worker steals the top item of another CPU to its own CPU (with
 * cpu_opv() on both: not in rseq mode), every 64th drains another CPU's
 * stack instead; otherwise pop and push as above.
 */
static void steal_iteration(struct worker *w, long i)
{
	struct run *r = w->r;
	int from, to, ret;
	void *p;

	p = percpu_stack_peek(&r->stack, random_cpu(r, &w->rand));
	if (p && !valid_item(r, p))
		fail(r, "peek saw %p, not an item", p);
	w->peeks++;
	if (r->mode == MODE_RSEQ || i % 4) {
		stack_iteration(w, i);
		return;
	}
	if (i % 64 == 32) {
		drain_iteration(w);
		return;
	}
	to = percpu_op_current_cpu(&w->ctx);
	from = other_cpu(r, &w->rand, to);
	ret = percpu_stack_steal(&w->ctx, &r->stack, from, &to, &p);
	if (!ret) {
		if (!valid_item(r, p))
			fail(r, "stole %p, not an item", p);
		w->steals++;
	}
}

static bool steal_check(struct run *r)
{
	long steals = 0, drains = 0;
	int i;

	for (i = 0; i < r->nr_threads; i++) {
		steals += r->workers[i].steals;
		drains += r->workers[i].drains;
	}
	if (r->mode != MODE_RSEQ && !steals) {
		fail(r, "no steal succeeded");
		return false;
	}
	if (r->mode != MODE_RSEQ && stack_drainable(r) && !drains) {
		fail(r, "no drain succeeded");
		return false;
	}
	return stack_check(r);
}

/* Copy stack: pop a copy, check it is whole, rewrite it, push it. */

static unsigned char blob_byte(const struct blob *b, long j)
{
	return (b->id * 131 + b->gen * 7 + j) & 0xff;
}

static void blob_fill(struct blob *b)
{
	unsigned char *p = (unsigned char *)b;
	long j;

	for (j = sizeof(*b); j < opt.item_size; j++)
		p[j] = blob_byte(b, j);
}

static bool blob_whole(struct run *r, const struct blob *b)
{
	const unsigned char *p = (const unsigned char *)b;
	long j;

	if (b->id < 0 || b->id >= r->nr_items)
		return false;
	for (j = sizeof(*b); j < opt.item_size; j++)
		if (p[j] != blob_byte(b, j))
			return false;
	return true;
}

static int copy_push_id(struct run *r, struct percpu_op_ctx *ctx, long id)
{
	struct blob *b = calloc(1, opt.item_size);
	int cpu;

	if (!b)
		return -1;
	b->id = id;
	blob_fill(b);
	cpu = percpu_copy_push(ctx, &r->copy, b);
	free(b);
	return cpu;
}

static int copy_setup(struct run *r)
{
	int i;

	r->nr_items = opt.items_per_cpu * r->nr_allowed;
	if (opt.item_size < (long)sizeof(struct blob) ||
	    percpu_copy_stack_create(&r->copy, opt.item_size, r->nr_items))
		return -1;
	r->in_flight = calloc(r->nr_items, sizeof(*r->in_flight));
	r->item_pops = calloc(r->nr_items, sizeof(*r->item_pops));
	if (!r->in_flight || !r->item_pops)
		return -1;
	for (i = 0; i < r->nr_threads; i++) {
		r->workers[i].buf = malloc(opt.item_size);
		if (!r->workers[i].buf)
			return -1;
	}
	return distribute(r, copy_push_id);
}

static void copy_iteration(struct worker *w, long i)
{
	struct blob *b = (struct blob *)w->buf;
	struct run *r = w->r;
	long id;

	if (percpu_copy_pop(&w->ctx, &r->copy, b) < 0)
		return;
	if (!blob_whole(r, b)) {
		fail(r, "popped a torn item (id %ld gen %ld)", b->id, b->gen);
		return;
	}
	id = b->id;
	if (atomic_exchange(&r->in_flight[id], 1))
		fail(r, "item %ld popped twice", id);
	atomic_fetch_add(&r->item_pops[id], 1);
	w->pops++;
	b->gen++;
	blob_fill(b);
	atomic_store(&r->in_flight[id], 0);
	if (percpu_copy_push(&w->ctx, &r->copy, b) < 0)
		fail(r, "copy stack full");
	w->pushes++;
}

static bool copy_check(struct run *r)
{
	bool *seen = calloc(r->nr_items, sizeof(*seen)), ok = true;
	long found = 0, pops = 0, worker_pops = 0, n, i;
	struct blob *b;
	int cpu;

	for (cpu = 0; cpu < nr_cpus && ok; cpu++) {
		n = percpu_copy_count(&r->copy, cpu);
		for (i = 0; i < n && ok; i++, found++) {
			b = percpu_copy_item(&r->copy, cpu, i);
			if (!blob_whole(r, b) || seen[b->id]) {
				fail(r, "CPU %d item %ld: id %ld gen %ld torn or twice",
				     cpu, i, b->id, b->gen);
				ok = false;
				break;
			}
			seen[b->id] = true;
		}
	}
	for (i = 0; i < r->nr_items; i++)
		pops += r->item_pops[i];
	for (i = 0; i < r->nr_threads; i++)
		worker_pops += r->workers[i].pops;
	if (ok && (found != r->nr_items || pops != worker_pops)) {
		fail(r, "%ld items found of %ld; %ld pops by items, %ld by workers",
		     found, r->nr_items, pops, worker_pops);
		ok = false;
	}
	free(seen);
	return ok;
}

static void copy_teardown(struct run *r)
{
	int i;

	percpu_copy_stack_destroy(&r->copy);
	free(r->in_flight);
	free(r->item_pops);
	for (i = 0; i < r->nr_threads; i++)
		free(r->workers[i].buf);
}

/*
 * Ring: each worker produces r->ops records; one consumer thread reads every
 * ring's sub-buffers as they fill. Each record must be in the slot it
 * reserved, in the ring of the CPU it reserved on, whole, seen once, and
 * after the previous record of its producer in that ring.
 */
#define RING_SUBBUFS		4
#define RING_SUBBUF_SLOTS	32

static uint64_t rec_check(const struct rec *rec)
{
	return (rec->producer * 0x9e3779b97f4a7c15ULL) ^ (rec->seq << 20) ^
	       rec->pos ^ ((uint64_t)rec->cpu << 56);
}

static void ring_see(const void *slot, long pos, int cpu, void *arg)
{
	const struct rec *rec = slot;
	struct run *r = arg;
	int64_t *last;

	r->consumed++;
	if (rec->pos != pos || rec->cpu != cpu || rec->check != rec_check(rec) ||
	    rec->producer < 0 || rec->producer >= r->nr_threads ||
	    rec->seq < 0 || rec->seq >= r->ops) {
		fail(r, "CPU %d position %ld: bad record (producer %d seq %lld cpu %d pos %lld)",
		     cpu, pos, rec->producer, (long long)rec->seq, rec->cpu,
		     (long long)rec->pos);
		return;
	}
	if (r->seen[rec->producer * r->ops + rec->seq]++)
		fail(r, "record %d/%lld seen twice", rec->producer,
		     (long long)rec->seq);
	last = &r->last_seq[rec->producer * nr_cpus + cpu];
	if (rec->seq <= *last)
		fail(r, "CPU %d: record %d/%lld after %lld: out of order", cpu,
		     rec->producer, (long long)rec->seq, (long long)*last);
	*last = rec->seq;
}

static void *ring_consumer(void *arg)
{
	struct run *r = arg;
	long n, got;
	int cpu;

	do {
		got = 0;
		for (cpu = 0; cpu < nr_cpus; cpu++) {
			n = percpu_ring_consume(&r->ring, cpu, ring_see, r);
			if (n < 0)
				fail(r, "CPU %d: commit count beyond the reserved", cpu);
			else
				got += n;
		}
		if (!got)
			usleep(100);
	} while (got || !atomic_load(&r->stop));
	return NULL;
}

static int ring_setup(struct run *r)
{
	long i;

	if (percpu_ring_create(&r->ring, sizeof(struct rec), RING_SUBBUFS,
			       RING_SUBBUF_SLOTS))
		return -1;
	r->seen = calloc(r->nr_threads * r->ops, 1);
	r->last_seq = malloc(r->nr_threads * nr_cpus * sizeof(*r->last_seq));
	if (!r->seen || !r->last_seq)
		return -1;
	for (i = 0; i < r->nr_threads * nr_cpus; i++)
		r->last_seq[i] = -1;
	return pthread_create(&r->consumer, NULL, ring_consumer, r);
}

static void ring_iteration(struct worker *w, long i)
{
	struct run *r = w->r;
	struct rec *rec;
	uint64_t since = 0;
	long pos;
	int cpu;

	/* The consumer frees sub-buffers once they are committed. */
	while ((pos = percpu_ring_reserve(&w->ctx, &r->ring, &cpu)) < 0) {
		if (!since) {
			since = now_ns();
		} else if (now_ns() - since > opt.timeout_s * 1000000000ULL / 2) {
			fail(r, "ring of CPU %d stays full", cpu);
			atomic_store(&r->abandon, 1);
			return;
		}
		w->full++;
		usleep(100);
	}
	rec = percpu_ring_slot(&r->ring, cpu, pos);
	rec->producer = w->index;
	rec->cpu = cpu;
	rec->seq = i;
	rec->pos = pos;
	rec->check = rec_check(rec);
	/*
	 * Now and then, move to another CPU before committing; with the
	 * reserving CPU still allowed, so that cpu_opv() can commit there.
	 */
	if (r->mode == MODE_MIGRATE && !(i % 8)) {
		pin_to(other_cpu(r, &w->rand, cpu));
		sched_setaffinity(0, sizeof(r->allowed_set), &r->allowed_set);
	}
	percpu_ring_commit(&w->ctx, &r->ring, cpu, pos);
}

static bool ring_check(struct run *r)
{
	long total = 0, missing = 0, n, i;
	bool ok = true;
	int cpu;

	/* The consumer exits once the workers are done and it found nothing. */
	atomic_store(&r->stop, 1);
	pthread_join(r->consumer, NULL);
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		total += percpu_ring_head(&r->ring, cpu);
		n = percpu_ring_drain(&r->ring, cpu, ring_see, r);
		if (n < 0) {
			fail(r, "CPU %d: commit counts do not match the %ld reserved",
			     cpu, percpu_ring_head(&r->ring, cpu));
			ok = false;
		}
	}
	for (i = 0; i < r->nr_threads * r->ops; i++)
		missing += !r->seen[i];
	if (missing || total != r->nr_threads * r->ops ||
	    r->consumed != total) {
		fail(r, "%ld records reserved, %ld consumed, %ld missing", total,
		     r->consumed, missing);
		ok = false;
	}
	return ok;
}

static void ring_teardown(struct run *r)
{
	percpu_ring_destroy(&r->ring);
	free(r->seen);
	free(r->last_seq);
}

static const struct structure structures[] = {
	{ "spinlock", 600, lock_setup, lock_iteration, lock_check, lock_teardown },
	{ "counter", 1200, counter_setup, counter_iteration, counter_check,
	  counter_teardown },
	{ "list", 600, list_setup, list_iteration, list_check, list_teardown },
	{ "stack", 600, stack_setup, stack_iteration, stack_check,
	  stack_teardown },
	{ "steal", 600, stack_setup, steal_iteration, steal_check,
	  stack_teardown },
	{ "copy", 120, copy_setup, copy_iteration, copy_check, copy_teardown },
	{ "ring", 600, ring_setup, ring_iteration, ring_check, ring_teardown },
};

#define NR_STRUCTURES	ARRAY_SIZE(structures)

/* Why @mode cannot run here, or NULL. */
static const char *cannot_run(enum mode mode)
{
	if (mode != MODE_OPV && !percpu_op_rseq_available())
		return "no rseq";
	if (mode != MODE_RSEQ && !percpu_op_opv_available())
		return "cpu_opv() is not available";
	if (mode == MODE_HOTPLUG && !nr_hotplug_cpus)
		return "no CPU to offline (needs root and CPU hotplug)";
	if ((mode == MODE_MIGRATE || mode == MODE_HOTPLUG) && nr_cpus < 2)
		return "needs two CPUs";
	return NULL;
}

static void init_cpus(struct run *r)
{
	int cpu;

	sched_getaffinity(0, sizeof(r->allowed_set), &r->allowed_set);
	r->nr_allowed = 0;
	for (cpu = 0; cpu < nr_cpus && cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &r->allowed_set))
			r->allowed[r->nr_allowed++] = cpu;
}

/*
 * Waits for the workers, up to timeout_s: a worker that does not finish is
 * stuck on an operation that cannot complete, which ends the test.
 */
static void join_workers(struct run *r)
{
	struct timespec deadline;
	int i, err;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += opt.timeout_s;
	for (i = 0; i < r->nr_threads; i++) {
		err = pthread_timedjoin_np(r->workers[i].thread, NULL, &deadline);
		if (err)
			ksft_exit_fail_msg("%s %s: worker %d: %s after %d s\n",
					   r->s->name, mode_names[r->mode], i,
					   strerror(err), opt.timeout_s);
	}
}

/* The exact accounting: each operation completed through one path. */
static bool check_paths(struct run *r, const struct percpu_op_stats *st)
{
	bool ok = st->ops == st->rseq_commits + st->opv_commits;

	switch (r->mode) {
	case MODE_RSEQ:
		ok = ok && !st->opv_calls;
		break;
	case MODE_OPV:
		ok = ok && !st->rseq_commits && !st->rseq_aborts;
		break;
	default:
		/* Every opv_every-th iteration was forced through cpu_opv(). */
		ok = ok && st->rseq_commits && st->opv_commits;
		break;
	}
	if (!ok)
		fail(r, "paths do not add up");
	return ok;
}

/*
 * How many times an injection run that aborted nothing runs before that is a
 * failure. Whether a timer signal lands inside a critical section is a matter
 * of chance, however wide the delay loops make the sections: on a slow guest
 * (arm64 under TCG), where the copy structure's sections are a small part of
 * its time, its run saw 0 and 1 aborts from 449 and 258 signals. An abort
 * path that never aborts fails every try.
 */
#define INJECT_TRIES	5

/*
 * Runs @s in @mode and reports the result, but for a run in MODE_INJECT that
 * passed all its checks yet aborted no critical section, unless @last_try:
 * then it reports nothing and returns false, for the caller to run it again.
 */
static bool run_one(const struct structure *s, bool last_try, enum mode mode)
{
	void *(*helper_fn)(void *) = NULL;
	struct percpu_op_stats st = { 0 };
	pthread_t helper;
	const char *why = cannot_run(mode);
	long steals = 0, drains = 0, peeks = 0, full = 0, signals = 0;
	char head[128], tail[160];
	uint64_t start;
	bool missed, ok, retry;
	struct run *r;
	int i;

	if (why) {
		ksft_test_result_skip("%s %s: %s\n", s->name, mode_names[mode], why);
		return true;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		ksft_exit_fail_msg("out of memory\n");
	r->s = s;
	r->mode = mode;
	r->ops = opt.ops ? opt.ops : s->ops * opt.scale;
	init_cpus(r);
	r->nr_threads = opt.threads_per_cpu * r->nr_allowed;
	r->workers = calloc(r->nr_threads, sizeof(*r->workers));
	if (!r->workers)
		ksft_exit_fail_msg("out of memory\n");
	for (i = 0; i < r->nr_threads; i++) {
		r->workers[i].r = r;
		r->workers[i].index = i;
		r->workers[i].rand = 0x9e3779b97f4a7c15ULL * (i + 1);
	}
	if (s->setup(r))
		ksft_exit_fail_msg("%s %s: set-up failed\n", s->name, mode_names[mode]);
	if (mode == MODE_INJECT) {
		int loops[PERCPU_OP_NR_INJECT] = { 0 };

		for (i = 1; i <= 7; i++)
			loops[i] = opt.inject_loops;
		percpu_op_set_inject(loops, 7);
	}

	for (i = 0; i < r->nr_threads; i++)
		if (pthread_create(&r->workers[i].thread, NULL, worker_thread,
				   &r->workers[i]))
			ksft_exit_fail_msg("pthread_create\n");
	while (atomic_load(&r->ready) < r->nr_threads)
		usleep(1000);
	if (mode == MODE_MIGRATE)
		helper_fn = affinity_thread;
	else if (mode == MODE_HOTPLUG)
		helper_fn = hotplug_thread;
	if (helper_fn) {
		if (pthread_create(&helper, NULL, helper_fn, r))
			ksft_exit_fail_msg("pthread_create\n");
		/* Churn from the first operation on. */
		while (!atomic_load(&r->churning) && !atomic_load(&r->errors))
			usleep(1000);
	}
	start = now_ns();
	atomic_store(&r->go, 1);
	join_workers(r);
	start = now_ns() - start;
	if (helper_fn) {
		atomic_store(&r->stop, 1);
		pthread_join(helper, NULL);
		restore_cpus();
	}
	if (mode == MODE_INJECT) {
		int loops[PERCPU_OP_NR_INJECT] = { 0 };

		percpu_op_set_inject(loops, 0);
	}

	ok = s->check(r);
	for (i = 0; i < r->nr_threads; i++) {
		struct worker *w = &r->workers[i];

		percpu_op_stats_add(&st, &w->ctx.stats);
		steals += w->steals;
		drains += w->drains;
		peeks += w->peeks;
		full += w->full;
		signals += w->signals;
	}
	ok = check_paths(r, &st) && ok;
	if ((mode == MODE_MIGRATE && !r->churns) ||
	    (mode == MODE_HOTPLUG && !r->hotplugs)) {
		fail(r, "no churn");
		ok = false;
	}
	if (mode == MODE_MIGRATE && !st.remote && s->iteration == ring_iteration) {
		fail(r, "no commit after a migration");
		ok = false;
	}
	ok = ok && !atomic_load(&r->errors);
	/* Aborting nothing fails the last try, or a run that failed anyway. */
	missed = mode == MODE_INJECT && (!st.rseq_aborts || !signals);
	retry = ok && missed && !last_try;
	if (missed && !retry) {
		fail(r, "injection did not abort anything");
		ok = false;
	}

	snprintf(head, sizeof(head),
		 "percpu struct=%s mode=%s threads=%d iterations=%ld time_ms=%llu",
		 s->name, mode_names[mode], r->nr_threads, r->ops,
		 (unsigned long long)(start / 1000000));
	snprintf(tail, sizeof(tail),
		 "steals=%ld drains=%ld peeks=%ld full=%ld churn=%ld hotplug=%ld signals=%ld errors=%ld",
		 steals, drains, peeks, full, r->churns, r->hotplugs, signals,
		 atomic_load(&r->errors));
	percpu_op_stats_print(head, &st, tail);
	if (retry)
		ksft_print_msg("%s %s: injection did not abort anything, again\n",
			       s->name, mode_names[mode]);
	else
		ksft_test_result(ok, "%s %s\n", s->name, mode_names[mode]);

	s->teardown(r);
	free(r->workers);
	free(r);
	return !retry;
}

/*
 * The pop vector of the list with expect_fault on head->next, on purpose:
 * the head item's memory is gone, and cpu_opv() says EAGAIN, not EFAULT
 * (EFAULT without expect_fault); a stale head fails the compare; and after
 * ABA (the head popped and pushed back with another next), the vector pops
 * it with its current next.
 */
static void test_list_fault(void)
{
	struct percpu_list_node *a, *b, *gone;
	struct percpu_op_ctx ctx;
	struct percpu_list list;
	cpu_set_t saved;
	bool ok = true;
	int cpu, ret;

	if (!percpu_op_opv_available()) {
		ksft_test_result_skip("list expect_fault: cpu_opv() is not available\n");
		return;
	}
	sched_getaffinity(0, sizeof(saved), &saved);
	cpu = sched_getcpu();
	a = calloc(1, sizeof(*a));
	b = calloc(1, sizeof(*b));
	gone = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pin_to(cpu) || percpu_list_create(&list) || !a || !b ||
	    gone == MAP_FAILED)
		ksft_exit_fail_msg("list expect_fault: set-up failed\n");
	percpu_op_thread_init(&ctx, PERCPU_OP_OPV_ONLY);

	/* The head's memory is unmapped. */
	if (percpu_list_push(&ctx, &list, gone) != cpu)
		ok = false;
	munmap(gone, getpagesize());
	ret = percpu_list_pop_vector(&list, cpu, gone, true);
	if (ret != -1 || errno != EAGAIN) {
		ksft_print_msg("unmapped head->next, expect_fault: %d (%s), want EAGAIN\n",
			       ret, strerror(errno));
		ok = false;
	}
	ret = percpu_list_pop_vector(&list, cpu, gone, false);
	if (ret != -1 || errno != EFAULT) {
		ksft_print_msg("unmapped head->next: %d (%s), want EFAULT\n",
			       ret, strerror(errno));
		ok = false;
	}
	if (percpu_list_head(&list, cpu) != gone)
		ok = false;

	/* A stale head: the compare fails, nothing is written. */
	percpu_list_destroy(&list);
	if (percpu_list_create(&list))
		ksft_exit_fail_msg("out of memory\n");
	percpu_list_push(&ctx, &list, a);
	ret = percpu_list_pop_vector(&list, cpu, b, true);
	if (ret != 1 || percpu_list_head(&list, cpu) != a) {
		ksft_print_msg("stale head: %d, want 1\n", ret);
		ok = false;
	}

	/* ABA: b pushed on a, then b and a popped and b pushed back alone. */
	percpu_list_push(&ctx, &list, b);
	if (percpu_list_pop(&ctx, &list, &ret) != b ||
	    percpu_list_pop(&ctx, &list, &ret) != a)
		ok = false;
	percpu_list_push(&ctx, &list, b);
	ret = percpu_list_pop_vector(&list, cpu, b, true);
	if (ret || percpu_list_head(&list, cpu)) {
		ksft_print_msg("ABA: %d, head %p, want 0 and an empty list\n", ret,
			       percpu_list_head(&list, cpu));
		ok = false;
	}
	ksft_print_msg("percpu struct=list test=expect_fault cpu=%d opv_calls=%llu\n",
		       cpu, (unsigned long long)ctx.stats.opv_calls);
	ksft_test_result(ok, "list expect_fault\n");

	percpu_op_thread_fini(&ctx);
	percpu_list_destroy(&list);
	free(a);
	free(b);
	sched_setaffinity(0, sizeof(saved), &saved);
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"Usage: %s [-s STRUCT,...] [-m MODE,...] [-t threads per CPU]\n"
		"	[-x scale iterations] [-n iterations per thread, all structures]\n"
		"	[-a max aborts] [-f opv every]\n"
		"	[-b copy item bytes] [-i items per CPU] [-c churn period us]\n"
		"	[-l inject loops] [-g signal period us] [-w timeout s]\n"
		"STRUCT: spinlock counter list stack steal copy ring fault all\n"
		"MODE: rseq opv mixed migrate hotplug inject all\n", prog);
	exit(KSFT_FAIL);
}

/* Parses a comma-separated list of names into a bit mask. */
static unsigned long parse_names(const char *arg, const char *(*name)(int),
				 int n, const char *prog)
{
	char *copy = strdup(arg), *tok, *save;
	unsigned long mask = 0;
	int i;

	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "all")) {
			mask = (1UL << n) - 1;
			continue;
		}
		for (i = 0; i < n; i++)
			if (!strcmp(tok, name(i)))
				break;
		if (i == n)
			usage(prog);
		mask |= 1UL << i;
	}
	free(copy);
	return mask;
}

/* The structures, then "fault". */
static const char *structure_name(int i)
{
	return i < (int)NR_STRUCTURES ? structures[i].name : "fault";
}

static const char *mode_name(int i)
{
	return mode_names[i];
}

int main(int argc, char **argv)
{
	unsigned long smask = (1UL << (NR_STRUCTURES + 1)) - 1;
	unsigned long mmask = (1UL << NR_MODES) - 1;
	struct sigaction sa = { .sa_handler = count_signal,
				.sa_flags = SA_RESTART };
	struct run probe;
	unsigned int s;
	int c, m;

	while ((c = getopt(argc, argv, "s:m:t:n:x:a:f:b:i:c:l:g:w:")) != -1) {
		switch (c) {
		case 's':
			smask = parse_names(optarg, structure_name,
					    NR_STRUCTURES + 1, argv[0]);
			break;
		case 'm':
			mmask = parse_names(optarg, mode_name, NR_MODES, argv[0]);
			break;
		case 't':
			opt.threads_per_cpu = atoi(optarg);
			break;
		case 'n':
			opt.ops = atol(optarg);
			break;
		case 'x':
			opt.scale = atol(optarg);
			break;
		case 'a':
			opt.max_aborts = atoi(optarg);
			break;
		case 'f':
			opt.opv_every = atoi(optarg);
			break;
		case 'b':
			opt.item_size = atol(optarg);
			break;
		case 'i':
			opt.items_per_cpu = atol(optarg);
			break;
		case 'c':
			opt.churn_us = atoi(optarg);
			break;
		case 'l':
			opt.inject_loops = atoi(optarg);
			break;
		case 'g':
			opt.signal_us = atoi(optarg);
			break;
		case 'w':
			opt.timeout_s = atoi(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (opt.threads_per_cpu < 1 || opt.ops < 0 || opt.scale < 1 ||
	    opt.max_aborts < 1 ||
	    opt.opv_every < 0 || opt.items_per_cpu < 1 || opt.churn_us < 1 ||
	    opt.signal_us < 1 || opt.signal_us >= 1000000 || opt.timeout_s < 1 ||
	    opt.item_size < (long)sizeof(struct blob) || opt.item_size > 4096)
		usage(argv[0]);

	ksft_print_header();
	nr_cpus = percpu_op_init();
	if (nr_cpus < 0)
		ksft_exit_fail_msg("cannot count the possible CPUs\n");
	ksft_print_msg("percpu cpus=%d rseq=%d cpu_opv=%d threads_per_cpu=%d scale=%ld\n",
		       nr_cpus, percpu_op_rseq_available(),
		       percpu_op_opv_available(), opt.threads_per_cpu, opt.scale);
	ksft_print_msg("percpu max_aborts=%d opv_every=%d item_size=%ld inject_loops=%d\n",
		       opt.max_aborts, opt.opv_every, opt.item_size,
		       opt.inject_loops);
	if (!percpu_op_opv_available() && !percpu_op_rseq_available())
		ksft_exit_skip("neither rseq nor cpu_opv()\n");
	if (sigaction(SIGUSR1, &sa, NULL))
		ksft_exit_fail_perror("sigaction");
	init_cpus(&probe);
	find_hotplug_cpus(&probe);

	ksft_set_plan(__builtin_popcountl(smask & ((1UL << NR_STRUCTURES) - 1)) *
		      __builtin_popcountl(mmask) +
		      !!(smask & (1UL << NR_STRUCTURES)));
	for (s = 0; s < NR_STRUCTURES; s++) {
		if (!(smask & (1UL << s)))
			continue;
		for (m = 0; m < NR_MODES; m++) {
			int attempt = 1;

			if (!(mmask & (1UL << m)))
				continue;
			while (!run_one(&structures[s], attempt == INJECT_TRIES, m))
				attempt++;
		}
	}
	if (smask & (1UL << NR_STRUCTURES))
		test_list_fault();
	ksft_finished();
}
