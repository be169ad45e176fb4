# SPDX-License-Identifier: GPL-2.0
# Common settings of the dev/ scripts. Sourced, not run.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything built lives outside the clone, so that fresh clones reuse it.
CACHE=${CPU_OPV_CACHE:-$HOME/.cache/cpu_opv}
BASE_VERSION=7.3.4
# The pinned tarball of the base tree (dev/base.sh), when the machine has it.
BASE_TARBALL=$ROOT/../shared/kernel/linux-source-$BASE_VERSION.tar.xz
BASE_REPO=$CACHE/linux-source-7.3	# git repository (branch "base" = pristine tree) and
				# the work tree the kernels are built from
# The work tree a build reads: the base repository's (at the series' head),
# or the series walk's worktree, whose builds run beside the others
# (dev/build-series.sh sets CPU_OPV_SRC and CPU_OPV_HEADERS for them).
SRC=${CPU_OPV_SRC:-$BASE_REPO}
JOBS=${JOBS:-$(( $(nproc) + 1 ))}
# Identity of the pristine base commit: fixed, so that its hash (the series'
# base-commit) is the same on every machine.
BASE_DATE='2026-01-01T00:00:00Z'

mkdir -p "$CACHE"

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# Runs "$@" as a named stage and prints the time it took.
stage() {
	local name=$1 t0=$SECONDS rc=0
	shift
	log "stage $name: start"
	"$@" || rc=$?
	log "stage $name: $( ((rc)) && echo "FAILED ($rc)" || echo done) in $(( SECONDS - t0 )) s"
	echo "$name=$(( SECONDS - t0 ))" >> "${STAGE_TIMES:-/dev/null}"
	return $rc
}

# The test kernel (build-y) is built with clang 19 (LLVM=-19): Rust accepts
# KASAN only with clang as the C compiler. The others are built with GCC, so
# that both compilers stay covered.
TEST_LLVM=-19

# libclang for bindgen: clang's own for an LLVM build, else the PyPI wheel's
# (libclang >= 17; Debian 12's default libclang is 14).
libclang_path() {
	if [ -n "${1:-}" ]; then
		echo "/usr/lib/llvm${1}/lib"
	else
		python3 -c 'import clang,os;print(os.path.join(os.path.dirname(clang.__file__),"native"))'
	fi
}

# make in the test kernel's build directory, with its compiler: a make
# without LLVM=-19 there would reconfigure it for GCC (and drop Rust, which
# with GCC excludes KASAN).
make_y() {
	make -s -C "$BASE_REPO" O="$CACHE/build-y" LLVM=$TEST_LLVM "$@"
}

# The uapi headers of the tree as it is checked out, in a directory of their
# own (no configuration needed): what the kselftests, librseq and the demo
# are built against. make_headers ARCH: another architecture's, in
# $HEADERS-ARCH (make_headers arm64: $HEADERS-arm64).
HEADERS=${CPU_OPV_HEADERS:-$CACHE/headers}
make_headers() {
	make -s -C "$SRC" O="$HEADERS${1:+-$1}" ${1:+ARCH=$1} headers
}

# The arm64 guest's programs: clang with lld, on Debian's arm64 C library.
ARM64_CC="clang-19 --target=aarch64-linux-gnu -fuse-ld=lld"

base_commit() {
	git -C "$BASE_REPO" rev-parse --verify -q base 2>/dev/null
}

export PATH=$HOME/.cargo/bin:$PATH
