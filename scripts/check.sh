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
echo "# host checks (kernel $RASYNC_KERNEL)"
find "$RASYNC_ROOT/rust" -name '*.rs' -print0 |
	xargs -0 rustfmt --edition 2021 --config-path "$ksrc/.rustfmt.toml" --check
result $? rustfmt

# Each series: git am onto its pristine kernel, checkpatch, cover letter.
bash "$RASYNC_ROOT/scripts/check-series.sh" "$RASYNC_ROOT/patches/6.12" /usr/src/linux-source-6.12.tar.xz
result $? series-6.12
bash "$RASYNC_ROOT/scripts/check-series.sh" "$RASYNC_ROOT/patches/7.3" \
	"$(bash "$RASYNC_ROOT/scripts/fetch-linux-7.3.sh" --path)"
result $? series-7.3

find "$RASYNC_ROOT/rust" \( -name '*.c' -o -name '*.h' \) -print0 |
	xargs -0 perl "$ksrc/scripts/checkpatch.pl" --no-tree -q -f
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

# The guest runner (run_tests.sh on kselftest's runner.sh) with stand-in
# programs: its KTAP lines, timeouts and case counts.
bash "$RASYNC_ROOT/scripts/check-runner.sh" "$ksrc"
result $? guest-runner

# README "Your own kernel tree": plain kbuild and kselftest builds against
# the debug kernel used as a user's own tree.
bash "$RASYNC_ROOT/scripts/check-own-tree.sh" "$kdir"
result $? own-kernel-tree

# The guest suites: the whole suite with the file-system matrix on this
# kernel; then, on 7.3, the LTS lane on 6.12's debug kernel.
tally() { # tally <log>: add a check-guest.sh summary to ours
	local summary gp gf gs
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	[ -n "$summary" ] || { fail=$((fail + 1)); return; }
	read -r gp _ gf _ gs _ <<<"${summary//,/}"
	pass=$((pass + gp)) fail=$((fail + gf)) skip=$((skip + ${gs:-0}))
}
mkdir -p "$RASYNC_OUT"
echo "# guest suite (kernel $RASYNC_KERNEL, debug build)"
bash "$RASYNC_ROOT/scripts/check-guest.sh" ext4-1k:512,xfs:512,xfs-16k:512,btrfs:512,f2fs:512,raw:16 "$@" |
	tee "$RASYNC_OUT/check-guest.log"
tally "$RASYNC_OUT/check-guest.log"

# The 6.12 LTS lane: the module through clippy, the in-kernel self-test
# (rasync_module.sh), the read path, the unload waits, the end of the
# offset range on xfs and the exerciser.
if [ "$RASYNC_KERNEL" = 6.12 ]; then
	:
elif [ $# -gt 0 ]; then
	result skip lts-6.12 "only guest tests $* were asked for"
else
	echo "# LTS lane (kernel 6.12, debug build)"
	lts_log="$RASYNC_ROOT/out/6.12/check-guest.log"
	mkdir -p "$(dirname "$lts_log")"
	RASYNC_KERNEL=6.12 bash "$RASYNC_ROOT/scripts/check-guest.sh" xfs:512 \
		rasync_module.sh rasync_read rasync_uffd rasync_maxoff@xfs rasync_exerciser | tee "$lts_log"
	tally "$lts_log"
fi

echo "# make check took $(($(date +%s) - start)) s"
line="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && line+=", $skip skipped"
echo "$line"
[ "$fail" = 0 ]
