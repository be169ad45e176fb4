#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs what building and booting the kernel needs. Idempotent and quiet:
# it does nothing when everything is present.
. "$(dirname "$0")/lib.sh"

pkgs=(flex bison libelf-dev libssl-dev bc cpio kmod busybox-static
      qemu-system-x86 python3 perl xz-utils gzip rsync groff-base
      autoconf automake libtool pkg-config file g++
      clang-19 lld-19 llvm-19 gcc-multilib liburcu-dev python3-venv
      libseccomp-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1
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
