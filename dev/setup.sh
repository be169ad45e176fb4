#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs what building and booting the kernel needs. Idempotent and quiet:
# it does nothing when everything is present.
#   dev/setup.sh [arm64]: arm64, also what dev/arm64 needs.
. "$(dirname "$0")/lib.sh"

arm64=0
[ "${1:-}" = arm64 ] && arm64=1
pkgs=(flex bison libelf-dev libssl-dev bc cpio kmod busybox-static
      qemu-system-x86 python3 perl xz-utils gzip rsync groff-base
      autoconf automake libtool pkg-config file g++
      clang-19 lld-19 llvm-19 gcc-multilib liburcu-dev python3-venv
      libseccomp-dev gdb)
# dev/arm64: QEMU for arm64 and an arm64 C library for clang; the guest's
# busybox is Debian's, for arm64 (a foreign architecture for dpkg, fetched
# and unpacked only, never installed).
((arm64)) && pkgs+=(qemu-system-arm libc6-dev-arm64-cross libgcc-12-dev-arm64-cross)
arm64_busybox=$CACHE/busybox-arm64
if ((arm64)) && [ ! -x "$arm64_busybox" ] &&
   ! dpkg --print-foreign-architectures | grep -qx arm64; then
	log "adding arm64 as a foreign architecture (for busybox-static:arm64)"
	dpkg --add-architecture arm64
	need_update=1
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]})) || [ -n "${need_update:-}" ]; then
	apt-get update -qq >/dev/null
fi
extra=()
# Some machines carry qemu-utils from bookworm-backports without that source
# configured: it "Breaks" bookworm's qemu-system-common, so apt refuses the
# QEMU we boot with. Move qemu-utils back to the version the sources offer,
# in the same transaction (nothing here uses qemu-img).
if [[ " ${missing[*]} " == *" qemu-system"* ]] &&
   dpkg-query -W -f='${Status}' qemu-utils 2>/dev/null | grep -q 'ok installed'; then
	have=$(dpkg-query -W -f='${Version}' qemu-utils)
	madison=$(apt-cache madison qemu-utils)
	offered=$(awk -F' [|] ' 'NR == 1 { print $2 }' <<<"$madison")
	if [ -n "$offered" ] && [[ $madison != *"| $have |"* ]]; then
		log "qemu-utils $have is from no configured source: installing $offered with QEMU"
		extra=(--allow-downgrades "qemu-utils=$offered")
	fi
fi
if ((${#missing[@]})); then
	log "installing Debian packages: ${missing[*]}"
	apt-get install -y -qq "${extra[@]}" "${missing[@]}" >/dev/null 2>&1 ||
		die "apt-get install failed: rerun without -qq to see why:" \
		    "apt-get install ${extra[*]} ${missing[*]}"
fi
if ((arm64)) && [ ! -x "$arm64_busybox" ]; then
	log "fetching busybox-static:arm64"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# The package lists may lack arm64 (cleaned, or an update that failed
	# after the architecture was added): update once and retry.
	(cd "$tmp" && apt-get download -qq busybox-static:arm64 >/dev/null 2>&1) ||
		{ apt-get update -qq >/dev/null &&
		  (cd "$tmp" && apt-get download -qq busybox-static:arm64 >/dev/null 2>&1); } ||
		die "cannot download busybox-static:arm64"
	dpkg-deb -x "$tmp"/busybox-static_*_arm64.deb "$tmp/root"
	install -m 755 "$tmp/root/bin/busybox" "$arm64_busybox"
	rm -rf "$tmp"
fi

command -v rustc >/dev/null || die "rustc is missing (rustup's toolchain is expected)"
if [ ! -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
	log "installing rust-src"
	rustup component add rust-src >/dev/null 2>&1
fi
if ! bindgen --version >/dev/null 2>&1; then
	log "installing bindgen-cli (a few minutes)"
	cargo install --locked --quiet bindgen-cli@0.73.2
fi
# checkpatch's SPDX check runs scripts/spdxcheck.py, which needs ply and GitPython.
# dev/check-docs.py parses the rst document with docutils.
if ! python3 -c 'import ply, git, docutils' 2>/dev/null; then
	log "installing ply, GitPython and docutils from PyPI"
	pip install -q ply GitPython docutils 2>/dev/null
fi
# dev/plot-bench.py renders the benchmark's CSV with matplotlib.
if ! python3 -c 'import matplotlib' 2>/dev/null; then
	log "installing matplotlib from PyPI"
	pip install -q matplotlib 2>/dev/null
fi
if ! python3 -c 'import clang' 2>/dev/null; then
	log "installing libclang 18 from PyPI"
	pip install -q libclang==18.1.1 2>/dev/null
fi
# dev/b4/b4-check.sh puts the series through b4's submission flow: b4 in a
# venv of its own (its dependencies stay out of the system's Python).
if [ ! -x "$CACHE/b4-venv/bin/b4" ]; then
	log "installing b4 0.16.0 from PyPI"
	python3 -m venv "$CACHE/b4-venv" && "$CACHE/b4-venv/bin/pip" install -q b4==0.16.0 ||
		die "cannot install b4"
fi
