#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest-side runner of the rasync selftests (busybox sh is enough).
#
#   /selftests/run_tests.sh [test ...]      e.g. run_tests.sh rasync_read@xfs
#
# Runs the named entries of tests.list (default: all; always in the fixed
# order) through kselftest's runner.sh: its run_many() prints the KTAP (each
# program's output nested as "# " lines, then "ok N selftests: rasync:
# <entry>", "not ok ..." or "ok ... # SKIP") and runs each entry under
# timeout(1) with `settings`' timeout (RASYNC_TIMEOUT overrides).  What
# runner.sh lacks is run_entry.sh's, which runner.sh runs for every entry:
# the module loaded first, the matrix file systems, a dmesg splat scan after
# each program, knob restore and the count of test cases.
#
# The last line is "N passed, N failed, N skipped", counting the test
# cases of all programs (their top-level ok/not ok lines; a program that
# crashes, times out or splats counts one more failure, and planned cases
# that never reported count as failed).  Exit status 1 if anything failed.
#
# Environment: RASYNC_KO (/rasync/rasync.ko), RASYNC_SCRATCH (/mnt/scratch),
# RASYNC_TIMEOUT, RASYNC_HOST_DRYRUN=1 (development host: never load
# modules or write kernel knobs or /dev/kmsg).

HERE=$(cd "$(dirname "$0")" && pwd)
# The tests, in order, and where each runs: tests.list, the Makefile's list
# too.  Matrix tests run again, as <test>@<fs>, on every other file system
# the guest mounted (/rasync/disks, written by /init: "<fs> <mount point>",
# or "raw <device>" for the block-device test), with short stress budgets
# (RASYNC_MATRIX_STRESS_TIME, default 5 s a case) unless RASYNC_STRESS_TIME
# asks for more.
# tests_on WHERE: the tests that run there (ext4: also the matrix ones)
tests_on() {
	sed -e 's/#.*//' "$HERE/tests.list" | awk -v w="$1" \
		'NF && ($2 == w || (w == "ext4" && $2 == "matrix")) { printf "%s ", $1 }'
}
ALL_TESTS=$(tests_on ext4)
MATRIX_TESTS=$(tests_on matrix)
[ -n "$ALL_TESTS" ] || { echo "$0: no tests in $HERE/tests.list" >&2; exit 1; }
DISKS=${RASYNC_DISKS:-/rasync/disks}
if [ -r "$DISKS" ]; then
	while read -r fs where; do
		case $fs in
		raw) for t in $(tests_on raw); do ALL_TESTS="$ALL_TESTS $t@raw"; done ;;
		?*) for t in $MATRIX_TESTS; do ALL_TESTS="$ALL_TESTS $t@$fs"; done ;;
		esac
	done <"$DISKS"
fi
RASYNC_KO=${RASYNC_KO:-/rasync/rasync.ko}
RASYNC_SCRATCH=${RASYNC_SCRATCH:-/mnt/scratch}
export RASYNC_KO RASYNC_SCRATCH
DRYRUN=${RASYNC_HOST_DRYRUN:-0}
SYSCTL=/proc/sys/kernel/io_uring_async_buffered_reads

SPLATS='WARNING:|BUG:|KASAN|possible circular locking|inconsistent lock state|suspicious RCU usage|INFO: task .* blocked|blocked for more than|Oops|general protection|UBSAN|list_add corruption|list_del corruption|kernel BUG at|refcount_t:|Poison overwritten'

usage() {
	echo "usage: $0 [test ...]" >&2
	echo "tests: $ALL_TESTS" >&2
	exit 2
}

# --- which tests ---------------------------------------------------------

WANTED=
for arg in "$@"; do
	case $arg in -h | --help) usage ;; esac
	found=
	for t in $ALL_TESTS; do
		if [ "$arg" = "$t" ] || [ "$arg.sh" = "$t" ]; then
			found=$t
		fi
	done
	[ -n "$found" ] || { echo "$0: unknown test '$arg'" >&2; usage; }
	WANTED="$WANTED $found "
done
# always in the fixed order: rasync_module.sh leaves the module loaded
TESTS=
for t in $ALL_TESTS; do
	case "${WANTED:- $t }" in *" $t "*) TESTS="$TESTS $t" ;; esac
done

# runner.sh: the guest's copy (installed with these tests) or, copied into
# a kernel tree's selftests, the one beside them
RUNNER=
for r in "$HERE/kselftest/runner.sh" "$HERE/../kselftest/runner.sh"; do
	[ -r "$r" ] && RUNNER=$r && break
done
[ -n "$RUNNER" ] || { echo "$0: kselftest/runner.sh not found" >&2; exit 1; }
[ -x /usr/bin/timeout ] ||
	echo "# runner: no /usr/bin/timeout: runner.sh runs the tests without a timeout"

# runner.sh runs <BASE_DIR>/<collection>/<entry> and reads the collection's
# settings: the collection is a directory of links to run_entry.sh, one per
# entry, named for it
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/rasync" "$TMP/state"
ln -s "$(dirname "$RUNNER")" "$TMP/kselftest"
cp "$HERE/settings" "$TMP/rasync/settings"
for t in $TESTS; do
	ln -s "$HERE/run_entry.sh" "$TMP/rasync/$t"
done
cat "$SYSCTL" >"$TMP/state/sysctl0" 2>/dev/null

RASYNC_RUN_HERE=$HERE RASYNC_RUN_STATE=$TMP/state RASYNC_SPLATS=$SPLATS
export RASYNC_RUN_HERE RASYNC_RUN_STATE RASYNC_SPLATS RASYNC_DISKS=$DISKS
[ -z "${RASYNC_TIMEOUT:-}" ] || export kselftest_override_timeout=$RASYNC_TIMEOUT

echo "# rasync selftests: kernel $(uname -r), scratch $RASYNC_SCRATCH, module $RASYNC_KO"
[ "$DRYRUN" = 1 ] && echo "# RASYNC_HOST_DRYRUN=1: no module loading, no knob or /dev/kmsg writes"
if [ "$DRYRUN" != 1 ]; then
	boot=$(dmesg 2>/dev/null | grep -E "$SPLATS")
	[ -z "$boot" ] || {
		echo "# runner: the kernel log already has splats before the first test:"
		echo "$boot" | sed 's/^/# dmesg: /'
	}
fi

BASE_DIR=$TMP
export BASE_DIR
# shellcheck source=/dev/null # kselftest's, from the kernel tree
. "$RUNNER"
# 6.12's run_many() prints the KTAP header and plan itself; since 6.16 its
# caller does, with ktap_helpers.sh (which runner.sh then sources).
if command -v ktap_set_plan >/dev/null 2>&1; then
	ktap_print_header
	# shellcheck disable=SC2086 # count the list
	ktap_set_plan "$(set -- $TESTS && echo $#)"
fi
# shellcheck disable=SC2086 # split the list
(cd "$TMP/rasync" && run_many $TESTS)

# the case counts run_entry.sh wrote; an entry with none was killed
PASSED=0 FAILED=0 SKIPPED=0
for t in $TESTS; do
	if ! c=$(awk -v t="$t" '$1 == t { print $2, $3, $4; n++ } END { exit !n }' \
		"$TMP/state/counts" 2>/dev/null); then
		echo "# $t: no result (run_entry.sh did not finish): one failure"
		FAILED=$((FAILED + 1))
		continue
	fi
	# shellcheck disable=SC2086 # split the counts
	set -- $c
	PASSED=$((PASSED + $1)) FAILED=$((FAILED + $2)) SKIPPED=$((SKIPPED + $3))
done
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
