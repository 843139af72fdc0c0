#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# fio through the buffered io_uring read path, with the job files in fio/:
#
#  - randread_verify: write a file with crc32c verify headers, read it
#    back cold with random 4K reads at QD32 and verify every block;
#  - randread_qd32: the benchmark job, run briefly; it must finish
#    without I/O errors (no timing is checked).
#
# The job files name /mnt/scratch; the files go to $RASYNC_SCRATCH instead
# when that is set.  Sizes: RASYNC_FIO_SIZE (default 16m), runtime:
# RASYNC_FIO_RUNTIME seconds (default 3).  SKIPs when fio is not installed.

DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$DIR/kselftest/ktap_helpers.sh"

FIO=${FIO:-fio}
SCRATCH=${RASYNC_SCRATCH:-/mnt/scratch}
FIO_SIZE=${RASYNC_FIO_SIZE:-16m}
FIO_RUNTIME=${RASYNC_FIO_RUNTIME:-3}
export FIO_SIZE FIO_RUNTIME

ktap_print_header
if ! command -v "$FIO" >/dev/null; then
	ktap_skip_all "fio is not installed in this system"
	exit "$KSFT_SKIP"
fi
if [ ! -d "$SCRATCH" ]; then
	ktap_skip_all "scratch directory $SCRATCH does not exist"
	exit "$KSFT_SKIP"
fi
TMP=$(mktemp -d) || exit "$KSFT_FAIL"
trap 'rm -rf "$TMP"; rm -f "$SCRATCH/fio.dat" "$SCRATCH/fio-verify.dat"' EXIT

ktap_set_plan 2

# run_job <case name> <job file>
run_job() {
	sed "s|/mnt/scratch/|$SCRATCH/|g" "$DIR/fio/$2" >"$TMP/$2"
	# from $TMP: fio may leave state files in its working directory
	if (cd "$TMP" && "$FIO" "$TMP/$2") >"$TMP/$2.log" 2>&1; then
		grep -E '^ *(READ|WRITE):' "$TMP/$2.log" | sed 's/^ */# /'
		ktap_test_pass "$1"
	else
		tail -n 30 "$TMP/$2.log" | sed 's/^/# /'
		ktap_test_fail "$1"
	fi
}

run_job randread_verify randread-verify.fio
run_job randread_qd32 randread-qd32.fio
ktap_finished
