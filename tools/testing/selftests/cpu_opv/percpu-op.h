/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-CPU data structures whose fast path is an rseq critical section and
 * whose slow path is cpu_opv(): the use cases of the cpu_opv() proposal.
 *
 * Every operation first tries its rseq critical section on the CPU the
 * thread runs on. After ctx->max_aborts aborts of that critical section
 * (preemption, signal, migration, single-stepping...), or at once when the
 * thread has no rseq or ctx->force_opv is set, it builds the equivalent
 * operation vector and has cpu_opv() run it on the same CPU, which
 * completes whatever the thread's scheduling is. A compare that fails in
 * either path means another thread changed the structure first: the
 * operation reloads and tries again, on the same path.
 *
 * Each thread owns a struct percpu_op_ctx, that holds its policy and counts
 * what went through which path.
 */
#ifndef _SELFTESTS_PERCPU_OP_H
#define _SELFTESTS_PERCPU_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/cpu_opv.h>

/* Per-CPU parts are this far apart, so that CPUs do not share cache lines. */
#define PERCPU_OP_STRIDE_ALIGN	128

/* ctx->max_aborts: never fall back (rseq only), or never use rseq. */
#define PERCPU_OP_RSEQ_ONLY	(-1)
#define PERCPU_OP_OPV_ONLY	0

struct percpu_op_stats {
	uint64_t ops;		/* operations completed */
	uint64_t empty;		/* pops that found nothing, pushes that found no room */
	uint64_t rseq_commits;	/* operations completed by an rseq commit */
	uint64_t rseq_aborts;	/* rseq critical sections aborted */
	uint64_t rseq_cmpfails;	/* rseq compares that failed (structure changed) */
	uint64_t fallbacks;	/* operations handed to cpu_opv() after max_aborts */
	uint64_t opv_commits;	/* operations completed by cpu_opv() */
	uint64_t opv_calls;	/* cpu_opv() calls */
	uint64_t opv_retries;	/* calls that did not complete their operation */
	uint64_t opv_eagain;	/* ... of which EAGAIN */
	uint64_t opv_einval;	/* ... of which EINVAL: CPU not in the affinity mask */
	uint64_t remote;	/* commits and steals on another CPU than the caller's */
};

struct percpu_op_ctx {
	/*
	 * Aborts of one operation's critical section after which cpu_opv()
	 * takes over, PERCPU_OP_RSEQ_ONLY or PERCPU_OP_OPV_ONLY. Read anew at
	 * each attempt: another thread or a tracer may change it.
	 */
	int max_aborts;
	/* The next operations go through cpu_opv() directly. */
	bool force_opv;
	/* rseq is registered for this thread (set by percpu_op_thread_init()). */
	bool has_rseq;
	struct percpu_op_stats stats;
};

/*
 * Process-wide set-up: call once before anything else. Returns the number of
 * possible CPUs, or -1.
 */
int percpu_op_init(void);
/* The number of possible CPUs, as percpu_op_init() found it. */
int percpu_op_nr_cpus(void);
/* rseq registration works (glibc's own or ours). */
bool percpu_op_rseq_available(void);
/* cpu_opv() is implemented (and allowed). */
bool percpu_op_opv_available(void);

/*
 * Registers rseq for the calling thread, if needed and possible, and sets
 * up @ctx with the policy @max_aborts. Returns 0, or -1 if rseq cannot be
 * registered (the thread then uses cpu_opv() only).
 */
int percpu_op_thread_init(struct percpu_op_ctx *ctx, int max_aborts);
void percpu_op_thread_fini(struct percpu_op_ctx *ctx);
/* The CPU the calling thread runs on. */
int percpu_op_current_cpu(struct percpu_op_ctx *ctx);
void percpu_op_stats_add(struct percpu_op_stats *sum,
			 const struct percpu_op_stats *stats);
/* Prints "# @head ops=... remote=... @tail": a TAP diagnostic line. */
void percpu_op_stats_print(const char *head, const struct percpu_op_stats *stats,
			   const char *tail);

/*
 * Delay injection, to widen the windows the tests want to hit. loops[1..6]
 * are busy loops at the injection points inside the rseq critical sections
 * (RSEQ_INJECT_ASM(n) of ../rseq), loops[7] a busy loop between reading a
 * structure and the cpu_opv() call that depends on what was read, loops[9]
 * one before each critical section. Every @yield_every-th critical section
 * is preceded by sched_yield() (0: never). All 0 by default.
 */
#define PERCPU_OP_NR_INJECT	10
void percpu_op_set_inject(const int loops[PERCPU_OP_NR_INJECT], int yield_every);

/*
 * Per-CPU spinlock: lock is an rseq compare-and-store of 1 over 0, or the
 * vector { compare == 0, copy 1 }; unlock is a store-release of 0 from
 * anywhere. percpu_lock() returns the CPU whose lock it took.
 */
struct percpu_lock {
	char *base;
};

int percpu_lock_create(struct percpu_lock *lock);
void percpu_lock_destroy(struct percpu_lock *lock);
int percpu_lock(struct percpu_op_ctx *ctx, struct percpu_lock *lock);
void percpu_unlock(struct percpu_lock *lock, int cpu);

/*
 * Per-CPU counters: an rseq add, or the vector { add }.
 * percpu_counter_add() returns the CPU whose counter it incremented.
 */
struct percpu_counter {
	char *base;
};

int percpu_counter_create(struct percpu_counter *counter);
void percpu_counter_destroy(struct percpu_counter *counter);
int percpu_counter_add(struct percpu_op_ctx *ctx,
		       struct percpu_counter *counter, intptr_t count);
intptr_t percpu_counter_read(struct percpu_counter *counter, int cpu);

/*
 * Per-CPU LIFO linked list of nodes embedded in the caller's items.
 * Push: rseq compare head and store it, or the vector { compare head, copy
 * new head }. Pop: rseq load head and store head->next, or the vector
 * { compare head, copy head->next to head }, with expect_fault on
 * head->next: the node may have been popped and its memory unmapped since
 * head was read, which makes cpu_opv() fail with EAGAIN, and the pop retry.
 */
struct percpu_list_node {
	struct percpu_list_node *next;
};

struct percpu_list {
	char *base;
};

int percpu_list_create(struct percpu_list *list);
void percpu_list_destroy(struct percpu_list *list);
int percpu_list_push(struct percpu_op_ctx *ctx, struct percpu_list *list,
		     struct percpu_list_node *node);
/* NULL if the list of the CPU it looked at was empty; that CPU in *cpu. */
struct percpu_list_node *percpu_list_pop(struct percpu_op_ctx *ctx,
					 struct percpu_list *list, int *cpu);
/*
 * One pop vector for @cpu that expects @head as the head, as the slow path
 * builds it, and cpu_opv()'s answer: 0 and errno untouched if @head was
 * popped, the failed compare's index + 1, or -1 and errno.
 */
int percpu_list_pop_vector(struct percpu_list *list, int cpu,
			   struct percpu_list_node *head, bool expect_fault);
/* Head of @cpu's list, for inspection while nothing runs. */
struct percpu_list_node *percpu_list_head(struct percpu_list *list, int cpu);

/*
 * Per-CPU LIFO stack of pointers in a fixed array.
 * Push: rseq compare offset, try-store the slot, store-release offset + 1;
 * or the vector { compare offset, copy slot, copy-release offset + 1 }.
 * Pop: rseq compare offset and the top pointer, store offset - 1; or the
 * vector { compare offset, compare top, copy offset - 1 }.
 * The store-release of the offset lets another CPU peek at the top
 * (load-acquire of the offset, then of the slot), and steal it: pop by
 * cpu_opv() on the victim's CPU, push by cpu_opv() on another one.
 */
struct percpu_stack {
	char *base;
	long capacity;
	size_t stride;
};

int percpu_stack_create(struct percpu_stack *stack, long capacity);
void percpu_stack_destroy(struct percpu_stack *stack);
/* The CPU pushed to, or -1 if the stack of the CPU it looked at was full. */
int percpu_stack_push(struct percpu_op_ctx *ctx, struct percpu_stack *stack,
		      void *item);
void *percpu_stack_pop(struct percpu_op_ctx *ctx, struct percpu_stack *stack,
		       int *cpu);
/* The top of @cpu's stack, or NULL, read from anywhere. */
void *percpu_stack_peek(struct percpu_stack *stack, int cpu);
/*
 * Moves the top item of @from's stack to the stack of *@to, both with
 * cpu_opv(). If *@to is not in the affinity mask (any more), the item goes
 * to the calling thread's CPU instead, which is returned in *@to.
 * Returns 0 and the item in *@item, 1 if @from's stack was empty or
 * changed under the pop, -1 if @from is not in the affinity mask.
 */
int percpu_stack_steal(struct percpu_op_ctx *ctx, struct percpu_stack *stack,
		       int from, int *to, void **item);

/* The largest stack percpu_stack_drain() takes: what one cpu_op copies. */
#define PERCPU_STACK_DRAIN_MAX	((long)(CPU_OP_DATA_LEN_MAX / sizeof(intptr_t)))

/*
 * Takes every item of @cpu's stack at once into @items, which has room for
 * stack->capacity pointers, and returns how many it took: the drain of a
 * per-CPU cache. On @cpu, an rseq critical section compares the offset,
 * copies the items out and stores 0 to the offset; from another CPU (or
 * after ctx->max_aborts aborts), one cpu_opv() on @cpu copies the offset
 * and all the slots out and stores 0, without a compare, so that it cannot
 * fail however busy the stack is. With PERCPU_OP_RSEQ_ONLY, the thread
 * moves to @cpu instead, drains there by rseq and comes back (its affinity
 * mask restored). Returns -1 if @cpu is not in the affinity mask, or if
 * the stack is too large for one vector (capacity >
 * PERCPU_STACK_DRAIN_MAX).
 */
long percpu_stack_drain(struct percpu_op_ctx *ctx, struct percpu_stack *stack,
			int cpu, void **items);
/* Number of items and item @i of @cpu's stack, while nothing runs. */
long percpu_stack_count(struct percpu_stack *stack, int cpu);
void *percpu_stack_item(struct percpu_stack *stack, int cpu, long i);

/*
 * Per-CPU LIFO stack of copied items of a fixed size, up to 4096 bytes.
 * Push: rseq compare offset, try-copy the item in, store offset + size; or
 * the vector { compare offset, copy item, copy offset + size }.
 * Pop: the same, copying out.
 */
struct percpu_copy_stack {
	char *base;
	size_t item_size;
	long capacity;
	size_t stride;
};

int percpu_copy_stack_create(struct percpu_copy_stack *stack, size_t item_size,
			     long capacity);
void percpu_copy_stack_destroy(struct percpu_copy_stack *stack);
/* The CPU pushed to, or -1 if the stack of the CPU it looked at was full. */
int percpu_copy_push(struct percpu_op_ctx *ctx, struct percpu_copy_stack *stack,
		     const void *item);
/* The CPU popped from, or -1 if the stack of the CPU it looked at was empty. */
int percpu_copy_pop(struct percpu_op_ctx *ctx, struct percpu_copy_stack *stack,
		    void *item);
long percpu_copy_count(struct percpu_copy_stack *stack, int cpu);
void *percpu_copy_item(struct percpu_copy_stack *stack, int cpu, long i);

/*
 * Per-CPU FIFO ring buffer of fixed-size slots, split in sub-buffers.
 * Reserve moves the head: rseq compare and store, or { compare, copy }.
 * The producer then fills its slot, and commits it by adding 1 to the commit
 * count of the slot's sub-buffer: an rseq add, or { add-release }. The
 * commit must land on the CPU that reserved, even if the producer migrated
 * in between: then it is done by cpu_opv() on that CPU (or, rseq only, by
 * moving the thread there). A consumer reads a sub-buffer once all its
 * slots are committed, then releases it by moving the tail.
 */
struct percpu_ring {
	char *base;
	size_t slot_size;
	long nr_subbufs;
	long subbuf_slots;
	size_t stride;
};

typedef void (*percpu_ring_fn)(const void *slot, long pos, int cpu, void *arg);

int percpu_ring_create(struct percpu_ring *ring, size_t slot_size,
		       long nr_subbufs, long subbuf_slots);
void percpu_ring_destroy(struct percpu_ring *ring);
/* The position reserved and its CPU in *cpu, or -1 if that ring was full. */
long percpu_ring_reserve(struct percpu_op_ctx *ctx, struct percpu_ring *ring,
			 int *cpu);
void *percpu_ring_slot(struct percpu_ring *ring, int cpu, long pos);
void percpu_ring_commit(struct percpu_op_ctx *ctx, struct percpu_ring *ring,
			int cpu, long pos);
/*
 * Consumes the oldest sub-buffer of @cpu's ring if all of it is committed,
 * calling @fn on each slot in order. Returns the number of slots consumed,
 * or -1 if a commit count is beyond what was reserved. One consumer per ring.
 */
long percpu_ring_consume(struct percpu_ring *ring, int cpu,
			 percpu_ring_fn fn, void *arg);
/*
 * Once every producer has stopped: consumes what is left, which must all be
 * committed. Returns the number of slots consumed, or -1 if the commit
 * counts do not add up to the reserved positions.
 */
long percpu_ring_drain(struct percpu_ring *ring, int cpu,
		       percpu_ring_fn fn, void *arg);
/* Positions reserved so far on @cpu's ring. */
long percpu_ring_head(struct percpu_ring *ring, int cpu);

#endif /* _SELFTESTS_PERCPU_OP_H */
