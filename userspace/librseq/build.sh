#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build librseq's test suite, with the cpu_opv series applied, as static
# executables for a minimal guest (busybox, no C library installed), and
# optionally dynamically linked too (--glibc).
#
# Usage: build.sh OUTDIR KHDR_INCLUDE_DIR [--unpatched | --first N] [--glibc]
#
#   OUTDIR            scratch and output directory (created); the sources
#                     and the build go to OUTDIR/src, the staged test
#                     binaries and the guest runner to OUTDIR/stage
#   KHDR_INCLUDE_DIR  kernel uapi headers (with or without linux/cpu_opv.h),
#                     e.g. the kernel's include/uapi or usr/include after
#                     "make headers_install". If <sys/syscall.h> does not
#                     define __NR_cpu_opv with them (include/uapi alone
#                     does not: the number is in the generated
#                     asm/unistd*.h of usr/include), the patched build is
#                     configured with --enable-cpu-opv-experimental-nr, so
#                     that its tests still call cpu_opv (473 on x86)
#   --unpatched       build the snapshot without the series
#   --first N         apply only the first N patches of the series (--first 1:
#                     the snapshot with the fix it needs on Linux 7.3, but
#                     without cpu_opv)
#   --glibc           also build librseq.so and link the test programs
#                     again, dynamically (librseq.so and the C library),
#                     into OUTDIR/stage-glibc: there glibc registers rseq
#                     and librseq uses its registration. The guest needs
#                     the loader and the shared libraries (guest-libs.sh)
#
# Environment: LIBRSEQ_TARBALL (default: the snapshot in /work/shared),
# JOBS (make -j, default 2).

set -eu

usage() {
	echo "usage: $0 OUTDIR KHDR_INCLUDE_DIR [--unpatched | --first N] [--glibc]" >&2
	exit 2
}

[ $# -ge 2 ] || usage
OUTDIR=$1
KHDR=$2
shift 2
PATCHED=1
FIRST=1000
VARIANT=patched
GLIBC=0
while [ $# -gt 0 ]; do
	case $1 in
	--unpatched) PATCHED=0; VARIANT=unpatched; shift ;;
	--first) [ $# -ge 2 ] || usage; FIRST=$2; VARIANT="first $2 patch(es)"; shift 2 ;;
	--glibc) GLIBC=1; shift ;;
	*) usage ;;
	esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
TARBALL=${LIBRSEQ_TARBALL:-/work/shared/librseq/librseq-cbdabc4.tar.gz}
TOPDIR=librseq-cbdabc4
JOBS=${JOBS:-2}

[ -f "$TARBALL" ] || { echo "$0: no snapshot at $TARBALL" >&2; exit 1; }
[ -d "$KHDR" ] || { echo "$0: no kernel header directory $KHDR" >&2; exit 1; }
for tool in git autoreconf libtoolize pkg-config make gcc g++ file; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "$0: $tool is missing (apt-get install -y git autoconf automake libtool pkg-config build-essential file)" >&2
		exit 1
	}
done

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
KHDR=$(cd "$KHDR" && pwd)
SRC=$OUTDIR/src/$TOPDIR
BUILD=$OUTDIR/src/build
STAGE=$OUTDIR/stage
GSTAGE=$OUTDIR/stage-glibc

start=$(date +%s)

# Import the snapshot as a git base, then apply the series.
rm -rf "$OUTDIR/src" "$STAGE" "$GSTAGE"
mkdir -p "$OUTDIR/src"
tar -xzf "$TARBALL" -C "$OUTDIR/src"
export GIT_AUTHOR_NAME="librseq snapshot" GIT_AUTHOR_EMAIL="librseq@localhost"
export GIT_COMMITTER_NAME="librseq build" GIT_COMMITTER_EMAIL="librseq@localhost"
export GIT_AUTHOR_DATE="2025-08-20T00:00:00Z" GIT_COMMITTER_DATE="2025-08-20T00:00:00Z"
(
	cd "$SRC"
	git init -q
	git add -A
	git commit -q -m "librseq cbdabc4 snapshot"
	if [ "$PATCHED" = 1 ]; then
		grep -v '^[[:space:]]*\(#\|$\)' "$HERE/patches/series" | head -n "$FIRST" |
		while read -r patch; do
			git am -q --keep-cr "$HERE/patches/$patch"
		done
	fi
	git log --oneline
)
unset GIT_AUTHOR_DATE GIT_COMMITTER_DATE

# Bootstrap and configure. -Werror goes to make, not configure: it would
# make configure's function checks fail (conflicting built-in
# declarations), so librseq's --enable-Werror adds it to its own flags.
(cd "$SRC" && ./bootstrap) >"$OUTDIR/bootstrap.log" 2>&1

# The cpu_opv system call number: librseq takes __NR_cpu_opv from the
# headers, and uses the number of the RFC series only when configured
# with --enable-cpu-opv-experimental-nr (a configure that knows it: the
# series from its second patch on).
EXTRA_CONFIGURE=
if grep -q 'enable-cpu-opv-experimental-nr' "$SRC/configure"; then
	if printf '#include <sys/syscall.h>\n#ifndef __NR_cpu_opv\n#error\n#endif\n' |
	   gcc -I"$KHDR" -E -x c - >/dev/null 2>&1; then
		VARIANT="$VARIANT, cpu_opv number from the headers"
	else
		EXTRA_CONFIGURE=--enable-cpu-opv-experimental-nr
		VARIANT="$VARIANT, experimental cpu_opv number (no __NR_cpu_opv in the headers)"
	fi
fi

# --glibc: librseq.so too (the static programs still link librseq.a).
SHARED=--disable-shared
[ "$GLIBC" = 0 ] || SHARED=--enable-shared

mkdir -p "$BUILD"
(
	cd "$BUILD"
	# shellcheck disable=SC2086 # empty or one word
	"$SRC/configure" --enable-static $SHARED --disable-numa --enable-Werror \
		$EXTRA_CONFIGURE CFLAGS="-O2 -Wall -I$KHDR" CXXFLAGS="-O2 -Wall -I$KHDR"
) >"$OUTDIR/configure.log" 2>&1 || { tail -20 "$OUTDIR/configure.log" >&2; exit 1; }

# Build the library and the tests without running them. -all-static makes
# libtool link the test programs fully statically (C library included).
(
	cd "$BUILD"
	make -j"$JOBS" check TESTS= \
		CFLAGS="-O2 -Wall -Werror -I$KHDR" CXXFLAGS="-O2 -Wall -Werror -I$KHDR" \
		LDFLAGS="-all-static"
) >"$OUTDIR/make.log" 2>&1 || { grep -E "error|Error" "$OUTDIR/make.log" | head -20 >&2; exit 1; }

# stage_programs DIR LINKAGE: copy the test programs into DIR/tests,
# each checked with file(1) to be a "LINKAGE" ELF executable.
stage_programs() {
	mkdir -p "$1/tests/unit"
	nr=0
	for f in "$BUILD"/tests/*.tap "$BUILD"/tests/param_test* "$BUILD"/tests/unit/*.tap; do
		[ -f "$f" ] || continue
		case "$f" in
		*.o) continue ;;
		esac
		case "$(file -b "$f")" in
		*ELF*"$2"*) ;;
		*)
			echo "$0: $f is not a $2 executable: $(file -b "$f")" >&2
			exit 1
			;;
		esac
		rel=${f#"$BUILD"/tests/}
		cp "$f" "$1/tests/$rel"
		nr=$((nr + 1))
	done
	cp "$HERE/run-guest.sh" "$1/run-guest.sh"
	chmod +x "$1/run-guest.sh"
}

# rseq_owner: who registered rseq (run-guest.sh runs it first).
OWNER_CFLAGS="-O2 -Wall -Wextra -Werror -pthread -I$KHDR -I$SRC/include"

# Stage the test programs and the guest runner.
stage_programs "$STAGE" "statically linked"
# shellcheck disable=SC2086 # flags
gcc $OWNER_CFLAGS -static -o "$STAGE/tests/rseq_owner" "$HERE/rseq-owner.c" \
	"$BUILD/src/.libs/librseq.a" -ldl >>"$OUTDIR/make.log" 2>&1 ||
	{ tail -20 "$OUTDIR/make.log" >&2; exit 1; }
echo "$VARIANT" >"$STAGE/VARIANT"
echo librseq >"$STAGE/REGISTRATION"
nr_static=$nr

if [ "$GLIBC" = 1 ]; then
	# Link the same objects again, dynamically: remove the library
	# (linked with -all-static, libtool made librseq.a only) and the
	# programs, and make them again without -all-static. -no-install: no
	# libtool wrapper script, the program itself (librseq.so is found
	# through LD_LIBRARY_PATH in the guest).
	rm -f "$BUILD/src/librseq.la"
	for f in "$STAGE"/tests/*.tap "$STAGE"/tests/param_test* "$STAGE"/tests/unit/*.tap; do
		if [ -f "$f" ]; then
			rm -f "$BUILD/tests/${f#"$STAGE"/tests/}"
		fi
	done
	(
		cd "$BUILD"
		make -j"$JOBS" check TESTS= \
			CFLAGS="-O2 -Wall -Werror -I$KHDR" CXXFLAGS="-O2 -Wall -Werror -I$KHDR" \
			LDFLAGS="-no-install"
	) >"$OUTDIR/make-glibc.log" 2>&1 ||
		{ grep -E "error|Error" "$OUTDIR/make-glibc.log" | head -20 >&2; exit 1; }
	stage_programs "$GSTAGE" "dynamically linked"
	mkdir -p "$GSTAGE/lib"
	cp -P "$BUILD"/src/.libs/librseq.so* "$GSTAGE/lib/"
	# run_no_syscall_test.tap's LD_PRELOAD library (with libseccomp):
	# a seccomp filter that makes rseq(2) fail with ENOSYS.
	[ -f "$BUILD/tests/.libs/libdisable-rseq-syscall.so" ] ||
		{ echo "$0: no libdisable-rseq-syscall.so: libseccomp-dev is needed" >&2; exit 1; }
	cp "$BUILD/tests/.libs/libdisable-rseq-syscall.so" "$GSTAGE/lib/"
	# shellcheck disable=SC2086 # flags
	gcc $OWNER_CFLAGS -o "$GSTAGE/tests/rseq_owner" "$HERE/rseq-owner.c" \
		-L"$BUILD/src/.libs" -lrseq >>"$OUTDIR/make-glibc.log" 2>&1 ||
		{ tail -20 "$OUTDIR/make-glibc.log" >&2; exit 1; }
	echo "$VARIANT, dynamically linked (librseq.so), glibc's rseq registration" >"$GSTAGE/VARIANT"
	echo glibc >"$GSTAGE/REGISTRATION"
fi

end=$(date +%s)
[ "$GLIBC" = 0 ] || echo "build.sh: $nr dynamically linked test programs staged in $GSTAGE ($(cat "$GSTAGE/VARIANT"))"
echo "build.sh: $nr_static static test programs staged in $STAGE ($(cat "$STAGE/VARIANT")), $((end - start)) s"
