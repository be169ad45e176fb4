// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_opv demo: asks the running kernel what it supports and shows what it
 * answers to a few calls. With --expect-enosys, checks that the kernel does
 * not implement cpu_opv() and reports it in TAP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/cpu_opv.h>

static int cpu_opv(struct cpu_op *ops, int cnt, int cpu, int flags)
{
	return syscall(__NR_cpu_opv, ops, cnt, cpu, flags);
}

static void show(const char *what, int ret)
{
	if (ret < 0)
		printf("  %-52s -> -1, errno %d (%s)\n", what, errno, strerror(errno));
	else
		printf("  %-52s -> %d\n", what, ret);
}

int main(int argc, char **argv)
{
	uint64_t counter = 41;
	struct cpu_op ops[5];
	struct utsname u;
	int cpu = sched_getcpu(), i, ret;

	if (argc > 1 && !strcmp(argv[1], "--expect-enosys")) {
		ret = cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG);
		printf("TAP version 13\n1..1\n");
		printf("# cpu_opv(CPU_OP_NR_FLAG) = %d, errno %d (%s)\n", ret,
		       ret < 0 ? errno : 0, ret < 0 ? strerror(errno) : "-");
		if (ret == -1 && errno == ENOSYS) {
			printf("ok 1 cpu_opv returns ENOSYS without CONFIG_CPU_OPV\n");
			return 0;
		}
		printf("not ok 1 cpu_opv returns ENOSYS without CONFIG_CPU_OPV\n");
		return 1;
	}

	uname(&u);
	printf("cpu_opv demo on Linux %s, %ld CPUs online, running on CPU %d\n",
	       u.release, sysconf(_SC_NPROCESSORS_ONLN), cpu);
	show("cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG)",
	     cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG));
	show("cpu_opv(NULL, 0, 0, CPU_OP_VEC_LEN_MAX_FLAG)",
	     cpu_opv(NULL, 0, 0, CPU_OP_VEC_LEN_MAX_FLAG));
	show("cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG | VEC_LEN_MAX)",
	     cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG | CPU_OP_VEC_LEN_MAX_FLAG));

	for (i = 0; i < 5; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].op = CPU_ADD_OP;
		ops[i].len = sizeof(counter);
		ops[i].u.arithmetic_op.p = (uintptr_t)&counter;
		ops[i].u.arithmetic_op.count = 1;
	}
	show("add 1 to a counter (41), on this CPU", cpu_opv(ops, 1, cpu, 0));
	printf("  counter is now %llu\n", (unsigned long long)counter);
	for (i = 0; i < sysconf(_SC_NPROCESSORS_ONLN); i++) {
		char what[64];

		snprintf(what, sizeof(what), "add 1 to the counter, on CPU %d", i);
		show(what, cpu_opv(ops, 1, i, 0));
	}
	printf("  counter is now %llu\n", (unsigned long long)counter);
	ops[1] = ops[0];
	ops[0].op = CPU_COMPARE_EQ_OP;
	ops[0].u.compare_op.a = (uintptr_t)&counter;
	ops[0].u.compare_op.b = (uintptr_t)&ops[4].u.arithmetic_op.count;
	show("compare counter == 1, then add 1 (stops at op 1)", cpu_opv(ops, 2, cpu, 0));
	printf("  counter is still %llu\n", (unsigned long long)counter);
	ops[0] = ops[1];
	show("the same on CPU -1", cpu_opv(ops, 1, -1, 0));
	show("5 operations (the limit is 4)", cpu_opv(ops, 5, cpu, 0));
	ops[0].len = 3;
	show("an add of 3 bytes", cpu_opv(ops, 1, cpu, 0));
	show("a vector at address NULL", cpu_opv(NULL, 1, cpu, 0));
	return 0;
}
