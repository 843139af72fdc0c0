#!/bin/bash
# Build rasync.ko against the cached kernel of VARIANT (run|debug|distro) into
# out/VARIANT/rasync.ko.  Each variant has its own copy of the sources,
# since kbuild writes its objects next to them.  CLIPPY=1 builds through
# clippy; warnings of either compiler fail the build.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-run}
kdir=$(bash "$RASYNC_ROOT/scripts/build-kernel.sh" "$variant")
mdir="$RASYNC_OUT/$variant/mod"
mkdir -p "$mdir"
# --delete prunes sources only: build products are excluded from it.
rsync -a --delete --exclude='*.o' --exclude='*.cmd' --exclude='*.ko' --exclude='*.mod*' \
	--exclude=modules.order --exclude=stats_list.rs --exclude='.*' \
	"$RASYNC_ROOT/Kbuild" "$RASYNC_ROOT/rust" "$mdir/" >/dev/null
extra=()
[ "${CLIPPY:-0}" = 1 ] && extra+=(CLIPPY=1)
log "building rasync.ko for the $variant kernel${CLIPPY:+ (clippy)}"
make -s -C "$kdir" M="$mdir" "${KMAKE_VARS[@]}" "${extra[@]}" \
	KCFLAGS=-Werror KRUSTFLAGS=-Dwarnings modules
cp "$mdir/rust/rasync.ko" "$RASYNC_OUT/$variant/rasync.ko"
echo "$RASYNC_OUT/$variant/rasync.ko"
