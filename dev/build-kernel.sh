#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the kernel in the build tree with CONFIG_CPU_OPV=y or =n:
#   dev/build-kernel.sh y|n [name]
# Output in $CACHE/build-<name, default y|n>, configuration from dev/config/
# fragments merged on tinyconfig: base.config (what every guest needs to
# boot), then for y test.config (Rust, KUnit, the memory kinds, the debugging
# options) and cpu_opv-y.config; for n only cpu_opv-n.config: that kernel
# only proves that the series builds without cpu_opv (and without Rust) and
# that the call then returns ENOSYS. Rebuilds only what changed.
# With CHECK_FRAGMENTS=0, options the tree does not know yet (a build in the
# middle of the series) are not an error.
. "$(dirname "$0")/lib.sh"

v=${1:?usage: build-kernel.sh y|n}
out=$CACHE/build-${2:-$v}
case $v in
y) frags=("$ROOT/dev/config/base.config" "$ROOT/dev/config/test.config"
	  "$ROOT/dev/config/cpu_opv-y.config") ;;
n) frags=("$ROOT/dev/config/base.config" "$ROOT/dev/config/cpu_opv-n.config") ;;
*) die "usage: build-kernel.sh y|n [name]" ;;
esac
# EXTRA_FRAGMENT: one more fragment, merged last (it overrides the others).
[ -z "${EXTRA_FRAGMENT:-}" ] || frags+=("$EXTRA_FRAGMENT")
export LIBCLANG_PATH=${LIBCLANG_PATH:-$(libclang_path)}
# CLIPPY=1: clippy-driver compiles the Rust code, so its lints are build warnings.
mk() { make -s -C "$BASE_REPO" O="$out" CLIPPY=1 "$@"; }

mkdir -p "$out"
configure() {
	log "build-$v: configuring (tinyconfig + ${frags[*]##*/})"
	mk tinyconfig >/dev/null
	"$BASE_REPO/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" >/dev/null
	mk olddefconfig >/dev/null
	echo "$stamp" > "$out/.config-stamp"
}

# Whether every option the fragments set survived the dependency resolution.
# As in merge_config.sh, a later fragment's setting of a symbol wins.
config_applied() {
	local bad=0 line sym
	local -A want=()
	local -a order=()
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
stamp=$( { cat "${frags[@]}" "$BASE_REPO/Makefile"
	   git -C "$BASE_REPO" ls-files -s | grep 'Kconfig'; } | sha256sum | cut -c1-16)
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
if ! mk -j"$JOBS" bzImage > "$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	die "build-$v: kernel build failed (log: $out/build.log)"
fi
if grep -E '(^|: )(warning|error):' "$out/build.log" >&2; then
	die "build-$v: the build printed warnings"
fi
log "build-$v: $out/arch/x86/boot/bzImage"
