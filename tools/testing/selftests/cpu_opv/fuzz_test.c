// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv() fuzzer, checked against a reference model of cpu_opv(2).
 *
 * -m model (default): random vectors, valid and invalid, on an arena of
 * every kind of memory cpu_opv accepts (private and shared anonymous
 * memory, a memfd, a private mapping of a tmpfs file never written through
 * it, the zero page, a transparent huge page, a hugetlb page if there is
 * one), each region followed by a guard page that is unmapped, read-only or
 * PROT_NONE. A C model of the man page predicts each call on a shadow copy
 * of the arena: the return value, the errno (the set of errnos the man page
 * allows), and the bytes of the arena afterwards. After each call, every
 * byte of the pages its operands touch (the only pages the kernel maps for
 * it) is compared; every byte of the arena after every EPOCH vectors, and
 * with -F after each call (which costs as much as the call itself under
 * emulation). A difference stops the run with the vector, what was
 * expected and what happened, and a command line that replays it. Vector
 * i depends only on the seed and i; the arena is reset every EPOCH
 * vectors, so "-i i" replays vector i on its own (with the vectors of its
 * epoch that precede it).
 *
 * -m churn: the same vectors while other threads change the address space
 * under them: mprotect(), munmap() and mmap() at the same address,
 * MADV_DONTNEED, fork(), and, as root, CPU hotplug. Every result must be one
 * the man page lists, the sentinel pages that no vector targets must not
 * change, and no page may stay pinned.
 *
 * -m inject (root): the model mode with failures injected into cpu_opv()
 * by failslab, fail_page_alloc (order 0, sleeping and highmem allocations
 * included) and fail_usercopy, set up through debugfs for this thread
 * only, and only for the time of each call (/proc/thread-self/make-it-fail),
 * while the pages of the operands of some vectors are dropped first
 * (MADV_DONTNEED, or mapped anew) so that pinning faults them in and
 * allocates. A call returns what the model predicts, or is refused with
 * the errno of an injected failure (ENOMEM for an allocation, EFAULT for
 * the copy of the vector; the "times" attribute of debugfs must show one
 * since the previous refusal) and every byte of the arena unchanged; a
 * refused vector is then called again without injection, which must
 * return what the model predicts. The failures injected per attribute are
 * printed: none injected into cpu_opv() fails the run. The knobs are
 * restored at the end, also on a fatal signal. "-i" replays the vectors
 * and the page drops, not the (random) injections.
 *
 * -m selfcheck: hand-written vectors with known results, through the model
 * alone; needs no cpu_opv().
 *
 * -m stub: the model mode against a stand-in for the kernel that applies
 * the model's own predictions: it checks the harness and times it where
 * cpu_opv() does not exist.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"

#include "cpu_opv.h"

#define VEC_OPS		(CPU_OP_VEC_LEN_MAX + 1)	/* one over the limit */
#define EPOCH		256	/* vectors between two resets of the arena */
#define POOL		6	/* addresses per vector that operands share */
#define HUGE_SIZE	(2UL << 20)
#define WINDOW		3	/* pages of a huge page in the arena */
#define MAX_DIFFS	8	/* differing bytes shown */
#define MAX_REPORTS	4	/* mismatches shown in full */
#define HOTPLUG_MAX	40	/* CPU offline/online cycles in a churn run */
#define TOP_PAGE	0xfffffffffffff000ULL

/* Sets of errnos. */
#define M_EINVAL	0x1
#define M_EFAULT	0x2
#define M_EAGAIN	0x4

enum kind {
	K_HOLE,		/* unmapped */
	K_NONE,		/* PROT_NONE */
	K_RO,		/* private anonymous, PROT_READ */
	K_ANON,		/* private anonymous */
	K_SHM,		/* shared anonymous */
	K_MEMFD,	/* memfd, MAP_SHARED */
	K_FILEP,	/* tmpfs file, MAP_PRIVATE, not written through it */
	K_ZERO,		/* private anonymous, not written: the zero page */
	K_SENT,		/* sentinel: never an operand */
	K_THP,		/* transparent huge page */
	K_HUGE,		/* hugetlb page */
};

static const char * const kind_name[] = {
	"hole", "prot_none", "read-only", "anon", "shared-anon", "memfd",
	"private-file", "zero-page", "sentinel", "thp", "hugetlb",
};

/*
 * The arena's pages. A region is a run of data pages, ending at a guard
 * page: an operand starts in a region or its guard and ends before the
 * next sentinel. Some regions mix kinds, so that an operand spans two
 * mappings.
 */
static const enum kind layout[] = {
	K_HOLE,
	K_ANON, K_ANON, K_RO, K_SENT,
	K_SHM, K_SHM, K_NONE, K_SENT,
	K_MEMFD, K_MEMFD, K_HOLE, K_SENT,
	K_FILEP, K_FILEP, K_RO, K_SENT,
	K_ZERO, K_ZERO, K_NONE, K_SENT,
	K_ANON, K_MEMFD, K_FILEP, K_HOLE, K_SENT,
	K_SHM, K_ZERO, K_RO, K_SENT,
};

#define NR_LAYOUT	ARRAY_SIZE(layout)

/* The reservation, and a window into each huge page. */
struct area {
	const char *name;
	uint8_t *start;
	size_t npages;
	enum kind kind[NR_LAYOUT];
	int fpage[NR_LAYOUT];	/* page of the file, for memfd and file pages */
	uint8_t *mirror;	/* the model's copy */
	uint8_t *taint;		/* 1: unspecified (after an overlapping copy) */
};

/* Where operands may lie: a region and its guard page. */
struct span {
	int area;
	size_t off, len;
	size_t data;	/* bytes before the guard page */
};

struct vec {
	struct cpu_op ops[VEC_OPS];
	int cnt, cpu, flags;
	enum { VP_BUF, VP_EDGE, VP_WILD } where;
	int readable;		/* VP_EDGE: operations before a PROT_NONE page */
	uint64_t wild;		/* VP_WILD: the pointer */
};

/* What the model predicts for a call. */
struct expect {
	enum {
		X_RET,		/* a query: ret */
		X_INVALID,	/* refused before any operand is touched */
		X_FAULT,	/* an operand cannot be accessed */
		X_RUNS,		/* runs: the interpreter has the result */
	} kind;
	long ret;
	unsigned int errs;	/* X_INVALID, X_FAULT: M_* */
};

struct rng {
	uint64_t s;
};

enum { STREAM_VEC = 1, STREAM_EPOCH, STREAM_CHURN, STREAM_DROP };

static size_t page;
static unsigned long long opt_seed = 1;
static long opt_n = -1;
static long opt_index = -1;
static int opt_time = 15;
static int opt_verbose;
static bool opt_keep;
static bool opt_no_top;
static bool opt_no_hotplug;
static bool opt_full;
static const char *opt_mode = "model";

static struct area areas[3];
static int nareas;
static struct span spans[32];
static int nspans;
static int memfd_fd = -1, filep_fd = -1;
static uint8_t *thp_base, *thp_ref, *huge_base, *huge_ref;
static bool thp_used, have_madvise;
static uint8_t *vecpage;	/* a page of vectors, then a PROT_NONE page */
static struct cpu_op vbuf[VEC_OPS];

static cpu_set_t cpumask;
static int nr_cpus, allowed[CPU_SETSIZE], nallowed, excluded = -1;

static struct {
	uint64_t addr;
	uint32_t len;
} taints[2 * VEC_OPS];
static int ntaints;

static struct {
	long vectors, ran, stopped[CPU_OP_VEC_LEN_MAX + 1], query;
	long einval, efault, eagain, either, undecided, tainted;
	long mismatches;
} st;

/* Random numbers: splitmix64, one stream per (seed, purpose, index). */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_init(struct rng *r, uint64_t stream, uint64_t idx)
{
	r->s = mix64(mix64(mix64(opt_seed ^ 0x243f6a8885a308d3ULL) + stream) + idx);
}

static uint64_t rnd(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mix64(r->s);
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

static int errno_bit(int err)
{
	switch (err) {
	case EINVAL:
		return M_EINVAL;
	case EFAULT:
		return M_EFAULT;
	case EAGAIN:
		return M_EAGAIN;
	}
	return 0;
}

static const char *errs_str(unsigned int errs)
{
	static const char * const s[] = {
		"none", "EINVAL", "EFAULT", "EINVAL|EFAULT", "EAGAIN",
		"EINVAL|EAGAIN", "EFAULT|EAGAIN", "EINVAL|EFAULT|EAGAIN",
	};

	return s[errs & 7];
}

static const char *err_name(int err)
{
	switch (err) {
	case 0:
		return "0";
	case EINVAL:
		return "EINVAL";
	case EFAULT:
		return "EFAULT";
	case EAGAIN:
		return "EAGAIN";
	case EINTR:
		return "EINTR";
	case ENOMEM:
		return "ENOMEM";
	case EOVERFLOW:
		return "EOVERFLOW";
	}
	return "other";
}

/* The area and offset of @addr, or -1. */
static int find_area(uint64_t addr, size_t *off)
{
	int i;

	*off = 0;
	for (i = 0; i < nareas; i++) {
		uint64_t start = (uintptr_t)areas[i].start;

		if (addr >= start && addr - start < areas[i].npages * page) {
			*off = addr - start;
			return i;
		}
	}
	return -1;
}

/* 0: no access, 1: read, 2: read and write. */
static int kind_access(enum kind k)
{
	switch (k) {
	case K_HOLE:
	case K_NONE:
		return 0;
	case K_RO:
		return 1;
	default:
		return 2;
	}
}

static bool is_data(enum kind k)
{
	return k != K_HOLE && k != K_NONE && k != K_RO && k != K_SENT;
}

/* Whether the @len bytes at @addr can be accessed, for writing if @write. */
static bool accessible(uint64_t addr, uint64_t len, bool write)
{
	uint64_t p, last;
	size_t off;
	int a, acc;

	if (!len)
		return true;
	if (addr > UINT64_MAX - len)
		return false;	/* wraps around */
	last = (addr + len - 1) & ~(uint64_t)(page - 1);
	for (p = addr & ~(uint64_t)(page - 1); ; p += page) {
		a = find_area(p, &off);
		if (a < 0)
			return false;
		acc = kind_access(areas[a].kind[off / page]);
		if (!acc || (write && acc < 2))
			return false;
		if (p == last)
			return true;
	}
}

/* The model's copy of the byte at @addr, which is in the arena. */
static uint8_t *mir(uint64_t addr)
{
	size_t off;
	int a = find_area(addr, &off);

	if (a < 0)
		ksft_exit_fail_msg("model: %#llx is not in the arena\n",
				   (unsigned long long)addr);
	return areas[a].mirror + off;
}

/* Whether the byte at @addr is unspecified, in the model. */
static uint8_t *tnt(uint64_t addr)
{
	size_t off;
	int a = find_area(addr, &off);

	if (a < 0)
		ksft_exit_fail_msg("model: %#llx is not in the arena\n",
				   (unsigned long long)addr);
	return areas[a].taint + off;
}

static uint8_t *real(uint64_t addr)
{
	return (uint8_t *)(uintptr_t)addr;
}

static void fmt_addr(char *buf, size_t n, uint64_t addr)
{
	size_t off;
	int a = find_area(addr, &off);

	if (a < 0)
		snprintf(buf, n, "%#llx (outside)", (unsigned long long)addr);
	else
		snprintf(buf, n, "%s+%#zx (page %zu, %s)", areas[a].name, off,
			 off / page, kind_name[areas[a].kind[off / page]]);
}

/* Arena setup. */

static int map_pages(size_t first, size_t n)
{
	struct area *ar = &areas[0];
	enum kind k = ar->kind[first];
	uint8_t *addr = ar->start + first * page;
	int prot = PROT_READ | PROT_WRITE, flags = MAP_FIXED, fd = -1;
	off_t off = 0;
	void *p;

	switch (k) {
	case K_HOLE:
		return munmap(addr, n * page);
	case K_NONE:
		prot = PROT_NONE;
		flags |= MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	case K_SHM:
		flags |= MAP_SHARED | MAP_ANONYMOUS;
		break;
	case K_MEMFD:
		flags |= MAP_SHARED;
		fd = memfd_fd;
		off = (off_t)ar->fpage[first] * page;
		break;
	case K_FILEP:
		flags |= MAP_PRIVATE;
		fd = filep_fd;
		off = (off_t)ar->fpage[first] * page;
		break;
	default:
		flags |= MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	}
	p = mmap(addr, n * page, prot, flags, fd, off);
	if (p != addr)
		return -1;
	if (k == K_RO)
		return mprotect(addr, n * page, PROT_READ);
	return 0;
}

/* A 2 MiB-aligned huge page, all of it filled; the arena sees a window. */
static uint8_t *map_huge(bool hugetlb, uint8_t **ref)
{
	uint8_t *p, *al;
	size_t i;

	if (hugetlb) {
		p = mmap(NULL, HUGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		al = p;
	} else {
		p = mmap(NULL, 2 * HUGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		al = (uint8_t *)(((uintptr_t)p + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
		if (al != p)
			munmap(p, al - p);
		munmap(al + HUGE_SIZE, p + HUGE_SIZE - al);
		thp_used = !madvise(al, HUGE_SIZE, MADV_HUGEPAGE);
	}
	*ref = malloc(HUGE_SIZE);
	if (!*ref)
		return NULL;
	for (i = 0; i < HUGE_SIZE; i++)
		(*ref)[i] = (uint8_t)(i * 13 + (i >> 12) + hugetlb);
	memcpy(al, *ref, HUGE_SIZE);
	return al;
}

static void add_window(const char *name, uint8_t *base, enum kind k)
{
	struct area *ar = &areas[nareas];
	size_t i;

	ar->name = name;
	ar->start = base + HUGE_SIZE / 2 - page;
	ar->npages = WINDOW;
	for (i = 0; i < WINDOW; i++)
		ar->kind[i] = k;
	spans[nspans++] = (struct span){ nareas, 0, WINDOW * page, WINDOW * page };
	nareas++;
}

static bool arena_setup(void)
{
	struct area *ar = &areas[0];
	int nmem = 0, nfile = 0;
	size_t i, j;

	page = sysconf(_SC_PAGESIZE);
	memfd_fd = memfd_create("cpu_opv-fuzz-memfd", 0);
	filep_fd = memfd_create("cpu_opv-fuzz-file", 0);
	if (memfd_fd < 0 || filep_fd < 0)
		return false;
	ar->name = "arena";
	ar->npages = NR_LAYOUT;
	for (i = 0; i < NR_LAYOUT; i++) {
		ar->kind[i] = layout[i];
		if (layout[i] == K_MEMFD)
			ar->fpage[i] = nmem++;
		if (layout[i] == K_FILEP)
			ar->fpage[i] = nfile++;
	}
	if (ftruncate(memfd_fd, nmem * page) || ftruncate(filep_fd, nfile * page))
		return false;
	ar->start = mmap(NULL, NR_LAYOUT * page, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ar->start == MAP_FAILED)
		return false;
	for (i = 0; i < NR_LAYOUT; i = j) {
		for (j = i; j < NR_LAYOUT && layout[j] == layout[i]; j++)
			;
		if (map_pages(i, j - i))
			return false;
	}
	/* Regions: data pages and the guard after them. */
	for (i = 0; i < NR_LAYOUT; i = j) {
		if (!is_data(layout[i])) {
			j = i + 1;
			continue;
		}
		for (j = i; j < NR_LAYOUT && is_data(layout[j]); j++)
			;
		spans[nspans] = (struct span){ 0, i * page, (j - i) * page,
					       (j - i) * page };
		if (j < NR_LAYOUT && layout[j] != K_SENT)
			spans[nspans].len += page;
		nspans++;
	}
	nareas = 1;
	thp_base = map_huge(false, &thp_ref);
	if (thp_base)
		add_window("thp", thp_base, K_THP);
	huge_base = map_huge(true, &huge_ref);
	if (huge_base)
		add_window("hugetlb", huge_base, K_HUGE);
	for (i = 0; i < (size_t)nareas; i++) {
		areas[i].mirror = calloc(areas[i].npages, page);
		areas[i].taint = calloc(areas[i].npages, page);
		if (!areas[i].mirror || !areas[i].taint)
			return false;
	}
	vecpage = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vecpage == MAP_FAILED || mprotect(vecpage + page, page, PROT_NONE))
		return false;
	/* Without CONFIG_ADVISE_SYSCALLS, pages are dropped by mmap(). */
	have_madvise = !madvise(vecpage, page, MADV_DONTNEED);
	return true;
}

/* Whether the parts of the huge pages outside their windows are intact. */
static bool huge_outside_intact(uint64_t *where)
{
	uint8_t *bases[2] = { thp_base, huge_base };
	uint8_t *refs[2] = { thp_ref, huge_ref };
	size_t w = HUGE_SIZE / 2 - page, i;
	int k;

	for (k = 0; k < 2; k++) {
		if (!bases[k])
			continue;
		if (!memcmp(bases[k], refs[k], w) &&
		    !memcmp(bases[k] + w + WINDOW * page, refs[k] + w + WINDOW * page,
			    HUGE_SIZE - w - WINDOW * page))
			continue;
		for (i = 0; i < HUGE_SIZE; i++) {
			if (i >= w && i < w + WINDOW * page)
				continue;
			if (bases[k][i] != refs[k][i]) {
				*where = (uintptr_t)bases[k] + i;
				return false;
			}
		}
	}
	return true;
}

/* Contents with repeated blocks, so that compares are sometimes equal. */
static void gen_content(struct rng *r, uint8_t *buf, uint8_t pat[4][64])
{
	size_t o, k;
	uint64_t w;

	for (o = 0; o < page; o += 64) {
		unsigned int u = below(r, 100);

		if (u < 45) {
			memcpy(buf + o, pat[below(r, 4)], 64);
		} else if (u < 55) {
			memset(buf + o, 0, 64);
		} else if (u < 58) {
			memset(buf + o, 0xff, 64);
		} else {
			for (k = 0; k < 64; k += 8) {
				w = rnd(r);
				memcpy(buf + o + k, &w, 8);
			}
		}
	}
}

/*
 * Drops what page @i of the reservation has, so that it reads as the zero
 * page or the page cache again: MADV_DONTNEED, or a new mapping where there
 * is no madvise() (CONFIG_ADVISE_SYSCALLS=n).
 */
static int drop_page(size_t i)
{
	if (have_madvise)
		return madvise(areas[0].start + i * page, page, MADV_DONTNEED);
	return map_pages(i, 1);
}

/*
 * Resets the arena to the contents of @epoch: writes every page, drops the
 * zero pages and the copies of the file pages, and rewrites the file under
 * the private mapping. The model's copy is what was written.
 */
static bool epoch_init(uint64_t epoch)
{
	uint8_t pat[4][64];
	struct rng r;
	size_t i, k;
	int a;

	rng_init(&r, STREAM_EPOCH, epoch);
	for (k = 0; k < 4; k++)
		for (i = 0; i < 64; i++)
			pat[k][i] = k == 3 ? (uint8_t)i : (uint8_t)rnd(&r);
	for (a = 0; a < nareas; a++) {
		struct area *ar = &areas[a];

		for (i = 0; i < ar->npages; i++) {
			uint8_t *p = ar->start + i * page;
			uint8_t *m = ar->mirror + i * page;

			switch (ar->kind[i]) {
			case K_HOLE:
			case K_NONE:
				break;
			case K_ZERO:
				memset(m, 0, page);
				if (drop_page(i))
					return false;
				break;
			case K_FILEP:
				gen_content(&r, m, pat);
				if (pwrite(filep_fd, m, page, (off_t)ar->fpage[i] * page) !=
				    (ssize_t)page || drop_page(i))
					return false;
				break;
			case K_RO:
				gen_content(&r, m, pat);
				if (mprotect(p, page, PROT_READ | PROT_WRITE))
					return false;
				memcpy(p, m, page);
				if (mprotect(p, page, PROT_READ))
					return false;
				break;
			default:
				gen_content(&r, m, pat);
				memcpy(p, m, page);
				break;
			}
		}
	}
	return true;
}

/* Vector generation. */

struct place {
	uint64_t addr;
	int span;	/* -1: a wild pointer */
};

static const uint64_t wild_ptrs[] = {
	0, 8, 0xff8,			/* the NULL page */
	0x7ffffffff000ULL,		/* TASK_SIZE_MAX, above user space */
	0x800000000000ULL,		/* non-canonical (4-level paging) */
	0x8000000000000000ULL,		/* non-canonical */
	0xffff800000000000ULL,		/* kernel */
	0xffff888000000000ULL,		/* the direct map */
	0xffffffff81000000ULL,		/* kernel text */
	0xffffffffff600000ULL,		/* vsyscall */
	TOP_PAGE,			/* the last page of the address space */
	0xfffffffffffffff0ULL,		/* (void *)-16 */
	0xfffffffffffffff8ULL,
	0xffffffffffffffffULL,
};

static uint64_t span_start(const struct span *s)
{
	return (uintptr_t)areas[s->area].start + s->off;
}

static struct place pick_place(struct rng *r)
{
	const struct span *s;
	struct place p;
	int64_t off;

	p.span = below(r, nspans);
	s = &spans[p.span];
	switch (below(r, 16)) {
	case 0:
		/* Anywhere, the guard page included. */
		off = below(r, s->len);
		break;
	case 1:
	case 2:
	case 3:
	case 4:
		/* Around a page boundary. */
		off = below(r, s->data / page + 1) * page + below(r, 33) - 16;
		break;
	case 5:
	case 6:
		off = below(r, s->data / page) * page + below(r, 8) * 8;
		break;
	default:
		off = below(r, s->data);
		break;
	}
	if (off < 0)
		off = 0;
	if (off >= (int64_t)s->len)
		off = s->len - 1;
	p.addr = span_start(s) + off;
	return p;
}

static struct place pick_wild(struct rng *r)
{
	struct place p = { wild_ptrs[below(r, ARRAY_SIZE(wild_ptrs))], -1 };

	if (chance(r, 30))
		p.addr += below(r, 64);
	if (opt_no_top && p.addr >= TOP_PAGE)
		p.addr = 0xffff800000000000ULL;
	return p;
}

static struct place any_place(struct rng *r, const struct place *pool)
{
	unsigned int u = below(r, 100);

	if (u < 60)
		return pool[below(r, POOL)];
	if (u < 97)
		return pick_place(r);
	return pick_wild(r);
}

/* The address of @len bytes at @p, moved back to end inside its region. */
static uint64_t fit(struct place p, uint64_t len)
{
	const struct span *s;
	uint64_t end;

	if (p.span < 0)
		return p.addr;
	s = &spans[p.span];
	end = span_start(s) + s->len;
	if (len > CPU_OP_DATA_LEN_MAX)
		len = CPU_OP_DATA_LEN_MAX;
	return p.addr + len > end ? end - len : p.addr;
}

static uint32_t data_len(struct rng *r, bool big)
{
	static const uint32_t over[] = {
		4097, 4100, 8192, 65536, 0x80000000U, 0xffffffffU,
	};
	unsigned int u = below(r, 100);

	if (!big) {
		if (u < 5)
			return 0;
		if (u < 80)
			return 1 + below(r, 8);
		if (u < 97)
			return 9 + below(r, 24);
		return 33 + below(r, 96);
	}
	if (u < 3)
		return 0;
	if (u < 25)
		return 1 + below(r, 8);
	if (u < 40)
		return 9 + below(r, 56);
	if (u < 84)
		return 65 + below(r, 4032);
	if (u < 96)
		return 4095 + below(r, 2);
	return over[below(r, ARRAY_SIZE(over))];
}

static uint32_t add_len(struct rng *r)
{
	static const uint32_t bad[] = { 0, 3, 5, 6, 7, 9, 16, 4096, 0xffffffffU };

	if (chance(r, 96))
		return 1U << below(r, 4);
	return bad[below(r, ARRAY_SIZE(bad))];
}

static int64_t add_count(struct rng *r)
{
	static const int64_t special[] = {
		0, 1, -1, 2, -2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000,
		0xffff, 0x10000, 0x10001, 0x7fffffff, 0x80000000LL,
		0xffffffffLL, 0x100000000LL, INT64_MAX, INT64_MIN,
	};

	switch (below(r, 3)) {
	case 0:
		return special[below(r, ARRAY_SIZE(special))];
	case 1:
		return (int64_t)below(r, 17) - 8;
	default:
		return (int64_t)rnd(r);
	}
}

static uint8_t ef_byte(struct rng *r)
{
	static const uint8_t bad[] = { 2, 3, 0x80, 0xff };
	unsigned int u = below(r, 1000);

	if (u < 700)
		return 0;
	if (u < 995)
		return 1;
	return bad[below(r, ARRAY_SIZE(bad))];
}

static int32_t op_code(struct rng *r)
{
	static const int32_t bad[] = { -1, 6, 7, 0x100, INT32_MAX, INT32_MIN };
	unsigned int u = below(r, 100);

	if (u < 22)
		return CPU_COMPARE_EQ_OP;
	if (u < 35)
		return CPU_COMPARE_NE_OP;
	if (u < 55)
		return CPU_MEMCPY_OP;
	if (u < 65)
		return CPU_MEMCPY_RELEASE_OP;
	if (u < 85)
		return CPU_ADD_OP;
	if (u < 99)
		return CPU_ADD_RELEASE_OP;
	return bad[below(r, ARRAY_SIZE(bad))];
}

static bool is_compare(int32_t op)
{
	return op == CPU_COMPARE_EQ_OP || op == CPU_COMPARE_NE_OP;
}

static bool is_memcpy(int32_t op)
{
	return op == CPU_MEMCPY_OP || op == CPU_MEMCPY_RELEASE_OP;
}

static bool is_add(int32_t op)
{
	return op == CPU_ADD_OP || op == CPU_ADD_RELEASE_OP;
}

static void gen_op(struct rng *r, struct vec *v, int i, const struct place *pool,
		   bool big)
{
	struct cpu_op *op = &v->ops[i];
	uint8_t *raw = (uint8_t *)op;
	uint64_t a, b;
	uint32_t len;
	int k;

	memset(op, 0, sizeof(*op));
	op->op = op_code(r);
	if (is_add(op->op)) {
		len = add_len(r);
		a = fit(any_place(r, pool), len ? len : 1);
		if (len && len <= 8 && !(len & (len - 1)) && chance(r, 95))
			a &= ~(uint64_t)(len - 1);
		op->len = len;
		op->u.arithmetic_op.p = a;
		op->u.arithmetic_op.count = add_count(r);
		op->u.arithmetic_op.expect_fault_p = ef_byte(r);
		/* The byte after expect_fault_p is not a field of an add. */
		if (chance(r, 50))
			raw[25] = rnd(r);
	} else {
		len = data_len(r, big);
		a = fit(any_place(r, pool), len);
		b = fit(any_place(r, pool), len);
		/* Mostly no overlapping copies: they leave bytes unspecified. */
		if (is_memcpy(op->op) && a < b + len && b < a + len && chance(r, 75))
			b = fit(pick_place(r), len);
		if (is_compare(op->op)) {
			/* Check what an earlier copy of the vector copied. */
			for (k = 0; k < i; k++) {
				if (is_memcpy(v->ops[k].op) && chance(r, 35)) {
					len = v->ops[k].len;
					a = v->ops[k].u.memcpy_op.dst;
					b = v->ops[k].u.memcpy_op.src;
					if (chance(r, 50)) {
						a = b;
						b = v->ops[k].u.memcpy_op.dst;
					}
				}
			}
			if (chance(r, 4))
				b = a;
		}
		op->len = len;
		op->u.memcpy_op.dst = a;
		op->u.memcpy_op.src = b;
		op->u.memcpy_op.expect_fault_dst = ef_byte(r);
		op->u.memcpy_op.expect_fault_src = ef_byte(r);
	}
	/* The padding at the end of the union is ignored. */
	if (chance(r, 30))
		for (k = 26; k < (int)sizeof(*op); k++)
			raw[k] = rnd(r);
}

/* Vector @idx of the seed. */
static void gen_vec(unsigned long idx, struct vec *v)
{
	static const int bad_flags[] = { 3, 4, 8, 0x100, INT_MIN, -1 };
	static const int bad_cnt[] = { -1, INT_MIN, 6, 64, INT_MAX };
	static const uint64_t bad_vec[] = {
		0, 8, 0xffff800000000000ULL, 0xfffffffffffffff0ULL,
	};
	struct place pool[POOL];
	unsigned int u;
	struct rng r;
	int i, big;
	bool all_big;

	rng_init(&r, STREAM_VEC, idx);
	memset(v, 0, sizeof(*v));
	u = below(&r, 100);
	if (u < 2)
		v->flags = CPU_OP_NR_FLAG;
	else if (u < 4)
		v->flags = CPU_OP_VEC_LEN_MAX_FLAG;
	else if (u < 6)
		v->flags = bad_flags[below(&r, ARRAY_SIZE(bad_flags))];
	u = below(&r, 100);
	if (u < 3)
		v->cnt = 0;
	else if (u < 25)
		v->cnt = 1;
	else if (u < 50)
		v->cnt = 2;
	else if (u < 72)
		v->cnt = 3;
	else if (u < 95)
		v->cnt = 4;
	else if (u < 97)
		v->cnt = 5;
	else if (u < 98)
		v->cnt = bad_cnt[below(&r, ARRAY_SIZE(bad_cnt))];
	else
		v->cnt = 1 + below(&r, CPU_OP_VEC_LEN_MAX);
	u = below(&r, 100);
	if (u < 95 || (u < 97 && excluded < 0))
		v->cpu = allowed[below(&r, nallowed)];
	else if (u < 97)
		v->cpu = excluded;
	else if (u < 99)
		v->cpu = chance(&r, 25) ? INT_MAX : nr_cpus + (int)below(&r, 4);
	else
		v->cpu = chance(&r, 50) ? -1 : INT_MIN;
	for (i = 0; i < POOL; i++)
		pool[i] = pick_place(&r);
	big = below(&r, VEC_OPS);
	all_big = chance(&r, 3);
	for (i = 0; i < VEC_OPS; i++)
		gen_op(&r, v, i, pool, all_big || i == big);
	u = below(&r, 100);
	if (u < 97) {
		v->where = VP_BUF;
	} else if (u < 99) {
		v->where = VP_EDGE;
		i = v->cnt < 0 ? 0 : v->cnt > VEC_OPS ? VEC_OPS : v->cnt;
		v->readable = below(&r, i + 1);
	} else {
		v->where = VP_WILD;
		v->wild = bad_vec[below(&r, ARRAY_SIZE(bad_vec))];
	}
}

/* The model. */

static bool cpu_ok(int cpu)
{
	return cpu >= 0 && cpu < nr_cpus && CPU_ISSET(cpu, &cpumask);
}

static int vec_readable(const struct vec *v)
{
	switch (v->where) {
	case VP_BUF:
		return VEC_OPS;
	case VP_EDGE:
		return v->readable;
	default:
		return 0;
	}
}

/* Whether @op is valid on its own; its length in *len. */
static bool op_valid(const struct cpu_op *op, uint32_t *len)
{
	*len = op->len;
	if (is_compare(op->op) || is_memcpy(op->op))
		return op->u.memcpy_op.expect_fault_dst <= 1 &&
		       op->u.memcpy_op.expect_fault_src <= 1 &&
		       op->len <= CPU_OP_DATA_LEN_MAX;
	if (is_add(op->op))
		return op->u.arithmetic_op.expect_fault_p <= 1 &&
		       (op->len == 1 || op->len == 2 || op->len == 4 ||
			op->len == 8) &&
		       !(op->u.arithmetic_op.p & (op->len - 1));
	return false;
}

struct operand {
	uint64_t addr;
	uint32_t len;
	bool write, ef;
};

/* The operands of a valid operation. */
static int op_operands(const struct cpu_op *op, struct operand o[2])
{
	if (is_add(op->op)) {
		o[0] = (struct operand){ op->u.arithmetic_op.p, op->len, true,
					 op->u.arithmetic_op.expect_fault_p };
		return 1;
	}
	o[0] = (struct operand){ op->u.memcpy_op.dst, op->len, is_memcpy(op->op),
				 op->u.memcpy_op.expect_fault_dst };
	o[1] = (struct operand){ op->u.memcpy_op.src, op->len, false,
				 op->u.memcpy_op.expect_fault_src };
	return 2;
}

/*
 * What cpu_opv(2) does before it runs anything. A query answers whatever
 * the other arguments. The arguments and the whole vector are checked
 * before any operand is touched: EINVAL, or EFAULT if the vector cannot be
 * read (the man page does not order the two when both apply, nor EINVAL
 * for an unreadable operation: either is accepted then). Then every operand
 * is pinned: EFAULT if one cannot be accessed, EAGAIN if its expect_fault
 * is 1 (either when there are both kinds). An operand of length 0 touches
 * no memory.
 */
static void model_validate(const struct vec *v, struct expect *x)
{
	struct operand o[2];
	bool inval = false;
	uint64_t sum = 0;
	int i, k, n, nread;
	uint32_t len;

	memset(x, 0, sizeof(*x));
	x->kind = X_RET;
	if (v->flags == CPU_OP_NR_FLAG) {
		x->ret = NR_CPU_OPS;
		return;
	}
	if (v->flags == CPU_OP_VEC_LEN_MAX_FLAG) {
		x->ret = CPU_OP_VEC_LEN_MAX;
		return;
	}
	x->kind = X_INVALID;
	if (v->flags || v->cnt < 0 || v->cnt > CPU_OP_VEC_LEN_MAX) {
		x->errs = M_EINVAL;
		return;
	}
	if (!cpu_ok(v->cpu))
		inval = true;
	nread = v->cnt < vec_readable(v) ? v->cnt : vec_readable(v);
	for (i = 0; i < nread; i++) {
		if (op_valid(&v->ops[i], &len))
			sum += len;
		else
			inval = true;
	}
	if (sum > CPU_OP_VEC_DATA_LEN_MAX)
		inval = true;
	if (inval)
		x->errs |= M_EINVAL;
	if (nread < v->cnt)
		x->errs |= M_EFAULT;
	if (x->errs)
		return;
	for (i = 0; i < v->cnt; i++) {
		n = op_operands(&v->ops[i], o);
		for (k = 0; k < n; k++)
			if (!accessible(o[k].addr, o[k].len, o[k].write))
				x->errs |= o[k].ef ? M_EAGAIN : M_EFAULT;
	}
	x->kind = x->errs ? X_FAULT : X_RUNS;
}

static bool tainted(uint64_t addr, uint32_t len)
{
	return ntaints && len && memchr(tnt(addr), 1, len);
}

static void taint_note(uint64_t addr, uint32_t len)
{
	taints[ntaints].addr = addr;
	taints[ntaints].len = len;
	ntaints++;
}

/*
 * A copy. If the ranges overlap, the destination is unspecified: its
 * bytes are tainted, and take the values the kernel leaves.
 */
static void model_copy(uint64_t dst, uint64_t src, uint32_t len)
{
	bool overlap = dst < src + len && src < dst + len;
	bool t = tainted(src, len) || tainted(dst, len);

	memmove(mir(dst), mir(src), len);
	if (overlap) {
		memset(tnt(dst), 1, len);
		taint_note(dst, len);
	} else if (t) {
		memmove(tnt(dst), tnt(src), len);
		taint_note(dst, len);
	}
}

/* An add: wrapping, the count truncated to the width, in native order. */
static void model_add(uint64_t p, uint32_t len, int64_t count)
{
	uint8_t *m = mir(p);
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	if (tainted(p, len)) {
		memset(tnt(p), 1, len);
		taint_note(p, len);
		return;
	}
	switch (len) {
	case 1:
		memcpy(&u8, m, 1);
		u8 += (uint8_t)count;
		memcpy(m, &u8, 1);
		break;
	case 2:
		memcpy(&u16, m, 2);
		u16 += (uint16_t)count;
		memcpy(m, &u16, 2);
		break;
	case 4:
		memcpy(&u32, m, 4);
		u32 += (uint32_t)count;
		memcpy(m, &u32, 4);
		break;
	default:
		memcpy(&u64, m, 8);
		u64 += (uint64_t)count;
		memcpy(m, &u64, 8);
		break;
	}
}

/*
 * Runs a vector that passed validation and pinning on the model's copy.
 * Returns 0, or the index + 1 of the compare that stopped it: the
 * operations before it ran, those after it did not. A compare that reads
 * unspecified bytes goes the way the kernel went (@hint, its return
 * value); *undecided counts those.
 */
static long model_run(const struct vec *v, long hint, int *undecided)
{
	int i;

	for (i = 0; i < v->cnt; i++) {
		const struct cpu_op *op = &v->ops[i];
		uint32_t len = op->len;
		uint64_t a = op->u.compare_op.a, b = op->u.compare_op.b;
		bool stop, eq;

		if (is_compare(op->op)) {
			if (tainted(a, len) || tainted(b, len)) {
				(*undecided)++;
				stop = hint == i + 1;
			} else {
				eq = !len || !memcmp(mir(a), mir(b), len);
				stop = eq != (op->op == CPU_COMPARE_EQ_OP);
			}
			if (stop)
				return i + 1;
		} else if (is_memcpy(op->op)) {
			if (len)
				model_copy(a, b, len);
		} else {
			model_add(op->u.arithmetic_op.p, len,
				  op->u.arithmetic_op.count);
		}
	}
	return 0;
}

/* Unspecified bytes take the values the kernel left. */
static void taint_settle(void)
{
	uint32_t k;
	int i;

	for (i = 0; i < ntaints; i++) {
		uint8_t *t = tnt(taints[i].addr), *m = mir(taints[i].addr);
		uint8_t *p = real(taints[i].addr);

		for (k = 0; k < taints[i].len; k++) {
			if (t[k]) {
				m[k] = p[k];
				t[k] = 0;
			}
		}
	}
	ntaints = 0;
}

struct diff {
	uint64_t addr;
	uint8_t want, got;
};

/*
 * The pages the operands of a vector touch, whether the vector is valid or
 * not: the only pages the kernel pins and maps for it.
 */
static uint64_t touched[4 * VEC_OPS];
static int ntouched;

static void touch(uint64_t addr, uint64_t len)
{
	uint64_t p, last;
	size_t off;
	int i;

	len = len > CPU_OP_DATA_LEN_MAX ? CPU_OP_DATA_LEN_MAX : len ? len : 1;
	if (addr > UINT64_MAX - len)
		return;
	last = (addr + len - 1) & ~(uint64_t)(page - 1);
	for (p = addr & ~(uint64_t)(page - 1); ; p += page) {
		if (find_area(p, &off) >= 0) {
			for (i = 0; i < ntouched && touched[i] != p; i++)
				;
			if (i == ntouched)
				touched[ntouched++] = p;
		}
		if (p == last)
			return;
	}
}

static void touch_vec(const struct vec *v)
{
	int i, n = v->cnt < 0 ? 0 : v->cnt > VEC_OPS ? VEC_OPS : v->cnt;

	ntouched = 0;
	for (i = 0; i < n; i++) {
		const struct cpu_op *op = &v->ops[i];

		if (is_add(op->op)) {
			touch(op->u.arithmetic_op.p, op->len);
		} else {
			touch(op->u.memcpy_op.dst, op->len);
			touch(op->u.memcpy_op.src, op->len);
		}
	}
}

static long diff_page(uint8_t *p, uint8_t *m, struct diff *d, int max, int *n)
{
	long total = 0;
	size_t k;

	if (!memcmp(p, m, page))
		return 0;
	for (k = 0; k < page; k++) {
		if (p[k] == m[k])
			continue;
		if (*n < max)
			d[(*n)++] = (struct diff){ (uintptr_t)(p + k), m[k], p[k] };
		total++;
	}
	return total;
}

enum { CMP_ALL, CMP_FIXED, CMP_TOUCHED };

/*
 * Compares the accessible bytes of the arena with the model's copy: all of
 * them, those of the pages no vector writes (sentinel and read-only), or
 * those of the pages the last vector touched.
 */
static long arena_diff(struct diff *d, int max, int what)
{
	long total = 0;
	int a, i, n = 0;
	size_t k, off;

	if (what == CMP_TOUCHED) {
		for (i = 0; i < ntouched; i++) {
			a = find_area(touched[i], &off);
			if (kind_access(areas[a].kind[off / page]))
				total += diff_page(real(touched[i]), areas[a].mirror + off,
						   d, max, &n);
		}
		return total;
	}
	for (a = 0; a < nareas; a++) {
		struct area *ar = &areas[a];

		for (k = 0; k < ar->npages; k++) {
			if (!kind_access(ar->kind[k]))
				continue;
			if (what == CMP_FIXED && ar->kind[k] != K_SENT && ar->kind[k] != K_RO)
				continue;
			total += diff_page(ar->start + k * page, ar->mirror + k * page,
					   d, max, &n);
		}
	}
	return total;
}

/* The model's copy becomes the arena (after a reported mismatch). */
static void arena_resync(void)
{
	size_t i;
	int a;

	if (thp_base)
		memcpy(thp_ref, thp_base, HUGE_SIZE);
	if (huge_base)
		memcpy(huge_ref, huge_base, HUGE_SIZE);
	for (a = 0; a < nareas; a++)
		for (i = 0; i < areas[a].npages; i++)
			if (kind_access(areas[a].kind[i]))
				memcpy(areas[a].mirror + i * page,
				       areas[a].start + i * page, page);
}

/* Calls. */

static const char *op_name(int32_t op)
{
	static const char * const names[] = {
		"COMPARE_EQ", "COMPARE_NE", "MEMCPY", "MEMCPY_RELEASE", "ADD",
		"ADD_RELEASE",
	};

	return op >= 0 && op < NR_CPU_OPS ? names[op] : "invalid";
}

static void print_vec(unsigned long idx, const struct vec *v)
{
	char a[96], b[96];
	int i, k, n;

	ksft_print_msg("vector %lu: cnt %d cpu %d flags %#x, ops %s", idx,
		       v->cnt, v->cpu, v->flags,
		       v->where == VP_BUF ? "in a buffer\n" :
		       v->where == VP_EDGE ? "before a PROT_NONE page: " : "at ");
	if (v->where == VP_EDGE)
		printf("%d readable\n", v->readable);
	if (v->where == VP_WILD)
		printf("%#llx\n", (unsigned long long)v->wild);
	n = v->cnt < 0 ? 0 : v->cnt > VEC_OPS ? VEC_OPS : v->cnt;
	for (i = 0; i < n; i++) {
		const struct cpu_op *op = &v->ops[i];
		const uint8_t *raw = (const uint8_t *)op;

		if (is_add(op->op)) {
			fmt_addr(a, sizeof(a), op->u.arithmetic_op.p);
			ksft_print_msg("  [%d] %s len %u p %s ef %u count %lld (%#llx)\n",
				       i, op_name(op->op), op->len, a,
				       op->u.arithmetic_op.expect_fault_p,
				       (long long)op->u.arithmetic_op.count,
				       (unsigned long long)op->u.arithmetic_op.count);
		} else {
			fmt_addr(a, sizeof(a), op->u.memcpy_op.dst);
			fmt_addr(b, sizeof(b), op->u.memcpy_op.src);
			ksft_print_msg("  [%d] %s (%d) len %u %s %s ef %u, %s %s ef %u\n",
				       i, op_name(op->op), op->op, op->len,
				       is_compare(op->op) ? "a" : "dst", a,
				       op->u.memcpy_op.expect_fault_dst,
				       is_compare(op->op) ? "b" : "src", b,
				       op->u.memcpy_op.expect_fault_src);
		}
		ksft_print_msg("      bytes 24-31:");
		for (k = 24; k < (int)sizeof(*op); k++)
			printf(" %02x", raw[k]);
		printf("\n");
	}
}

/* Puts the vector where it says; returns the pointer to pass. */
static void *place_vec(const struct vec *v)
{
	int n;

	switch (v->where) {
	case VP_BUF:
		memcpy(vbuf, v->ops, sizeof(vbuf));
		return vbuf;
	case VP_EDGE:
		n = v->readable;
		memcpy(vecpage + page - n * sizeof(struct cpu_op), v->ops,
		       n * sizeof(struct cpu_op));
		return vecpage + page - n * sizeof(struct cpu_op);
	default:
		return (void *)(uintptr_t)v->wild;
	}
}

static long do_call(const struct vec *v, void *ptr, int *err)
{
	long ret;

	errno = 0;
	ret = syscall(__NR_cpu_opv, ptr, v->cnt, v->cpu, v->flags);
	*err = ret < 0 ? errno : 0;
	return ret;
}

/* The stand-in for the kernel of -m stub: does what the model predicts. */
static long stub_call(const struct vec *v, const struct expect *x, int *err,
		      long *want, int *undecided)
{
	struct operand o[2];
	int i, ran;

	/* The cost of a call's entry and exit: refused at once. */
	place_vec(v);
	syscall(__NR_cpu_opv, NULL, 0, 0, -1);
	*err = 0;
	if (x->kind == X_RET)
		return x->ret;
	if (x->kind != X_RUNS) {
		*err = x->errs & M_EINVAL ? EINVAL : x->errs & M_EFAULT ? EFAULT : EAGAIN;
		return -1;
	}
	*want = model_run(v, -1, undecided);
	ran = *want ? *want : v->cnt;
	for (i = 0; i < ran; i++) {
		op_operands(&v->ops[i], o);
		if (o[0].write && o[0].len)
			memcpy(real(o[0].addr), mir(o[0].addr), o[0].len);
	}
	return *want;
}

static void count_result(const struct expect *x, long ret, int err)
{
	st.vectors++;
	if (x->kind == X_RET)
		st.query++;
	else if (ret >= 0 && ret <= CPU_OP_VEC_LEN_MAX)
		st.stopped[ret]++;
	else if (err == EINVAL)
		st.einval++;
	else if (err == EFAULT)
		st.efault++;
	else if (err == EAGAIN)
		st.eagain++;
	if ((x->errs & (M_EFAULT | M_EAGAIN)) == (M_EFAULT | M_EAGAIN))
		st.either++;
}

static void print_stats(void)
{
	ksft_print_msg("%ld vectors: %ld ran to the end, stopped by compare 1-4: %ld %ld %ld %ld\n",
		       st.vectors, st.stopped[0], st.stopped[1], st.stopped[2],
		       st.stopped[3], st.stopped[4]);
	ksft_print_msg("%ld EINVAL, %ld EFAULT, %ld EAGAIN, %ld queries; %ld EFAULT|EAGAIN\n",
		       st.einval, st.efault, st.eagain, st.query, st.either);
	ksft_print_msg("%ld vectors copied overlapping ranges, %ld compares of the result\n",
		       st.tainted, st.undecided);
}

/* Whether a call's result is the one the model predicts (@want: X_RUNS). */
static bool result_ok(const struct expect *x, long ret, int err, long want)
{
	switch (x->kind) {
	case X_RET:
		return ret == x->ret;
	case X_RUNS:
		return ret >= 0 && ret == want;
	default:
		return ret == -1 && (errno_bit(err) & x->errs);
	}
}

/*
 * Reports a mismatch of vector @idx: @ret and @err against @x (and @want),
 * and the first of the @ndiff bytes of the arena that differ from the
 * model. @why, if not NULL, says what the call was. Returns false.
 */
static bool mismatch(unsigned long idx, const struct vec *v,
		     const struct expect *x, long ret, int err, long want,
		     int undecided, const struct diff *d, long ndiff,
		     const char *why)
{
	char where[96];
	int i;

	/* With -k, the first ones in full, then a line each. */
	if (++st.mismatches > MAX_REPORTS) {
		ksft_print_msg("MISMATCH: seed %llu vector %lu: %ld errno %s, %ld bytes differ\n",
			       opt_seed, idx, ret, err_name(err), ndiff);
		if (why)
			ksft_print_msg("  %s\n", why);
		arena_resync();
		return false;
	}
	ksft_print_msg("MISMATCH: seed %llu vector %lu\n", opt_seed, idx);
	print_vec(idx, v);
	switch (x->kind) {
	case X_RET:
		ksft_print_msg("expected: %ld (a query)\n", x->ret);
		break;
	case X_RUNS:
		if (ret >= 0)
			ksft_print_msg("expected: %ld%s\n", want,
				       undecided ? " (compares of unspecified bytes)" : "");
		else
			ksft_print_msg("expected: the vector runs (0, or 1-4 for a compare)\n");
		break;
	default:
		ksft_print_msg("expected: -1, errno %s (%s)\n", errs_str(x->errs),
			       x->kind == X_INVALID ? "invalid" : "fault");
		break;
	}
	ksft_print_msg("got: %ld, errno %s (%d)\n", ret, err_name(err), err);
	if (why)
		ksft_print_msg("%s\n", why);
	if (ndiff)
		ksft_print_msg("%ld bytes of the arena differ from the model, the first:\n",
			       ndiff);
	else
		ksft_print_msg("every byte of the arena is as expected\n");
	for (i = 0; i < ndiff && i < MAX_DIFFS; i++) {
		fmt_addr(where, sizeof(where), d[i].addr);
		ksft_print_msg("  %s: expected 0x%02x, got 0x%02x\n", where, d[i].want,
			       d[i].got);
	}
	ksft_print_msg("replay: fuzz_test -m %s -s %llu -i %lu\n", opt_mode,
		       opt_seed, idx);
	arena_resync();
	return false;
}

/*
 * One vector of the model mode: the prediction, the call, the comparison.
 * Returns false on a mismatch, after reporting it.
 */
static bool model_one(unsigned long idx, bool stub)
{
	struct diff d[MAX_DIFFS];
	long ret, want = 0, ndiff;
	int err, undecided = 0;
	struct expect x;
	struct vec v;
	bool ok;

	gen_vec(idx, &v);
	model_validate(&v, &x);
	if (stub) {
		ret = stub_call(&v, &x, &err, &want, &undecided);
	} else {
		ret = do_call(&v, place_vec(&v), &err);
		if (x.kind == X_RUNS && ret >= 0)
			want = model_run(&v, ret, &undecided);
	}
	ok = result_ok(&x, ret, err, want);
	if (ntaints)
		st.tainted++;
	st.undecided += undecided;
	taint_settle();
	count_result(&x, ret, err);
	touch_vec(&v);
	ndiff = arena_diff(d, MAX_DIFFS, opt_full ? CMP_ALL : CMP_TOUCHED);
	if (ok && !ndiff &&
	    (opt_verbose > 1 || (opt_index >= 0 && (long)idx == opt_index))) {
		print_vec(idx, &v);
		ksft_print_msg("  -> %ld errno %s\n", ret, err_name(err));
	}
	if (ok && !ndiff)
		return true;
	return mismatch(idx, &v, &x, ret, err, want, undecided, d, ndiff, NULL);
}

/* Pins: node counters, exact once the per-CPU deltas are folded (root). */
static bool read_pins(long *acquired, long *released, bool *exact)
{
	bool folded;

	*acquired = vmstat_counter("nr_foll_pin_acquired", exact);
	*released = vmstat_counter("nr_foll_pin_released", &folded);
	*exact = *exact && folded;
	return *acquired >= 0 && *released >= 0;
}

static void check_pins(const char *mode, bool have0, long acq0, long rel0)
{
	long acq1, rel1;
	bool exact;

	if (!have0 || !read_pins(&acq1, &rel1, &exact)) {
		ksft_test_result_skip("%s: pins balanced (no nr_foll_pin_* in /proc/vmstat)\n",
				      mode);
		return;
	}
	if (!exact) {
		ksft_test_result_skip("%s: pins balanced (needs root for vm.stat_refresh)\n",
				      mode);
		return;
	}
	ksft_print_msg("nr_foll_pin_acquired +%ld, nr_foll_pin_released +%ld\n",
		       acq1 - acq0, rel1 - rel0);
	ksft_test_result(acq1 - acq0 == rel1 - rel0, "%s: pins balanced\n", mode);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * At the end of an epoch: every byte of the arena and of the rest of the
 * huge pages is as the model says. A difference here is a write outside
 * the pages of the operands, by one of vectors @from to @to - 1.
 */
static bool epoch_check(unsigned long from, unsigned long to)
{
	struct diff d[MAX_DIFFS];
	char where[96];
	uint64_t hwhere;
	long ndiff = arena_diff(d, MAX_DIFFS, CMP_ALL);
	bool huge = huge_outside_intact(&hwhere);
	int i;

	if (!ndiff && huge)
		return true;
	st.mismatches++;
	ksft_print_msg("MISMATCH: seed %llu: vectors %lu-%lu wrote outside their operands\n",
		       opt_seed, from, to - 1);
	for (i = 0; i < ndiff && i < MAX_DIFFS; i++) {
		fmt_addr(where, sizeof(where), d[i].addr);
		ksft_print_msg("  %s: expected 0x%02x, got 0x%02x\n", where, d[i].want,
			       d[i].got);
	}
	if (!huge)
		ksft_print_msg("  huge page byte %#llx\n", (unsigned long long)hwhere);
	ksft_print_msg("replay: fuzz_test -m %s -s %llu -i %lu -F\n", opt_mode,
		       opt_seed, to - 1);
	arena_resync();
	return false;
}

/*
 * Fault-injection mode: failslab, fail_page_alloc and fail_usercopy fail
 * this thread's allocations and user copies, for the time of each
 * cpu_opv() call only (/proc/thread-self/make-it-fail), while the pages
 * of the operands are dropped now and then so that pinning allocates.
 */

#define INJECT_TIMES	1000000000L	/* failures allowed per attribute */
#define INJECT_TIMES_S	"1000000000"
#define SLAB_PCT	"30"	/* percent of the allocations that fail */
#define PAGE_PCT	"30"
#define USERCOPY_PCT	"5"	/* percent of the user copies that fail */
#define DROP_PCT	40	/* vectors whose pages are dropped before */
#define DROP_PRIVATE_PCT 50	/* private pages dropped (they lose data) */
#define FAIL_WRITES_MAX	10000	/* attempts to write make-it-fail */
#define DEBUGFS		"/sys/kernel/debug/"

enum { FA_SLAB, FA_PAGE, FA_USERCOPY, NR_FA };

static const char * const fa_name[NR_FA] = {
	"failslab", "fail_page_alloc", "fail_usercopy",
};

/*
 * The knobs the mode sets, in this order, and restores in the reverse
 * order: the probabilities come last, so that injection starts once the
 * rest is set, and stops first.
 */
static struct knob {
	int fa;
	const char *name, *value;
	char path[96];
	char saved[32];
	bool set;
} knobs[] = {
	{ .fa = FA_SLAB, .name = "task-filter", .value = "Y" },
	{ .fa = FA_SLAB, .name = "interval", .value = "1" },
	{ .fa = FA_SLAB, .name = "verbose", .value = "0" },
	{ .fa = FA_SLAB, .name = "space", .value = "0" },
	{ .fa = FA_SLAB, .name = "times", .value = INJECT_TIMES_S },
	{ .fa = FA_PAGE, .name = "task-filter", .value = "Y" },
	{ .fa = FA_PAGE, .name = "interval", .value = "1" },
	{ .fa = FA_PAGE, .name = "verbose", .value = "0" },
	{ .fa = FA_PAGE, .name = "space", .value = "0" },
	{ .fa = FA_PAGE, .name = "times", .value = INJECT_TIMES_S },
	{ .fa = FA_USERCOPY, .name = "task-filter", .value = "Y" },
	{ .fa = FA_USERCOPY, .name = "interval", .value = "1" },
	{ .fa = FA_USERCOPY, .name = "verbose", .value = "0" },
	{ .fa = FA_USERCOPY, .name = "space", .value = "0" },
	{ .fa = FA_USERCOPY, .name = "times", .value = INJECT_TIMES_S },
	{ .fa = FA_SLAB, .name = "ignore-gfp-wait", .value = "N" },
	{ .fa = FA_PAGE, .name = "ignore-gfp-wait", .value = "N" },
	{ .fa = FA_PAGE, .name = "ignore-gfp-highmem", .value = "N" },
	{ .fa = FA_PAGE, .name = "min-order", .value = "0" },
	{ .fa = FA_SLAB, .name = "probability", .value = SLAB_PCT },
	{ .fa = FA_PAGE, .name = "probability", .value = PAGE_PCT },
	{ .fa = FA_USERCOPY, .name = "probability", .value = USERCOPY_PCT },
};

static int fail_fd = -1;	/* /proc/thread-self/make-it-fail */
static char times_path[NR_FA][64];
static long times_last[NR_FA];

static struct {
	long matched, refused_enomem, refused_efault, dropped, remapped;
	long write_efault, write_other, pending_efault;
} ist;

/*
 * Makes this thread fail-able (@on) or not. With make-it-fail at 1, the
 * write of 0 copies its buffer in with injection: it is retried while it
 * fails as an injection makes it fail. Returns the number of writes that
 * failed with an injected EFAULT, or -1. Async-signal-safe.
 */
static int fail_set(int on)
{
	int tries, efault = 0;

	for (tries = 0; tries < FAIL_WRITES_MAX; tries++) {
		if (write(fail_fd, on ? "1" : "0", 1) == 1)
			return efault;
		if (errno == EFAULT)
			efault++;
		else if (errno == ENOMEM)
			ist.write_other++;
		else
			return -1;
	}
	return -1;
}

/* Puts every knob back and makes this thread not fail-able. */
static void inject_restore(void)
{
	int i;

	if (fail_fd >= 0)
		fail_set(0);
	for (i = ARRAY_SIZE(knobs) - 1; i >= 0; i--) {
		if (knobs[i].set)
			write_file(knobs[i].path, knobs[i].saved);
		knobs[i].set = false;
	}
}

static void inject_on_signal(int sig)
{
	inject_restore();
	/* SA_RESETHAND | SA_NODEFER: the default action, now. */
	raise(sig);
	_exit(KSFT_FAIL);
}

/* The times attributes: failures still allowed (nonseekable: reopened). */
static bool read_times(long t[NR_FA])
{
	char buf[32];
	ssize_t n;
	int a, fd;

	for (a = 0; a < NR_FA; a++) {
		fd = open(times_path[a], O_RDONLY);
		if (fd < 0)
			return false;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return false;
		buf[n] = 0;
		t[a] = strtol(buf, NULL, 10);
	}
	return true;
}

/*
 * Saves and sets the knobs; skips the test where fault injection is not
 * there or not allowed.
 */
static void inject_setup(void)
{
	static const int sigs[] = {
		SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGABRT,
		SIGFPE, SIGILL,
	};
	struct sigaction sa = {
		.sa_handler = inject_on_signal,
		.sa_flags = SA_RESETHAND | SA_NODEFER,
	};
	size_t i;
	ssize_t n;
	int fd, a;

	if (geteuid() != 0)
		ksft_exit_skip("inject: needs root (debugfs, make-it-fail)\n");
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		snprintf(knobs[i].path, sizeof(knobs[i].path), DEBUGFS "%s/%s",
			 fa_name[knobs[i].fa], knobs[i].name);
		/*
		 * CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC,
		 * CONFIG_FAULT_INJECTION_USERCOPY and
		 * CONFIG_FAULT_INJECTION_DEBUG_FS, debugfs mounted.
		 */
		if (access(knobs[i].path, R_OK | W_OK))
			ksft_exit_skip("inject: no %s\n", knobs[i].path);
	}
	fail_fd = open("/proc/thread-self/make-it-fail", O_WRONLY);
	if (fail_fd < 0)
		ksft_exit_skip("inject: no /proc/thread-self/make-it-fail\n");
	if (fail_set(0) < 0)
		ksft_exit_skip("inject: make-it-fail: %s\n", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		fd = open(knobs[i].path, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, knobs[i].saved, sizeof(knobs[i].saved) - 1);
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			ksft_exit_fail_msg("inject: %s: %s\n", knobs[i].path,
					   strerror(errno));
		knobs[i].saved[n] = 0;
	}
	atexit(inject_restore);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		knobs[i].set = true;
		if (write_file(knobs[i].path, knobs[i].value))
			ksft_exit_fail_msg("inject: %s: %s\n", knobs[i].path,
					   strerror(errno));
	}
	for (a = 0; a < NR_FA; a++)
		snprintf(times_path[a], sizeof(times_path[a]), DEBUGFS "%s/times",
			 fa_name[a]);
	if (!read_times(times_last))
		ksft_exit_fail_perror("inject: reading the times attributes");
	ksft_print_msg("inject: probability " SLAB_PCT "%% (failslab), " PAGE_PCT
		       "%% (fail_page_alloc), " USERCOPY_PCT "%% (fail_usercopy)\n");
}

/*
 * A page of the arena mapped anew: private, and MAP_NORESERVE so that it
 * merges with no neighbour. Its first write fault prepares an anon_vma.
 */
static int remap_page(size_t i)
{
	struct area *ar = &areas[0];
	void *addr = ar->start + i * page;
	int flags = MAP_FIXED | MAP_PRIVATE | MAP_NORESERVE, fd = -1;
	off_t off = 0;

	if (ar->kind[i] == K_FILEP) {
		fd = filep_fd;
		off = (off_t)ar->fpage[i] * page;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	return mmap(addr, page, PROT_READ | PROT_WRITE, flags, fd, off) == addr ? 0 : -1;
}

/*
 * Before vector @idx, now and then: drops the pages of the first area that
 * its operands touch (touched[]), so that pinning them faults them in and
 * allocates. Shared pages keep their data; private ones read as the file
 * or zeroes again, and are dropped less often (dropped with
 * MADV_DONTNEED, or mapped anew). It depends on the seed and @idx only.
 */
static void inject_drop(unsigned long idx)
{
	struct area *ar = &areas[0];
	struct rng r;
	size_t off, i;
	int k, rc;

	rng_init(&r, STREAM_DROP, idx);
	if (!chance(&r, DROP_PCT))
		return;
	for (k = 0; k < ntouched; k++) {
		if (find_area(touched[k], &off) != 0)
			continue;
		i = off / page;
		switch (ar->kind[i]) {
		case K_SHM:
		case K_MEMFD:
			if (!have_madvise)
				continue;
			rc = madvise(ar->start + i * page, page, MADV_DONTNEED);
			break;
		case K_ANON:
		case K_ZERO:
		case K_FILEP:
			if (!chance(&r, DROP_PRIVATE_PCT))
				continue;
			if (chance(&r, 50) || !have_madvise) {
				rc = remap_page(i);
				ist.remapped++;
			} else {
				rc = madvise(ar->start + i * page, page, MADV_DONTNEED);
			}
			if (ar->kind[i] != K_FILEP)
				memset(ar->mirror + off, 0, page);
			else if (pread(filep_fd, ar->mirror + off, page,
				       (off_t)ar->fpage[i] * page) != (ssize_t)page)
				rc = -1;
			break;
		default:
			continue;
		}
		if (rc)
			ksft_exit_fail_perror("inject: dropping a page");
		ist.dropped++;
	}
}

/*
 * The call, with this thread fail-able for its time only: between the two
 * writes, user space touches no memory that is not mapped already.
 */
static long inject_call(const struct vec *v, void *ptr, int *err)
{
	long ret;
	int efault, n;

	efault = fail_set(1);
	if (efault < 0)
		ksft_exit_fail_perror("inject: make-it-fail");
	ret = syscall(__NR_cpu_opv, ptr, v->cnt, v->cpu, v->flags);
	*err = ret < 0 ? errno : 0;
	n = fail_set(0);
	if (n < 0)
		ksft_exit_fail_perror("inject: make-it-fail");
	/* These writes failed as they copied their buffer in. */
	ist.write_efault += efault + n;
	ist.pending_efault += efault + n;
	return ret;
}

/*
 * The failures injected, per attribute, since the last time (into this
 * call, and into calls since then that did what the model predicts). The
 * times attributes are only read here: they cost an open() each.
 */
static void injected(long inj[NR_FA])
{
	long t[NR_FA];
	int a;

	if (!read_times(t))
		ksft_exit_fail_perror("inject: reading the times attributes");
	for (a = 0; a < NR_FA; a++) {
		inj[a] = times_last[a] - t[a];
		times_last[a] = t[a];
	}
	inj[FA_USERCOPY] -= ist.pending_efault;
	ist.pending_efault = 0;
}

/*
 * Whether a refusal with @err is what the failures injected (@inj) may
 * cause, for a vector the model says @x of. The only user copy of
 * cpu_opv() is that of the vector, after the flags, cpuopcnt and cpu
 * checks and before the operations are checked: EFAULT. Allocations are
 * only made while faulting in the operands (page tables, anonymous pages,
 * copy-on-write, anon_vma), of a valid vector: ENOMEM, which pinning
 * reports as such whatever expect_fault says (man page: ERRORS).
 */
static bool injected_ok(const struct expect *x, int err, const long inj[NR_FA])
{
	if (err == EFAULT)
		return inj[FA_USERCOPY] > 0 && x->kind != X_RET;
	if (err == ENOMEM)
		return (inj[FA_SLAB] > 0 || inj[FA_PAGE] > 0) &&
		       (x->kind == X_RUNS || x->kind == X_FAULT);
	return false;
}

/*
 * One vector of the inject mode. The result must be the model's, or a
 * refusal that the injected failures explain, with every byte of the
 * arena unchanged; a refused vector is then called again without
 * injection, and that call must be the model's, so that the arena goes
 * through the same states as in the model mode. Returns false on a
 * mismatch, after reporting it.
 */
static bool inject_one(unsigned long idx)
{
	struct diff d[MAX_DIFFS];
	long ret, want = 0, ndiff, inj[NR_FA];
	int err, undecided = 0;
	const char *why = NULL;
	char buf[128] = "";
	struct expect x;
	struct vec v;
	bool ok;

	gen_vec(idx, &v);
	model_validate(&v, &x);
	touch_vec(&v);
	inject_drop(idx);
	ret = inject_call(&v, place_vec(&v), &err);
	if (x.kind == X_RUNS && ret >= 0)
		want = model_run(&v, ret, &undecided);
	ok = result_ok(&x, ret, err, want);
	if (!ok && ret == -1) {
		injected(inj);
		snprintf(buf, sizeof(buf),
			 "injected since the last refusal: failslab %ld, fail_page_alloc %ld, fail_usercopy %ld",
			 inj[FA_SLAB], inj[FA_PAGE], inj[FA_USERCOPY]);
		why = buf;
	}
	if (!ok && ret == -1 && injected_ok(&x, err, inj)) {
		/* Refused: nothing changed, the model did not run. */
		ndiff = arena_diff(d, MAX_DIFFS, opt_full ? CMP_ALL : CMP_TOUCHED);
		if (ndiff) {
			count_result(&x, ret, err);
			return mismatch(idx, &v, &x, ret, err, want, undecided, d,
					ndiff, "refused, but the arena changed");
		}
		if (err == ENOMEM)
			ist.refused_enomem++;
		else
			ist.refused_efault++;
		if (opt_verbose > 1 || (opt_index >= 0 && (long)idx == opt_index))
			ksft_print_msg("vector %lu: -1 errno %s, %s; again:\n",
				       idx, err_name(err), buf);
		ret = do_call(&v, place_vec(&v), &err);
		if (x.kind == X_RUNS && ret >= 0)
			want = model_run(&v, ret, &undecided);
		ok = result_ok(&x, ret, err, want);
		why = "called again without injection";
	}
	if (ntaints)
		st.tainted++;
	st.undecided += undecided;
	taint_settle();
	count_result(&x, ret, err);
	ndiff = arena_diff(d, MAX_DIFFS, opt_full ? CMP_ALL : CMP_TOUCHED);
	if (ok && !ndiff && !why)
		ist.matched++;
	if (ok && !ndiff &&
	    (opt_verbose > 1 || (opt_index >= 0 && (long)idx == opt_index))) {
		print_vec(idx, &v);
		ksft_print_msg("  -> %ld errno %s\n", ret, err_name(err));
	}
	if (ok && !ndiff)
		return true;
	return mismatch(idx, &v, &x, ret, err, want, undecided, d, ndiff, why);
}

/*
 * Prints the failures injected per attribute, as debugfs counts them, and
 * restores the knobs. Returns whether any was injected into cpu_opv().
 */
static bool inject_finish(void)
{
	long t[NR_FA], n, in_calls = 0;
	bool have = read_times(t);
	int a;

	inject_restore();
	ksft_print_msg("inject: %ld vectors: %ld did what the model predicts\n",
		       st.vectors, ist.matched);
	ksft_print_msg("inject: %ld refused by an injected failure: %ld ENOMEM, %ld EFAULT\n",
		       ist.refused_enomem + ist.refused_efault,
		       ist.refused_enomem, ist.refused_efault);
	ksft_print_msg("inject: %ld pages dropped before a call (%ld of them mapped anew)\n",
		       ist.dropped, ist.remapped);
	if (!have) {
		ksft_print_msg("inject: cannot read the times attributes\n");
		return false;
	}
	for (a = 0; a < NR_FA; a++) {
		n = INJECT_TIMES - t[a];
		if (a == FA_USERCOPY)
			n -= ist.write_efault;
		in_calls += n;
		ksft_print_msg("inject: %s: %ld injected into cpu_opv() (times %ld -> %ld)\n",
			       fa_name[a], n, INJECT_TIMES, t[a]);
	}
	ksft_print_msg("inject: and %ld into writes of make-it-fail, retried (%ld ENOMEM)\n",
		       ist.write_efault, ist.write_other);
	ksft_print_msg("inject: %ld failures injected into a call that did not fail\n",
		       in_calls - ist.refused_enomem - ist.refused_efault);
	return in_calls > 0;
}

static int run_model(bool stub, bool inject)
{
	unsigned long idx, first = 0, last = opt_n;
	long acq0 = 0, rel0 = 0;
	bool have, exact, ok = true;
	double t0 = now();

	if (opt_index >= 0) {
		first = opt_index - opt_index % EPOCH;
		last = opt_index + 1;
	}
	if (inject)
		inject_setup();
	ksft_set_plan(inject ? 3 : 2);
	if (opt_index >= 0)
		ksft_print_msg("replay: fuzz_test -m %s -s %llu -i %ld\n", opt_mode,
			       opt_seed, opt_index);
	else
		ksft_print_msg("replay: fuzz_test -m %s -s %llu -n %ld\n", opt_mode,
			       opt_seed, opt_n);
	have = read_pins(&acq0, &rel0, &exact);
	for (idx = first; idx < last; idx++) {
		if (idx % EPOCH == 0) {
			if (idx > first && !epoch_check(idx - EPOCH, idx)) {
				ok = false;
				if (!opt_keep)
					break;
			}
			if (!epoch_init(idx / EPOCH))
				ksft_exit_fail_perror("arena reset");
			if (opt_verbose)
				ksft_print_msg("epoch %lu, %.1f s\n", idx / EPOCH,
					       now() - t0);
		}
		if (inject ? !inject_one(idx) : !model_one(idx, stub)) {
			ok = false;
			if (!opt_keep)
				break;
		}
	}
	if ((ok || opt_keep) && last > first &&
	    !epoch_check(last - 1 - (last - 1) % EPOCH, last))
		ok = false;
	print_stats();
	ksft_print_msg("%.2f s, %.1f us per vector\n", now() - t0,
		       (now() - t0) * 1e6 / (st.vectors ? st.vectors : 1));
	ksft_test_result(ok, "%s: %ld vectors of seed %llu, %ld mismatches\n",
			 opt_mode, st.vectors, opt_seed, st.mismatches);
	if (inject)
		ksft_test_result(inject_finish(), "inject: failures injected into cpu_opv()\n");
	if (stub)
		ksft_test_result_skip("%s: pins balanced (no cpu_opv)\n", opt_mode);
	else
		check_pins(opt_mode, have, acq0, rel0);
	ksft_finished();
	return 0;
}

/* Churn mode. */

static atomic_int churn_stop;
static atomic_long churn_ops, churn_errs, churn_forks, churn_hotplugs;
static int hot_cpu = -1;
static char hot_path[96];

/* A run of data pages of one area that the mapper may change. */
struct run {
	int area;
	size_t first, n;
};

static struct run runs[32];
static int nruns;

static void pause_us(struct rng *r, unsigned int max)
{
	usleep(below(r, max) + 1);
}

static void *mapper(void *arg)
{
	int prot[] = { PROT_READ, PROT_NONE };
	struct rng r;

	rng_init(&r, STREAM_CHURN, (uintptr_t)arg);
	while (!atomic_load(&churn_stop)) {
		const struct run *ru = &runs[below(&r, nruns)];
		size_t first = ru->first + below(&r, ru->n), n;
		uint8_t *addr = areas[ru->area].start + first * page;
		int rc = 0, action;

		n = 1 + below(&r, ru->first + ru->n - first);
		action = below(&r, ru->area ? 3 : 5);
		if (action == 2 && !have_madvise)
			action = ru->area ? 0 : 3;
		switch (action) {
		case 0:
		case 1:
			rc = mprotect(addr, n * page, prot[action]);
			pause_us(&r, 300);
			rc |= mprotect(addr, n * page, PROT_READ | PROT_WRITE);
			break;
		case 2:
			rc = madvise(addr, n * page, MADV_DONTNEED);
			break;
		case 3:
			rc = munmap(addr, n * page);
			rc |= map_pages(first, n);
			break;
		default:
			rc = map_pages(first, n);
			break;
		}
		atomic_fetch_add(&churn_ops, 1);
		if (rc)
			atomic_fetch_add(&churn_errs, 1);
		/* Each change takes the mmap lock for writing: let calls run. */
		pause_us(&r, 2000);
	}
	return NULL;
}

static void *forker(void *arg)
{
	struct rng r;
	pid_t pid;

	rng_init(&r, STREAM_CHURN, (uintptr_t)arg);
	while (!atomic_load(&churn_stop)) {
		pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, NULL, 0) != pid)
			atomic_fetch_add(&churn_errs, 1);
		else
			atomic_fetch_add(&churn_forks, 1);
		pause_us(&r, 50000);
	}
	return NULL;
}

static bool hot_write(int online)
{
	int fd = open(hot_path, O_WRONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, online ? "1" : "0", 1) == 1;
	close(fd);
	return ok;
}

static void hot_restore(void)
{
	if (hot_cpu >= 0)
		hot_write(1);
}

static void on_signal(int __maybe_unused sig)
{
	hot_restore();
	_exit(KSFT_FAIL);
}

static void *hotplugger(void *arg)
{
	struct rng r;
	int n = 0;

	rng_init(&r, STREAM_CHURN, (uintptr_t)arg);
	while (!atomic_load(&churn_stop) && n++ < HOTPLUG_MAX) {
		if (!hot_write(0)) {
			atomic_fetch_add(&churn_errs, 1);
			break;
		}
		pause_us(&r, 200000);
		if (!hot_write(1)) {
			atomic_fetch_add(&churn_errs, 1);
			break;
		}
		atomic_fetch_add(&churn_hotplugs, 1);
		pause_us(&r, 300000);
	}
	hot_write(1);
	return NULL;
}

/* A CPU to take offline and back: not CPU 0, root only. */
static void hot_setup(void)
{
	char buf[4] = "";
	int i, fd;

	if (opt_no_hotplug || geteuid() != 0 || nallowed < 2)
		return;
	for (i = nallowed - 1; i > 0; i--) {
		snprintf(hot_path, sizeof(hot_path),
			 "/sys/devices/system/cpu/cpu%d/online", allowed[i]);
		fd = open(hot_path, O_RDONLY);
		if (fd < 0)
			continue;
		if (read(fd, buf, 1) == 1 && buf[0] == '1')
			hot_cpu = allowed[i];
		close(fd);
		if (hot_cpu >= 0)
			break;
	}
	if (hot_cpu < 0)
		return;
	atexit(hot_restore);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

struct churn_stats {
	long calls, ran, stopped, einval, efault, eagain, enomem, eintr, bad;
	long hot_einval, vec_written;
};

/*
 * What a call may return under churn. Validation does not depend on the
 * memory of the operands, so an invalid vector is EINVAL (or EFAULT, as in
 * the model) as without churn; an operand in a guard page, or at a wild
 * address, fails the call whatever the churn does; otherwise the vector
 * runs (0, or the index + 1 of a compare), or an operand faults because
 * of the churn. The target CPU is offlined at times; if the kernel took it
 * out of the affinity mask then, EINVAL is allowed for it.
 */
static bool churn_ok(const struct vec *v, const struct expect *x, long ret,
		     int err, struct churn_stats *cs)
{
	bool hot = v->cpu == hot_cpu && err == EINVAL;

	cs->calls++;
	if (ret >= 0 && x->kind != X_RET) {
		if (ret)
			cs->stopped++;
		else
			cs->ran++;
	}
	switch (err) {
	case EINVAL:
		cs->einval++;
		break;
	case EFAULT:
		cs->efault++;
		break;
	case EAGAIN:
		cs->eagain++;
		break;
	case ENOMEM:
		cs->enomem++;
		break;
	case EINTR:
		cs->eintr++;
		break;
	}
	switch (x->kind) {
	case X_RET:
		return ret == x->ret;
	case X_INVALID:
		return ret == -1 && (errno_bit(err) & x->errs);
	case X_FAULT:
		if (hot)
			cs->hot_einval++;
		return ret == -1 && (err == EFAULT || err == EAGAIN || err == ENOMEM ||
				     err == EINTR || hot);
	default:
		if (hot)
			cs->hot_einval++;
		if (ret >= 0)
			return ret == 0 || (ret <= v->cnt && is_compare(v->ops[ret - 1].op));
		return ret == -1 && (err == EFAULT || err == EAGAIN || err == ENOMEM ||
				     err == EINTR || hot);
	}
}

static int run_churn(void)
{
	struct churn_stats cs = { 0 };
	struct diff d[MAX_DIFFS];
	long acq0 = 0, rel0 = 0, ndiff = 0, nbad = 0, ret;
	unsigned long idx, bad_idx = 0;
	uint64_t hwhere;
	pthread_t th[3];
	int nth = 0, i, err;
	char where[96];
	bool have, exact;
	struct expect x;
	struct vec v;
	double t0;
	void *ptr;

	ksft_set_plan(5);
	for (i = 0; i < nareas; i++) {
		size_t j, k;

		if (areas[i].kind[0] == K_HUGE)
			continue;
		for (j = 0; j < areas[i].npages; j = k) {
			for (k = j; k < areas[i].npages && is_data(areas[i].kind[k]) &&
			     areas[i].kind[k] == areas[i].kind[j]; k++)
				;
			if (k == j) {
				k++;
				continue;
			}
			runs[nruns++] = (struct run){ i, j, k - j };
		}
	}
	if (!epoch_init(0))
		ksft_exit_fail_perror("arena setup");
	hot_setup();
	ksft_print_msg("churn: %d s, %d regions, hotplug of CPU %d\n", opt_time,
		       nruns, hot_cpu);
	have = read_pins(&acq0, &rel0, &exact);
	t0 = now();
	pthread_create(&th[nth++], NULL, mapper, (void *)1);
	pthread_create(&th[nth++], NULL, forker, (void *)2);
	if (hot_cpu >= 0)
		pthread_create(&th[nth++], NULL, hotplugger, (void *)3);
	for (idx = 0; opt_n < 0 || (long)idx < opt_n; idx++) {
		if (!(idx % 64) && now() - t0 >= opt_time)
			break;
		gen_vec(idx, &v);
		model_validate(&v, &x);
		ptr = place_vec(&v);
		ret = do_call(&v, ptr, &err);
		if (!churn_ok(&v, &x, ret, err, &cs)) {
			if (!nbad++)
				bad_idx = idx;
			if (nbad <= 3) {
				ksft_print_msg("churn: vector %lu: %ld, errno %s (%d)\n",
					       idx, ret, err_name(err), err);
				print_vec(idx, &v);
			}
		}
		/* The kernel only reads the vector. */
		if (v.where != VP_WILD &&
		    memcmp(ptr, v.ops, vec_readable(&v) * sizeof(struct cpu_op)))
			cs.vec_written++;
		if (!(idx % 1024) && !ndiff)
			ndiff = arena_diff(d, MAX_DIFFS, CMP_FIXED);
	}
	atomic_store(&churn_stop, 1);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	hot_restore();
	if (!ndiff)
		ndiff = arena_diff(d, MAX_DIFFS, CMP_FIXED);
	for (i = 0; i < ndiff && i < MAX_DIFFS; i++) {
		fmt_addr(where, sizeof(where), d[i].addr);
		ksft_print_msg("  %s: expected 0x%02x, got 0x%02x\n", where, d[i].want,
			       d[i].got);
	}
	/* The rest of the huge pages is a sentinel as well. */
	if (!huge_outside_intact(&hwhere)) {
		ksft_print_msg("  huge page byte %#llx changed\n",
			       (unsigned long long)hwhere);
		ndiff++;
	}
	ksft_print_msg("%ld calls in %.1f s: %ld ran, %ld stopped by a compare\n",
		       cs.calls, now() - t0, cs.ran, cs.stopped);
	ksft_print_msg("%ld EINVAL (%ld for the hotplugged CPU), %ld EFAULT, %ld EAGAIN\n",
		       cs.einval, cs.hot_einval, cs.efault, cs.eagain);
	ksft_print_msg("%ld ENOMEM, %ld EINTR\n", cs.enomem, cs.eintr);
	ksft_print_msg("churn: %ld mapping changes, %ld forks, %ld hotplug cycles, %ld errors\n",
		       atomic_load(&churn_ops), atomic_load(&churn_forks),
		       atomic_load(&churn_hotplugs), atomic_load(&churn_errs));
	if (nbad)
		ksft_print_msg("replay: fuzz_test -m model -s %llu -i %lu\n",
			       opt_seed, bad_idx);
	ksft_test_result(!nbad, "churn: every result documented (%ld undocumented)\n", nbad);
	ksft_test_result(!ndiff, "churn: sentinel and read-only pages intact (%ld bytes differ)\n",
			 ndiff);
	ksft_test_result(!cs.vec_written, "churn: vectors not written\n");
	ksft_test_result(!atomic_load(&churn_errs), "churn: address-space changes succeeded\n");
	check_pins("churn", have, acq0, rel0);
	ksft_finished();
	return 0;
}

/* Self-check of the model: hand-written vectors, no cpu_opv() call. */

static int sc_fail;

static uint64_t page_of(enum kind k, int nth)
{
	size_t i;

	for (i = 0; i < NR_LAYOUT; i++)
		if (layout[i] == k && !nth--)
			return (uintptr_t)areas[0].start + i * page;
	return 0;
}

static void sc_vec(struct vec *v, int cnt)
{
	memset(v, 0, sizeof(*v));
	v->cnt = cnt;
	v->cpu = allowed[0];
	v->where = VP_BUF;
}

static void *ptr(uint64_t addr)
{
	return (void *)(uintptr_t)addr;
}

/* Runs @v through the model; checks the kind, result and errnos. */
static long sc_run(const char *what, struct vec *v, int kind, long want,
		   long hint, int want_undecided)
{
	int undecided = 0;
	struct expect x;
	long got = -1;
	bool ok;

	model_validate(v, &x);
	if (x.kind == X_RUNS)
		got = model_run(v, hint, &undecided);
	else if (x.kind == X_RET)
		got = x.ret;
	else
		got = x.errs;
	ok = (int)x.kind == kind && got == want && undecided == want_undecided;
	if (!ok) {
		sc_fail++;
		ksft_print_msg("selfcheck: %s: kind %d result %ld undecided %d\n",
			       what, x.kind, got, undecided);
		ksft_print_msg("selfcheck: %s: want kind %d result %ld undecided %d\n",
			       what, kind, want, want_undecided);
	}
	taint_settle();
	return got;
}

#define SC_CHECK(cond) do {						\
	if (!(cond)) {							\
		sc_fail++;						\
		ksft_print_msg("selfcheck: line %d: %s\n", __LINE__, #cond); \
	}								\
} while (0)

static uint64_t get64(uint64_t addr)
{
	uint64_t v;

	memcpy(&v, mir(addr), 8);
	return v;
}

static void put64(uint64_t addr, uint64_t val)
{
	memcpy(mir(addr), &val, 8);
}

static void sc_result(const char *name)
{
	static int before;

	ksft_test_result(sc_fail == before, "selfcheck: %s\n", name);
	before = sc_fail;
}

static void sc_compare_stops(void)
{
	uint64_t x = page_of(K_ANON, 0), y = x + 8, z = x + 16;
	struct vec v;

	sc_vec(&v, 4);
	put64(x, 5);
	put64(y, 5);
	put64(z, 7);
	v.ops[0] = op_add(0, ptr(x), 1, 8);
	v.ops[1] = op_add(1, ptr(y), 1, 8);
	v.ops[2] = op_compare(1, ptr(x), ptr(z), 8);
	v.ops[3] = op_add(0, ptr(y), 100, 8);
	sc_run("failed compare", &v, X_RUNS, 3, -1, 0);
	SC_CHECK(get64(x) == 6 && get64(y) == 6 && get64(z) == 7);
	put64(z, 7);
	sc_run("passed compare", &v, X_RUNS, 0, -1, 0);
	SC_CHECK(get64(x) == 7 && get64(y) == 107);
	v.ops[2] = op_compare(0, ptr(x), ptr(z), 8);
	put64(z, 8);
	sc_run("NE of equal words", &v, X_RUNS, 3, -1, 0);
	SC_CHECK(get64(x) == 8 && get64(y) == 108);
	sc_result("a failed compare returns its index + 1; earlier operations ran, not later");
}

static void sc_empty(void)
{
	struct vec v;

	sc_vec(&v, 2);
	v.ops[0] = op_compare(1, NULL, ptr(0xffff800000000000ULL), 0);
	v.ops[1] = op_compare(0, NULL, NULL, 0);
	sc_run("empty compares", &v, X_RUNS, 2, -1, 0);
	v.ops[1] = op_memcpy(0, ptr(TOP_PAGE), NULL, 0);
	sc_run("empty copy at wild addresses", &v, X_RUNS, 0, -1, 0);
	sc_vec(&v, 0);
	sc_run("empty vector", &v, X_RUNS, 0, -1, 0);
	v.where = VP_WILD;
	sc_run("empty vector at NULL", &v, X_RUNS, 0, -1, 0);
	sc_result("empty operands touch no memory and compare equal; an empty vector returns 0");
}

static void sc_add_wraps(void)
{
	uint64_t p = page_of(K_SHM, 1) + page - 16;
	uint8_t *m = mir(p);
	struct vec v;

	sc_vec(&v, 4);
	memset(m, 0xff, 16);
	m[4] = 0;
	m[5] = 0;
	m[6] = 0;
	m[7] = 0;
	put64(p + 8, 0x8000000000000000ULL);
	v.ops[0] = op_add(0, ptr(p), 1, 1);		/* 0xff + 1 */
	v.ops[1] = op_add(1, ptr(p + 2), 0x10001, 2);	/* truncated to 1 */
	v.ops[2] = op_add(0, ptr(p + 4), -1, 4);
	v.ops[3] = op_add(0, ptr(p + 8), INT64_MIN, 8);
	sc_run("adds", &v, X_RUNS, 0, -1, 0);
	SC_CHECK(m[0] == 0 && m[1] == 0xff && m[2] == 0 && m[3] == 0);
	SC_CHECK(m[4] == 0xff && m[5] == 0xff && m[6] == 0xff && m[7] == 0xff);
	SC_CHECK(get64(p + 8) == 0);
	v.ops[0] = op_add(0, ptr(p + 2), 1, 2);
	v.ops[1] = op_add(0, ptr(p + 4), 1, 4);
	v.ops[2] = op_add(0, ptr(p + 8), 1, 8);
	v.ops[3] = op_add(0, ptr(p + 15), 1, 1);
	sc_run("aligned adds", &v, X_RUNS, 0, -1, 0);
	v.ops[1] = op_add(0, ptr(p + 2), 1, 4);
	sc_run("add misaligned for 4", &v, X_INVALID, M_EINVAL, -1, 0);
	v.ops[1] = op_add(0, ptr(p + 4), 1, 3);
	sc_run("add of 3 bytes", &v, X_INVALID, M_EINVAL, -1, 0);
	v.ops[1] = op_add(0, ptr(p), 1, 16);
	sc_run("add of 16 bytes", &v, X_INVALID, M_EINVAL, -1, 0);
	v.ops[1] = op_add(0, ptr(p + 1), 1, 8);
	v.ops[1].u.arithmetic_op.p = 0xffff800000000001ULL;
	sc_run("misaligned add at a kernel address", &v, X_INVALID, M_EINVAL, -1, 0);
	sc_result("add wraps at every width, truncates the count; unaligned is EINVAL");
}

/* The pattern i at @addr, in the arena and the model's copy alike. */
static void sc_pattern(uint64_t addr, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		mir(addr)[i] = i;
		real(addr)[i] = i;
	}
}

static void sc_overlap(void)
{
	uint64_t a = page_of(K_MEMFD, 0) + 100, b = page_of(K_ANON, 1);
	struct vec v;

	sc_vec(&v, 3);
	v.ops[0] = op_memcpy(0, ptr(a + 4), ptr(a), 16);
	v.ops[1] = op_compare(1, ptr(a), ptr(b), 4);	/* source-only bytes */
	v.ops[2] = op_compare(1, ptr(a + 4), ptr(b), 16);
	sc_pattern(a, 64);
	sc_pattern(b, 128);
	sc_run("overlapping copy, compare of bytes it left unspecified", &v,
	       X_RUNS, 3, 3, 1);
	SC_CHECK(mir(a)[0] == 0 && mir(a)[3] == 3 && mir(a)[20] == 20);
	sc_pattern(a, 64);
	sc_run("the other way", &v, X_RUNS, 0, 0, 1);
	sc_pattern(a, 64);
	v.ops[0] = op_memcpy(0, ptr(a), ptr(a), 16);
	sc_run("copy onto itself", &v, X_RUNS, 0, 0, 2);
	/* Unspecified bytes copied elsewhere stay unspecified. */
	sc_pattern(a, 64);
	v.ops[0] = op_memcpy(0, ptr(a + 1), ptr(a), 8);
	v.ops[1] = op_memcpy(1, ptr(b + 64), ptr(a), 16);
	v.ops[2] = op_compare(1, ptr(b + 64), ptr(b), 1);
	sc_run("byte 0 was not in the destination", &v, X_RUNS, 0, 3, 0);
	sc_pattern(a, 64);
	sc_pattern(b, 128);
	v.ops[2] = op_compare(0, ptr(b + 65), ptr(b + 1), 1);
	sc_run("byte 1 was", &v, X_RUNS, 3, 3, 1);
	/* A later copy of specified bytes over them makes them specified. */
	sc_pattern(a, 64);
	sc_pattern(b, 128);
	v.ops[0] = op_memcpy(0, ptr(a + 1), ptr(a), 8);
	v.ops[1] = op_memcpy(0, ptr(a), ptr(b), 16);
	v.ops[2] = op_compare(1, ptr(a), ptr(b), 16);
	sc_run("overwritten", &v, X_RUNS, 0, 3, 0);
	sc_result("an overlapping copy leaves exactly its destination unspecified");
}

static void sc_copy(void)
{
	uint64_t a = page_of(K_ANON, 2) + page - 10, b = page_of(K_ZERO, 0) + 7;
	struct vec v;

	sc_vec(&v, 3);
	v.ops[0] = op_memcpy(1, ptr(b), ptr(a), 20);	/* anon | memfd */
	v.ops[1] = op_compare(1, ptr(a), ptr(b), 20);
	v.ops[2] = op_compare(0, ptr(b), ptr(a), 20);
	sc_run("copy across two mappings, then compare", &v, X_RUNS, 3, -1, 0);
	SC_CHECK(!memcmp(mir(a), mir(b), 20));
	sc_result("a copy across two mappings, then compares of what it copied");
}

static void sc_faults(void)
{
	uint64_t none = page_of(K_NONE, 0), hole = page_of(K_HOLE, 1);
	uint64_t ro = page_of(K_RO, 0), anon = page_of(K_ANON, 1);
	struct vec v;

	sc_vec(&v, 1);
	v.ops[0] = op_add(0, ptr(none), 1, 8);
	sc_run("add into PROT_NONE", &v, X_FAULT, M_EFAULT, -1, 0);
	v.ops[0].u.arithmetic_op.expect_fault_p = 1;
	sc_run("add into PROT_NONE, expected", &v, X_FAULT, M_EAGAIN, -1, 0);
	v.ops[0] = op_memcpy(0, ptr(none), ptr(hole), 8);
	v.ops[0].u.memcpy_op.expect_fault_src = 1;
	sc_run("two faults, one expected", &v, X_FAULT, M_EFAULT | M_EAGAIN, -1, 0);
	v.ops[0] = op_compare(1, ptr(ro), ptr(ro), 8);
	sc_run("compare of read-only memory", &v, X_RUNS, 0, -1, 0);
	v.ops[0] = op_compare(0, ptr(anon + page - 4), ptr(anon + page - 4), 8);
	sc_run("compare across into read-only memory", &v, X_RUNS, 1, -1, 0);
	v.ops[0] = op_memcpy(0, ptr(anon), ptr(ro + 8), 64);
	sc_run("copy from read-only memory", &v, X_RUNS, 0, -1, 0);
	v.ops[0] = op_memcpy(0, ptr(ro), ptr(anon), 64);
	sc_run("copy into read-only memory", &v, X_FAULT, M_EFAULT, -1, 0);
	v.ops[0] = op_memcpy(0, ptr(anon + page - 8), ptr(anon), 16);
	sc_run("copy into a region and its read-only guard", &v, X_FAULT, M_EFAULT, -1, 0);
	v.ops[0] = op_memcpy(0, ptr(anon), ptr(anon + page - 8), 16);
	sc_run("copy from a region and its read-only guard", &v, X_RUNS, 0, -1, 0);
	v.ops[0] = op_add(0, ptr(ro), 1, 8);
	v.ops[0].u.arithmetic_op.expect_fault_p = 1;
	sc_run("add into read-only memory, expected", &v, X_FAULT, M_EAGAIN, -1, 0);
	sc_result("faults: EFAULT, EAGAIN when expected; read-only memory is readable only");
}

static void sc_wild(void)
{
	static const uint64_t bad[] = {
		0, 0xffff800000000000ULL, 0x800000000000ULL, TOP_PAGE,
		0xfffffffffffffff0ULL,
	};
	struct vec v;
	size_t i;

	sc_vec(&v, 1);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		v.ops[0] = op_add(0, ptr(bad[i]), 1, 8);
		sc_run("add at a wild address", &v, X_FAULT, M_EFAULT, -1, 0);
		v.ops[0].u.arithmetic_op.expect_fault_p = 1;
		sc_run("add at a wild address, expected", &v, X_FAULT, M_EAGAIN, -1, 0);
	}
	v.ops[0] = op_compare(1, ptr(0xfffffffffffffff0ULL), ptr(page_of(K_ANON, 0)), 16);
	sc_run("compare up to the end of the address space", &v, X_FAULT, M_EFAULT, -1, 0);
	v.ops[0] = op_compare(1, ptr(0xfffffffffffffff0ULL), ptr(page_of(K_ANON, 0)), 32);
	v.ops[0].u.compare_op.expect_fault_a = 1;
	sc_run("compare that wraps, expected", &v, X_FAULT, M_EAGAIN, -1, 0);
	sc_result("NULL, kernel, non-canonical and wrapping addresses fault");
}

static void sc_validation(void)
{
	uint64_t a = page_of(K_ANON, 0), b = page_of(K_SHM, 0);
	struct vec v;

	sc_vec(&v, 2);
	v.ops[0] = op_add(0, ptr(page_of(K_NONE, 0)), 1, 8);
	v.ops[1] = op_add(0, ptr(a), 1, 8);
	v.ops[1].op = NR_CPU_OPS;
	sc_run("invalid op after a fault", &v, X_INVALID, M_EINVAL, -1, 0);
	v.ops[1] = op_compare(1, ptr(a), ptr(b), 8);
	v.ops[1].u.compare_op.expect_fault_b = 2;
	sc_run("expect_fault 2", &v, X_INVALID, M_EINVAL, -1, 0);
	v.ops[1] = op_compare(1, NULL, NULL, 0);
	v.ops[1].u.compare_op.expect_fault_a = 0xff;
	sc_run("expect_fault 0xff, empty compare", &v, X_INVALID, M_EINVAL, -1, 0);
	sc_vec(&v, 1);
	v.ops[0] = op_add(0, ptr(a), 1, 8);
	((uint8_t *)&v.ops[0])[25] = 0xff;
	memset((uint8_t *)&v.ops[0] + 26, 0xa5, 6);
	sc_run("byte 25 and padding of an add", &v, X_RUNS, 0, -1, 0);
	sc_vec(&v, 4);
	v.ops[0] = op_memcpy(0, ptr(a), ptr(b), 4096);
	v.ops[1] = op_add(0, ptr(b), 1, 8);
	v.ops[2] = op_add(0, ptr(b), 1, 8);
	v.ops[3] = op_compare(1, ptr(a + 8), ptr(b + 8), 8);
	sc_run("4120 bytes", &v, X_RUNS, 0, -1, 0);
	v.ops[3].len = 9;
	sc_run("4121 bytes", &v, X_INVALID, M_EINVAL, -1, 0);
	v.ops[0].len = 4097;
	v.cnt = 1;
	sc_run("4097-byte copy", &v, X_INVALID, M_EINVAL, -1, 0);
	sc_vec(&v, 5);
	sc_run("5 operations", &v, X_INVALID, M_EINVAL, -1, 0);
	v.cnt = -1;
	sc_run("-1 operations", &v, X_INVALID, M_EINVAL, -1, 0);
	sc_result("EINVAL before any fault; limits: 4 operations, 4096 and 4120 bytes");
}

static void sc_args(void)
{
	struct vec v;

	sc_vec(&v, -1);
	v.cpu = -1;
	v.flags = CPU_OP_NR_FLAG;
	v.where = VP_WILD;
	v.wild = 0xffff800000000000ULL;
	sc_run("NR query", &v, X_RET, NR_CPU_OPS, -1, 0);
	v.flags = CPU_OP_VEC_LEN_MAX_FLAG;
	sc_run("VEC_LEN_MAX query", &v, X_RET, CPU_OP_VEC_LEN_MAX, -1, 0);
	v.flags = CPU_OP_NR_FLAG | CPU_OP_VEC_LEN_MAX_FLAG;
	sc_run("both queries", &v, X_INVALID, M_EINVAL, -1, 0);
	v.flags = 4;
	sc_run("flag 4", &v, X_INVALID, M_EINVAL, -1, 0);
	sc_vec(&v, 1);
	v.ops[0] = op_add(0, ptr(page_of(K_ANON, 0)), 1, 8);
	v.cpu = nr_cpus;
	sc_run("cpu nr_cpu_ids", &v, X_INVALID, M_EINVAL, -1, 0);
	v.cpu = -1;
	sc_run("cpu -1", &v, X_INVALID, M_EINVAL, -1, 0);
	if (excluded >= 0) {
		v.cpu = excluded;
		sc_run("cpu outside the affinity mask", &v, X_INVALID, M_EINVAL, -1, 0);
	}
	v.cpu = allowed[nallowed - 1];
	sc_run("cpu in the mask", &v, X_RUNS, 0, -1, 0);
	v.where = VP_WILD;
	v.wild = 0;
	sc_run("vector at NULL", &v, X_INVALID, M_EFAULT, -1, 0);
	v.cpu = -1;
	sc_run("vector at NULL, bad cpu", &v, X_INVALID, M_EINVAL | M_EFAULT, -1, 0);
	sc_vec(&v, 3);
	v.where = VP_EDGE;
	v.readable = 2;
	sc_run("third operation unreadable", &v, X_INVALID, M_EFAULT, -1, 0);
	v.ops[0].op = -1;
	sc_run("first invalid, third unreadable", &v, X_INVALID, M_EINVAL | M_EFAULT,
	       -1, 0);
	sc_result("flags, cpu and vector pointer");
}

/* The generator reaches every outcome, in sensible proportions. */
static void sc_generator(void)
{
	long n = opt_n > 0 && opt_n < 200000 ? opt_n : 20000, i;
	int undecided;
	struct expect x;
	struct vec v;
	double t0 = now();

	memset(&st, 0, sizeof(st));
	if (!epoch_init(0))
		ksft_exit_fail_perror("arena reset");
	for (i = 0; i < n; i++) {
		undecided = 0;
		gen_vec(i, &v);
		model_validate(&v, &x);
		if (x.kind == X_RUNS) {
			long r = model_run(&v, i & 1 ? 0 : -1, &undecided);

			st.stopped[r]++;
		} else if (x.kind == X_RET) {
			st.query++;
		} else {
			st.einval += !!(x.errs & M_EINVAL);
			st.efault += x.errs == M_EFAULT;
			st.eagain += x.errs == M_EAGAIN;
			st.either += x.errs == (M_EFAULT | M_EAGAIN);
		}
		if (ntaints)
			st.tainted++;
		st.undecided += undecided;
		taint_settle();
		st.vectors++;
	}
	ksft_print_msg("generator: %.2f us per vector through the model\n",
		       (now() - t0) * 1e6 / n);
	print_stats();
	SC_CHECK(st.stopped[0] > n / 10 && st.stopped[1] && st.stopped[2] &&
		 st.stopped[3] && st.stopped[4]);
	SC_CHECK(st.einval > n / 20 && st.efault > n / 50 && st.eagain > n / 100);
	SC_CHECK(st.either && st.query && st.tainted && st.undecided);
	sc_result("the generator reaches every outcome");
}

static int run_selfcheck(void)
{
	ksft_set_plan(10);
	if (!epoch_init(0))
		ksft_exit_fail_perror("arena reset");
	sc_compare_stops();
	sc_empty();
	sc_add_wraps();
	sc_overlap();
	sc_copy();
	sc_faults();
	sc_wild();
	sc_validation();
	sc_args();
	sc_generator();
	ksft_finished();
	return 0;
}

static void cpus_setup(bool exclude)
{
	int cpu;

	nr_cpus = nr_possible_cpus();
	if (nr_cpus <= 0 || sched_getaffinity(0, sizeof(cpumask), &cpumask))
		ksft_exit_fail_perror("CPUs");
	for (cpu = 0; cpu < nr_cpus && cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &cpumask))
			allowed[nallowed++] = cpu;
	/* A CPU outside the affinity mask, to target. */
	if (exclude && nallowed >= 2) {
		excluded = allowed[--nallowed];
		CPU_CLR(excluded, &cpumask);
		if (sched_setaffinity(0, sizeof(cpumask), &cpumask))
			ksft_exit_fail_perror("sched_setaffinity");
	}
}

static void help(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-m model|churn|inject|selfcheck|stub] [-n VECTORS] [-s SEED]\n"
		"	[-i INDEX] [-t SECONDS] [-F] [-k] [-x] [-H] [-v]\n"
		"  -m MODE	model (default): check each call against the model\n"
		"		churn: calls while the address space changes\n"
		"		inject: the model mode with failures injected into\n"
		"		cpu_opv() (root, fault-injection debugfs)\n"
		"		selfcheck: the model on known vectors, no cpu_opv()\n"
		"		stub: the model mode with a stand-in for the kernel\n"
		"  -n VECTORS	vectors (default 100000; churn: until -t)\n"
		"  -s SEED	seed (default 1)\n"
		"  -i INDEX	replay vector INDEX of the seed (and its epoch), with -F\n"
		"  -F		compare the whole arena after every vector, not only the\n"
		"		pages of its operands (the whole arena: every %d)\n"
		"  -t SECONDS	churn run time (default 15)\n"
		"  -k		keep going after a mismatch\n"
		"  -x		no operands in the last page of the address space\n"
		"  -H		churn: no CPU hotplug (done as root otherwise)\n"
		"  -v		verbose (twice: every vector)\n", prog, EPOCH);
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	bool model, churn, selfcheck, stub, inject;
	int c;

	while ((c = getopt(argc, argv, "m:n:s:i:t:FkxHvh")) != -1) {
		switch (c) {
		case 'm':
			opt_mode = optarg;
			break;
		case 'n':
			opt_n = strtol(optarg, NULL, 0);
			break;
		case 's':
			opt_seed = strtoull(optarg, NULL, 0);
			break;
		case 'i':
			opt_index = strtol(optarg, NULL, 0);
			break;
		case 't':
			opt_time = atoi(optarg);
			break;
		case 'F':
			opt_full = true;
			break;
		case 'k':
			opt_keep = true;
			break;
		case 'x':
			opt_no_top = true;
			break;
		case 'H':
			opt_no_hotplug = true;
			break;
		case 'v':
			opt_verbose++;
			break;
		default:
			help(argv[0]);
		}
	}
	model = !strcmp(opt_mode, "model");
	churn = !strcmp(opt_mode, "churn");
	selfcheck = !strcmp(opt_mode, "selfcheck");
	stub = !strcmp(opt_mode, "stub");
	inject = !strcmp(opt_mode, "inject");
	if (!model && !churn && !selfcheck && !stub && !inject)
		help(argv[0]);
	if (opt_n < 0 && !churn)
		opt_n = 100000;
	if (opt_index >= 0)
		opt_full = true;
	ksft_print_header();
	if ((model || churn || inject) &&
	    sys_cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) < 0 &&
	    errno == ENOSYS)
		ksft_exit_skip("cpu_opv() is not implemented by this kernel\n");
	cpus_setup(!churn);
	if (!arena_setup())
		ksft_exit_fail_perror("arena setup");
	ksft_print_msg("mode %s, seed %llu; %d of %d CPUs allowed, %d excluded\n",
		       opt_mode, opt_seed, nallowed, nr_cpus, excluded);
	ksft_print_msg("huge pages: thp %ld kB (%s), hugetlb %s; madvise %s\n",
		       thp_base ? anon_huge_kb(thp_base) : 0,
		       thp_used ? "madvised" : "not madvised",
		       huge_base ? "yes" : "none", have_madvise ? "yes" : "no");
	if (selfcheck)
		return run_selfcheck();
	if (churn)
		return run_churn();
	return run_model(stub, inject);
}
