#!/bin/sh
# `make run`, inside the guest: fio io_uring buffered 4K random reads at QD32
# on ext4 (size-based: every block of the file read once, in random order),
# served by rasync, by the stock path of the running kernel (twice: the A/A pair that measures
# the noise) and by io-wq (the pre-5.9 behaviour), caches dropped before each
# run, over several rounds: forward order in odd rounds, reversed in even ones,
# so that no mode always goes first (ABBA).  One pass per entry of CPUS: the
# vCPUs beyond it are taken offline, so that in a one-vCPU pass io-wq's
# workers cannot run beside fio.  Each run prints a progress line and a
# "@@DEMO key=value ..." line; scripts/demo_summary.py does the arithmetic on
# the host.
set -eu
SIZE=${RASYNC_DEMO_SIZE:-256M}
RUNTIME=${RASYNC_DEMO_RUNTIME:-30}
ROUNDS=${RASYNC_DEMO_ROUNDS:-3}
CPUS=${RASYNC_DEMO_CPUS:-2 1}
MODES="rasync stock stock_aa iowq"
F=/mnt/scratch/fio.dat
T=/sys/kernel/tracing/events/io_uring/io_uring_queue_async_work
P=/sys/module/rasync/parameters
D=/sys/kernel/debug/rasync
SYSCTL=/proc/sys/kernel/io_uring_async_buffered_reads

insmod /rasync/rasync.ko
echo "== rasync loaded: $(tr '\n' ' ' <$D/state)"
echo "== laying out $SIZE test file"
fio --name=layout --filename=$F --size="$SIZE" --rw=write --bs=1M --eta=never \
	--ioengine=psync --end_fsync=1 --output=/dev/null
sync
echo "@@DEMO-BEGIN kernel=$(uname -r | cut -d. -f1,2) size=$SIZE runtime=$RUNTIME rounds=$ROUNDS cpus=$(echo "$CPUS" | tr ' ' ,)" \
	"uname=$(uname -r) fio=$(fio --version) nproc=$(nproc)"

punts() { awk '/Hits:/ { n += $2 } END { print n + 0 }' $T/hist; }

# online N: vCPUs 0..N-1 online, the others offline.
# (busybox sh has no "local": these names are the function's own.)
online() {
	for on_dir in /sys/devices/system/cpu/cpu[0-9]*; do
		[ -f "$on_dir/online" ] || continue
		if [ "${on_dir##*cpu}" -lt "$1" ]; then
			echo 1 >"$on_dir/online"
		else
			echo 0 >"$on_dir/online"
		fi
	done
}

# run CPUS ROUND MODE: one cold fio run; whole-process CPU (fio's job thread
# and its iou-wrk workers: --thread, busybox time's wait4 rusage) as
# `make bench` measures it.
run() {
	en=N sysctl=1
	case $3 in rasync) en=Y ;; iowq) sysctl=0 ;; esac
	echo $en >$P/enabled
	echo $sysctl >$SYSCTL
	sync
	echo 3 >/proc/sys/vm/drop_caches
	echo 'hist:keys=common_pid' >>$T/trigger
	echo reset >$D/stats
	rc=0
	busybox time -o /tmp/time.txt -f '%e %U %S' \
		fio --name="$3" --filename=$F --size="$SIZE" --thread --eta=never --ioengine=io_uring --direct=0 \
		--rw=randread --bs=4k --iodepth=32 --runtime="$RUNTIME" \
		--output-format=terse >/tmp/fio.out || rc=$?
	n=$(punts)
	echo '!hist:keys=common_pid' >>$T/trigger
	# terse v3: field 6 KiB read, 8 IOPS, 9 runtime in ms
	set -- "$1" "$2" "$3" $(awk -F';' '/^3;fio-/ { print $6, $8, $9 }' /tmp/fio.out) \
		$(tail -n 1 /tmp/time.txt)
	echo "@@DEMO cpus=$1 round=$2 mode=$3 rc=$rc kib=${4:-} iops=${5:-} runtime_ms=${6:-}" \
		"wall_s=${7:-} user_s=${8:-} sys_s=${9:-} punts=$n online=$(nproc)" \
		"stats=$(awk '$2 != 0 { printf "%s%s:%s", s, $1, $2; s = "," }' $D/stats)"
	awk -v m="$3" -v c="$1" -v r="$2" -v kib="${4:-0}" -v iops="${5:-0}" -v w="${7:-0}" \
		-v u="${8:-0}" -v s="${9:-0}" -v n="$n" 'BEGIN {
		ios = kib / 4
		printf "   %d vCPU%s, round %d, %-8s %7.0f IOPS  CPU %4.0f%% of a vCPU  %6.1f us/IO  %6d io-wq punts\n",
			c, (c > 1 ? "s" : ""), r, m, iops, (w > 0 ? 100 * (u + s) / w : 0),
			(ios > 0 ? 1e6 * (u + s) / ios : 0), n }'
}

for c in $CPUS; do
	online "$c"
	echo "== $c vCPU(s) online ($(cat /sys/devices/system/cpu/online)): $ROUNDS rounds of: $MODES"
	r=1
	while [ $r -le "$ROUNDS" ]; do
		order=$MODES
		if [ $((r % 2)) = 0 ]; then
			order=''
			for m in $MODES; do order="$m $order"; done
		fi
		for m in $order; do
			run "$c" $r "$m"
		done
		r=$((r + 1))
	done
done
online 64
echo 1 >$SYSCTL
echo Y >$P/enabled
echo "@@DEMO-END"
echo "== rasync state: $(tr '\n' ' ' <$D/state)"
rmmod rasync
