#!/bin/sh
# `make bench`, inside the guest (busybox + fio only): the seed's comparison,
# cold and hot, interleaved over several rounds.  Nothing is parsed here: every
# run's raw fio JSON and measurements go to stdout between "@@" markers, and
# scripts/bench_report.py does the arithmetic on the host.  Lines starting with
# "bench:" are progress for the terminal.
#
# The rows are listed, with what each measures, in bench-rows.tsv (the
# host's qemu/bench-rows.tsv); what each does is the case below.  rasync.ko
# stays loaded throughout; rows other than hook/rasync and their hot_
# variants run with enabled=N, i.e. the stock filemap_read().
set -u

SIZE=${RASYNC_BENCH_SIZE:-1G}
RUNTIME=${RASYNC_BENCH_RUNTIME:-30}
ROUNDS=${RASYNC_BENCH_ROUNDS:-5}
HOT_SIZE=${RASYNC_BENCH_HOT_SIZE:-128M}
HOT_RUNTIME=${RASYNC_BENCH_HOT_RUNTIME:-$RUNTIME}
# mp_ rows: fio mlock()s all of MemAvailable but this many MiB (--lockmem).
MP_LEAVE_MB=${RASYNC_BENCH_MP_LEAVE_MB:-64}
[ "$HOT_RUNTIME" -gt 0 ] 2>/dev/null || HOT_RUNTIME=10
# scripts/bench.sh passes the rows; alone, all of bench-rows.tsv, in order.
ROWS=${RASYNC_BENCH_ROWS:-$(awk -F'\t' '!/^#/ && NF { print $1 }' "$(dirname "$0")/bench-rows.tsv")}
# 1: every run under `perf record -e cpu-clock -a` (sampling at PROFILE_HZ
# on every CPU; in icount mode the clock is virtual, so samples count guest
# instructions), its flat profile by symbol printed after the run.
PROFILE=${RASYNC_BENCH_PROFILE:-0}
PROFILE_HZ=${RASYNC_BENCH_PROFILE_HZ:-997}
# layout: write the files and stop; run: measure files laid out by an earlier
# boot; all: both in this boot.  scripts/bench.sh boots twice (layout, run)
# so the host can flush the freshly written image before anything is timed.
PHASE=${RASYNC_BENCH_PHASE:-all}

F=/mnt/scratch/cold.dat
H=/mnt/scratch/hot.dat
T=/sys/kernel/tracing/events/io_uring/io_uring_queue_async_work
P=/sys/module/rasync/parameters
D=/sys/kernel/debug/rasync
SYSCTL=/proc/sys/kernel/io_uring_async_buffered_reads

say() { echo "bench: $*"; }
fail() { say "FATAL: $*"; echo "@@BENCH-FATAL $*"; exit 1; }

grep -q ' /mnt/scratch ext4 ' /proc/mounts || fail "no ext4 on /mnt/scratch"
case $PHASE in layout | run | all) ;; *) fail "RASYNC_BENCH_PHASE must be layout, run or all" ;; esac

# Lay the files out, then drop them from the cache.
if [ "$PHASE" != run ]; then
	t0=$(date +%s)
	say "laying out $SIZE cold file and $HOT_SIZE hot file on ext4"
	fio --name=layout-cold --filename=$F --size="$SIZE" --rw=write --bs=1M \
		--ioengine=psync --end_fsync=1 --output=/dev/null || fail "layout of $F failed"
	fio --name=layout-hot --filename=$H --size="$HOT_SIZE" --rw=write --bs=1M \
		--ioengine=psync --end_fsync=1 --output=/dev/null || fail "layout of $H failed"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	echo "@@LAYOUT seconds=$(($(date +%s) - t0)) cold_bytes=$(stat -c %s $F) hot_bytes=$(stat -c %s $H)"
	[ "$PHASE" = all ] || { say "layout done"; exit 0; }
fi
if [ ! -f $F ] || [ ! -f $H ]; then
	fail "test files missing: lay them out first (RASYNC_BENCH_PHASE=layout)"
fi
[ -f $T/trigger ] || fail "tracefs event io_uring_queue_async_work missing"
[ -w $SYSCTL ] || fail "$SYSCTL missing (kernel without the sysctl patch?)"
insmod /rasync/rasync.ko || fail "insmod rasync.ko failed"
[ -w $P/enabled ] || fail "rasync parameter 'enabled' missing"
if [ "$PROFILE" = 1 ]; then
	command -v perf >/dev/null || fail "RASYNC_BENCH_PROFILE=1 but no perf in the guest"
	# symbols for perf report: kernel and module addresses in kallsyms
	echo 0 >/proc/sys/kernel/kptr_restrict
	echo -1 >/proc/sys/kernel/perf_event_paranoid
fi

echo "@@GUEST-BEGIN"
echo "uname=$(uname -r)"
echo "cmdline=$(cat /proc/cmdline)"
echo "nproc=$(nproc)"
echo "memtotal_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
echo "cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "fio=$(fio --version)"
echo "size=$SIZE runtime=$RUNTIME rounds=$ROUNDS hot_size=$HOT_SIZE hot_runtime=$HOT_RUNTIME"
echo "mp_leave_mb=$MP_LEAVE_MB"
echo "rows=$ROWS"
echo "profile=$PROFILE profile_hz=$PROFILE_HZ perf=$(perf --version 2>/dev/null)"
if [ -d /sys/devices/system/cpu/vulnerabilities ]; then
	for v in /sys/devices/system/cpu/vulnerabilities/*; do
		echo "vuln.$(basename "$v")=$(cat "$v")"
	done
else
	echo "vuln=none (no /sys/devices/system/cpu/vulnerabilities)"
fi
echo "rasync_state=$(tr '\n' ' ' <$D/state)"
cs=/sys/devices/system/clocksource/clocksource0
echo "clocksource=$(cat $cs/current_clocksource 2>/dev/null)"
echo "clocksources=$(cat $cs/available_clocksource 2>/dev/null)"
echo "cpus_online=$(cat /sys/devices/system/cpu/online 2>/dev/null)"
echo "@@GUEST-END"

echo "@@FILES cold_bytes=$(stat -c %s $F) hot_bytes=$(stat -c %s $H)"

# Samples the running fio every ~100 ms with shell builtins only (apart from
# sleep): the peak number of its iou-wrk threads, written to $1 as it grows;
# and "uptime_cs ticks" (process-wide utime+stime, exited threads included)
# from the first sample with the job thread up and from the last one, in $2:
# CPU over the I/O phase without fio's start-up (loading ~60 libraries costs
# about a second under TCG).
sample_fio() {
	out=$1 cpu=$2 pid='' peak=0 tries=0 first=''
	echo 0 >"$out"
	: >"$cpu"
	while [ -z "$pid" ]; do
		pid=$(pidof fio) || pid=''
		tries=$((tries + 1))
		[ $tries -gt 300 ] && return
		[ -n "$pid" ] || sleep 0.05
	done
	pid=${pid%% *}
	while [ -d "/proc/$pid" ]; do
		n=0 nt=0
		for c in "/proc/$pid"/task/*/comm; do
			read -r name 2>/dev/null <"$c" || continue
			nt=$((nt + 1))
			case $name in iou-wrk*) n=$((n + 1)) ;; esac
		done
		if [ $n -gt $peak ]; then
			peak=$n
			echo $peak >"$out"
		fi
		if [ $nt -ge 2 ] && read -r up _ </proc/uptime && read -r st 2>/dev/null <"/proc/$pid/stat"; then
			# shellcheck disable=SC2086 # split the stat line into fields
			set -- $st
			up=${up%.*}${up#*.}
			now="$up $((${14} + ${15}))"
			[ -n "$first" ] || first=$now
			echo "$first $now" >"$cpu"
		fi
		sleep 0.1
	done
}

hits() { awk '/Hits:/ { n += $2 } END { print n + 0 }' $T/hist; }
# Sectors read from the scratch disk so far (field 3 of the block stat).
disk_sectors() { awk '{ print $3 }' /sys/block/vda/stat; }
meminfo_kb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
cached_kb() { meminfo_kb Cached; }
# Reclaim so far: whichever of these /proc/vmstat has (the run kernel has
# no CONFIG_VM_EVENT_COUNTERS, so no pgsteal_*: refaults tell instead).
reclaim() {
	awk '/^(pgsteal_(kswapd|direct)|allocstall_normal|workingset_refault_file|workingset_activate_file) / { printf "%s=%s ", $1, $2 }' /proc/vmstat
}
ooms() { dmesg | grep -c 'Killed process'; }

# run_one ROUND SEQ ROW
run_one() {
	round=$1 seq=$2 row=$3
	en=N hook_only=N sysctl=1 engine=io_uring qd=32 direct=0 file=$F size=$SIZE rt=$RUNTIME temp=cold
	case $row in
	hot_*) temp=hot file=$H size=$HOT_SIZE rt=$HOT_RUNTIME ;;
	# cold, with most of RAM mlocked by fio: the page cache is reclaimed
	# all the time and readahead's allocations fail
	mp_*) temp=mp ;;
	esac
	base=${row#hot_}
	case ${base#mp_} in
	pvsync) engine=pvsync qd=1 ;;
	iowq) sysctl=0 ;;
	# stock_aa is stock measured again as its own row: the A/A noise floor
	stock | stock_aa) ;;
	# the hook registered, every read passed on to filemap_read_stock()
	hook) en=Y hook_only=Y ;;
	rasync) en=Y ;;
	direct) direct=1 ;;
	*) fail "unknown row '$row'" ;;
	esac
	echo $hook_only >$P/hook_only || fail "cannot set hook_only=$hook_only"
	echo $en >$P/enabled || fail "cannot set enabled=$en"
	echo $sysctl >$SYSCTL || fail "cannot set $SYSCTL=$sysctl"

	sync
	echo 3 >/proc/sys/vm/drop_caches
	if [ $temp = hot ]; then
		# Read the whole file once so every block is in the page cache.
		cat $file >/dev/null
	fi
	cached_before=$(cached_kb)
	lock='' lock_kb=0
	: >/tmp/mlocked
	if [ $temp = mp ]; then
		lock_kb=$(($(meminfo_kb MemAvailable) - MP_LEAVE_MB * 1024))
		[ $lock_kb -gt 0 ] || fail "MemAvailable is below RASYNC_BENCH_MP_LEAVE_MB=$MP_LEAVE_MB"
		lock="--lockmem=${lock_kb}k"
		# What fio really locked, read once it is reading (fio may cap it).
		(sleep $((rt > 0 ? rt / 2 : 5)) && meminfo_kb Mlocked >/tmp/mlocked) &
	fi
	reclaim_before=$(reclaim) ooms_before=$(ooms)

	mode="--time_based --runtime=$rt --norandommap"
	[ "$rt" -gt 0 ] || mode=''
	# fio's default invalidate=1 would drop the file from the cache first.
	[ $temp != hot ] || mode="$mode --invalidate=0"
	echo reset >$D/stats
	echo 'hist:keys=common_pid' >>$T/trigger || fail "cannot add hist trigger"
	rm -f /tmp/fio.json /tmp/time.txt
	sectors_before=$(disk_sectors)
	sample_fio /tmp/peak /tmp/cpu &
	spid=$!
	ppid=''
	if [ "$PROFILE" = 1 ]; then
		rm -f /tmp/perf.data
		perf record -q -e cpu-clock -F "$PROFILE_HZ" -a -o /tmp/perf.data \
			>/tmp/perf.log 2>&1 &
		ppid=$!
	fi
	# --thread: fio's job and its iou-wrk workers are threads of one
	# process; time's wait4() rusage covers them all, exited ones included.
	# shellcheck disable=SC2086 # $mode is a list of options
	busybox time -o /tmp/time.txt -f '%e %U %S %w %c' \
		fio --name="$row" --filename=$file --size="$size" --thread \
		--ioengine=$engine --iodepth=$qd --direct=$direct \
		--rw=randread --bs=4k $mode $lock --slat_percentiles=1 \
		--output-format=json --output=/tmp/fio.json
	rc=$?
	[ -z "$ppid" ] || kill -INT "$ppid"
	wait $spid
	wait
	sectors_after=$(disk_sectors)
	n=$(hits)
	echo '!hist:keys=common_pid' >>$T/trigger

	echo "@@RUN-BEGIN round=$round seq=$seq row=$row"
	echo "@@CONFIG row=$row temp=$temp enabled=$en sysctl=$sysctl engine=$engine iodepth=$qd direct=$direct size=$size runtime=$rt file=$file cached_kb_before=$cached_before cached_kb_after=$(cached_kb) disk_sectors_read=$((sectors_after - sectors_before))"
	echo "@@FIO-RC $rc"
	echo "@@TIME $(tail -n 1 /tmp/time.txt 2>/dev/null)"
	echo "@@IOWQ-EVENTS $n"
	echo "@@PEAK-IOU-WRK $(cat /tmp/peak 2>/dev/null)"
	echo "@@IO-PHASE-CPU $(cat /tmp/cpu 2>/dev/null)"
	echo "@@MEMORY lock_kb=$lock_kb mlocked_kb=$(cat /tmp/mlocked) ooms=$(($(ooms) - ooms_before))"
	echo "@@RECLAIM-BEFORE $reclaim_before"
	echo "@@RECLAIM-AFTER $(reclaim)"
	echo "@@STATS-BEGIN"
	cat $D/stats
	echo "@@STATS-END"
	echo "@@FIO-JSON-BEGIN"
	cat /tmp/fio.json 2>/dev/null
	echo
	echo "@@FIO-JSON-END"
	if [ -n "$ppid" ]; then
		# "<percent> <samples> <task> <dso> <symbol>" lines, every one with
		# a sample; all CPUs: fio, its io-wq workers, kthreads, idle, perf
		echo "@@PROFILE-BEGIN hz=$PROFILE_HZ"
		perf report -i /tmp/perf.data --stdio --no-children --sort comm,dso,sym \
			--percent-limit 0 -F overhead,sample,comm,dso,sym 2>>/tmp/perf.log |
			grep -v '^#' | grep .
		echo "@@PROFILE-END"
		grep -i 'error\|warn' /tmp/perf.log | head -n 3 | sed 's/^/bench: perf: /'
	fi
	echo "@@RUN-END"
	iops=$(awk -F: '/"iops"/ { gsub(/[ ,]/, "", $2); print int($2); exit }' /tmp/fio.json 2>/dev/null)
	say "round $round #$seq $row: ${iops:-?} IOPS, io-wq events $n, peak iou-wrk $(cat /tmp/peak 2>/dev/null), rc $rc"
}

# Round r (0-based) starts at row r*n/ROUNDS: every row takes a different
# place in the order from round to round.
# shellcheck disable=SC2086 # one positional parameter per row
set -- $ROWS
nrows=$#
total=$((nrows * ROUNDS))
done_runs=0
r=0
while [ $r -lt "$ROUNDS" ]; do
	off=$(((r * nrows / ROUNDS) % nrows))
	i=0
	while [ $i -lt $nrows ]; do
		k=$(((off + i) % nrows + 1))
		eval "row=\${$k}"
		done_runs=$((done_runs + 1))
		run_one $((r + 1)) $done_runs "$row"
		i=$((i + 1))
	done
	r=$((r + 1))
done

echo 1 >$SYSCTL
echo Y >$P/enabled
echo "@@DMESG-BEGIN"
dmesg | tail -n 40
echo "@@DMESG-END"
rmmod rasync || say "rmmod rasync failed"
echo "@@BENCH-DONE runs=$done_runs of $total"
say "done: $done_runs runs"
