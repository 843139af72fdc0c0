#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# rasync.ko loads and unloads cleanly, rejects bad parameter values (at
# insmod time and at runtime), hooks filemap_read() exactly while
# enabled=Y (writing the same value twice is harmless), and its debugfs
# files behave.  Leaves the module LOADED: later tests use it.
#
# Needs root, debugfs at /sys/kernel/debug, /dev/kmsg and the module file
# ($RASYNC_KO, default /rasync/rasync.ko).  Never run on a development
# host: RASYNC_HOST_DRYRUN=1 skips everything.

DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$DIR/kselftest/ktap_helpers.sh"

KO=${RASYNC_KO:-/rasync/rasync.ko}
MOD=/sys/module/rasync
PARAM=$MOD/parameters/enabled
SELFTEST=$MOD/parameters/selftest
DBG=/sys/kernel/debug/rasync
# how long the in-kernel self-test may take to print its totals
SELFTEST_WAIT=${RASYNC_SELFTEST_WAIT:-120}
# counters only io_uring (or RWF_NOWAIT) reads can move: still 0 right after a reset
STATS_IDLE="nowait_eagain waits_lock waits_wait late_wins eiocbqueued"

skip_all() {
	ktap_skip_all "$*"
	exit "$KSFT_SKIP"
}

ktap_print_header
[ "${RASYNC_HOST_DRYRUN:-0}" = 1 ] &&
	skip_all "RASYNC_HOST_DRYRUN=1: modules are never (un)loaded on the host"
[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -r "$KO" ] || skip_all "module file $KO not found (set RASYNC_KO)"
for tool in insmod rmmod dmesg; do
	command -v $tool >/dev/null || skip_all "no $tool in PATH"
done
grep -q ' /sys/kernel/debug debugfs ' /proc/mounts ||
	skip_all "debugfs is not mounted at /sys/kernel/debug"
[ -w /dev/kmsg ] || skip_all "cannot write /dev/kmsg (needed to find new dmesg lines)"

# --- helpers -------------------------------------------------------------

loaded() { [ -d "$MOD" ]; }
param() { cat "$PARAM" 2>/dev/null; }
state() { sed -n "s/^$1 //p" "$DBG/state" 2>/dev/null; }

# insmod with parameters; its messages become diagnostics
load() {
	_out=$(insmod "$KO" "$@" 2>&1)
	_rc=$?
	[ -z "$_out" ] || echo "$_out" | sed 's/^/# insmod: /'
	return $_rc
}

unload() {
	_out=$(rmmod rasync 2>&1)
	_rc=$?
	[ -z "$_out" ] || echo "$_out" | sed 's/^/# rmmod: /'
	return $_rc
}

# Mark the kernel log; since_mark prints the lines logged after the mark
# (the whole log if the mark has already been overwritten).
MARK_N=0
mark() {
	MARK_N=$((MARK_N + 1))
	MARK="rasync_module.sh: mark $$.$MARK_N"
	echo "$MARK" >>/dev/kmsg
}
since_mark() {
	dmesg | awk -v m="$MARK" '{ l[NR] = $0 } index($0, m) { s = NR }
		END { for (i = s + 1; i <= NR; i++) print l[i] }'
}
# a line naming the module and the parameter was logged since the mark
logged_param_error() {
	since_mark | grep 'rasync:' | grep -q "$1"
}

CASE=
CASE_FAIL=0
CASE_SKIP=
fail() {
	echo "# $CASE: $*"
	CASE_FAIL=1
}
skip() {
	CASE_SKIP="$*"
}

run_case() {
	CASE=$1
	CASE_FAIL=0
	CASE_SKIP=
	"case_$1"
	if [ -n "$CASE_SKIP" ]; then
		__ktap_test "ok" "$CASE" "SKIP $CASE_SKIP"
		KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + 1))
	elif [ "$CASE_FAIL" = 0 ]; then
		ktap_test_pass "$CASE"
	else
		ktap_test_fail "$CASE"
	fi
}

# the module loaded with default parameters, or a failure
need_loaded() {
	loaded && return 0
	load && loaded && return 0
	fail "cannot load $KO"
	return 1
}

expect_state() {
	_p=$(param)
	_h=$(state hooked)
	_e=$(state enabled)
	[ "$_p" = "$1" ] || fail "parameters/enabled is '$_p', want '$1'"
	[ "$_h" = "$2" ] || fail "debugfs state: hooked '$_h', want '$2'"
	[ "$_e" = "$3" ] || fail "debugfs state: enabled '$_e', want '$3'"
}

# --- cases ---------------------------------------------------------------

case_insmod_rmmod_3x() {
	for i in 1 2 3; do
		load || { fail "insmod #$i failed"; return; }
		loaded || fail "no $MOD after insmod #$i"
		[ -d "$DBG" ] || fail "no $DBG after insmod #$i"
		unload || fail "rmmod #$i failed"
		! loaded || { fail "$MOD still there after rmmod #$i"; return; }
	done
}

case_insmod_rejects_bad_enabled() {
	for v in maybe 2 ""; do
		mark
		if load "enabled=$v"; then
			fail "insmod enabled='$v' succeeded"
			unload
			continue
		fi
		if loaded; then
			fail "module present after the failed insmod enabled='$v'"
			unload
		fi
		logged_param_error enabled ||
			fail "no dmesg line with 'rasync:' and 'enabled' after insmod enabled='$v'"
	done
}

case_insmod_enabled_N_leaves_hook_off() {
	load enabled=N || { fail "insmod enabled=N failed"; return; }
	expect_state N 0 0
	unload || fail "rmmod failed"
}

case_loaded_and_hooked_by_default() {
	load || { fail "insmod failed"; return; }
	expect_state Y 1 1
}

case_runtime_rejects_bad_values() {
	need_loaded || return
	for v in maybe 2 ""; do
		mark
		# writes "$v\n"; an empty value is "\n" (a 0-byte write never reaches the module)
		if err=$({ echo "$v" >"$PARAM"; } 2>&1); then
			fail "writing '$v' to enabled succeeded"
		else
			case $err in
			*"Invalid argument"*) ;;
			*) fail "writing '$v' to enabled: want EINVAL, got '$err'" ;;
			esac
		fi
		expect_state Y 1 1
		logged_param_error enabled ||
			fail "no dmesg line with 'rasync:' and 'enabled' after writing '$v'"
	done
}

# the selftest parameter validates like enabled, and a bad write runs nothing
case_selftest_rejects_bad_values() {
	need_loaded || return
	[ -e "$SELFTEST" ] || { skip "module has no 'selftest' parameter"; return; }
	for v in maybe 2 ""; do
		mark
		if { echo "$v" >"$SELFTEST"; } 2>/dev/null; then
			fail "writing '$v' to selftest succeeded"
		fi
		logged_param_error selftest ||
			fail "no dmesg line with 'rasync:' and 'selftest' after writing '$v'"
		since_mark | grep -q 'rasync_selftest' &&
			fail "writing '$v' to selftest ran the self-test"
	done
	expect_state Y 1 1
}

case_disable_unhooks() {
	need_loaded || return
	echo N >"$PARAM" || { fail "writing N to enabled failed"; return; }
	expect_state N 0 0
}

case_reenable_hooks() {
	need_loaded || return
	echo Y >"$PARAM" || { fail "writing Y to enabled failed"; return; }
	expect_state Y 1 1
}

# writing the current value again must neither fail nor re-(un)register
case_repeated_writes_are_idempotent() {
	need_loaded || return
	for v in Y Y N N Y; do
		echo $v >"$PARAM" || fail "writing $v to enabled (again) failed"
		case $v in
		Y) expect_state Y 1 1 ;;
		N) expect_state N 0 0 ;;
		esac
	done
}

case_stats_reset_zeroes() {
	need_loaded || return
	echo reset >"$DBG/stats" || { fail "writing reset to stats failed"; return; }
	seen=" "
	while read -r name val rest; do
		case $val in
		"" | *[!0-9]*) fail "stats line '$name $val $rest' is not '<name> <u64>'" ;;
		esac
		[ -z "$rest" ] || fail "stats line '$name $val $rest' has extra fields"
		seen="$seen$name "
		for idle in $STATS_IDLE; do
			[ "$name" != "$idle" ] || [ "$val" = 0 ] ||
				fail "$name is $val right after reset"
		done
	done <"$DBG/stats"
	# the module defines the names; every counter named here must be there
	for name in reads $STATS_IDLE; do
		case $seen in
		*" $name "*) ;;
		*) fail "stats has no '$name' line" ;;
		esac
	done
	[ "$(echo $seen | tr ' ' '\n' | sort | uniq -d)" = "" ] || fail "stats repeats a name: $seen"
}

# "reset" is the one command: blanks around it are fine, up to 15 bytes.
# (busybox's echo -ne writes once, and says why a write failed.)
case_stats_reset_takes_blanks() {
	need_loaded || return
	for w in 'reset' ' reset' 'reset \t' '  reset       \n'; do
		err=$({ echo -ne "$w" >"$DBG/stats"; } 2>&1) ||
			fail "writing '$w' to stats failed: '$err'"
	done
}

# anything else is EINVAL, as is "reset" padded to 16 bytes or more
case_stats_rejects_garbage() {
	need_loaded || return
	for w in 'foo\n' 'bogus' 'resetx\n' 'reset reset\n' 'reset          \n'; do
		if err=$({ echo -ne "$w" >"$DBG/stats"; } 2>&1); then
			fail "writing '$w' to stats succeeded"
		else
			case $err in
			*"Invalid argument"*) ;;
			*) fail "writing '$w' to stats: want EINVAL, got '$err'" ;;
			esac
		fi
	done
}

case_in_kernel_selftest() {
	need_loaded || return
	[ -e "$SELFTEST" ] || { skip "module has no 'selftest' parameter"; return; }
	mark
	echo 1 >"$SELFTEST" || fail "writing 1 to parameters/selftest failed"
	waited=0
	while :; do
		totals=$(since_mark | grep 'rasync_selftest' | grep -i '# totals: pass:' | tail -n 1)
		[ -n "$totals" ] && break
		[ $waited -ge "$SELFTEST_WAIT" ] && break
		sleep 1
		waited=$((waited + 1))
	done
	since_mark | grep 'rasync_selftest' | sed 's/^/# /'
	if [ -z "$totals" ]; then
		fail "no 'rasync_selftest ... # totals: pass:N fail:M' line in dmesg after ${SELFTEST_WAIT}s"
		return
	fi
	npass=$(echo "$totals" | sed -n 's/.*[Tt]otals: pass:\([0-9]*\).*/\1/p')
	nfail=$(echo "$totals" | sed -n 's/.*fail:\([0-9]*\).*/\1/p')
	[ "$nfail" = 0 ] || fail "in-kernel self-test: fail:$nfail"
	if [ -z "$npass" ] || [ "$npass" -eq 0 ]; then
		fail "in-kernel self-test passed nothing"
	fi
	since_mark | grep 'rasync_selftest' | grep -q 'not ok' &&
		fail "in-kernel self-test reported 'not ok' lines"
}

case_rmmod_removes_debugfs() {
	need_loaded || return
	unload || fail "rmmod failed"
	! loaded || fail "$MOD still there after rmmod"
	[ ! -e "$DBG" ] || fail "$DBG still there after rmmod"
}

case_reload_leaves_module_loaded() {
	if loaded; then
		unload || { fail "rmmod before the final insmod failed"; return; }
	fi
	load || { fail "final insmod failed"; return; }
	expect_state Y 1 1
}

# --- main ----------------------------------------------------------------

CASES="insmod_rmmod_3x insmod_rejects_bad_enabled insmod_enabled_N_leaves_hook_off
loaded_and_hooked_by_default runtime_rejects_bad_values selftest_rejects_bad_values disable_unhooks reenable_hooks
repeated_writes_are_idempotent stats_reset_zeroes stats_reset_takes_blanks stats_rejects_garbage in_kernel_selftest rmmod_removes_debugfs
reload_leaves_module_loaded"

# shellcheck disable=SC2086 # split the list
set -- $CASES
ktap_set_plan $#

if loaded; then
	ktap_print_msg "rasync already loaded: unloading it first"
	unload || {
		echo "Bail out! cannot rmmod the already loaded rasync"
		exit "$KSFT_FAIL"
	}
fi

for c in $CASES; do
	run_case "$c"
done
ktap_finished
