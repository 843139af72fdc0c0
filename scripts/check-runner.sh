#!/bin/bash
# `make check`'s test of the guest runner (selftests/run_tests.sh on
# kselftest's runner.sh, with selftests/run_entry.sh around each entry):
# stand-in programs that pass, skip, fail, crash, ignore the timeout's
# SIGTERM and run on a matrix file system, run under busybox sh as in the
# guest, in RASYNC_HOST_DRYRUN=1 mode.  Checks every entry's KTAP line,
# the case counts of the last line and the exit status.  Usage:
# check-runner.sh KSRC
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ksrc=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
bad() { echo "# runner: FAIL: $*"; sed 's/^/# runner output: /' "$t/out" 2>/dev/null; exit 1; }

mkdir -p "$t/st/kselftest" "$t/scratch" "$t/xfs"
cp "$RASYNC_ROOT"/selftests/{run_tests.sh,run_entry.sh} "$t/st/"
cp "$ksrc"/tools/testing/selftests/kselftest/{runner.sh,prefix.pl,ktap_helpers.sh} "$t/st/kselftest/"
echo timeout=3 >"$t/st/settings"
cat >"$t/st/tests.list" <<'EOF'
t_pass	ext4
t_fail	ext4
t_crash	ext4
t_hang	ext4
t_late	ext4
t_fs	matrix
t_raw	raw
EOF
prog() { printf '#!/bin/sh\n%s\n' "$2" >"$t/st/$1" && chmod +x "$t/st/$1"; }
# 2 cases: 1 passes, 1 skips
prog t_pass 'echo "TAP version 13"; echo "1..2"; echo "ok 1 a"; echo "ok 2 b # SKIP not here"'
# 3 planned: 1 passes, 1 fails, 1 never reports
prog t_fail 'echo "1..3"; echo "ok 1 a"; echo "not ok 2 b"; exit 1'
prog t_crash 'echo "1..1"; kill -SEGV $$'
# ignores SIGTERM: SIGKILLed RASYNC_KILL_AFTER s after the timeout
prog t_hang 'trap "" TERM; echo "1..1"; sleep 61.25; echo "ok 1 never"'
# every case passes, then it outlives the timeout: still a failure
prog t_late 'echo "1..1"; echo "ok 1 a"; trap "" TERM; sleep 61.5'
# passes on the matrix fs it is given, skips elsewhere
prog t_fs "case \$RASYNC_SCRATCH in $t/xfs) echo '1..1'; echo 'ok 1 on xfs' ;;
	*) echo '1..0 # SKIP not the matrix fs'; exit 4 ;; esac"
prog t_raw '[ "$RASYNC_BLKDEV" = /dev/null ] || exit 1; echo "1..1"; echo "ok 1 raw"'
printf 'xfs %s\nraw /dev/null\n' "$t/xfs" >"$t/disks"

# runner.sh reopens /dev/stdout with O_APPEND: so must we, or the two
# file offsets overwrite each other's lines
rc=0
: >"$t/out"
RASYNC_HOST_DRYRUN=1 RASYNC_SCRATCH="$t/scratch" RASYNC_DISKS="$t/disks" RASYNC_KILL_AFTER=2 \
	busybox sh "$t/st/run_tests.sh" >>"$t/out" 2>&1 </dev/null || rc=$?
[ "$rc" = 1 ] || bad "exit status $rc, not 1"
for want in '1..8' \
	'ok 1 selftests: rasync: t_pass' \
	'not ok 2 selftests: rasync: t_fail # exit=1' \
	'not ok 3 selftests: rasync: t_crash # exit=1' \
	'not ok 4 selftests: rasync: t_hang # TIMEOUT 3 seconds' \
	'not ok 5 selftests: rasync: t_late # TIMEOUT 3 seconds' \
	'ok 6 selftests: rasync: t_fs # SKIP' \
	'ok 7 selftests: rasync: t_fs@xfs' \
	'ok 8 selftests: rasync: t_raw@raw' \
	'5 passed, 5 failed, 2 skipped'; do
	grep -qxF -- "$want" "$t/out" || bad "no line '$want'"
done
grep -qF '# t_hang: timed out' "$t/out" || bad "t_hang's timeout not reported"
grep -qF '# t_crash: killed by signal 11' "$t/out" || bad "t_crash's signal not reported"
# SIGKILL reached the stand-ins' own children, not only the shells
! pgrep -f 'sleep 61\.(25|5)' >/dev/null || bad "a timed-out program's child outlived it"

# one entry by name, as `make check TESTS=...` runs it
: >"$t/out"
RASYNC_HOST_DRYRUN=1 RASYNC_SCRATCH="$t/scratch" RASYNC_DISKS="$t/disks" \
	busybox sh "$t/st/run_tests.sh" t_fs@xfs >>"$t/out" 2>&1 </dev/null || bad "t_fs@xfs alone failed"
grep -qxF '1 passed, 0 failed, 0 skipped' "$t/out" || bad "t_fs@xfs alone: wrong count"
echo "# runner: pass, fail, crash, timeout, matrix and raw entries counted right"
