#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds a kernel of the build tree:
#   dev/build-kernel.sh y|n|min|arm64 [name]
# Output in $CACHE/build-<name, default the kind>, configuration from
# dev/config/ fragments merged on tinyconfig:
#   y    base.config (what every guest needs to boot), test.config (Rust,
#        KUnit, the memory kinds, KASAN and the other debugging options) and
#        cpu_opv-y.config: the test kernel;
#   n    the benchmark kernel's fragments (y's and bench.config) and
#        cpu_opv-n.config: proves that the series builds without cpu_opv
#        (and without Rust) and that the call returns ENOSYS; built from a
#        copy of $CACHE/build-bench when that is newer, so that only the
#        objects that test the changed options are rebuilt (seconds, where a
#        build of its own took minutes);
#   min  min.config alone: the smallest configuration with Rust and cpu_opv
#        and the debugging options that change code generation, never booted:
#        its build must be free of any warning (objtool's and kallsyms'
#        included), as the 0-day bot would check;
#   arm64 the test kernel's fragments and arm64.config, for arm64 (QEMU's
#        virt machine), with clang (no GNU cross toolchain is needed).
# The kernel named y (the test kernel) and the arm64 one are built with
# clang (LLVM=-19), so that KASAN and Rust go together; the others with
# GCC. Rebuilds only what changed.
# With CHECK_FRAGMENTS=0, options the tree does not know yet (a build in the
# middle of the series) are not an error.
. "$(dirname "$0")/lib.sh"

v=${1:?usage: build-kernel.sh y|n|min|arm64}
out=$CACHE/build-${2:-$v}
arch=x86
# The test kernel's fragments, which n and arm64 build on.
test_frags=("$ROOT"/dev/config/{base,test,cpu_opv-y}.config)
case $v in
y) frags=("${test_frags[@]}") ;;
n) frags=("${test_frags[@]}" "$ROOT"/dev/config/{bench,cpu_opv-n}.config)
   seed=$CACHE/build-bench ;;
min) frags=("$ROOT/dev/config/min.config") ;;
arm64) frags=("${test_frags[@]}" "$ROOT/dev/config/arm64.config")
       arch=arm64 ;;
*) die "usage: build-kernel.sh y|n|min|arm64 [name]" ;;
esac
llvm=
[ "${2:-$v}" = y ] || [ $arch = arm64 ] && llvm=$TEST_LLVM
image=bzImage
[ $arch = arm64 ] && image=Image
# IMAGE=vmlinux: the kernel linked, objtool and kallsyms run, without the
# boot image (the series walk's patches but the last, dev/build-series.sh).
image=${IMAGE:-$image}
# EXTRA_FRAGMENT: more fragments (separated by blanks), merged last, in
# order (they override the others).
for f in ${EXTRA_FRAGMENT:-}; do
	frags+=("$f")
done
export LIBCLANG_PATH=$(libclang_path $llvm)
# CLIPPY=1: clippy-driver compiles the Rust code, so its lints are build warnings.
mk() { make -s -C "$SRC" O="$out" ARCH=$arch CLIPPY=1 ${llvm:+LLVM=$llvm} "$@"; }

# kbuild's output directory can be copied: its commands name the source
# tree by its absolute path and the output directory relatively.
if [ -n "${seed:-}" ] && [ -f "$seed/vmlinux" ] &&
   { [ ! -f "$out/vmlinux" ] || [ "$seed/vmlinux" -nt "$out/vmlinux" ]; }; then
	log "build-$v: starting from a copy of $seed"
	rm -rf "$out"
	cp -a "$seed" "$out"
fi
mkdir -p "$out"
configure() {
	log "build-$v: configuring (tinyconfig + ${frags[*]##*/}, ${llvm:+clang}${llvm:-gcc}, $arch)"
	mk tinyconfig >/dev/null
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" >/dev/null
	mk olddefconfig >/dev/null
	echo "$stamp" > "$out/.config-stamp"
}

# The symbols the Kconfig files of the architecture define (the generic ones
# and its own): base.config and test.config name x86 symbols that arm64 does
# not have, and those are not checked there.
arch_symbols() {
	git -C "$SRC" ls-files '*Kconfig*' | grep -v -e '^arch/' -e '^tools/' |
		sed "s|^|$SRC/|"
	ls "$SRC/arch/$arch"/Kconfig* "$SRC"/arch/Kconfig 2>/dev/null
} 2>/dev/null
defined_symbols() {
	arch_symbols | xargs sed -n 's/^[[:space:]]*\(menu\)\?config[[:space:]]\+\([A-Za-z0-9_]\+\).*/CONFIG_\2/p' |
		sort -u
}

# Whether every option the fragments set survived the dependency resolution.
# As in merge_config.sh, a later fragment's setting of a symbol wins.
config_applied() {
	local bad=0 line sym
	local -A want=() known=()
	local -a order=()
	if [ $arch != x86 ]; then
		while read -r sym; do known[$sym]=1; done < <(defined_symbols)
	fi
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) sym=${line%%=*} ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym% is not set} ;;
		*) continue ;;
		esac
		[ -n "${want[$sym]+set}" ] || order+=("$sym")
		want[$sym]=$line
	done < <(cat "${frags[@]}")
	for sym in "${order[@]}"; do
		[ $arch = x86 ] || [ -n "${known[$sym]+set}" ] || continue
		line=${want[$sym]}
		case $line in
		CONFIG_*=*) grep -qxF "$line" "$out/.config" || { log "build-$v: not applied: $line"; bad=1; } ;;
		*) ! grep -q "^$sym=" "$out/.config" || { log "build-$v: not unset: $sym"; bad=1; } ;;
		esac
	done
	return $bad
}

# The configuration is made anew when the fragments change, or the tree's
# Kconfig files do (a patch that adds an option: its fragment setting must
# take effect at that patch, not the Kconfig default).
stamp=$( { echo "llvm=$llvm"; [ $arch = x86 ] || echo "arch=$arch"; cat "${frags[@]}" "$SRC/Makefile"
	   git -C "$SRC" ls-files -s | grep 'Kconfig'; } | sha256sum | cut -c1-16)
if [ "$(cat "$out/.config-stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$out/.config" ]; then
	configure
fi
if [ "${CHECK_FRAGMENTS:-1}" != 0 ] && ! config_applied; then
	# A build of a tree that lacked some option dropped it: configure anew.
	configure
	config_applied || die "build-$v: the configuration lacks options (see above)"
fi

if grep -qx 'CONFIG_RUST=y' "$out/.config"; then
	mk rustavailable >/dev/null || die "Rust toolchain not usable: make rustavailable"
fi
if ! mk -j"$JOBS" $image > "$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	die "build-$v: kernel build failed (log: $out/build.log)"
fi
# make -s prints nothing but diagnostics: compiler, clippy, objtool,
# modpost and kallsyms ("Symbol ... too long for kallsyms") alike.
if [ -s "$out/build.log" ]; then
	cat "$out/build.log" >&2
	die "build-$v: the build printed warnings"
fi
if [ "$image" = vmlinux ]; then
	log "build-$v: $out/vmlinux"
else
	log "build-$v: $out/arch/$arch/boot/$image"
fi
