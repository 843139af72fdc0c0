#!/bin/sh
# `make run`, inside the guest: fio io_uring buffered 4K random reads at QD32
# on ext4, served by rasync, by the stock 6.12 path and by io-wq (the
# pre-5.9 behaviour), one after the other in this boot, caches dropped
# before each.  Prints fio's result, rasync's stats and io-wq punt counts.
set -eu
SIZE=${RASYNC_DEMO_SIZE:-256M}
RUNTIME=${RASYNC_DEMO_RUNTIME:-30}
F=/mnt/scratch/fio.dat
T=/sys/kernel/tracing/events/io_uring/io_uring_queue_async_work
P=/sys/module/rasync/parameters
D=/sys/kernel/debug/rasync

insmod /rasync/rasync.ko
echo "== rasync loaded: $(tr '\n' ' ' <$D/state)"
echo "== laying out $SIZE test file"
fio --name=layout --filename=$F --size=$SIZE --rw=write --bs=1M \
	--ioengine=psync --end_fsync=1 --output=/dev/null

punts() { awk '/Hits:/ { n += $2 } END { print n + 0 }' $T/hist; }

# run LABEL: one cold fio run; prints fio's summary, keeps "LABEL IOPS PUNTS".
run() {
	echo 3 >/proc/sys/vm/drop_caches
	echo 'hist:keys=common_pid' >>$T/trigger
	echo reset >$D/stats
	echo "== $1"
	fio --name="$1" --filename=$F --size=$SIZE --ioengine=io_uring --direct=0 \
		--rw=randread --bs=4k --iodepth=32 --runtime="$RUNTIME" \
		--output-format=normal,terse >/tmp/fio.out
	grep -E '^\s+(read:|lat \(usec\)|clat \(usec\)|cpu)' /tmp/fio.out || true
	iops=$(awk -F';' '/^3;fio-/ { print $8 }' /tmp/fio.out)
	n=$(punts)
	echo '!hist:keys=common_pid' >>$T/trigger
	echo "   io_uring_queue_async_work events: $n"
	echo "   rasync stats: $(tr '\n' ' ' <$D/stats)"
	echo "$1 $iops $n" >>/tmp/rows
}

: >/tmp/rows
# rasync and stock in ABBA order, so that neither gains from going first
# (the first cold run after the layout pays for the journal commit).
for mode in rasync stock-6.12 stock-6.12 rasync; do
	case $mode in rasync) echo Y >$P/enabled ;; *) echo N >$P/enabled ;; esac
	run $mode
done
echo N >$P/enabled
echo 0 >/proc/sys/kernel/io_uring_async_buffered_reads
run io-wq
echo 1 >/proc/sys/kernel/io_uring_async_buffered_reads
echo Y >$P/enabled

echo "== summary (one boot, cold cache, QD32 4K randread over $SIZE, at most ${RUNTIME}s each)"
awk '{ printf "   %-11s %10.0f IOPS  %8d io-wq punts\n", $1, $2, $3; sum[$1] += $2; n[$1]++ }
	END { for (k in sum) iops[k] = sum[k] / n[k];
	      if (iops["stock-6.12"] > 0) printf "   mean of runs: rasync/stock %.2fx   ", iops["rasync"] / iops["stock-6.12"];
	      if (iops["io-wq"] > 0) printf "rasync/io-wq %.2fx\n", iops["rasync"] / iops["io-wq"] }' /tmp/rows
echo "== rasync state: $(tr '\n' ' ' <$D/state)"
rmmod rasync
