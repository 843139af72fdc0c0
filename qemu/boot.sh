#!/bin/bash
# Boot the guest kernel with an initramfs, run one shell command in it, stream
# the command's output to stdout and exit with the command's status.
#
#   qemu/boot.sh --kernel BZIMAGE --initrd CPIO [--disk IMG]... [--mem MB] [--smp N]
#                [--timeout SEC] [--console LOG] [--append "kernel args"] -- COMMAND...
#
# Each --disk becomes the next virtio disk: /dev/vda, /dev/vdb, ...
# ttyS0 carries the kernel console (to LOG); ttyS1 carries the command's output
# and, last, the "RASYNC_EXIT=<status>" line written by qemu/init.
# Exit status: the command's; 124 if the guest outlived --timeout; 125 if the
# guest never reported (panic, crash, QEMU failure).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"

usage() {
	die "usage: $0 --kernel BZIMAGE --initrd CPIO [--disk IMG] [--mem MB] [--smp N]" \
		"[--timeout SEC] [--console LOG] [--append ARGS] -- COMMAND..."
}

kernel='' initrd='' console='' append='' tcg_thread=''
disks=()
mem=1024 smp=2 tmo=900
while (($#)); do
	case $1 in
	--) shift; break ;;
	--kernel | --initrd | --disk | --mem | --smp | --timeout | --console | --append)
		(($# >= 2)) || usage
		opt=${1#--} val=$2; shift 2 ;;
	--kernel=* | --initrd=* | --disk=* | --mem=* | --smp=* | --timeout=* | --console=* | --append=*)
		opt=${1%%=*} opt=${opt#--} val=${1#*=}; shift ;;
	*) usage ;;
	esac
	case $opt in
	kernel) kernel=$val ;; initrd) initrd=$val ;; disk) disks+=("$val") ;; mem) mem=$val ;;
	smp) smp=$val ;; timeout) tmo=$val ;; console) console=$val ;; append) append=$val ;;
	esac
done
(($#)) || usage
# Joined like ssh does: the guest's sh parses it.
cmd="$*"

if [ -z "$kernel" ] || [ -z "$initrd" ]; then usage; fi
[ -f "$kernel" ] || die "kernel not found: $kernel"
[ -f "$initrd" ] || die "initrd not found: $initrd"
for disk in "${disks[@]}"; do
	[ -f "$disk" ] || die "disk image not found: $disk"
done
for n in mem smp tmo; do
	[[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "--${n/tmo/timeout} wants a positive integer, got '${!n}'"
done
console=${console:-${initrd%.cpio}.console.log}
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (package qemu-system-x86)"

# CI may run us with stdin closed; nothing here reads it, and a closed fd 0
# would be handed to the next file opened.
exec </dev/null

accel=$("$here/accel.sh" "$kernel" "$initrd") || die "could not choose an accelerator"
# shellcheck disable=SC2054 # the commas belong to QEMU's option syntax
case $accel in
kvm) accel_args=(-accel kvm -cpu host) ;;
tcg)
	# RASYNC_ICOUNT=N: deterministic instruction counting (virtual time =
	# 2^N ns per instruction), for comparing CPU cost without host noise.
	if [ -n "${RASYNC_ICOUNT:-}" ]; then
		accel_args=(-accel tcg -cpu max -icount "shift=$RASYNC_ICOUNT,sleep=off")
	else
		# RASYNC_TCG_THREAD=single: one host thread for all vCPUs, where
		# guest atomics and barriers are plain operations (the experiment
		# that tells their cost under MTTCG from that of calls and returns).
		# The default is multi, except for a kernel with CONFIG_JUMP_LABEL
		# (7.3's debug kernel: xfs selects it): there, toggling a static key
		# while the other vCPU runs the patched code gives "Oops: int3" at
		# the patch site under multi-threaded TCG, rasync loaded or not
		# (qemu/mttcg-int3.sh: the kernel's own tracepoint key in
		# filemap_get_pages(), with rasync unloaded), never with one host
		# thread; on KVM and real hardware the text_poke protocol is the
		# kernel's.
		tcg_thread=$(tcg_thread_for "$(dirname "$kernel")/../../..")
		accel_args=(-accel "tcg,thread=$tcg_thread" -cpu max)
	fi ;;
*) die "accel.sh printed '$accel'" ;;
esac

# Under TCG the guest's TSC is the host's TSC, but the guest cannot measure its
# rate: without ACPI it has no HPET or PM timer, PIT calibration fails under
# emulation, and it falls back to the jiffies clocksource (4 ms resolution,
# useless for I/O latencies).  Hand it the host's rate instead.
host_tsc_khz() {
	local cache="$RASYNC_CACHE/host-tsc-khz" khz
	# dmesg ages out with uptime: remember the rate once seen.
	khz=$(dmesg 2>/dev/null | sed -nE \
		's/.*tsc: (Detected|Refined TSC clocksource calibration:) ([0-9]+)\.([0-9]{3}) MHz.*/\2\3/p' | tail -n 1)
	if [ -n "$khz" ]; then
		mkdir -p "$RASYNC_CACHE" && echo "$khz" >"$cache"
	else
		khz=$(cat "$cache" 2>/dev/null) || true
	fi
	echo "$khz"
}
clock_args=''
if [ "$accel" = tcg ] && [[ " $append " != *" tsc_early_khz="* ]] && [ "${RASYNC_TSC_KHZ:-}" != off ]; then
	tsc_khz=${RASYNC_TSC_KHZ:-$(host_tsc_khz)}
	if [[ $tsc_khz =~ ^[1-9][0-9]*$ ]]; then
		# Both vCPUs read the one host TSC, so the boot-time sync checks and
		# the watchdog (against jiffies) have nothing to find.
		clock_args="tsc_early_khz=$tsc_khz tsc=reliable"
	else
		log "warning: host TSC rate unknown (no 'tsc:' line in dmesg): the guest clock" \
			"will be jiffies-based; set RASYNC_TSC_KHZ"
	fi
fi

log "boot: accel=$accel${tcg_thread:+ ($tcg_thread-threaded)} mem=${mem}M smp=$smp kernel=$kernel console=$console"

work=$(mktemp -d "${TMPDIR:-/tmp}/rasync-boot.XXXXXX")
qpid='' spid='' wpid=''
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	# timeout(1) passes the TERM on to QEMU.
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true
	[ -z "$wpid" ] || kill "$wpid" 2>/dev/null || true
	[ -z "$spid" ] || kill "$spid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# The command travels as a second cpio appended to the initrd: the kernel
# unpacks concatenated archives in order, so the main one stays untouched.
mkdir -p "$work/cmd/rasync"
printf '#!/bin/sh\n%s\n' "$cmd" >"$work/cmd/rasync/cmd"
chmod 755 "$work/cmd/rasync" "$work/cmd/rasync/cmd"
(cd "$work/cmd" && printf '%s\n' rasync rasync/cmd |
	cpio -o -H newc -R 0:0 --quiet) >"$work/cmd.cpio"
cat -- "$initrd" "$work/cmd.cpio" >"$work/initrd"

out="$work/ttyS1"
: >"$out"
mkdir -p "$(dirname "$console")"
qarg() { printf '%s' "${1//,/,,}"; } # QEMU option values escape commas by doubling
args=(
	-nodefaults -no-user-config -no-reboot -display none -monitor none
	# One socket per CPU: SeaBIOS lists only the first CPU of each package in
	# the MP table, which is all a kernel without ACPI can see.
	-m "$mem" -smp "$smp,sockets=$smp,cores=1,threads=1" "${accel_args[@]}"
	-kernel "$kernel" -initrd "$work/initrd"
	# loglevel=5: KERN_WARNING (WARN_ON, lockdep) and worse reach the
	# console log, which make check scans last for splats the runner could
	# not see (module exit, unmount, power-off).
	-append "console=ttyS0 panic=-1 loglevel=5${clock_args:+ $clock_args}${append:+ $append}"
	-chardev "file,id=con,path=$(qarg "$console")" -serial chardev:con
	# append=on: QEMU must not truncate the file tail(1) is already following.
	-chardev "file,id=out,append=on,path=$(qarg "$out")" -serial chardev:out
)
for disk in "${disks[@]}"; do
	args+=(-drive "file=$(qarg "$disk"),format=raw,if=virtio")
done

# An emulation failure leaves QEMU paused rather than exiting: only a timer
# reliably ends it, and -k covers a QEMU that ignores SIGTERM.
timeout -k 10 "$tmo" qemu-system-x86_64 "${args[@]}" >"$work/qemu.log" 2>&1 &
qpid=$!

# Stream ttyS1 live, minus qemu/init's exit line (which may follow output that
# lacked a final newline).
tail -n +1 -s 0.2 -f --pid="$qpid" "$out" |
	sed -u -E -e 's/\r$//' -e '/^RASYNC_EXIT=[0-9]+$/d' -e 's/RASYNC_EXIT=[0-9]+$//' &
spid=$!

# A guest that has reported but fails to power off would otherwise idle until
# the timeout: give it a grace period, then stop QEMU.  The watchdog's output
# goes nowhere so a leftover sleep cannot hold a caller's pipe open.
(
	exec >/dev/null 2>&1
	while sleep 1; do
		if tail -n 1 "$out" | tr -d '\r' | grep -aqE 'RASYNC_EXIT=[0-9]+$'; then
			sleep 15
			: >"$work/no-poweroff"
			kill "$qpid"
			exit 0
		fi
	done
) &
wpid=$!

qrc=0
wait "$qpid" || qrc=$?
qpid=
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
wpid=
# tail notices QEMU is gone within its 0.2 s poll and flushes the rest.
wait "$spid" || true
spid=

status=
last=$(tail -n 1 "$out")
if [[ $last =~ RASYNC_EXIT=([0-9]+)$'\r'?$ ]]; then
	status=${BASH_REMATCH[1]}
fi

if [ -n "$status" ]; then
	[ ! -e "$work/no-poweroff" ] ||
		log "warning: guest reported its exit status but did not power off; QEMU was stopped"
	exit "$status"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	log "guest timed out after $tmo s"
	echo "--- last 50 lines of $console ---" >&2
	tail -n 50 "$console" >&2 || true
	exit 124
fi
log "guest did not report an exit status (QEMU exit status $qrc): crash or panic?"
if [ -s "$work/qemu.log" ]; then
	echo "--- QEMU output ---" >&2
	cat "$work/qemu.log" >&2
fi
echo "--- last 80 lines of $console ---" >&2
tail -n 80 "$console" >&2 || true
exit 125
