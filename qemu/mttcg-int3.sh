# shellcheck shell=sh
# Guest commands that tell whether "Oops: int3" at a static-branch site
# under multi-threaded TCG is rasync's doing: with rasync unloaded, flip the
# kernel's own mm_filemap_get_pages tracepoint (a static key in
# filemap_get_pages(), live-patched with int3 by text_poke on a kernel with
# CONFIG_JUMP_LABEL) 4000 times while fio pread()s a cached file on the
# other vCPU.  Run after the suite, on the debug kernel:
#   RASYNC_TCG_THREAD=multi RASYNC_CHECK_AFTER="$(cat qemu/mttcg-int3.sh)" \
#     make check TESTS=rasync_module.sh
# (and with RASYNC_TCG_THREAD=single for the control); a splat fails the run.
rmmod rasync
f=/mnt/scratch/mttcg.dat
dd if=/dev/urandom of=$f bs=1M count=8 2>/dev/null
cat $f >/dev/null
fio --name=r --filename=$f --rw=randread --bs=4k --ioengine=psync \
	--time_based --runtime=300 >/dev/null 2>&1 &
p=$!
sleep 2
e=/sys/kernel/tracing/events/filemap/mm_filemap_get_pages/enable
i=0
t0=$(date +%s)
while [ $i -lt 4000 ] && kill -0 $p 2>/dev/null; do
	echo 1 >$e
	echo 0 >$e
	i=$((i + 1))
done
echo "mttcg-int3: $i toggles in $(($(date +%s) - t0)) s"
kill $p
echo "mttcg-int3: int3 lines in dmesg: $(dmesg | grep -c -i int3)"
