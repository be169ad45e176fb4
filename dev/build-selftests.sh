#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the cpu_opv kselftests, statically linked, with the kernel's own
# selftest build (lib.mk) against the uapi headers of the tree as it is
# checked out (dev/build-series.sh runs it at each selftest patch):
#   dev/build-selftests.sh [OUT [m32|arm64]]
# Output: OUT, default $CACHE/selftests (OUT/cpu_opv/: the programs and run
# list). Any compiler warning fails. With m32: 32-bit programs (gcc -m32),
# for the compat run on the 64-bit test kernel; their run list is the tests
# that make sense there (validation, execution, wild addresses). With arm64:
# for the arm64 kernel, with clang 19 and lld (Debian's cross GCC conflicts
# with gcc-multilib, which the m32 build needs) on Debian's arm64 C library
# (libc6-dev-arm64-cross), against the arm64 uapi headers.
. "$(dirname "$0")/lib.sh"

out=${1:-$CACHE/selftests}
out=${out%/}
m32=${2:-}
# The objects go to OUT-obj/kselftest: one directory per output, so that no
# build reuses another's objects (another word size or architecture, or the
# series walk's build, which runs beside dev/test's).
cc=(CC=gcc) obj=$out-obj cflags=-static
arch=
if [ "$m32" = arm64 ]; then
	arch=arm64
	cc=(ARCH=arm64 CC="$ARM64_CC")
elif [ "$m32" = m32 ]; then
	# kselftest_harness.h casts pointers to 64-bit integers in its
	# failure reports (__EXPECT): a warning in every 32-bit build of a
	# harness test, upstream's, and harmless there.
	cc=(CC="gcc -m32") cflags="-static -Wno-pointer-to-int-cast"
fi
make_headers $arch
headers=$HEADERS${arch:+-$arch}
rm -rf "$out"
# The objects persist in OUT-obj, and lib.mk does not make the programs
# depend on the uapi headers: a change to one (cpu_opv.h, rseq.h) would
# leave the programs whose sources did not change built against the old
# one. The objects go when the headers' contents changed.
sum=$(cd "$headers/usr/include" &&
	find . -type f -name '*.h' -print0 | sort -z | xargs -0 sha256sum |
	sha256sum | cut -d' ' -f1)
[ "$(cat "$obj/.headers" 2>/dev/null)" = "$sum" ] || rm -rf "$obj"
mkdir -p "$out" "$obj"
echo "$sum" > "$obj/.headers"
# The kselftest install target lays tests out as run_kselftest.sh expects.
if ! make -s -C "$SRC/tools/testing/selftests" TARGETS=cpu_opv "${cc[@]}" \
	USERCFLAGS="$cflags" USERLDFLAGS=-static \
	O="$obj" KHDR_INCLUDES="-isystem $headers/usr/include" \
	INSTALL_PATH="$out" install > "$out.log" 2>&1; then
	cat "$out.log" >&2
	die "selftests: build failed"
fi
if grep -E 'warning:' "$out.log" >&2; then
	die "selftests: the build printed warnings"
fi
if [ "$m32" = m32 ]; then
	file "$out/cpu_opv/validation_test" | grep -q "ELF 32-bit" ||
		die "selftests: the m32 build is not 32-bit"
	printf 'cpu_opv:%s\n' validation_test exec_test hardening_test > "$out/kselftest-list.txt"
fi
if [ "$m32" = arm64 ]; then
	file "$out/cpu_opv/validation_test" | grep -q "ARM aarch64" ||
		die "selftests: the arm64 build is not for arm64"
fi
log "selftests${m32:+ ($m32)}: $(tr '\n' ' ' < "$out/kselftest-list.txt")"
