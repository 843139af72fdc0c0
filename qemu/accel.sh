#!/bin/bash
# Print the QEMU accelerator to use: "kvm" or "tcg".
#
#   qemu/accel.sh [KERNEL INITRD]
#
# RASYNC_ACCEL=kvm|tcg overrides.  /dev/kvm existing is not enough: under
# kvm_pvm (KVM inside a cloud VM) it opens fine but a stock kernel dies with an
# emulation failure minutes into the boot.  So KVM is chosen only after the
# given kernel has once booted under it and run a command; the verdict is
# cached per QEMU version and kernel path, since a probe can cost a minute.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"

case ${RASYNC_ACCEL:-} in
kvm | tcg) echo "$RASYNC_ACCEL"; exit 0 ;;
'') ;;
*) die "RASYNC_ACCEL must be kvm or tcg, got '$RASYNC_ACCEL'" ;;
esac

if [ -e /sys/module/kvm_pvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo tcg
	exit 0
fi

(($# == 2)) || die "usage: $0 KERNEL INITRD (needed to probe KVM)"
kernel=$(realpath -- "$1") initrd=$2
[ -f "$kernel" ] || die "kernel not found: $kernel"
[ -f "$initrd" ] || die "initrd not found: $initrd"

mkdir -p "$RASYNC_CACHE"
key=$({ qemu-system-x86_64 --version; echo "$kernel"; } | sha)
cache="$RASYNC_CACHE/accel.$key"
# Concurrent boots should wait for one probe, not each run their own.
exec 9>>"$cache.lock"
flock 9
if verdict=$(cat "$cache" 2>/dev/null) && [[ $verdict =~ ^(kvm|tcg)$ ]]; then
	echo "$verdict"
	exit 0
fi

log "probing KVM with $kernel (once; verdict cached in $cache)"
probe_log=$(mktemp "${TMPDIR:-/tmp}/rasync-kvm-probe.XXXXXX")
probe_err=$(mktemp "${TMPDIR:-/tmp}/rasync-kvm-probe.XXXXXX")
trap 'rm -f "$probe_log" "$probe_err"' EXIT
# boot.sh returns 0 only if the guest printed RASYNC_EXIT=0; its --timeout
# wraps QEMU in `timeout -k`, which also covers a QEMU left paused by an
# emulation failure.
if RASYNC_ACCEL=kvm "$here/boot.sh" --kernel "$kernel" --initrd "$initrd" \
	--timeout 60 --mem 512 --smp 1 --console "$probe_log" -- 'exit 0' </dev/null >/dev/null 2>"$probe_err"; then
	verdict=kvm
else
	verdict=tcg
	log "KVM probe failed; using TCG. Probe said:"
	grep -v '^rasync: boot:' "$probe_err" | tail -n 8 >&2 || true
fi
echo "$verdict" >"$cache.tmp.$$" && mv -f "$cache.tmp.$$" "$cache"
echo "$verdict"
