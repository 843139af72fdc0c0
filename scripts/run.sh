#!/bin/bash
# `make run`: build (cached), boot the guest, load rasync.ko, run the fio demo
# (qemu/guest-demo.sh) and summarise it (scripts/demo_summary.py).
#
# Knobs (environment):
#   RASYNC_DEMO_SIZE     the file, fio syntax (default 256M; read once, fits in RAM)
#   RASYNC_DEMO_RUNTIME  cap per run in seconds (default 30)
#   RASYNC_DEMO_ROUNDS   rounds; each runs rasync, stock, stock again (the A/A
#                        pair) and io-wq once, order reversed every other
#                        round (default 3)
#   RASYNC_RUN_SMP       vCPUs online in each pass (default "2 1": two vCPUs,
#                        then one, where io-wq's workers share fio's vCPU);
#                        the guest boots with the largest
#   RASYNC_RUN_TIMEOUT   guest timeout in seconds (default: estimated)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start=${RASYNC_MAKE_T0:-$(date +%s)}
size=${RASYNC_DEMO_SIZE:-256M}
runtime=${RASYNC_DEMO_RUNTIME:-30}
rounds=${RASYNC_DEMO_ROUNDS:-3}
passes=${RASYNC_RUN_SMP:-2 1}
smp=0
for n in $passes; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "RASYNC_RUN_SMP wants vCPU counts, e.g. \"2 1\", got '$passes'"
	((n > smp)) && smp=$n
done
((smp > 0)) || die "RASYNC_RUN_SMP is empty"
for v in runtime rounds; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "RASYNC_DEMO_${v^^} wants a positive integer, got '${!v}'"
done
npasses=$(wc -w <<<"$passes")
timeout=${RASYNC_RUN_TIMEOUT:-$((300 + npasses * rounds * 4 * (runtime + 20)))}

read -r kernel initrd <<<"$(bash "$RASYNC_ROOT/scripts/build-guest.sh" run)"
bash "$RASYNC_ROOT/qemu/mkinitramfs.sh" "$RASYNC_OUT/run/demo.cpio" \
	--module "$RASYNC_OUT/run/rasync.ko" --selftests "$RASYNC_OUT/run/selftests" \
	--extra "$RASYNC_ROOT/qemu/guest-demo.sh:/rasync/demo.sh" >&2
disk="$RASYNC_OUT/run/scratch.img"
bash "$RASYNC_ROOT/qemu/mkdisk.sh" "$disk" 1024 >&2
glog="$RASYNC_OUT/run/demo.log"
log "run: $rounds rounds of rasync, stock, stock (A/A) and io-wq over a $size file," \
	"passes with $passes vCPU(s) online; guest output in $glog"
set +e
bash "$RASYNC_ROOT/qemu/boot.sh" --kernel "$kernel" --initrd "$RASYNC_OUT/run/demo.cpio" \
	--disk "$disk" --mem 1024 --smp "$smp" --timeout "$timeout" \
	--console "$RASYNC_OUT/run/console.log" -- \
	"RASYNC_DEMO_SIZE=$size RASYNC_DEMO_RUNTIME=$runtime RASYNC_DEMO_ROUNDS=$rounds" \
	"RASYNC_DEMO_CPUS='$passes' sh /rasync/demo.sh" | tee "$glog" | grep -v '^@@'
rc=${PIPESTATUS[0]}
set -e
src=0
python3 "$RASYNC_ROOT/scripts/demo_summary.py" "$glog" --wall $(($(date +%s) - start)) || src=$?
((rc != 0)) || rc=$src
exit "$rc"
