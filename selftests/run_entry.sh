#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# One entry of tests.list, as kselftest's runner.sh runs it: run_tests.sh
# links this script once per entry under the entry's name (rasync_read,
# rasync_read@xfs, rasync_blkdev@raw) and lets runner.sh's run_many() run
# the links, so the per-test timeout from `settings` and the top-level KTAP
# lines are runner.sh's.  Around the program this adds what runner.sh lacks:
#
#  - the program's environment for its file system (@fs: RASYNC_SCRATCH and
#    a short stress budget; @raw: RASYNC_BLKDEV), SKIP if it is not mounted;
#  - loading $RASYNC_KO first if rasync is not loaded;
#  - after the program, a scan of the new kernel log lines for splats
#    ($RASYNC_SPLATS): any fails the entry even if the program passed;
#  - putting back the io_uring sysctl and rasync's `enabled` if the program
#    left them changed;
#  - counting the program's test cases, for run_tests.sh's last line;
#  - SIGTERM passed on to all of the program's processes, and SIGKILL
#    $KILL_AFTER s later, which runner.sh's timeout(1) never sends; a
#    timeout fails the entry even if every case had passed.
#
# Exit status: 0 passed, 4 skipped, else failed.  Never run by hand: the
# state it shares with run_tests.sh ($RASYNC_RUN_STATE) comes from there.

entry=$(basename "$0")
HERE=${RASYNC_RUN_HERE:?run by run_tests.sh}
STATE=${RASYNC_RUN_STATE:?run by run_tests.sh}
SPLATS=${RASYNC_SPLATS:?run by run_tests.sh}
DISKS=${RASYNC_DISKS:-/rasync/disks}
DRYRUN=${RASYNC_HOST_DRYRUN:-0}
MOD=/sys/module/rasync
PARAM=$MOD/parameters/enabled
SYSCTL=/proc/sys/kernel/io_uring_async_buffered_reads
KILL_AFTER=${RASYNC_KILL_AFTER:-10}
out=$STATE/$entry.out

# --- kernel log: what is new since this entry began --------------------------

MARK=
LOG_BASE=0
log_mark() {
	if [ "$DRYRUN" = 1 ] || [ ! -w /dev/kmsg ]; then
		LOG_BASE=$(dmesg 2>/dev/null | wc -l)
		return
	fi
	MARK="rasync run_entry.sh: mark $$ $entry"
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

# --- module and knobs: their values before the first test are in $STATE ------

extra=0
ensure_module() {
	if [ ! -d "$MOD" ] && [ "$DRYRUN" != 1 ] && [ -r "$RASYNC_KO" ]; then
		if msg=$(insmod "$RASYNC_KO" 2>&1); then
			echo "# $entry: loaded $RASYNC_KO"
		else
			echo "# $entry: insmod $RASYNC_KO failed: $msg"
			extra=$((extra + 1))
		fi
	fi
	if [ -d "$MOD" ] && [ ! -s "$STATE/enabled0" ]; then
		cat "$PARAM" >"$STATE/enabled0" 2>/dev/null
	fi
}

restore_knobs() {
	[ "$DRYRUN" = 1 ] && return
	sysctl0=$(cat "$STATE/sysctl0" 2>/dev/null)
	if [ -n "$sysctl0" ] && [ "$(cat "$SYSCTL" 2>/dev/null)" != "$sysctl0" ]; then
		echo "# $entry: restoring $SYSCTL to $sysctl0"
		echo "$sysctl0" >"$SYSCTL"
	fi
	enabled0=$(cat "$STATE/enabled0" 2>/dev/null)
	if [ -n "$enabled0" ] && [ -e "$PARAM" ] &&
	   [ "$(cat "$PARAM" 2>/dev/null)" != "$enabled0" ]; then
		echo "# $entry: restoring rasync enabled=$enabled0"
		echo "$enabled0" >"$PARAM"
	fi
}

# --- the program -------------------------------------------------------------

# print the lines of $out from line $1 + 1 on; only complete lines unless $2
# is "all".  Sets SHOWN to the lines printed so far.
show_new() {
	# a last line without its newline gets one at the end
	[ "$2" = all ] && [ -s "$out" ] && [ -n "$(tail -c 1 "$out")" ] && echo >>"$out"
	_total=$(wc -l <"$out")
	[ "$_total" -gt "$1" ] && sed -n "$(($1 + 1)),${_total}p" "$out"
	SHOWN=$_total
}

# run_prog [VAR=value...] <path>: stream its output while it runs; sets RC.
# The program runs in a session of its own (setsid), so that SIGTERM and
# SIGKILL reach all of its processes: runner.sh's timeout(1) sends SIGTERM
# to this script's process group, the trap (set before anything runs)
# keeps this script alive to report and passes it on, and whatever
# outlives it by $KILL_AFTER s gets SIGKILL.
TERMED=
trap 'TERMED=$(date +%s)' TERM
run_prog() {
	setsid env "$@" >"$out" 2>&1 </dev/null &
	_pid=$!
	_passed=
	SHOWN=0
	while kill -0 "$_pid" 2>/dev/null; do
		if [ -n "$TERMED" ] && [ -z "$_passed" ]; then
			kill -TERM "-$_pid" 2>/dev/null
			_passed=1
		fi
		if [ -n "$TERMED" ] && [ $(($(date +%s) - TERMED)) -ge "$KILL_AFTER" ]; then
			kill -KILL "-$_pid" 2>/dev/null
		fi
		sleep 1
		show_new "$SHOWN"
	done
	wait "$_pid"
	RC=$?
	# what the program left behind in its session
	kill -KILL "-$_pid" 2>/dev/null
	show_new "$SHOWN" all
}

log_mark
# rasync_module.sh loads and unloads the module itself
case $entry in rasync_module.sh) ;; *) ensure_module ;; esac

disk_of() { awk -v f="$1" '$1 == f { print $2; exit }' "$DISKS" 2>/dev/null; }
prog=${entry%@*} fs=ext4 where=$RASYNC_SCRATCH
set --
case $entry in
*@raw) fs=raw where=$(disk_of raw) && set -- "RASYNC_BLKDEV=$where" ;;
*@*)
	fs=${entry#*@} where=$(disk_of "$fs")
	set -- "RASYNC_SCRATCH=$where" \
		"RASYNC_STRESS_TIME=${RASYNC_STRESS_TIME:-${RASYNC_MATRIX_STRESS_TIME:-5}}"
	;;
esac
echo "# $entry: on $fs (${where:-not mounted})"

start=$(date +%s)
if [ -z "$where" ]; then
	echo "1..0 # SKIP $fs is not mounted in this guest" >"$out"
	RC=4
	show_new 0 all
else
	run_prog "$@" "$HERE/$prog"
fi
echo "# $entry: took $(($(date +%s) - start)) s"
restore_knobs

# the program's own top-level results
p=$(grep -cE '^ok [0-9]+' "$out")
s=$(grep -E '^(not )?ok [0-9]+' "$out" | grep -ciE '# *skip')
f=$(grep -cE '^not ok [0-9]+' "$out")
s_notok=$(grep -E '^not ok [0-9]+' "$out" | grep -ciE '# *skip')
p=$((p - s + s_notok))
f=$((f - s_notok))
plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)

missing=$((${plan:-0} - p - f - s))
if [ "$missing" -gt 0 ]; then
	echo "# $entry: $missing of $plan planned cases did not report"
	extra=$((extra + missing))
fi
if [ -n "$TERMED" ]; then
	echo "# $entry: timed out (runner.sh's timeout sent SIGTERM)"
elif [ "$RC" -gt 128 ]; then
	echo "# $entry: killed by signal $((RC - 128))"
elif [ "$RC" != 0 ] && [ "$RC" != 4 ]; then
	echo "# $entry: exit code $RC"
fi
# a timeout fails the entry even if every case had passed
if [ -n "$TERMED" ] || { [ "$RC" != 0 ] && [ "$RC" != 4 ]; }; then
	[ "$f" -gt 0 ] || [ "$missing" -gt 0 ] || extra=$((extra + 1))
fi
# a program that reports no cases counts as one
if [ $((p + f + s + extra)) -eq 0 ]; then
	case $RC in
	0) p=1 ;;
	4) s=1 ;;
	esac
fi

# again if the timeout's SIGTERM killed the scan itself
t0=$TERMED
splat=$(log_new | grep -E "$SPLATS")
[ "$TERMED" = "$t0" ] || splat=$(log_new | grep -E "$SPLATS")
if [ -n "$splat" ]; then
	echo "# $entry: kernel splat in dmesg:"
	log_new | grep -E -A 20 "$SPLATS" | head -n 200 | sed 's/^/# dmesg: /'
	extra=$((extra + 1))
fi

echo "$entry $p $((f + extra)) $s" >>"$STATE/counts"
if [ $((f + extra)) -gt 0 ] || [ -n "$TERMED" ] || { [ "$RC" != 0 ] && [ "$RC" != 4 ]; }; then
	exit 1
elif [ "$RC" = 4 ] || { [ "$p" -eq 0 ] && [ "$s" -gt 0 ]; }; then
	exit 4
fi
exit 0
