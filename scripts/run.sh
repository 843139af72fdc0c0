#!/bin/bash
# `make run`: build (cached), boot the guest, load rasync.ko, run the fio demo.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

read -r kernel initrd <<<"$(bash "$RASYNC_ROOT/scripts/build-guest.sh" run)"
bash "$RASYNC_ROOT/qemu/mkinitramfs.sh" "$RASYNC_ROOT/out/run/demo.cpio" \
	--module "$RASYNC_ROOT/out/run/rasync.ko" --selftests "$RASYNC_ROOT/out/run/selftests" \
	--extra "$RASYNC_ROOT/qemu/guest-demo.sh:/rasync/demo.sh" >&2
disk="$RASYNC_ROOT/out/run/scratch.img"
bash "$RASYNC_ROOT/qemu/mkdisk.sh" "$disk" 1024 >&2
exec bash "$RASYNC_ROOT/qemu/boot.sh" --kernel "$kernel" --initrd "$RASYNC_ROOT/out/run/demo.cpio" \
	--disk "$disk" --mem 1024 --timeout "${RASYNC_RUN_TIMEOUT:-1200}" \
	--console "$RASYNC_ROOT/out/run/console.log" -- \
	"RASYNC_DEMO_SIZE=${RASYNC_DEMO_SIZE:-256M} RASYNC_DEMO_RUNTIME=${RASYNC_DEMO_RUNTIME:-30} sh /rasync/demo.sh"
