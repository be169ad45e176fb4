// SPDX-License-Identifier: MIT
/*
 * Which registration of rseq librseq uses: glibc's or its own. Built by
 * build.sh against the librseq it stages (static, and dynamic for the
 * glibc stage), run by run-guest.sh before the tests, as a TAP program.
 *
 * Usage: rseq_owner glibc|librseq
 *
 *   glibc    glibc (>= 2.35) registered every thread and librseq uses that
 *            registration: a dynamically linked program, __rseq_size > 0,
 *            rseq_available(RSEQ_AVAILABLE_QUERY_LIBC), librseq's
 *            rseq_offset is glibc's __rseq_offset, and the kernel has
 *            glibc's area registered, in the main thread and in a new
 *            one, before librseq registers anything;
 *   librseq  librseq owns the registration (a static program, or
 *            glibc.pthread.rseq=0): __rseq_size is 0, and after
 *            rseq_register_current_thread() the kernel has librseq's own
 *            area (rseq_get_abi()) registered.
 *
 * Whether an area is the one the kernel has registered for the thread,
 * and with which length: rseq(2) asked to unregister it with a wrong
 * signature, which changes nothing. The kernel answers EPERM when the
 * area and the length are those of the registration (only the signature
 * differs), EINVAL otherwise (another area, another length, or no
 * registration).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rseq/rseq.h>

#ifndef AT_RSEQ_FEATURE_SIZE
# define AT_RSEQ_FEATURE_SIZE	27
#endif

/* glibc's registration (<sys/rseq.h> of glibc 2.35 on), also in libc.a. */
extern const ptrdiff_t __rseq_offset;
extern const unsigned int __rseq_size;
extern const unsigned int __rseq_flags;

static int nr_test, nr_failed;

static void ok(int cond, const char *desc)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++nr_test, desc);
	if (!cond)
		nr_failed++;
}

/*
 * The length with which @area is registered for the calling thread, or 0
 * if it is not the registered area (or the thread has none).
 */
static unsigned int registered_len(void *area)
{
	unsigned long feature = getauxval(AT_RSEQ_FEATURE_SIZE);
	unsigned int lens[] = { 32, __rseq_size, (unsigned int) feature,
				feature > 32 ? (unsigned int) feature : 32 };
	unsigned int i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		if (!lens[i])
			continue;
		if (syscall(__NR_rseq, area, lens[i], RSEQ_ABI_FLAG_UNREGISTER,
			    ~RSEQ_SIG) == -1 && errno == EPERM)
			return lens[i];
	}
	return 0;
}

static void *glibc_area(void)
{
	return (void *) ((uintptr_t) rseq_thread_pointer() + __rseq_offset);
}

struct thread_result {
	unsigned int glibc_len;		/* Before librseq registers. */
	unsigned int librseq_len;	/* After. */
	int32_t cpu_id;
};

static void *thread_fn(void *arg)
{
	struct thread_result *res = (struct thread_result *) arg;

	res->glibc_len = registered_len(glibc_area());
	if (!rseq_register_current_thread())
		res->librseq_len = registered_len(rseq_get_abi());
	res->cpu_id = rseq_current_cpu_raw();
	(void) rseq_unregister_current_thread();
	return NULL;
}

int main(int argc, char **argv)
{
	int glibc = argc == 2 && !strcmp(argv[1], "glibc");
	int dynamic = getauxval(AT_BASE) != 0;
	struct thread_result t = { 0, 0, -1 };
	unsigned int main_glibc_len, main_librseq_len;
	int32_t main_cpu_id;
	pthread_t thread;
	char desc[256];

	if (argc != 2 || (!glibc && strcmp(argv[1], "librseq"))) {
		fprintf(stderr, "usage: %s glibc|librseq\n", argv[0]);
		return 2;
	}
	/* Before librseq registers anything (its constructor does not). */
	main_glibc_len = registered_len(glibc_area());
	if (rseq_register_current_thread())
		main_librseq_len = 0;
	else
		main_librseq_len = registered_len(rseq_get_abi());
	main_cpu_id = rseq_current_cpu_raw();
	if (pthread_create(&thread, NULL, thread_fn, &t) || pthread_join(thread, NULL))
		t.cpu_id = -1;

	printf("1..7\n");
	printf("# glibc %s, %s program (AT_BASE %#lx), kernel feature size %lu\n",
	       gnu_get_libc_version(), dynamic ? "dynamically linked" : "static",
	       getauxval(AT_BASE), getauxval(AT_RSEQ_FEATURE_SIZE));
	printf("# glibc: __rseq_offset %td, __rseq_size %u, __rseq_flags %u\n",
	       __rseq_offset, __rseq_size, __rseq_flags);
	printf("# librseq: rseq_offset %td, rseq_size %u, rseq_flags %u, "
	       "rseq_available(RSEQ_AVAILABLE_QUERY_LIBC) %d\n",
	       rseq_offset, rseq_size, rseq_flags,
	       rseq_available(RSEQ_AVAILABLE_QUERY_LIBC));
	printf("# kernel: main thread: glibc's area registered with %u bytes "
	       "before rseq_register_current_thread(), librseq's area (rseq_get_abi()) "
	       "with %u after; new thread: %u and %u\n",
	       main_glibc_len, main_librseq_len, t.glibc_len, t.librseq_len);
	printf("# owner of the registration: %s\n",
	       rseq_available(RSEQ_AVAILABLE_QUERY_LIBC) ? "glibc" : "librseq");

	if (glibc) {
		ok(dynamic, "dynamically linked (AT_BASE: the program has an interpreter)");
		snprintf(desc, sizeof(desc), "glibc registered rseq: __rseq_size %u > 0", __rseq_size);
		ok(__rseq_size > 0, desc);
		ok(rseq_available(RSEQ_AVAILABLE_QUERY_LIBC),
		   "librseq uses glibc's registration: rseq_available(RSEQ_AVAILABLE_QUERY_LIBC)");
		snprintf(desc, sizeof(desc), "librseq's rseq_offset %td is glibc's __rseq_offset %td",
			 rseq_offset, __rseq_offset);
		ok(rseq_offset == __rseq_offset, desc);
		snprintf(desc, sizeof(desc), "main thread: the kernel has glibc's area registered "
			 "(%u bytes) before librseq registers", main_glibc_len);
		ok(main_glibc_len > 0, desc);
		snprintf(desc, sizeof(desc), "main thread: rseq_register_current_thread() leaves it "
			 "(rseq_get_abi() is that area: %u bytes), cpu_id %d", main_librseq_len,
			 main_cpu_id);
		ok(main_librseq_len == main_glibc_len && main_cpu_id >= 0, desc);
		snprintf(desc, sizeof(desc), "new thread: glibc's area registered (%u bytes) before "
			 "librseq registers, rseq_get_abi() is that area, cpu_id %d",
			 t.glibc_len, t.cpu_id);
		ok(t.glibc_len > 0 && t.librseq_len == t.glibc_len && t.cpu_id >= 0, desc);
	} else {
		snprintf(desc, sizeof(desc), "%s program", dynamic ? "dynamically linked" : "static");
		ok(1, desc);
		snprintf(desc, sizeof(desc), "glibc did not register rseq: __rseq_size %u", __rseq_size);
		ok(__rseq_size == 0, desc);
		ok(!rseq_available(RSEQ_AVAILABLE_QUERY_LIBC),
		   "librseq owns the registration: !rseq_available(RSEQ_AVAILABLE_QUERY_LIBC)");
		snprintf(desc, sizeof(desc), "librseq's rseq_size %u > 0 after registration", rseq_size);
		ok(rseq_size > 0, desc);
		snprintf(desc, sizeof(desc), "main thread: no registration before librseq's "
			 "(glibc's area: %u bytes)", main_glibc_len);
		ok(main_glibc_len == 0, desc);
		snprintf(desc, sizeof(desc), "main thread: the kernel has librseq's area registered "
			 "(%u bytes), cpu_id %d", main_librseq_len, main_cpu_id);
		ok(main_librseq_len > 0 && main_cpu_id >= 0, desc);
		snprintf(desc, sizeof(desc), "new thread: not registered before librseq (%u), then "
			 "librseq's area (%u bytes), cpu_id %d", t.glibc_len, t.librseq_len, t.cpu_id);
		ok(t.glibc_len == 0 && t.librseq_len > 0 && t.cpu_id >= 0, desc);
	}
	(void) rseq_unregister_current_thread();
	return nr_failed ? 1 : 0;
}
