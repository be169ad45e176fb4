// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() vectors stay atomic with respect to their target CPU while the
 * kernel changes their operand pages behind the caller's back: migration
 * (move_pages(), compaction, NUMA balancing), KSM merging, swap-out and
 * swap-in, THP splits and collapses.
 *
 * One worker thread per online CPU, pinned to it, runs vectors whose result
 * depends on the current content of the page: a counter incremented by
 * "compare with the value read, store the value + 1, add 1 to a partner
 * slot on another page" (retried when the compare fails), and plain adds.
 * They target the worker's own CPU; at times, one worker also targets the
 * next CPU (it is then allowed to run there as well: cpu_opv() only accepts
 * a target CPU in the caller's affinity mask), concurrently with that CPU's
 * own worker, on the same slots. Every successful vector is counted,
 * so that each slot has an exact expected value at the end; the bytes
 * around the slots must be unchanged. A vector that ran on a page the
 * workers no longer see (a stale copy left by migration, KSM or a collapse)
 * loses its update and fails the test.
 *
 * Each case runs the event concurrently with at least OPS_FLOOR successful
 * vectors, and checks that the event happened during the run (from
 * /proc/vmstat, /proc/self/pagemap and /proc/kpageflags, KSM sysfs, or the
 * move_pages() status): a case whose event did not happen fails, or skips
 * when the kernel cannot produce it.
 */

#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <linux/kernel-page-flags.h>
#include <linux/types.h>
#include <linux/loop.h>
#include <linux/mempolicy.h>

#include "../kselftest_harness.h"
#include "cpu_opv.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define PROT_RW		(PROT_READ | PROT_WRITE)
#define MAX_PAGES	1024
#define MAX_THREADS	32
/* Per target CPU, a 64-byte group in each page: three slots, then pattern. */
#define GROUP		64
#define CAS_OFF		0	/* compare-and-increment counter */
#define TOT_OFF		8	/* plain adds */
#define X_OFF		16	/* adds of the increments of the partner page */
#define SLOT_BYTES	24
/* Sweeps between two barriers; one round in REMOTE_EVERY has a remote worker. */
#define SWEEPS		4
#define REMOTE_EVERY	4

/* Successful vectors each case must run concurrently with its event. */
#define OPS_FLOOR	10000
/*
 * The event runs at least MIN_MS, and until the floor and its evidence, at
 * most LIMIT_MS: what an emulated guest needs to reach the floor (arm64
 * under TCG, with KASAN and lockdep, runs 550 to 850 vectors a second while
 * ksmd takes one of its vCPUs), and a bound for a case that cannot.
 */
#define MIN_MS		3000
#define LIMIT_MS	30000

#define BALLAST		(32UL << 20)
#define SWAP_FILE	"/tmp/cpu_opv_mm_events.swap"
#define SWAP_PAGES	8192
#define KSM		"/sys/kernel/mm/ksm/"
#define THP		"/sys/kernel/mm/transparent_hugepage/enabled"
#define SPLIT		"/sys/kernel/debug/split_huge_pages"
#define NUMA_KNOBS	"/sys/kernel/debug/sched/numa_balancing/"
#define MAX_SAVED	8

enum {
	PGMIGRATE_SUCCESS, PGMIGRATE_FAIL, COMPACT_MIGRATE_SCANNED,
	PSWPIN, PSWPOUT, ZSWPIN, ZSWPOUT,
	THP_SPLIT_PMD, THP_SPLIT_PAGE, THP_COLLAPSE_ALLOC,
	NUMA_PTE_UPDATES, NUMA_HINT_FAULTS, NUMA_PAGES_MIGRATED,
	NR_VM,
};

static const char * const vm_names[NR_VM] = {
	"pgmigrate_success", "pgmigrate_fail", "compact_migrate_scanned",
	"pswpin", "pswpout", "zswpin", "zswpout",
	"thp_split_pmd", "thp_split_page", "thp_collapse_alloc",
	"numa_pte_updates", "numa_hint_faults", "numa_pages_migrated",
};

/* The counters of /proc/vmstat above; -1 for those this kernel lacks. */
static void read_vmstat(long *v)
{
	char key[64];
	long val;
	FILE *f = fopen("/proc/vmstat", "r");
	int i;

	for (i = 0; i < NR_VM; i++)
		v[i] = -1;
	if (!f)
		return;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		for (i = 0; i < NR_VM; i++)
			if (!strcmp(key, vm_names[i]))
				v[i] = val;
	fclose(f);
}

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* The kernel writes the slots concurrently: read them as atomics. */
static __u64 load(__u64 *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_str(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

/* Number of online NUMA nodes; the first two in @nodes. */
static int online_nodes(int *nodes)
{
	char buf[256], *s = buf;
	int n = 0;

	if (read_str("/sys/devices/system/node/online", buf, sizeof(buf)))
		return 1;
	while (*s) {
		char *end;
		long lo = strtol(s, &end, 10), hi = lo;

		if (end == s)
			break;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (; lo <= hi; lo++, n++)
			if (n < 2)
				nodes[n] = lo;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

struct run;

struct worker {
	struct run *run;
	pthread_t thread;
	int idx;		/* home CPU cpus[idx]; also targets cpus[idx + 1] */
	long *cas_ok;		/* [page][0: home, 1: next] successful increments */
	long *add_ok;		/* [page][0: home, 1: next] successful adds */
	long compare_failed, eagain, local, remote, errors;
	int first_error;	/* errno, or the return value, of the first error */
	pid_t tid;
	atomic_long ok;		/* successful vectors, for the main thread */
};

/*
 * The arena is @np pages in windows of @w: the workers sweep the pages of
 * one window together (all of them, SWEEPS times per round, rounds separated
 * by a barrier), and move to the next window every @epoch_ms. In each
 * sweep, each worker updates the slots of its home CPU on every page of the
 * window; in every REMOTE_EVERY-th round, one worker (each in turn) also
 * updates those of the next CPU, concurrently with that CPU's own worker.
 * So each round adds the same to the slots of all pages of a window: between
 * rounds they hold the same values (KSM can merge them), and the pages of
 * the other windows stay still meanwhile. Remote calls are few: an IPI to a
 * busy vCPU is slow under emulation.
 */
struct run {
	__u8 *arena;
	void *map;
	size_t map_len;
	int np, w, nwin;
	int n;			/* workers, one per CPU */
	int cpus[MAX_THREADS];
	pthread_barrier_t barrier;
	bool barrier_ready;
	atomic_int stop;
	int quit, win;		/* written between the two barriers */
	long epoch;
	__u64 epoch_ms, epoch_start, t0;
	long nrounds;
	int remote;		/* the worker that also targets the next CPU, or -1 */
	long sweeps[MAX_PAGES];	/* sweeps of each page */
	long *remote_sweeps;	/* [page][worker]: sweeps in which it was remote */
	struct worker w_[MAX_THREADS];
	int started;
};

static __u64 *slot(struct run *r, int page, int target, int off)
{
	return (__u64 *)(r->arena + page * PAGE + target * GROUP + off);
}

/* The page whose X slots receive the adds of @page's increments. */
static int partner(struct run *r, int page)
{
	int base = page / r->w * r->w;

	return base + (page - base + 1) % r->w;
}

static __u8 pattern(size_t off)
{
	return (__u8)(off * 37 + 11);
}

/* The page contents before any vector ran: pattern, and zero slots. */
static void template_page(struct run *r, __u8 *page)
{
	size_t off;
	int t;

	for (off = 0; off < PAGE; off++)
		page[off] = pattern(off);
	for (t = 0; t < r->n; t++)
		memset(page + t * GROUP, 0, SLOT_BYTES);
}

/*
 * Runs a vector on @cpu; retries on EAGAIN (the operand pages changed
 * between faulting in and pinning, as they do here all the time). Returns what the
 * call returned, or -1 after an error, which is recorded.
 */
static int call(struct worker *w, struct cpu_op *ops, int cnt, int cpu)
{
	long tries;
	int ret;

	for (tries = 0; tries < 100000; tries++) {
		if (sched_getcpu() == cpu)
			w->local++;
		else
			w->remote++;
		ret = sys_cpu_opv(ops, cnt, cpu, 0);
		if (ret >= 0)
			return ret;
		if (errno != EAGAIN)
			break;
		w->eagain++;
	}
	if (!w->errors++)
		w->first_error = errno;
	return -1;
}

/* Index, in the run's CPUs, of the target of @which (0: home, 1: next). */
static int target(struct worker *w, int which)
{
	return (w->idx + which) % w->run->n;
}

/*
 * *cas += 1 on the target CPU, if it still holds the value read, and the
 * partner page's X slot += 1 with it: retried until it succeeds.
 */
static void increment(struct worker *w, int page, int which)
{
	struct run *r = w->run;
	int t = target(w, which);
	__u64 *cas = slot(r, page, t, CAS_OFF);
	__u64 *x = slot(r, partner(r, page), t, X_OFF);
	struct cpu_op ops[3];
	__u64 seen, next;
	int ret;

	for (;;) {
		seen = load(cas);
		next = seen + 1;
		ops[0] = op_compare(1, cas, &seen, sizeof(seen));
		ops[1] = op_memcpy(0, cas, &next, sizeof(next));
		ops[2] = op_add(0, x, 1, sizeof(*x));
		ret = call(w, ops, 3, r->cpus[t]);
		if (ret != 1)
			break;
		w->compare_failed++;
	}
	if (!ret) {
		w->cas_ok[2 * page + which]++;
		atomic_fetch_add_explicit(&w->ok, 1, memory_order_relaxed);
	} else if (ret > 0) {
		if (!w->errors++)
			w->first_error = ret;
	}
}

/* TOT += 1 on the target CPU. */
static void add(struct worker *w, int page, int which)
{
	struct run *r = w->run;
	int t = target(w, which);
	struct cpu_op op = op_add(0, slot(r, page, t, TOT_OFF), 1, 8);

	if (!call(w, &op, 1, r->cpus[t])) {
		w->add_ok[2 * page + which]++;
		atomic_fetch_add_explicit(&w->ok, 1, memory_order_relaxed);
	}
}

/* Between the barriers, in one worker: stop, or pick the next round. */
static void next_round(struct run *r)
{
	__u64 now = now_ms();
	int p;

	r->quit = atomic_load(&r->stop);
	if (r->quit)
		return;
	/* Alternately a window of the first half of the arena and one of the second. */
	if (now - r->epoch_start >= r->epoch_ms) {
		r->epoch++;
		r->win = r->epoch % 2 * (r->nwin / 2) + r->epoch / 2 % ((r->nwin + 1) / 2);
		r->epoch_start = now;
	}
	r->nrounds++;
	r->remote = r->nrounds % REMOTE_EVERY ? -1 : r->nrounds / REMOTE_EVERY % r->n;
	for (p = r->win * r->w; p < (r->win + 1) * r->w; p++) {
		r->sweeps[p] += SWEEPS;
		if (r->remote >= 0)
			r->remote_sweeps[p * r->n + r->remote] += SWEEPS;
	}
}

/*
 * Restricts the calling worker to its home CPU, or lets it run on the next
 * one too: cpu_opv() only accepts a target CPU in the caller's affinity.
 */
static void allow(struct worker *w, int nw)
{
	cpu_set_t set;
	int which;

	CPU_ZERO(&set);
	for (which = 0; which < nw; which++)
		CPU_SET(w->run->cpus[target(w, which)], &set);
	if (sched_setaffinity(0, sizeof(set), &set) && !w->errors++)
		w->first_error = errno;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	int p, which, nw, k;

	w->tid = syscall(SYS_gettid);
	allow(w, 1);
	for (;;) {
		if (pthread_barrier_wait(&r->barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
			next_round(r);
		pthread_barrier_wait(&r->barrier);
		if (r->quit)
			break;
		nw = r->remote == w->idx ? 2 : 1;
		if (nw == 2)
			allow(w, 2);
		for (k = 0; k < SWEEPS; k++) {
			for (p = r->win * r->w; p < (r->win + 1) * r->w; p++) {
				for (which = 0; which < nw; which++)
					increment(w, p, which);
				for (which = 0; which < nw; which++)
					add(w, p, which);
			}
		}
		if (nw == 2)
			allow(w, 1);
	}
	return NULL;
}

struct saved {
	char path[128];
	char val[64];
};

FIXTURE(mm_events) {
	struct run run;
	struct saved saved[MAX_SAVED];	/* settings to restore, in order */
	int nsaved;
	int pagemap, kpageflags;	/* -1 if they cannot be read */
	__u64 pfn[MAX_PAGES];	/* last frame seen for each page */
	long pfn_changes;		/* arena pages seen on a new frame */
	long swapped_seen;		/* arena pages seen swapped out */
	long swapin_seen;		/* ... and seen back in afterwards */
	bool swapped[MAX_PAGES];	/* page swapped out at the last look */
	int thp_seen;			/* most arena pages seen in a THP */
	bool ksm_seen[MAX_PAGES];	/* page seen merged by KSM */
	__u64 ksm_val[MAX_PAGES];	/* its first counter then */
	int ksm_pages;			/* arena pages seen merged */
	void *ballast;			/* the compaction case's pool */
	size_t ballast_len;
	char loopdev[32];
	int loop;			/* loop device of the swap file, or -1 */
	bool swap_on, swap_file;
};

FIXTURE_SETUP(mm_events)
{
	long v[NR_VM];
	cpu_set_t set;
	int cpu;

	self->pagemap = -1;
	self->kpageflags = -1;
	self->loop = -1;
	if (sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0)
		SKIP(return, "no cpu_opv(): %s", strerror(errno));
	if (geteuid())
		SKIP(return, "needs root to drive mm events and read page frames");
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	for (cpu = 0; cpu < CPU_SETSIZE && self->run.n < MAX_THREADS; cpu++)
		if (CPU_ISSET(cpu, &set))
			self->run.cpus[self->run.n++] = cpu;
	self->pagemap = open("/proc/self/pagemap", O_RDONLY);
	self->kpageflags = open("/proc/kpageflags", O_RDONLY);
	read_vmstat(v);
	if (v[PGMIGRATE_SUCCESS] < 0)
		TH_LOG("no vm event counters (CONFIG_VM_EVENT_COUNTERS): they show +0 below");
}

static void stop_workers(struct run *r)
{
	int i;

	atomic_store(&r->stop, 1);
	for (i = 0; i < r->started; i++)
		pthread_join(r->w_[i].thread, NULL);
	r->started = 0;
	if (r->barrier_ready)
		pthread_barrier_destroy(&r->barrier);
	r->barrier_ready = false;
}

FIXTURE_TEARDOWN(mm_events)
{
	struct run *r = &self->run;
	int i;

	stop_workers(r);
	for (i = 0; i < MAX_THREADS; i++) {
		free(r->w_[i].cas_ok);
		free(r->w_[i].add_ok);
	}
	free(r->remote_sweeps);
	if (r->map)
		munmap(r->map, r->map_len);
	if (self->ballast)
		munmap(self->ballast, self->ballast_len);
	if (self->swap_on && swapoff(self->loopdev))
		TH_LOG("swapoff %s: %s", self->loopdev, strerror(errno));
	if (self->loop >= 0) {
		ioctl(self->loop, LOOP_CLR_FD, 0);
		close(self->loop);
	}
	if (self->swap_file)
		unlink(SWAP_FILE);
	for (i = self->nsaved - 1; i >= 0; i--)
		if (write_file(self->saved[i].path, self->saved[i].val))
			TH_LOG("could not restore %s to %s", self->saved[i].path,
			       self->saved[i].val);
	if (self->pagemap >= 0)
		close(self->pagemap);
	if (self->kpageflags >= 0)
		close(self->kpageflags);
}

/* Sets a sysfs or procfs knob; the teardown restores it. */
static int set_knob(struct _test_data_mm_events *self, const char *path, const char *val)
{
	struct saved *s = &self->saved[self->nsaved];
	char *sel;

	if (self->nsaved == MAX_SAVED || read_str(path, s->val, sizeof(s->val)))
		return -1;
	/* "always [madvise] never": the selected word. */
	sel = strchr(s->val, '[');
	if (sel) {
		memmove(s->val, sel + 1, strlen(sel));
		s->val[strcspn(s->val, "]")] = 0;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	self->nsaved++;
	return write_file(path, val);
}

/*
 * Maps the arena, @np pages in windows of @w, 2 MiB-aligned and advised
 * MADV_HUGEPAGE if @huge, and fills it: pattern, and zero slots.
 */
static void *map_arena(struct _test_data_mm_events *self, int np, int w, bool huge)
{
	struct run *r = &self->run;
	size_t len = np * PAGE + (huge ? HPAGE : 0);
	__u8 page[PAGE];
	uintptr_t a;
	int i;

	r->map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return NULL;
	}
	r->map_len = len;
	a = (uintptr_t)r->map;
	if (huge)
		a = (a + HPAGE - 1) & ~(HPAGE - 1);
	r->arena = (__u8 *)a;
	r->np = np;
	r->w = w;
	r->nwin = np / w;
	if (huge && madvise(r->arena, np * PAGE, MADV_HUGEPAGE))
		return NULL;
	template_page(r, page);
	for (i = 0; i < np; i++)
		memcpy(r->arena + i * PAGE, page, PAGE);
	return r->arena;
}

static void look(struct _test_data_mm_events *self);

/* Starts the workers on the arena. 0, or a negative errno. */
static int start(struct _test_data_mm_events *self, __u64 epoch_ms)
{
	struct run *r = &self->run;
	int i, ret;

	look(self);
	r->remote_sweeps = calloc(r->np * r->n, sizeof(long));
	if (!r->remote_sweeps)
		return -ENOMEM;
	ret = pthread_barrier_init(&r->barrier, NULL, r->n);
	if (ret)
		return -ret;
	r->barrier_ready = true;
	r->epoch_ms = epoch_ms;
	r->t0 = now_ms();
	r->epoch_start = r->t0;
	for (i = 0; i < r->n; i++) {
		struct worker *w = &r->w_[i];

		w->run = r;
		w->idx = i;
		w->cas_ok = calloc(2 * r->np, sizeof(long));
		w->add_ok = calloc(2 * r->np, sizeof(long));
		if (!w->cas_ok || !w->add_ok)
			return -ENOMEM;
	}
	for (i = 0; i < r->n; i++) {
		ret = pthread_create(&r->w_[i].thread, NULL, worker_fn, &r->w_[i]);
		if (ret) {
			/* The others would wait for it at the barrier. */
			atomic_store(&r->stop, 1);
			return -ret;
		}
		r->started++;
	}
	return 0;
}

static long total_ok(struct run *r)
{
	long sum = 0;
	int i;

	for (i = 0; i < r->started; i++)
		sum += atomic_load_explicit(&r->w_[i].ok, memory_order_relaxed);
	return sum;
}

/*
 * Whether the case goes on: at least MIN_MS, then until both the floor of
 * vectors and the @evidence of the event, at most LIMIT_MS.
 */
static bool running(struct _test_data_mm_events *self, bool evidence)
{
	__u64 t = now_ms() - self->run.t0;

	if (t >= LIMIT_MS)
		return false;
	return t < MIN_MS || total_ok(&self->run) < OPS_FLOOR || !evidence;
}

/*
 * Looks at the arena's page table entries and page flags: frames that
 * changed since the last look, swapped-out pages, THP and KSM pages.
 */
static void look(struct _test_data_mm_events *self)
{
	struct run *r = &self->run;
	__u64 e[MAX_PAGES], flags;
	off_t off = (uintptr_t)r->arena / PAGE * sizeof(e[0]);
	int p, thp = 0;

	if (self->pagemap < 0 ||
	    pread(self->pagemap, e, r->np * sizeof(e[0]), off) != (ssize_t)(r->np * sizeof(e[0])))
		return;
	for (p = 0; p < r->np; p++) {
		__u64 pfn = e[p] & ((1ULL << 55) - 1);

		if (e[p] & (1ULL << 62)) {
			self->swapped_seen++;
			self->swapped[p] = true;
		}
		if (!(e[p] & (1ULL << 63)) || !pfn)
			continue;
		if (self->swapped[p])
			self->swapin_seen++;
		self->swapped[p] = false;
		if (self->pfn[p] && self->pfn[p] != pfn)
			self->pfn_changes++;
		self->pfn[p] = pfn;
		if (self->kpageflags < 0 ||
		    pread(self->kpageflags, &flags, sizeof(flags), pfn * sizeof(flags)) !=
		    sizeof(flags))
			continue;
		if (flags & (1ULL << KPF_THP))
			thp++;
		if ((flags & (1ULL << KPF_KSM)) && !self->ksm_seen[p]) {
			self->ksm_seen[p] = true;
			self->ksm_val[p] = load(slot(r, p, 0, CAS_OFF));
			self->ksm_pages++;
		}
	}
	if (thp > self->thp_seen)
		self->thp_seen = thp;
}

/* Arena pages seen merged by KSM whose counter moved since. */
static int written_after_merge(struct _test_data_mm_events *self)
{
	int p, n = 0;

	for (p = 0; p < self->run.np; p++)
		if (self->ksm_seen[p] && load(slot(&self->run, p, 0, CAS_OFF)) > self->ksm_val[p])
			n++;
	return n;
}

/*
 * Stops the workers and checks every slot of every page against the
 * vectors counted, and every other byte against the pattern.
 */
static void stop_and_check(struct __test_metadata *_metadata,
			   struct _test_data_mm_events *self, const char *event)
{
	struct run *r = &self->run;
	long cas = 0, adds = 0, failed = 0, eagain = 0, local = 0, remote = 0;
	long errors = 0, bad = 0, bad_bytes = 0;
	__u8 tmpl[PAGE], copy[PAGE];
	__u64 ms;
	int i, p, t;

	stop_workers(r);
	ms = now_ms() - r->t0;
	for (i = 0; i < r->n; i++) {
		struct worker *w = &r->w_[i];

		for (p = 0; p < 2 * r->np; p++) {
			cas += w->cas_ok[p];
			adds += w->add_ok[p];
		}
		failed += w->compare_failed;
		eagain += w->eagain;
		local += w->local;
		remote += w->remote;
		errors += w->errors;
		if (w->errors)
			TH_LOG("worker %d: %ld errors, the first: %d (%s)", i, w->errors,
			       w->first_error, strerror(w->first_error));
	}
	template_page(r, tmpl);
	for (p = 0; p < r->np; p++) {
		for (t = 0; t < r->n; t++) {
			__u64 exp_cas = 0, exp_add = 0, sched;
			__u64 got_cas = load(slot(r, p, t, CAS_OFF));
			__u64 got_add = load(slot(r, p, t, TOT_OFF));
			__u64 got_x = load(slot(r, partner(r, p), t, X_OFF));

			for (i = 0; i < r->n; i++) {
				struct worker *w = &r->w_[i];

				if (target(w, 0) == t) {
					exp_cas += w->cas_ok[2 * p];
					exp_add += w->add_ok[2 * p];
				}
				if (target(w, 1) == t) {
					exp_cas += w->cas_ok[2 * p + 1];
					exp_add += w->add_ok[2 * p + 1];
				}
			}
			/*
			 * Without errors, every sweep added 1 to every slot,
			 * and 1 more where the previous CPU's worker was remote.
			 */
			sched = r->sweeps[p] + r->remote_sweeps[p * r->n + (t + r->n - 1) % r->n];
			if (got_cas == exp_cas && got_add == exp_add && got_x == exp_cas &&
			    (errors || (exp_cas == sched && exp_add == sched)))
				continue;
			/* Counter, partner X, adds: seen, expected; then the schedule. */
			if (bad++ < 8)
				TH_LOG("page %d CPU %d: %llu %llu %llu, not %llu %llu %llu (%llu)",
				       p, r->cpus[t], (unsigned long long)got_cas,
				       (unsigned long long)got_x, (unsigned long long)got_add,
				       (unsigned long long)exp_cas, (unsigned long long)exp_cas,
				       (unsigned long long)exp_add, (unsigned long long)sched);
		}
		memcpy(copy, r->arena + p * PAGE, PAGE);
		for (t = 0; t < r->n; t++)
			memset(copy + t * GROUP, 0, SLOT_BYTES);
		for (i = 0; i < (int)PAGE; i++) {
			if (copy[i] == tmpl[i])
				continue;
			if (bad_bytes++ < 8)
				TH_LOG("page %d byte %d: %#x, expected %#x", p, i, copy[i],
				       tmpl[i]);
		}
	}
	TH_LOG("%s: %ld vectors in %llu ms: %ld increments, %ld adds", event,
	       cas + adds, (unsigned long long)ms, cas, adds);
	TH_LOG("%ld local, %ld remote calls; %ld compares failed, %ld EAGAIN", local,
	       remote, failed, eagain);
	TH_LOG("%ld arena pages seen on a new frame", self->pfn_changes);
	EXPECT_EQ(0, errors);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, bad_bytes);
	EXPECT_LE(OPS_FLOOR, cas + adds) {
		TH_LOG("fewer than %d vectors ran during the event", OPS_FLOOR);
	}
}

/* How much counter @i of /proc/vmstat moved from @v0 to @v1. */
static long delta(const long *v0, const long *v1, int i)
{
	return v1[i] - v0[i];
}

/* Pages migrated back and forth between two nodes by move_pages(2). */
TEST_F_TIMEOUT(mm_events, move_pages, 120)
{
	struct run *r = &self->run;
	int np = 64, status[16], dest[16], nodes[2], n, i;
	long moved = 0, refused = 0, calls = 0, v0[NR_VM], v1[NR_VM];
	void *pages[64], **chunk;

	n = online_nodes(nodes);
	if (n < 2)
		SKIP(return, "needs 2 NUMA nodes, %d online", n);
	ASSERT_NE(NULL, map_arena(self, np, 16, false));
	for (i = 0; i < np; i++)
		pages[i] = r->arena + i * PAGE;
	read_vmstat(v0);
	ASSERT_EQ(0, start(self, 200));
	do {
		/*
		 * A window of 16 pages at a time, the workers' or another:
		 * where each page is, then to the other node.
		 */
		chunk = pages + calls % (np / 16) * 16;
		ASSERT_EQ(0, syscall(SYS_move_pages, 0, 16, chunk, NULL, status, 0));
		for (i = 0; i < 16; i++)
			dest[i] = status[i] == nodes[0] ? nodes[1] : nodes[0];
		ASSERT_LE(0, syscall(SYS_move_pages, 0, 16, chunk, dest, status, MPOL_MF_MOVE)) {
			TH_LOG("move_pages: %s", strerror(errno));
		}
		for (i = 0; i < 16; i++) {
			if (status[i] == dest[i])
				moved++;
			else
				refused++;
		}
		calls++;
		usleep(50000);
		look(self);
		read_vmstat(v1);
	} while (running(self, moved && (v0[PGMIGRATE_SUCCESS] < 0 ||
					 delta(v0, v1, PGMIGRATE_SUCCESS) > 0)));
	stop_and_check(_metadata, self, "move_pages");
	read_vmstat(v1);
	TH_LOG("%ld move_pages() calls: %ld pages moved, %ld not", calls, moved, refused);
	TH_LOG("pgmigrate_success +%ld, pgmigrate_fail +%ld", delta(v0, v1, PGMIGRATE_SUCCESS),
	       delta(v0, v1, PGMIGRATE_FAIL));
	EXPECT_LT(0, moved);
	EXPECT_TRUE(v0[PGMIGRATE_SUCCESS] < 0 || delta(v0, v1, PGMIGRATE_SUCCESS) > 0);
}

/* A page of the compaction case's pool, and its frame. */
struct frame {
	__u64 pfn;
	size_t page;
};

static int by_pfn(const void *a, const void *b)
{
	const struct frame *x = a, *y = b;

	return (x->pfn > y->pfn) - (x->pfn < y->pfn);
}

/*
 * Moves the arena onto the lowest frames of a pool of BALLAST bytes, among
 * those of the node that holds most of the pool, and frees the other pages
 * of the pool whose frame number is even: holes above the arena, in
 * pageblocks that the odd frames, kept, keep from being free as a whole.
 * The number of holes above the arena in its node; -ENOENT if the frames
 * cannot be read, another negative errno if the arena could not be moved.
 */
static int place_arena_low(struct _test_data_mm_events *self)
{
	struct run *r = &self->run;
	size_t n = BALLAST / PAGE, i, k = 0;
	__u64 *e = calloc(n, sizeof(*e));
	struct frame *f = calloc(n, sizeof(*f));
	void **pages = calloc(n, sizeof(*pages));
	int *node = calloc(n, sizeof(*node));
	int count[64] = { 0 }, best = 0, ret = -ENOMEM, holes = 0;
	__u8 *pool, *src, *dst;

	if (!e || !f || !pages || !node)
		goto out;
	pool = mmap(NULL, BALLAST, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pool == MAP_FAILED)
		goto out;
	self->ballast = pool;
	self->ballast_len = BALLAST;
	/* Small pages, to free one at a time (without THP, this fails: no matter). */
	madvise(pool, BALLAST, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++) {
		pool[i * PAGE] = 1;
		pages[i] = pool + i * PAGE;
	}
	ret = -ENOENT;
	if (pread(self->pagemap, e, n * sizeof(*e), (uintptr_t)pool / PAGE * sizeof(*e)) !=
	    (ssize_t)(n * sizeof(*e)))
		goto out;
	for (i = 0; i < n; i++) {
		e[i] &= (1ULL << 55) - 1;
		if (!e[i])
			goto out;
	}
	/* The node of each page; without NUMA (ENOSYS), all on node 0. */
	if (syscall(SYS_move_pages, 0, n, pages, NULL, node, 0))
		memset(node, 0, n * sizeof(*node));
	for (i = 0; i < n; i++)
		if (node[i] >= 0 && node[i] < (int)ARRAY_SIZE(count) &&
		    ++count[node[i]] > count[best])
			best = node[i];
	for (i = 0; i < n; i++) {
		if (node[i] != best)
			continue;
		f[k].pfn = e[i];
		f[k++].page = i;
	}
	ret = -ENOMEM;
	if (k < (size_t)r->np)
		goto out;
	qsort(f, k, sizeof(*f), by_pfn);
	for (i = 0; i < (size_t)r->np; i++) {
		src = pages[f[i].page];
		dst = r->arena + i * PAGE;
		memcpy(src, dst, PAGE);
		if (mremap(src, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst) {
			ret = -errno;
			goto out;
		}
		e[f[i].page] = 0;
	}
	for (i = 0; i < n; i++) {
		if (!e[i] || e[i] % 2)
			continue;
		if (madvise(pages[i], PAGE, MADV_DONTNEED)) {
			ret = -errno;
			goto out;
		}
		holes += node[i] == best;
	}
	ret = holes;
out:
	free(e);
	free(f);
	free(pages);
	free(node);
	return ret;
}

/*
 * Pages migrated by the compaction of every zone, arena pages among them.
 * Compaction moves the movable pages at the bottom of a zone into the free
 * pages of the partly used pageblocks at its top (not into free pageblocks),
 * until its two scanners meet: a page moves only if there are enough such
 * holes above it; the others fail to get one (-ENOMEM), and count in
 * pgmigrate_fail. Where a new allocation lands is not up to the test: the
 * free lists give first the blocks freed last, after a compaction those just
 * under the pages it packed at the top, with no hole above them, and then
 * nothing moves. So compaction packs the zones first, then the arena is
 * moved onto the lowest frames of a pool, whose other even frames are freed
 * as holes above it.
 */
TEST_F_TIMEOUT(mm_events, compaction, 120)
{
	long runs = 0, v0[NR_VM], v1[NR_VM];
	int holes;

	if (access("/proc/sys/vm/compact_memory", W_OK))
		SKIP(return, "no /proc/sys/vm/compact_memory (CONFIG_COMPACTION)");
	if (self->pagemap < 0)
		SKIP(return, "no page frames to place the arena on (/proc/self/pagemap)");
	ASSERT_EQ(0, write_file("/proc/sys/vm/compact_memory", "1"));
	ASSERT_NE(NULL, map_arena(self, 256, 16, false));
	holes = place_arena_low(self);
	if (holes == -ENOENT)
		SKIP(return, "no page frames in /proc/self/pagemap");
	ASSERT_LE(0, holes) {
		TH_LOG("moving the arena onto the lowest frames of a pool: %s",
		       strerror(-holes));
	}
	TH_LOG("%d free frames above the arena's, in its node", holes);
	/* Only what compaction moves while the workers run counts. */
	read_vmstat(v0);
	ASSERT_EQ(0, start(self, 200));
	do {
		ASSERT_EQ(0, write_file("/proc/sys/vm/compact_memory", "1"));
		runs++;
		look(self);
		usleep(20000);
		read_vmstat(v1);
	} while (running(self, v0[PGMIGRATE_SUCCESS] < 0 ? self->pfn_changes > 0 :
			       delta(v0, v1, PGMIGRATE_SUCCESS) > 0));
	stop_and_check(_metadata, self, "compaction");
	read_vmstat(v1);
	TH_LOG("%ld compactions: pgmigrate_success +%ld, pgmigrate_fail +%ld", runs,
	       delta(v0, v1, PGMIGRATE_SUCCESS), delta(v0, v1, PGMIGRATE_FAIL));
	TH_LOG("compact_migrate_scanned +%ld", delta(v0, v1, COMPACT_MIGRATE_SCANNED));
	/*
	 * Pages moved while the vectors ran: the arena's if compaction
	 * reached them, else others (as compaction places them, not the test).
	 */
	EXPECT_LT(0, v0[PGMIGRATE_SUCCESS] < 0 ? self->pfn_changes :
		  delta(v0, v1, PGMIGRATE_SUCCESS));
}

/*
 * KSM merges the pages of the window the workers are not in (they hold the
 * same values), and even pages of the current one between two sweeps; the
 * workers then write to merged pages, which breaks copy-on-write through
 * the pin.
 */
TEST_F_TIMEOUT(mm_events, ksm, 120)
{
	struct run *r = &self->run;
	long scans0, scans = 0, shared = 0, sharing = 0, merging = 0, v;
	int after = 0;

	if (access(KSM "run", W_OK))
		SKIP(return, "no KSM (CONFIG_KSM)");
	ASSERT_NE(NULL, map_arena(self, 32, 16, false));
	if (madvise(r->arena, r->np * PAGE, MADV_MERGEABLE))
		SKIP(return, "MADV_MERGEABLE: %s", strerror(errno));
	ASSERT_EQ(0, set_knob(self, KSM "sleep_millisecs", "0"));
	ASSERT_EQ(0, set_knob(self, KSM "pages_to_scan", "1000"));
	ASSERT_EQ(0, set_knob(self, KSM "run", "1"));
	scans0 = read_long(KSM "full_scans");
	ASSERT_LE(0, scans0);
	ASSERT_EQ(0, start(self, 1000));
	do {
		/*
		 * ksmd in bursts: scanning without sleeping, it takes most of
		 * a vCPU, and the workers wait for the one it runs on.
		 */
		ASSERT_EQ(0, write_file(KSM "run", "1"));
		usleep(100000);
		ASSERT_EQ(0, write_file(KSM "run", "0"));
		usleep(200000);
		look(self);
		scans = read_long(KSM "full_scans") - scans0;
		v = read_long(KSM "pages_shared");
		if (v > shared)
			shared = v;
		v = read_long(KSM "pages_sharing");
		if (v > sharing)
			sharing = v;
		v = read_long("/proc/self/ksm_merging_pages");
		if (v > merging)
			merging = v;
		after = written_after_merge(self);
	} while (running(self, scans >= 2 && merging > 0 &&
			       (self->kpageflags < 0 || after > 0)));
	stop_and_check(_metadata, self, "ksm");
	after = written_after_merge(self);
	TH_LOG("KSM: %ld full scans; at most %ld pages shared, %ld sharing, %ld of ours",
	       scans, shared, sharing, merging);
	TH_LOG("%d arena pages seen merged, %d of them written after", self->ksm_pages, after);
	EXPECT_LE(2, scans);
	EXPECT_LT(0, shared);
	EXPECT_LT(0, merging);
	if (self->kpageflags >= 0) {
		EXPECT_LT(0, self->ksm_pages);
		EXPECT_LT(0, after);
	}
}

/*
 * A swap area on a loop device over a file in /tmp, for the pageout case;
 * the teardown removes it. 0, or a negative errno; @step names the step
 * that failed.
 */
static int setup_swap(struct _test_data_mm_events *self, const char **step)
{
	__u8 hdr[PAGE] = { 0 };
	__u32 v[3] = { 1, SWAP_PAGES - 1, 0 };	/* version, last_page, bad */
	int ctl, fd, n, tries;

	*step = "/dev/loop-control";
	ctl = open("/dev/loop-control", O_RDWR);
	if (ctl < 0)
		return -errno;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -ENXIO;
	snprintf(self->loopdev, sizeof(self->loopdev), "/dev/loop%d", n);
	/* devtmpfs has a node for the device; make one if there is none. */
	if (access(self->loopdev, F_OK))
		mknod(self->loopdev, S_IFBLK | 0600, makedev(7, n));

	*step = "swap file";
	fd = open(SWAP_FILE, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	self->swap_file = true;
	/* union swap_header: info.version, .last_page, .nr_badpages; magic. */
	memcpy(hdr + 1024, v, sizeof(v));
	memcpy(hdr + PAGE - 10, "SWAPSPACE2", 10);
	if (pwrite(fd, hdr, PAGE, 0) != PAGE || ftruncate(fd, SWAP_PAGES * PAGE)) {
		close(fd);
		return -EIO;
	}
	*step = "LOOP_SET_FD";
	self->loop = open(self->loopdev, O_RDWR);
	if (self->loop < 0 || ioctl(self->loop, LOOP_SET_FD, fd)) {
		n = errno;
		close(fd);
		return -n;
	}
	close(fd);
	/* The new loop device may not take I/O yet: EAGAIN, for a while. */
	*step = "swapon";
	for (tries = 0; swapon(self->loopdev, 0); tries++) {
		if (errno != EAGAIN || tries == 100)
			return -errno;
		usleep(50000);
	}
	self->swap_on = true;
	return 0;
}

/*
 * MADV_PAGEOUT swaps the arena out; the workers' pins swap it back in. A
 * page swapped out stays in the swap cache, from which the next fault takes
 * it back without I/O: the main thread reads a few pages (which maps them
 * clean, still in the swap cache), and pages them out again, which frees
 * the clean pages at once. Their next access, by the workers or by the main
 * thread, reads them from the swap device.
 */
TEST_F_TIMEOUT(mm_events, pageout, 120)
{
	struct run *r = &self->run;
	long runs = 0, v0[NR_VM], v1[NR_VM], out = 0, in = 0;
	bool vm;
	const char *step;
	int err, i;

	if (access("/proc/swaps", R_OK))
		SKIP(return, "no swap support (CONFIG_SWAP)");
	read_vmstat(v0);
	vm = v0[PSWPOUT] >= 0;
	if (!vm && self->pagemap < 0)
		SKIP(return, "neither pswpout nor page table entries to observe");
	err = setup_swap(self, &step);
	if (err == -ENOENT || err == -ENXIO)
		SKIP(return, "no loop device: %s", strerror(-err));
	ASSERT_EQ(0, err) {
		TH_LOG("setting up swap on %s: %s: %s", self->loopdev, step, strerror(-err));
	}
	ASSERT_NE(NULL, map_arena(self, 128, 32, false));
	read_vmstat(v0);
	ASSERT_EQ(0, start(self, 200));
	do {
		if (madvise(r->arena, r->np * PAGE, MADV_PAGEOUT)) {
			err = errno;
			break;
		}
		usleep(20000);
		look(self);
		/* A few pages at a time: each read from the swap device is slow. */
		for (i = 0; i < 8; i++)
			load(slot(r, (runs * 8 + i) % r->np, 0, CAS_OFF));
		if (madvise(r->arena, r->np * PAGE, MADV_PAGEOUT)) {
			err = errno;
			break;
		}
		runs++;
		usleep(150000);
		look(self);
		read_vmstat(v1);
		/* zswap, when there is one, takes pages before the swap device. */
		out = delta(v0, v1, PSWPOUT) + (v0[ZSWPOUT] < 0 ? 0 : delta(v0, v1, ZSWPOUT));
		in = delta(v0, v1, PSWPIN) + (v0[ZSWPIN] < 0 ? 0 : delta(v0, v1, ZSWPIN));
	} while (running(self, (!vm || (out > 0 && in > 0)) &&
			       (self->pagemap < 0 || self->swapin_seen > 0)));
	if (err)
		SKIP(return, "MADV_PAGEOUT: %s", strerror(err));
	stop_and_check(_metadata, self, "pageout");
	TH_LOG("%ld MADV_PAGEOUT rounds: pswpout +%ld, pswpin +%ld", runs, out, in);
	TH_LOG("arena pages seen swapped out %ld times, back in %ld times",
	       self->swapped_seen, self->swapin_seen);
	EXPECT_TRUE(!vm || (out > 0 && in > 0));
	EXPECT_TRUE(self->pagemap < 0 || (self->swapped_seen > 0 && self->swapin_seen > 0));
}

/*
 * Two 2 MiB THPs under the workers, whose windows alternate between them:
 * their PMDs are split by mprotect() of one page (which splits the VMA; the
 * protection keeps it writable), the folios by debugfs split_huge_pages, and
 * MADV_COLLAPSE rebuilds them. Collapse fails (EAGAIN) while a page of the
 * range is pinned, which is nearly always the case for the THP the workers
 * are in, but it succeeds on the other one, which they come back to.
 */
TEST_F_TIMEOUT(mm_events, thp, 120)
{
	struct run *r = &self->run;
	long v0[NR_VM], v1[NR_VM], kb, now, collapsed = 0, busy = 0, splits = 0, mprots = 0;
	long pmd_splits_seen = 0, pmd_maps_seen = 0, h;
	int last_errno = 0;
	bool can_collapse = true, can_split = !access(SPLIT, W_OK);
	char cmd[128], mode[64];
	__u8 *pg;
	int step = 0;

	if (read_str(THP, mode, sizeof(mode)))
		SKIP(return, "no THP (CONFIG_TRANSPARENT_HUGEPAGE)");
	if (strstr(mode, "[never]"))
		ASSERT_EQ(0, set_knob(self, THP, "madvise"));
	ASSERT_NE(NULL, map_arena(self, 2 * HPAGE / PAGE, 32, true));
	kb = anon_huge_kb(r->arena);
	ASSERT_LE((long)(2 * HPAGE / 1024), kb) {
		TH_LOG("the arena is not a THP: AnonHugePages %ld kB", kb);
	}
	TH_LOG("AnonHugePages of the arena before: %ld kB", kb);
	read_vmstat(v0);
	ASSERT_EQ(0, start(self, 200));
	snprintf(cmd, sizeof(cmd), "%d,%#lx,%#lx", getpid(), (unsigned long)r->arena,
		 (unsigned long)r->arena + 2 * HPAGE);
	do {
		switch (step++ % 3) {
		case 0:
			for (h = 0; h < 2; h++) {
				pg = r->arena + h * HPAGE + PAGE * (1 + step % (HPAGE / PAGE - 2));
				ASSERT_EQ(0, mprotect(pg, PAGE, PROT_RW | PROT_EXEC));
				ASSERT_EQ(0, mprotect(pg, PAGE, PROT_RW));
				mprots++;
			}
			break;
		case 1:
			if (can_split && !write_file(SPLIT, cmd))
				splits++;
			break;
		default:
			for (h = 0; h < 2 && can_collapse; h++) {
				if (!madvise(r->arena + h * HPAGE, HPAGE, MADV_COLLAPSE)) {
					collapsed++;
				} else if (errno == EINVAL) {
					can_collapse = false;
				} else {
					busy++;
					last_errno = errno;
				}
			}
		}
		look(self);
		/* The arena mapped by PTEs after being mapped by a PMD, or back. */
		now = anon_huge_kb(r->arena);
		if (now < kb)
			pmd_splits_seen++;
		if (now > kb)
			pmd_maps_seen++;
		kb = now;
		usleep(100000);
		read_vmstat(v1);
	} while (running(self, pmd_splits_seen > 0 && (!can_collapse || pmd_maps_seen > 0)));
	stop_and_check(_metadata, self, "thp");
	read_vmstat(v1);
	TH_LOG("%ld mprotect splits, %ld debugfs splits; PMD seen split %ld times, back %ld",
	       mprots, splits, pmd_splits_seen, pmd_maps_seen);
	TH_LOG("%ld collapses, %ld failed (last: %s); at most %d arena pages seen in a THP",
	       collapsed, busy, strerror(last_errno), self->thp_seen);
	TH_LOG("thp_split_pmd +%ld, thp_split_page +%ld, thp_collapse_alloc +%ld",
	       delta(v0, v1, THP_SPLIT_PMD), delta(v0, v1, THP_SPLIT_PAGE),
	       delta(v0, v1, THP_COLLAPSE_ALLOC));
	EXPECT_LT(0, pmd_splits_seen);
	EXPECT_TRUE(v0[THP_SPLIT_PMD] < 0 || delta(v0, v1, THP_SPLIT_PMD) > 0);
	if (can_collapse) {
		EXPECT_LT(0, collapsed);
		EXPECT_LT(0, pmd_maps_seen);
		EXPECT_TRUE(v0[THP_COLLAPSE_ALLOC] < 0 || delta(v0, v1, THP_COLLAPSE_ALLOC) > 0);
	} else {
		TH_LOG("MADV_COLLAPSE is not supported: no collapse");
	}
}

/* A field of /proc/self/task/@tid/sched, or -1. */
static long sched_field(pid_t tid, const char *name)
{
	char path[64], line[256], *s;
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/sched", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		s = line + strspn(line, " ");
		if (!strncmp(s, name, strlen(name)) && strchr(s, ':')) {
			val = strtol(strchr(s, ':') + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

/*
 * NUMA balancing makes the arena's entries PROT_NONE; the workers' accesses
 * and pins take NUMA hinting faults, which may migrate the pages. Seen in
 * /proc/vmstat, and in the scans of the mm and the workers' NUMA faults
 * that /proc/self/task/N/sched shows.
 */
TEST_F_TIMEOUT(mm_events, numa_balancing, 120)
{
	struct run *r = &self->run;
	long v0[NR_VM], v1[NR_VM], seq0, seq = 0, faults = 0, sum;
	pid_t me = syscall(SYS_gettid);
	int nodes[2], n, i;
	bool vm;

	n = online_nodes(nodes);
	if (n < 2)
		SKIP(return, "needs 2 NUMA nodes, %d online", n);
	if (access("/proc/sys/kernel/numa_balancing", W_OK))
		SKIP(return, "no NUMA balancing (CONFIG_NUMA_BALANCING)");
	read_vmstat(v0);
	vm = v0[NUMA_HINT_FAULTS] >= 0;
	seq0 = sched_field(me, "mm->numa_scan_seq");
	if (!vm && seq0 < 0)
		SKIP(return, "neither numa_hint_faults nor mm->numa_scan_seq to observe");
	ASSERT_EQ(0, set_knob(self, "/proc/sys/kernel/numa_balancing", "1"));
	/* Scan sooner and more often than the defaults, if debugfs has them. */
	set_knob(self, NUMA_KNOBS "scan_delay_ms", "0");
	set_knob(self, NUMA_KNOBS "scan_period_min_ms", "100");
	ASSERT_NE(NULL, map_arena(self, 128, 32, false));
	read_vmstat(v0);
	ASSERT_EQ(0, start(self, 200));
	do {
		usleep(100000);
		look(self);
		read_vmstat(v1);
		if (seq0 >= 0)
			seq = sched_field(me, "mm->numa_scan_seq") - seq0;
		for (sum = 0, i = 0; i < r->started; i++)
			sum += sched_field(r->w_[i].tid, "total_numa_faults");
		if (sum > faults)
			faults = sum;
	} while (running(self, (!vm || (delta(v0, v1, NUMA_PTE_UPDATES) > 0 &&
					delta(v0, v1, NUMA_HINT_FAULTS) > 0)) &&
			       (seq0 < 0 || (seq > 0 && faults > 0))));
	stop_and_check(_metadata, self, "numa_balancing");
	read_vmstat(v1);
	TH_LOG("numa_pte_updates +%ld, numa_hint_faults +%ld, numa_pages_migrated +%ld",
	       delta(v0, v1, NUMA_PTE_UPDATES), delta(v0, v1, NUMA_HINT_FAULTS),
	       delta(v0, v1, NUMA_PAGES_MIGRATED));
	TH_LOG("%ld NUMA scans of the mm; at most %ld NUMA faults of the workers", seq, faults);
	EXPECT_TRUE(!vm || delta(v0, v1, NUMA_PTE_UPDATES) > 0);
	EXPECT_TRUE(!vm || delta(v0, v1, NUMA_HINT_FAULTS) > 0);
	EXPECT_TRUE(seq0 < 0 || (seq > 0 && faults > 0));
}

TEST_HARNESS_MAIN
