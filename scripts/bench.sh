#!/bin/bash
# `make bench`: the seed's comparison (async buffered reads, 2020 cover letter)
# on the run (non-debug) kernel: fio 4K random reads on an
# ext4 file larger than guest RAM, caches dropped before each cold run, rows
# interleaved and repeated over rounds; plus hot-cache runs on a file that fits.
#
# Knobs (environment):
#   RASYNC_BENCH_SIZE         cold file size, fio syntax (default 1G)
#   RASYNC_BENCH_RUNTIME      seconds per run, time-based with --norandommap;
#                             0 = size-based, every block read once like the
#                             seed, published to results/seed (default 30);
#                             with a file smaller than guest RAM, `make run`'s
#                             shape: results/demo (e.g. RASYNC_BENCH_SIZE=256M
#                             RASYNC_BENCH_RUNTIME=0 RASYNC_BENCH_MEM=1024)
#   RASYNC_BENCH_ROUNDS       rounds; each runs every row once, order rotated
#                             (default 5)
#   RASYNC_BENCH_MEM          guest RAM in MB (default 512)
#   RASYNC_BENCH_KERNEL       run (default): the tinyconfig-based run kernel;
#                             distro: the same with CONFIG_JUMP_LABEL and CPU
#                             mitigations (qemu/config/distro.config), results
#                             published with a "-distro" suffix
#   RASYNC_BENCH_SMP          guest vCPUs (default 2); 1 publishes to
#                             results/one-cpu: io-wq workers share fio's CPU
#   RASYNC_BENCH_HOT_SIZE     hot file size (default 128M; must fit in RAM)
#   RASYNC_BENCH_HOT_RUNTIME  seconds per hot run (default: RUNTIME, or 10 if
#                             RUNTIME=0)
#   RASYNC_BENCH_ROWS         subset/order of rows (default: all of qemu/bench-rows.tsv);
#                             only mp_ rows publishes to results/mempressure
#   RASYNC_BENCH_MP_LEAVE_MB  mp_ rows: MiB of MemAvailable fio leaves unlocked
#                             (default 64; less is deeper pressure)
#   RASYNC_BENCH_PROFILE      1: every run under perf record -e cpu-clock -a
#                             in the guest (RASYNC_BENCH_PROFILE_HZ, default
#                             997), table.md gains CPU us per IO by symbol and
#                             the symbols that make each gap; published to
#                             results/profile[-one-cpu][-icount][-distro]
#                             (in `make run`'s shape: results/demo...)
#   RASYNC_BENCH_TIMEOUT      guest timeout in seconds (default: estimated)
#   RASYNC_BENCH_PUBLISH      1 (default): write results/<variant>/, splice the
#                             variant's section into results/README.md and
#                             regenerate README.md's headline ratios; 0:
#                             out/<kernel>/bench only
#   RASYNC_ICOUNT, RASYNC_TCG_THREAD  see qemu/boot.sh; published with an
#                             "-icount" / "-tcg-single" suffix
#   RASYNC_KERNEL             the kernel series (scripts/lib.sh): 7.3 (default)
#                             or 6.12, published with a "-6.12" suffix
# The full seed experiment, where the machine allows:
#   RASYNC_BENCH_SIZE=4G RASYNC_BENCH_RUNTIME=0 make bench
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SIZE=${RASYNC_BENCH_SIZE:-1G}
RUNTIME=${RASYNC_BENCH_RUNTIME:-30}
ROUNDS=${RASYNC_BENCH_ROUNDS:-5}
MEM=${RASYNC_BENCH_MEM:-512}
SMP=${RASYNC_BENCH_SMP:-2}
HOT_SIZE=${RASYNC_BENCH_HOT_SIZE:-128M}
HOT_RUNTIME=${RASYNC_BENCH_HOT_RUNTIME:-}
# The rows, in their default order: qemu/bench-rows.tsv is their one list.
ROWS_TSV="$RASYNC_ROOT/qemu/bench-rows.tsv"
ALL_ROWS=$(awk -F'\t' '!/^#/ && NF { print $1 }' "$ROWS_TSV" | tr '\n' ' ')
ROWS=${RASYNC_BENCH_ROWS:-$ALL_ROWS}
PUBLISH=${RASYNC_BENCH_PUBLISH:-1}
MP_LEAVE_MB=${RASYNC_BENCH_MP_LEAVE_MB:-64}
KERNEL=${RASYNC_BENCH_KERNEL:-run}
PROFILE=${RASYNC_BENCH_PROFILE:-0}
PROFILE_HZ=${RASYNC_BENCH_PROFILE_HZ:-997}
case $PROFILE in 0 | 1) ;; *) die "RASYNC_BENCH_PROFILE must be 0 or 1, got '$PROFILE'" ;; esac
case $KERNEL in run | distro) ;; *) die "RASYNC_BENCH_KERNEL must be run or distro, got '$KERNEL'" ;; esac

# size_mb SIZE: fio-style size (binary units) in MiB, rounded up.
size_mb() {
	local s=${1^^} mult
	[[ $s =~ ^([0-9]+)([KMGT]?)(I?B)?$ ]] || die "bad size '$1' (want e.g. 512M, 1G, 4G)"
	case ${BASH_REMATCH[2]} in
	'') mult=1 ;; K) mult=1024 ;; M) mult=$((1 << 20)) ;; G) mult=$((1 << 30)) ;; T) mult=$((1 << 40)) ;;
	esac
	echo $(((BASH_REMATCH[1] * mult + (1 << 20) - 1) >> 20))
}
isnum() { [[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a non-negative integer, got '$2'"; }
isnum RASYNC_BENCH_RUNTIME "$RUNTIME"
isnum RASYNC_BENCH_ROUNDS "$ROUNDS"
isnum RASYNC_BENCH_MEM "$MEM"
isnum RASYNC_BENCH_SMP "$SMP"
isnum RASYNC_BENCH_MP_LEAVE_MB "$MP_LEAVE_MB"
isnum RASYNC_BENCH_PROFILE_HZ "$PROFILE_HZ"
((SMP >= 1)) || die "RASYNC_BENCH_SMP must be at least 1"
((ROUNDS >= 1)) || die "RASYNC_BENCH_ROUNDS must be at least 1"
[ -z "$HOT_RUNTIME" ] || isnum RASYNC_BENCH_HOT_RUNTIME "$HOT_RUNTIME"
[ -n "$HOT_RUNTIME" ] || HOT_RUNTIME=$((RUNTIME > 0 ? RUNTIME : 10))
for r in $ROWS; do
	case " $ALL_ROWS " in
	*" $r "*) ;;
	*) die "unknown row '$r' in RASYNC_BENCH_ROWS (rows: $ALL_ROWS)" ;;
	esac
done
nrows=$(wc -w <<<"$ROWS")
size_mb=$(size_mb "$SIZE")
hot_mb=$(size_mb "$HOT_SIZE")
((size_mb > MEM || RUNTIME == 0)) || log "warning: cold file ($size_mb MiB) is not larger than guest RAM ($MEM MiB): time-based cold runs will hit the cache"
((hot_mb * 2 < MEM)) || log "warning: hot file ($hot_mb MiB) may not fit in the page cache of a $MEM MiB guest"
# Files + 10% + 256 MiB for ext4 metadata and the journal.
disk_mb=$(((size_mb + hot_mb) * 11 / 10 + 256))

# Timeout of the measuring boot: per run its runtime (or, size-based, the read time at
# a pessimistic 1500 IOPS under TCG) plus drop/boot overheads; generous.
if ((RUNTIME > 0)); then
	per_round=$(((nrows) * (RUNTIME + 40)))
else
	per_round=$(((nrows) * (size_mb * 256 / 1500 + 60)))
fi
TIMEOUT=${RASYNC_BENCH_TIMEOUT:-$((600 + ROUNDS * per_round * 2))}
isnum RASYNC_BENCH_TIMEOUT "$TIMEOUT"

# The command as a user would retype it: non-default knobs only.
cmd="make bench" pre=''
for v in RASYNC_BENCH_SIZE RASYNC_BENCH_RUNTIME RASYNC_BENCH_ROUNDS RASYNC_BENCH_MEM \
	RASYNC_BENCH_KERNEL RASYNC_BENCH_SMP RASYNC_BENCH_HOT_SIZE RASYNC_BENCH_HOT_RUNTIME RASYNC_BENCH_ROWS \
	RASYNC_BENCH_MP_LEAVE_MB RASYNC_BENCH_PROFILE RASYNC_BENCH_PROFILE_HZ RASYNC_ACCEL \
	RASYNC_ICOUNT RASYNC_TCG_THREAD; do
	val=${!v:-}
	[ -n "$val" ] || continue
	[[ $val != *' '* ]] || val="\"$val\""
	pre+="$v=$val "
done
# lib.sh always sets RASYNC_KERNEL: name it only when it is not the default
[ "$RASYNC_KERNEL" = 7.3 ] || pre="RASYNC_KERNEL=$RASYNC_KERNEL $pre"
cmd="${pre:-}$cmd"

# Where the results are published: one directory (and README section) per
# kind of run, so that a variant never overwrites the default table.
variant=latest
# size-based (every block read once, the seed's experiment): results/seed
[ "$RUNTIME" != 0 ] || variant=seed
[ "$SMP" != 1 ] || variant=one-cpu
[ -n "$(tr ' ' '\n' <<<"$ROWS" | grep -v '^mp_' | grep .)" ] || variant=mempressure
[ -z "${RASYNC_ICOUNT:-}" ] || variant=icount
if [ "$PROFILE" = 1 ]; then
	variant=profile
	[ "$SMP" != 1 ] || variant+=-one-cpu
	[ -z "${RASYNC_ICOUNT:-}" ] || variant+=-icount
fi
# size-based on a file that fits in guest RAM: `make run`'s shape (every
# block read once, nothing reclaimed), results/demo[-one-cpu][-icount]
if [ "$RUNTIME" = 0 ] && ((size_mb < MEM)); then
	variant=demo
	[ "$SMP" != 1 ] || variant+=-one-cpu
	[ -z "${RASYNC_ICOUNT:-}" ] || variant+=-icount
fi
# all vCPUs on one host thread (icount runs that way anyway)
[ "${RASYNC_TCG_THREAD:-multi}" = multi ] || [ -n "${RASYNC_ICOUNT:-}" ] || variant+="-tcg-$RASYNC_TCG_THREAD"
[ "$KERNEL" = run ] || variant+="-$KERNEL"
# the kernel series: 7.3 (the default) unsuffixed, the 6.12 LTS "-6.12"
[ "$RASYNC_KERNEL" = 7.3 ] || variant+="-$RASYNC_KERNEL"

start=$(date +%s)
start_iso=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

guest=$(bash "$RASYNC_ROOT/scripts/build-guest.sh" "$KERNEL") || die "building the $KERNEL kernel/module failed"
read -r kernel _ <<<"$guest"
kdir=$(dirname "$(dirname "$(dirname "$(dirname "$kernel")")")")
ko="$RASYNC_OUT/$KERNEL/rasync.ko"
[ -f "$ko" ] || die "rasync.ko not found at $ko"

bdir="$RASYNC_OUT/bench"
out="$bdir/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
initrd="$bdir/bench.cpio"
extras=(--extra "$RASYNC_ROOT/qemu/guest-bench.sh:/rasync/bench.sh" --extra "$ROWS_TSV:/rasync/bench-rows.tsv")
# Debian's perf (linux-perf, from scripts/setup.sh) and its libraries
[ "$PROFILE" = 0 ] || extras+=(--extra "$(command -v perf || die "no perf: install linux-perf"):/usr/bin/perf")
bash "$RASYNC_ROOT/qemu/mkinitramfs.sh" "$initrd" --module "$ko" "${extras[@]}" >&2
disk="$bdir/disk.img"
bash "$RASYNC_ROOT/qemu/mkdisk.sh" "$disk" "$disk_mb" >&2
accel=$(bash "$RASYNC_ROOT/qemu/accel.sh" "$kernel" "$initrd") || die "could not choose an accelerator"

log "bench: size=$SIZE runtime=${RUNTIME}s rounds=$ROUNDS mem=${MEM}M hot=$HOT_SIZE/${HOT_RUNTIME}s accel=$accel"
log "bench: rows: $ROWS; raw output in $out"
log "bench: host load average at start: $load_start (other guests/builds make numbers noisy)"

# Host facts for the report.
{
	echo "command=$cmd"
	echo "variant=$variant"
	echo "kernel_variant=$KERNEL"
	echo "kernel_series=$RASYNC_KERNEL"
	echo "start=$start_iso"
	echo "accel=$accel"
	echo "icount=${RASYNC_ICOUNT:-}"
	echo "tcg_thread=$(tcg_thread_for "$kdir")"
	echo "host_nproc=$(nproc)"
	echo "host_cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "host_kernel=$(uname -r)"
	echo "host_loadavg_start=$load_start"
	echo "qemu=$(qemu-system-x86_64 --version | head -1)"
	echo "guest_mem_mb=$MEM"
	echo "guest_smp=$SMP"
	echo "disk_mb=$disk_mb"
	echo "kernel=$kernel"
	echo "kernel_config_mitigations=$(grep -E '^(# )?CONFIG_(CPU_MITIGATIONS|MITIGATION_[A-Z_]+|PAGE_TABLE_ISOLATION|RETPOLINE|SPECULATION_MITIGATIONS)[= ]' "$kdir/.config" 2>/dev/null | tr '\n' ';')"
	echo "kernel_config_jump_label=$(grep -E '^(# )?CONFIG_JUMP_LABEL[= ]' "$kdir/.config" 2>/dev/null || echo unset)"
	echo "git_head=$(git -C "$RASYNC_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "git_dirty=$(git -C "$RASYNC_ROOT" status --porcelain 2>/dev/null | grep -c . || true)"
	echo "size=$SIZE"
	echo "runtime=$RUNTIME"
	echo "rounds=$ROUNDS"
	echo "hot_size=$HOT_SIZE"
	echo "hot_runtime=$HOT_RUNTIME"
	echo "rows=$ROWS"
	echo "profile=$PROFILE"
	echo "profile_hz=$PROFILE_HZ"
} >"$out/meta.txt"

# The guest's stdout carries raw JSON between markers: keep all of it in a
# file and show only the progress lines.  Two boots: the first lays the files
# out; then the host flushes the image, so that writing back ~1 GiB of dirty
# host page cache does not run during the first timed runs; the second
# measures.
guest_env="RASYNC_BENCH_SIZE=$SIZE RASYNC_BENCH_RUNTIME=$RUNTIME RASYNC_BENCH_ROUNDS=$ROUNDS"
guest_env+=" RASYNC_BENCH_HOT_SIZE=$HOT_SIZE RASYNC_BENCH_HOT_RUNTIME=$HOT_RUNTIME"
guest_env+=" RASYNC_BENCH_ROWS='$ROWS' RASYNC_BENCH_MP_LEAVE_MB=$MP_LEAVE_MB"
guest_env+=" RASYNC_BENCH_PROFILE=$PROFILE RASYNC_BENCH_PROFILE_HZ=$PROFILE_HZ"
boot() { # boot PHASE TIMEOUT
	set +e
	bash "$RASYNC_ROOT/qemu/boot.sh" --kernel "$kernel" --initrd "$initrd" --disk "$disk" \
		--mem "$MEM" --smp "$SMP" --timeout "$2" --console "$out/console-$1.log" -- \
		"$guest_env RASYNC_BENCH_PHASE=$1 sh /rasync/bench.sh" |
		tee -a "$out/guest.log" | grep --line-buffered -E '^bench:' >&2
	local rc=${PIPESTATUS[0]}
	set -e
	return "$rc"
}
# Host load while the guests run (our guest alone keeps ~2 CPUs busy) and the
# number of other QEMU guests: the report flags a busy host.
(
	exec >"$out/hostload.txt" 2>/dev/null </dev/null
	sp=''
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	while :; do
		others=0
		for p in $(pgrep -x qemu-system-x86); do
			grep -qaF "$disk" "/proc/$p/cmdline" || others=$((others + 1))
		done
		echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg) $others"
		sleep 10 &
		sp=$!
		wait "$sp"
	done
) &
hl_pid=$!
trap 'kill "$hl_pid" 2>/dev/null || true' EXIT
grc=0
boot layout $((300 + size_mb)) || grc=$?
if ((grc == 0)); then
	t=$(date +%s)
	sync "$disk"
	log "bench: image flushed on the host in $(($(date +%s) - t)) s"
	boot run "$TIMEOUT" || grc=$?
fi
end=$(date +%s)
kill "$hl_pid" 2>/dev/null || true
{
	echo "end=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "wall_s=$((end - start))"
	echo "host_loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "guest_exit=$grc"
} >>"$out/meta.txt"
# The image is as large as the files; it is rebuilt every time anyway.
rm -f "$disk"

report=(python3 "$RASYNC_ROOT/scripts/bench_report.py" --log "$out/guest.log" --meta "$out/meta.txt"
	--hostload "$out/hostload.txt" --out "$out")
if [ "$PUBLISH" = 1 ]; then
	report+=(--latest "$RASYNC_ROOT/results/$variant" --readme "$RASYNC_ROOT/results/README-section-$variant.md"
		--splice "$RASYNC_ROOT/results/README.md" --headline "$RASYNC_ROOT/README.md"
		--results "$RASYNC_ROOT/results")
fi
rrc=0
"${report[@]}" || rrc=$?
log "bench: wall time $((end - start)) s; raw output in $out"
((grc == 0)) || die "guest exited with status $grc (see $out/guest.log and $out/console-*.log)"
exit "$rrc"
