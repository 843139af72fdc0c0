#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest-side runner of the rasync selftests (busybox sh is enough).
#
#   /selftests/run_tests.sh [test ...]      e.g. run_tests.sh rasync_read
#
# Runs the named tests (default: all; always in the fixed order below),
# each under `timeout` (settings: timeout=N, default 300; RASYNC_TIMEOUT
# overrides), and prints KTAP: each program's own KTAP output is nested,
# indented by two spaces, followed by "ok N name", "not ok N name" or
# "ok N name # SKIP reason" from its exit code (0 pass, 4 skip, else fail).
# Before the C tests it loads $RASYNC_KO if rasync is not loaded.  After
# each test it scans the new kernel log lines for splats (WARNING:, BUG:,
# KASAN, lockdep, hung tasks, ...) and fails that test if there are any.
#
# The last line is "N passed, N failed, N skipped", counting the test
# cases of all programs (their top-level ok/not ok lines; a program that
# crashes, times out or splats counts one more failure, and planned cases
# that never reported count as failed).  Exit status 1 if anything failed.
#
# Environment: RASYNC_KO (/rasync/rasync.ko), RASYNC_SCRATCH (/mnt/scratch),
# RASYNC_TIMEOUT, RASYNC_HOST_DRYRUN=1 (development host: never load
# modules or write kernel knobs or /dev/kmsg).

DIR=$(cd "$(dirname "$0")" && pwd)
# The tests, in order, and where each runs: tests.list, the Makefile's list
# too.  Matrix tests run again, as <test>@<fs>, on every other file system
# the guest mounted (/rasync/disks, written by /init: "<fs> <mount point>",
# or "raw <device>" for the block-device test), with short stress budgets
# (RASYNC_MATRIX_STRESS_TIME, default 5 s a case) unless RASYNC_STRESS_TIME
# asks for more.
# tests_on WHERE: the tests that run there (ext4: also the matrix ones)
tests_on() {
	sed -e 's/#.*//' "$DIR/tests.list" | awk -v w="$1" \
		'NF && ($2 == w || (w == "ext4" && $2 == "matrix")) { printf "%s ", $1 }'
}
ALL_TESTS=$(tests_on ext4)
MATRIX_TESTS=$(tests_on matrix)
[ -n "$ALL_TESTS" ] || { echo "$0: no tests in $DIR/tests.list" >&2; exit 1; }
DISKS=${RASYNC_DISKS:-/rasync/disks}
if [ -r "$DISKS" ]; then
	while read -r fs where; do
		case $fs in
		raw) for t in $(tests_on raw); do ALL_TESTS="$ALL_TESTS $t@raw"; done ;;
		?*) for t in $MATRIX_TESTS; do ALL_TESTS="$ALL_TESTS $t@$fs"; done ;;
		esac
	done <"$DISKS"
fi
# where <fs> of a matrix entry lives; empty if not mounted
disk_of() { awk -v f="$1" '$1 == f { print $2; exit }' "$DISKS" 2>/dev/null; }

RASYNC_KO=${RASYNC_KO:-/rasync/rasync.ko}
RASYNC_SCRATCH=${RASYNC_SCRATCH:-/mnt/scratch}
export RASYNC_KO RASYNC_SCRATCH
DRYRUN=${RASYNC_HOST_DRYRUN:-0}
MOD=/sys/module/rasync
PARAM=$MOD/parameters/enabled
SYSCTL=/proc/sys/kernel/io_uring_async_buffered_reads
KILL_AFTER=10

SPLATS='WARNING:|BUG:|KASAN|possible circular locking|inconsistent lock state|suspicious RCU usage|INFO: task .* blocked|Oops|general protection|UBSAN|list_add corruption|list_del corruption|kernel BUG at|refcount_t:|Poison overwritten'

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

TIMEOUT=$(sed -n 's/^timeout=\([0-9][0-9]*\)$/\1/p' "$DIR/settings" 2>/dev/null | tail -n 1)
TIMEOUT=${RASYNC_TIMEOUT:-${TIMEOUT:-300}}

TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT

# --- kernel log: what is new since the last look --------------------------

MARK=
LOG_BASE=0
log_mark() {
	if [ "$DRYRUN" = 1 ] || [ ! -w /dev/kmsg ]; then
		LOG_BASE=$(dmesg 2>/dev/null | wc -l)
		MARK=
		return
	fi
	MARK="rasync run_tests.sh: mark $$.$1"
	echo "$MARK" >>/dev/kmsg
}
log_new() {
	if [ -z "$MARK" ]; then
		dmesg 2>/dev/null | sed -n "$((LOG_BASE + 1)),\$p"
		return
	fi
	# everything after the mark; all of it if the mark was overwritten
	dmesg | awk -v m="$MARK" '{ l[NR] = $0 } index($0, m) { s = NR }
		END { for (i = s + 1; i <= NR; i++) print l[i] }'
}

# --- module and knobs ------------------------------------------------------

ENABLED0=
SYSCTL0=$(cat "$SYSCTL" 2>/dev/null)

ensure_module() {
	if [ ! -d "$MOD" ] && [ "$DRYRUN" != 1 ] && [ -r "$RASYNC_KO" ]; then
		if msg=$(insmod "$RASYNC_KO" 2>&1); then
			echo "# runner: loaded $RASYNC_KO"
		else
			echo "# runner: insmod $RASYNC_KO failed: $msg"
			RUNNER_FAILED=$((RUNNER_FAILED + 1))
		fi
	fi
	if [ -d "$MOD" ] && [ -z "$ENABLED0" ]; then
		ENABLED0=$(cat "$PARAM" 2>/dev/null)
	fi
}

# put back what a killed or careless test left changed
restore_knobs() {
	[ "$DRYRUN" = 1 ] && return
	if [ -n "$SYSCTL0" ] && [ "$(cat "$SYSCTL" 2>/dev/null)" != "$SYSCTL0" ]; then
		echo "# runner: restoring $SYSCTL to $SYSCTL0"
		echo "$SYSCTL0" >"$SYSCTL"
	fi
	if [ -n "$ENABLED0" ] && [ -e "$PARAM" ] &&
	   [ "$(cat "$PARAM" 2>/dev/null)" != "$ENABLED0" ]; then
		echo "# runner: restoring rasync enabled=$ENABLED0"
		echo "$ENABLED0" >"$PARAM"
	fi
}

# --- running one program ---------------------------------------------------

# print the lines of $1 from line $2 + 1 on, indented; only complete lines
# unless $3 is "all".  Sets SHOWN to the lines printed so far.
show_new() {
	# a last line without its newline gets one at the end
	[ "$3" = all ] && [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ] && echo >>"$1"
	_total=$(wc -l <"$1")
	if [ "$_total" -gt "$2" ]; then
		sed -n "$(($2 + 1)),${_total}p" "$1" | sed 's/^/  /'
	fi
	SHOWN=$_total
}

# run_prog <output file> [VAR=value...] <path>: stream its output while it
# runs; sets RC
run_prog() {
	_o=$1
	shift
	timeout -s TERM -k "$KILL_AFTER" "$TIMEOUT" env "$@" >"$_o" 2>&1 </dev/null &
	_pid=$!
	SHOWN=0
	while kill -0 "$_pid" 2>/dev/null; do
		sleep 1
		show_new "$_o" "$SHOWN"
	done
	wait "$_pid"
	RC=$?
	show_new "$_o" "$SHOWN" all
}

PASSED=0
FAILED=0
SKIPPED=0
RUNNER_FAILED=0

echo "TAP version 13"
# shellcheck disable=SC2086 # split the list
set -- $TESTS
echo "1..$#"
echo "# rasync selftests: kernel $(uname -r), scratch $RASYNC_SCRATCH, module $RASYNC_KO, timeout ${TIMEOUT}s"
[ "$DRYRUN" = 1 ] && echo "# RASYNC_HOST_DRYRUN=1: no module loading, no knob or /dev/kmsg writes"
if [ "$DRYRUN" != 1 ]; then
	boot=$(dmesg 2>/dev/null | grep -E "$SPLATS")
	[ -z "$boot" ] || {
		echo "# runner: the kernel log already has splats before the first test:"
		echo "$boot" | sed 's/^/# dmesg: /'
	}
fi

n=0
for t in $TESTS; do
	n=$((n + 1))
	out=$TMP/$t.out
	log_mark "$n"
	# rasync_module.sh loads and unloads the module itself
	case $t in rasync_module.sh) ;; *) ensure_module ;; esac

	prog=${t%@*} fs=ext4 where=$RASYNC_SCRATCH
	set --
	case $t in
	*@raw) fs=raw where=$(disk_of raw) && set -- "RASYNC_BLKDEV=$where" ;;
	*@*)
		fs=${t#*@} where=$(disk_of "$fs")
		set -- "RASYNC_SCRATCH=$where" \
			"RASYNC_STRESS_TIME=${RASYNC_STRESS_TIME:-${RASYNC_MATRIX_STRESS_TIME:-5}}"
		;;
	esac
	echo "# $t: on $fs (${where:-not mounted})"

	start=$(date +%s)
	if [ -z "$where" ]; then
		echo "1..0 # SKIP $fs is not mounted in this guest" >"$out"
		RC=4
		show_new "$out" 0 all
	elif [ -x "$DIR/$prog" ]; then
		run_prog "$out" "$@" "$DIR/$prog"
	else
		echo "$prog: not found in $DIR" >"$out"
		RC=1
		show_new "$out" 0 all
	fi
	elapsed=$(($(date +%s) - start))
	echo "# $t: took ${elapsed} s"
	restore_knobs

	# the program's own top-level results
	p=$(grep -cE '^ok [0-9]+' "$out")
	s=$(grep -E '^(not )?ok [0-9]+' "$out" | grep -ciE '# *skip')
	f=$(grep -cE '^not ok [0-9]+' "$out")
	s_notok=$(grep -E '^not ok [0-9]+' "$out" | grep -ciE '# *skip')
	p=$((p - s + s_notok))
	f=$((f - s_notok))
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
	reason=
	extra=0

	missing=$((${plan:-0} - p - f - s))
	if [ "$missing" -gt 0 ]; then
		echo "# $t: $missing of $plan planned cases did not report"
		extra=$((extra + missing))
	fi
	case $RC in
	0 | 4) ;;
	*)
		[ "$f" -gt 0 ] || [ "$missing" -gt 0 ] || extra=$((extra + 1))
		if [ "$elapsed" -ge "$TIMEOUT" ]; then
			reason="TIMEOUT ${TIMEOUT}s"
		elif [ "$RC" -gt 128 ]; then
			reason="killed by signal $((RC - 128))"
		else
			reason="exit code $RC"
		fi
		;;
	esac
	if [ $((p + f + s)) -eq 0 ] && [ "$extra" -eq 0 ]; then
		case $RC in
		0) p=1 ;;
		4) s=1 ;;
		esac
	fi

	splat=$(log_new | grep -E "$SPLATS")
	if [ -n "$splat" ]; then
		echo "# $t: kernel splat in dmesg:"
		log_new | grep -E -A 20 "$SPLATS" | head -n 200 | sed 's/^/# dmesg: /'
		extra=$((extra + 1))
		reason=${reason:-kernel splat in dmesg}
	fi

	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f + extra))
	SKIPPED=$((SKIPPED + s))

	if [ $((f + extra)) -gt 0 ] || { [ "$RC" != 0 ] && [ "$RC" != 4 ]; }; then
		echo "not ok $n $t${reason:+ # $reason}"
	elif [ "$RC" = 4 ] || { [ "$p" -eq 0 ] && [ "$s" -gt 0 ]; }; then
		skip=$(sed -n 's/^1\.\.0 *# *[Ss][Kk][Ii][Pp] *//p' "$out" | head -n 1)
		echo "ok $n $t # SKIP ${skip:-all $s cases skipped}"
	else
		echo "ok $n $t"
	fi
done

if [ "$RUNNER_FAILED" -gt 0 ]; then
	echo "# runner: $RUNNER_FAILED failure(s) outside the tests (see above)"
	FAILED=$((FAILED + RUNNER_FAILED))
fi
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
