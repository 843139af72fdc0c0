#!/bin/bash
# Build the patched guest kernel into the cache, unless a build with the
# same key is already there.  Prints the build dir.  Variants: run (make
# run, make bench), debug (make check: KASAN, lockdep), distro (the run
# kernel with static keys and CPU mitigations: RASYNC_BENCH_KERNEL=distro).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-run}
case $variant in run | debug | distro) ;; *) die "unknown kernel variant '$variant' (run|debug|distro)" ;; esac

kver=$(kernel_version)
src=$(src_dir)
out=$(build_dir "$variant")

if [ -f "$out/.rasync-ok" ]; then
	log "kernel $kver ($variant) up to date: $out"
	echo "$out"
	exit 0
fi

mkdir -p "$RASYNC_CACHE" "$CCACHE_DIR"
# Only one build of the cache at a time.
exec 9>"$RASYNC_CACHE/.build.lock"
flock 9

if [ ! -f "$src/.rasync-ok" ]; then
	log "unpacking $KSRC_PKG $kver into $src"
	rm -rf "$src" && mkdir -p "$src"
	tar -xf "$KSRC_TARBALL" -C "$src" --strip-components=1
	for p in $(series); do
		log "applying $(basename "$p")"
		patch -d "$src" -p1 -N --batch --quiet <"$p" ||
			die "patch $(basename "$p") does not apply to $KSRC_PKG $kver"
	done
	touch "$src/.rasync-ok"
fi

mapfile -t frags < <(config_fragments "$variant")

rm -rf "$out" && mkdir -p "$out"
log "configuring $variant kernel in $out"
make -s -C "$src" O="$out" "${KMAKE_VARS[@]}" tinyconfig >/dev/null
(cd "$src" && KCONFIG_CONFIG="$out/.config" scripts/kconfig/merge_config.sh -m -O "$out" \
	"$out/.config" "${frags[@]}" >"$out/merge.log" 2>&1) || die "merge_config failed: $out/merge.log"
make -s -C "$src" O="$out" "${KMAKE_VARS[@]}" olddefconfig

# Kconfig drops options whose dependencies fail (e.g. RUST when the toolchain
# is not "available"): insist on every option the fragments ask for.
bad=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF -- "$line" "$out/.config" || { log "config: wanted $line, got: $(grep "^${line%%=*}=" "$out/.config" || echo unset)"; bad=1; } ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		! grep -q "^$opt=" "$out/.config" || { log "config: wanted $opt unset"; bad=1; } ;;
	esac
done < <(cat "${frags[@]}")
[ $bad = 0 ] || die "kernel config for '$variant' is missing options (see above; 'make ${KMAKE_VARS[0]} rustavailable' explains RUST)"

# Progress as "step N of about M": M is the step count of this variant's
# last build here, or of a cold build on the 2-core reference machine.
steps_file="$RASYNC_CACHE/steps.$RASYNC_KERNEL.$variant"
case $variant in run) steps=1572 ;; debug) steps=1843 ;; distro) steps=1650 ;; esac
[ -s "$steps_file" ] && steps=$(cat "$steps_file")
log "building $variant kernel $kver with $(nproc) jobs, about $steps steps (log: $out/build.log)"
start=$(date +%s)
set +e
make -C "$src" O="$out" "${KMAKE_VARS[@]}" -j"$(nproc)" bzImage modules 2>&1 |
	tee "$out/build.log" |
	gawk -v v="$variant" -v m="$steps" -v t0="$start" '
		/^  [A-Z]/ {
			n++
			if (n % 250 == 0) {
				printf "rasync: [%s kernel] step %d of about %d (%d%%, %d s): %s\n",
					v, n, m, n * 100 / m, systime() - t0, $0
				fflush()
			}
		}
		/: (fatal )?error:|\*\*\* / { print; fflush() }' >&2
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || die "kernel build failed (rc=$rc); see $out/build.log"
grep -c '^  [A-Z]' "$out/build.log" >"$steps_file" || true
touch "$out/.rasync-ok"
log "$variant kernel built in $(($(date +%s) - start))s: $out/arch/x86/boot/bzImage"

# Keep the two newest source keys of this kernel; older ones only cost disk.
ls -1dt "$RASYNC_CACHE/k/$(kernel_version | tr '~:' '__')"-*/ 2>/dev/null | tail -n +3 | xargs -r rm -rf
echo "$out"
