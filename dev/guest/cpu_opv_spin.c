// SPDX-License-Identifier: GPL-2.0
/*
 * Calls cpu_opv() forever, for dev/insncount, which attaches a debugger to
 * the guest and counts the instructions of one call of each kind: pinned to
 * CPU 0, one cycle of getppid(), then the benchmark's local vectors (as
 * cpu_opv_bench builds them), each told apart by its arguments: an empty
 * vector (cpuopcnt 0), 1 add (1, an add), the worst case's copy alone (1, a
 * memcpy), 4 compares (4, a compare first), the worst case (4, a memcpy of a
 * page first). As in the benchmark, the copy's source and destination each
 * cross a page: the worst case touches five pages.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include "cpu_opv.h"

#define PAGE_SZ 4096

static struct {
	uint64_t add;
	uint64_t cmp_a[4], cmp_b[4];
	uint64_t wc_add[2];
} d __attribute__((aligned(64)));

int main(void)
{
	struct cpu_op add[1], cmp4[4], worst[4], copy[1];
	char *map, *wc_src, *wc_dst;
	unsigned long n;
	int i;

	if (pin_to(0)) {
		perror("sched_setaffinity");
		return 1;
	}
	add[0] = op_add(0, &d.add, 1, sizeof(d.add));
	for (i = 0; i < 4; i++)
		cmp4[i] = op_compare(1, &d.cmp_a[i], &d.cmp_b[i], 8);
	/* The benchmark's worst case: a page copied, three adds. */
	map = mmap(NULL, 4 * PAGE_SZ, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(map, 0, 4 * PAGE_SZ);
	wc_src = map + PAGE_SZ / 2;
	wc_dst = map + 2 * PAGE_SZ + PAGE_SZ / 2;
	worst[0] = op_memcpy(0, wc_dst, wc_src, PAGE_SZ);
	worst[1] = op_add(0, wc_src, 1, 8);
	worst[2] = op_add(0, &d.wc_add[0], 1, 8);
	worst[3] = op_add(0, &d.wc_add[1], 1, 8);
	copy[0] = worst[0];
	printf("cpu_opv_spin: calling\n");
	fflush(stdout);
	for (n = 0;; n++) {
		getppid();
		if (sys_cpu_opv(add, 0, 0, 0) || sys_cpu_opv(add, 1, 0, 0) ||
		    sys_cpu_opv(copy, 1, 0, 0) || sys_cpu_opv(cmp4, 4, 0, 0) ||
		    sys_cpu_opv(worst, 4, 0, 0)) {
			printf("cpu_opv_spin: call %lu failed: errno %d\n", n, errno);
			return 1;
		}
	}
}
