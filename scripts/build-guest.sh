#!/bin/bash
# Build everything a guest boot needs for kernel VARIANT (run|debug|distro) and
# print "KERNEL INITRD" paths: kernel, rasync.ko, selftests, initramfs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=$1
kdir=$(bash "$RASYNC_ROOT/scripts/build-kernel.sh" "$variant")
ko=$(bash "$RASYNC_ROOT/scripts/build-module.sh" "$variant")
out="$RASYNC_OUT/$variant"
log "building selftests"
rm -rf "$out/selftests"
make -s -C "$RASYNC_ROOT/selftests" KSRC="$kdir/source" OUTPUT="$out/selftests-build" \
	install INSTALL_PATH="$out/selftests" >&2
log "building initramfs"
bash "$RASYNC_ROOT/qemu/mkinitramfs.sh" "$out/initramfs.cpio" --module "$ko" \
	--selftests "$out/selftests" >&2
echo "$kdir/arch/x86/boot/bzImage $out/initramfs.cpio"
