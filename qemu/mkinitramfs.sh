#!/bin/bash
# Build the guest initramfs: busybox, fio, the selftests and their shared
# libraries, the module, and qemu/init as /init.
#
#   qemu/mkinitramfs.sh OUT.cpio [--module FILE.ko] [--selftests DIR] [--extra SRC:DST ...]
#
# The archive is an uncompressed newc cpio: the kernel unpacks it fastest, and
# boot.sh appends a second archive (the command) to it.  Building the tree in a
# temp dir and storing everything as root means no root is needed here.  OUT is
# only replaced when its content changes, so callers can use its mtime as a
# dependency.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"

usage() { die "usage: $0 OUT.cpio [--module FILE.ko] [--selftests DIR] [--extra SRC:DST ...]"; }

out='' module='' selftests=''
extras=()
while (($#)); do
	case $1 in
	--module) (($# >= 2)) || usage; module=$2; shift 2 ;;
	--module=*) module=${1#*=}; shift ;;
	--selftests) (($# >= 2)) || usage; selftests=$2; shift 2 ;;
	--selftests=*) selftests=${1#*=}; shift ;;
	--extra) (($# >= 2)) || usage; extras+=("$2"); shift 2 ;;
	--extra=*) extras+=("${1#*=}"); shift ;;
	-h | --help) usage ;;
	-*) die "unknown option '$1'" ;;
	*) [ -z "$out" ] || usage; out=$1; shift ;;
	esac
done
[ -n "$out" ] || usage
[ -z "$module" ] || [ -f "$module" ] || die "module not found: $module"
[ -z "$selftests" ] || [ -d "$selftests" ] || die "selftests dir not found: $selftests"

busybox=$(command -v busybox) || die "busybox not found (package busybox-static)"
fio=$(command -v fio) || die "fio not found (package fio)"
# A dynamically linked busybox would drag in libc for every applet and break
# the moment a library is missing; insist on the static build.
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked: install busybox-static"
fi

tree=$(mktemp -d "${TMPDIR:-/tmp}/rasync-initramfs.XXXXXX")
tmp_out="$out.tmp.$$"
trap 'rm -rf "$tree" "$tmp_out"' EXIT

is_elf() { [ "$(head -c 4 -- "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }

# ELF executables whose shared libraries must come along.
needs_libs=("$fio")

mkdir -p "$tree"/{bin,usr/bin,dev,proc,sys,tmp,root,etc,rasync,mnt/scratch,selftests}
mkdir -p "$tree/sys/kernel/debug"
# Scripts that call /sbin/... or /usr/sbin/... should still find the applets.
ln -s bin "$tree/sbin"
ln -s ../bin "$tree/usr/sbin"

cp -- "$busybox" "$tree/bin/busybox"
while IFS= read -r applet; do
	[ -n "$applet" ] && [ "$applet" != busybox ] && ln -sf busybox "$tree/bin/$applet"
done < <("$busybox" --list)

cp -- "$fio" "$tree/usr/bin/fio"

install -m 755 -- "$here/init" "$tree/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tree/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$tree/etc/group"

[ -z "$module" ] || install -m 644 -- "$module" "$tree/rasync/rasync.ko"

if [ -n "$selftests" ]; then
	# Object files and dependency files are build litter, not tests.
	(cd "$selftests" && find . \( -name '*.o' -o -name '*.d' -o -name '.*.cmd' \) -prune -o -print0 |
		cpio -0 -pdm --quiet "$tree/selftests")
	while IFS= read -r -d '' f; do
		if is_elf "$f"; then needs_libs+=("$f"); fi
	done < <(find "$tree/selftests" -type f -perm -u+x -print0)
	# kselftest's runner.sh, which runs them, applies the per-test timeout
	# only with the GNU timeout(1) at /usr/bin/timeout (busybox's lacks
	# --foreground)
	[ -x /usr/bin/timeout ] || die "/usr/bin/timeout not found (package coreutils)"
	cp -- /usr/bin/timeout "$tree/usr/bin/timeout"
	needs_libs+=(/usr/bin/timeout)
fi

for e in "${extras[@]}"; do
	src=${e%%:*} dst=${e#*:}
	if [ "$src" = "$e" ] || [ -z "$src" ] || [ "${dst#/}" = "$dst" ]; then
		die "--extra wants SRC:/ABSOLUTE/DST, got '$e'"
	fi
	[ -e "$src" ] || die "--extra source not found: $src"
	mkdir -p "$tree$(dirname "$dst")"
	cp -a -- "$src" "$tree$dst"
	while IFS= read -r -d '' f; do
		if is_elf "$f"; then needs_libs+=("$f"); fi
	done < <(find "$tree$dst" -type f -perm -u+x -print0)
done

# ldd prints each library's resolved absolute path; copying to the same path
# lets the guest's loader find them in its default directories or via the
# RUNPATHs inside the libraries (e.g. fio's ceph libs), with no ld.so.cache.
declare -A libs=([/lib64/ld-linux-x86-64.so.2]=1)
for exe in "${needs_libs[@]}"; do
	if ! deps=$(ldd -- "$exe" 2>&1); then
		# Static executables have nothing to resolve.
		grep -q 'not a dynamic executable' <<<"$deps" && continue
		die "ldd failed for $exe: $deps"
	fi
	if grep -q 'not found' <<<"$deps"; then
		die "missing shared libraries for $exe:"$'\n'"$(grep 'not found' <<<"$deps")"
	fi
	while read -r lib; do
		libs[$lib]=1
	done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$deps")
done
for lib in "${!libs[@]}"; do
	mkdir -p "$tree$(dirname "$lib")"
	cp -L -- "$lib" "$tree$lib"
done

# Fixed mtimes and --reproducible make the archive a pure function of its
# inputs, so a rebuild with nothing changed leaves OUT untouched.
find "$tree" -exec touch -h -d @0 {} +
mkdir -p "$(dirname "$out")"
(cd "$tree" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio -0 -o -H newc -R 0:0 --reproducible --quiet) >"$tmp_out" ||
	{ rm -f "$tmp_out"; die "cpio failed writing $out"; }
if cmp -s "$tmp_out" "$out"; then
	rm -f "$tmp_out"
else
	mv -f "$tmp_out" "$out"
fi
log "initramfs: $out ($(du -m "$out" | cut -f1) MB, ${#libs[@]} shared libraries)"
