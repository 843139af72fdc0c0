#!/bin/bash
# `make check`: host checks, then the KTAP selftests in a guest running the
# debug kernel (KASAN, lockdep).  Ends with "N passed, N failed[, N skipped]"
# and exits non-zero if anything failed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

start=$(date +%s)
pass=0 fail=0 skip=0 n=0
result() { # result <0|1|skip> <name> [reason]
	n=$((n + 1))
	case $1 in
	0) pass=$((pass + 1)); echo "ok $n host:$2" ;;
	skip) skip=$((skip + 1)); echo "ok $n host:$2 # SKIP $3" ;;
	*) fail=$((fail + 1)); echo "not ok $n host:$2" ;;
	esac
}

# The debug kernel carries the source tree that the host checks read.
kdir=$(bash "$RASYNC_ROOT/scripts/build-kernel.sh" debug) || die "debug kernel build failed"
ksrc="$kdir/source"

echo "TAP version 13"
echo "# host checks"
rustfmt --edition 2021 --config-path "$ksrc/.rustfmt.toml" --check "$RASYNC_ROOT"/rust/*.rs
result $? rustfmt

out=0
for p in $(series); do
	perl "$ksrc/scripts/checkpatch.pl" --no-tree -q "$p" || out=1
done
result $out checkpatch-patches

# The cover letter names every patch of the series, by its subject.
out=0
cover="$RASYNC_ROOT/patches/0000-cover-letter.patch"
for p in $(series); do
	grep -qxF "  $(patch_subject "$p")" "$cover" ||
		{ echo "# cover letter lacks '$(patch_subject "$p")'"; out=1; }
done
grep -q "^Subject: \[PATCH 0/$(series | wc -l)\]" "$cover" ||
	{ echo "# cover letter subject is not [PATCH 0/$(series | wc -l)]"; out=1; }
result $out cover-letter

# The 7.3 series: git am onto pristine 7.3, checkpatch, cover letter.  Uses
# the source scripts/fetch-linux-7.3.sh put in the cache; never fetches it.
if tarball73=$(bash "$RASYNC_ROOT/scripts/fetch-linux-7.3.sh" --path); then
	bash "$RASYNC_ROOT/scripts/check-series.sh" "$RASYNC_ROOT/patches/7.3" "$tarball73"
	result $? series-7.3
else
	result skip series-7.3 "7.3 source not fetched: scripts/fetch-linux-7.3.sh"
fi

perl "$ksrc/scripts/checkpatch.pl" --no-tree -q -f "$RASYNC_ROOT"/rust/*.c "$RASYNC_ROOT"/rust/*.h
result $? checkpatch-shims

if [ $# -gt 0 ]; then
	result skip loom-model "only guest tests $* were asked for"
else
	(cd "$RASYNC_ROOT/model" && cargo test --release --quiet 2>&1)
	result $? loom-model
fi

# The bench report's and make run's summary arithmetic, and README's
# headline table against results/ (no guest).
python3 "$RASYNC_ROOT/scripts/test_reports.py"
result $? bench-reports

# Builds the module through clippy with warnings as errors.
guest=$(bash "$RASYNC_ROOT/scripts/build-guest.sh" debug)
result $? build-module-clippy-selftests
[ -n "$guest" ] || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
read -r kernel initrd <<<"$guest"

# The guest runner (run_tests.sh on kselftest's runner.sh) with stand-in
# programs: its KTAP lines, timeouts and case counts.
bash "$RASYNC_ROOT/scripts/check-runner.sh" "$ksrc"
result $? guest-runner

# README "Your own kernel tree": plain kbuild and kselftest builds against
# the debug kernel used as a user's own tree.
bash "$RASYNC_ROOT/scripts/check-own-tree.sh" "$kdir"
result $? own-kernel-tree

# /dev/vda: the ext4 scratch fs of the whole suite; then one disk per other
# file system of the matrix (run_tests.sh runs the data-path tests on each)
# and a raw disk for block-device reads.
disk="$RASYNC_ROOT/out/debug/scratch.img"
bash "$RASYNC_ROOT/qemu/mkdisk.sh" "$disk" 1024 >&2
disk_args=(--disk "$disk") matrix='' letter=b
for spec in ext4-1k:512 xfs:512 btrfs:512 f2fs:512 raw:16; do
	fs=${spec%%:*}
	img="$RASYNC_ROOT/out/debug/matrix-$fs.img"
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
echo "# guest suite (debug kernel)"
glog="$RASYNC_ROOT/out/debug/guest.log"
bash "$RASYNC_ROOT/qemu/boot.sh" --kernel "$kernel" --initrd "$initrd" "${disk_args[@]}" \
	--append "rasync_disks=$matrix" --mem 2048 --timeout "${RASYNC_CHECK_TIMEOUT:-3000}" \
	--console "$RASYNC_ROOT/out/debug/console.log" -- "$guest_cmd" | tee "$glog"
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
	"$RASYNC_ROOT/out/debug/console.log" >&2; then
	echo "# kernel splat in the guest console log"
	fail=$((fail + 1))
fi

echo "# make check took $(($(date +%s) - start)) s"
line="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && line+=", $skip skipped"
echo "$line"
[ "$fail" = 0 ]
