#!/bin/bash
# Create a fresh, sparse ext4 scratch image for the guest (/dev/vda).
#
#   qemu/mkdisk.sh IMG SIZE_MB
#
# Always recreated: tests want an empty fs.  mkfs on a plain file needs no root
# or loop device.  Inode tables and the journal are initialised now, or
# ext4lazyinit would do it in the guest in the middle of a benchmark.  The
# block size is pinned to the page size: mke2fs would pick 1 KiB blocks for
# images under 512 MB, and small test disks must take the same read paths as
# big benchmark disks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

(($# == 2)) || die "usage: $0 IMG SIZE_MB"
img=$1 size=$2
[[ $size =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive integer, got '$size'"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found (package e2fsprogs)"

mkdir -p "$(dirname "$img")"
# Build beside IMG and rename: a QEMU still holding the old image keeps its
# own inode instead of seeing the fs rewritten under it.
tmp="$img.tmp.$$"
trap 'rm -f "$tmp"' EXIT
truncate -s "${size}M" "$tmp"
mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$tmp" ||
	die "mkfs.ext4 failed on $img"
mv -f "$tmp" "$img"
