#!/bin/bash
# Create a fresh, sparse scratch image for the guest.
#
#   qemu/mkdisk.sh IMG SIZE_MB [FSTYPE]
#
# FSTYPE: ext4 (default: 4 KiB blocks), ext4-1k (1 KiB blocks: several
# buffer heads per page, partially uptodate folios), xfs (large folios),
# xfs-16k (16 KiB blocks on 4 KiB pages: a minimum folio order of 2),
# btrfs, f2fs, or raw (no file system: the guest reads the block device).
#
# Always recreated: tests want an empty fs.  mkfs on a plain file needs no root
# or loop device.  ext4's inode tables and journal are initialised now, or
# ext4lazyinit would do it in the guest in the middle of a benchmark.  Its
# block size is pinned: mke2fs would pick 1 KiB blocks for images under
# 512 MB, and small test disks must take the same read paths as big
# benchmark disks unless ext4-1k asks for the other one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"

(($# == 2 || $# == 3)) || die "usage: $0 IMG SIZE_MB [ext4|ext4-1k|xfs|xfs-16k|btrfs|f2fs|raw]"
img=$1 size=$2 fstype=${3:-ext4}
[[ $size =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive integer, got '$size'"
case $fstype in
ext4 | ext4-1k) mkfs=mkfs.ext4 pkg=e2fsprogs ;;
xfs | xfs-16k) mkfs=mkfs.xfs pkg=xfsprogs ;;
btrfs) mkfs=mkfs.btrfs pkg=btrfs-progs ;;
f2fs) mkfs=mkfs.f2fs pkg=f2fs-tools ;;
raw) mkfs='' pkg='' ;;
*) die "unknown FSTYPE '$fstype' (ext4|ext4-1k|xfs|xfs-16k|btrfs|f2fs|raw)" ;;
esac
[ -z "$mkfs" ] || command -v "$mkfs" >/dev/null || die "$mkfs not found (package $pkg)"

mkdir -p "$(dirname "$img")"
# Build beside IMG and rename: a QEMU still holding the old image keeps its
# own inode instead of seeing the fs rewritten under it.
tmp="$img.tmp.$$"
trap 'rm -f "$tmp"' EXIT
truncate -s "${size}M" "$tmp"
case $fstype in
ext4) mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$tmp" ;;
ext4-1k) mkfs.ext4 -q -F -b 1024 -E lazy_itable_init=0,lazy_journal_init=0 "$tmp" ;;
xfs) mkfs.xfs -q -f "$tmp" ;;
xfs-16k) mkfs.xfs -q -f -b size=16384 "$tmp" ;;
btrfs) mkfs.btrfs -q -f "$tmp" >/dev/null ;;
f2fs) mkfs.f2fs -q -f "$tmp" >/dev/null ;;
raw) ;;
esac || die "$mkfs failed on $img"
mv -f "$tmp" "$img"
