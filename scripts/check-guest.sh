#!/bin/bash
# make check's guest suite for $RASYNC_KERNEL: the module built through
# clippy, then the KTAP selftests in a guest on that kernel's debug build
# (KASAN, lockdep), with the file systems of the matrix.
#
#   scripts/check-guest.sh MATRIX [test ...]
#
# MATRIX: comma-separated <fs>:<MB> disks besides the ext4 scratch disk
# (qemu/mkdisk.sh's types), e.g. "xfs:512,raw:16"; run_tests.sh runs the
# matrix tests again on each.  Prints the guest's KTAP and, last, its
# "N passed, N failed[, N skipped]" (a missing summary or a splat in the
# console log counts one more failure); exits non-zero if anything failed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || die "usage: $0 MATRIX [test ...]"
specs=$1
shift
pass=0 fail=0 skip=0

# Builds the module through clippy with warnings as errors.
guest=$(CLIPPY=1 bash "$RASYNC_ROOT/scripts/build-guest.sh" debug)
if [ -z "$guest" ]; then
	echo "# not ok: build-module-clippy-selftests (kernel $RASYNC_KERNEL)"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "# ok: build-module-clippy-selftests (kernel $RASYNC_KERNEL)"
pass=1
read -r kernel initrd <<<"$guest"

# /dev/vda: the ext4 scratch fs of the whole suite; then one disk per other
# file system of the matrix, and a raw disk for block-device reads.
out="$RASYNC_OUT/debug"
bash "$RASYNC_ROOT/qemu/mkdisk.sh" "$out/scratch.img" 1024 >&2
disk_args=(--disk "$out/scratch.img") matrix='' letter=b
for spec in ${specs//,/ }; do
	fs=${spec%%:*}
	img="$out/matrix-$fs.img"
	bash "$RASYNC_ROOT/qemu/mkdisk.sh" "$img" "${spec#*:}" "$fs" >&2
	disk_args+=(--disk "$img")
	matrix+="${matrix:+,}vd$letter:$fs"
	letter=$(echo "$letter" | tr 'a-y' 'b-z')
done

# RASYNC_CHECK_AFTER: a guest command run after the suite, keeping its exit
# status; e.g. 'echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT' (lkdtm)
# shows that a splat after the last test still fails the check.
guest_cmd="/selftests/run_tests.sh $*"
[ -z "${RASYNC_CHECK_AFTER:-}" ] || guest_cmd+="; rc=\$?; ${RASYNC_CHECK_AFTER}; exit \$rc"
glog="$out/guest.log"
bash "$RASYNC_ROOT/qemu/boot.sh" --kernel "$kernel" --initrd "$initrd" "${disk_args[@]}" \
	--append "rasync_disks=$matrix" --mem 2048 --timeout "${RASYNC_CHECK_TIMEOUT:-3000}" \
	--console "$out/console.log" -- "$guest_cmd" | tee "$glog"
grc=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$glog" | tail -1)
if [ -z "$summary" ]; then
	echo "# guest suite produced no summary (exit $grc)"
	fail=$((fail + 1))
else
	read -r gp _ gf _ gs _ <<<"${summary//,/}"
	pass=$((pass + gp)) fail=$((fail + gf)) skip=$((skip + ${gs:-0}))
	[ "$grc" = 0 ] || [ "$gf" != 0 ] || { echo "# guest exited $grc"; fail=$((fail + 1)); }
fi
# Last line of defence: a splat the runner could not see (e.g. at power-off).
if grep -E 'BUG:|KASAN|WARNING:|Kernel panic|possible circular|INFO: task .* blocked' \
	"$out/console.log" >&2; then
	echo "# kernel splat in the guest console log"
	fail=$((fail + 1))
fi
line="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && line+=", $skip skipped"
echo "$line"
[ "$fail" = 0 ]
