#!/bin/bash
# `make check`'s test of README "Your own kernel tree": a copy of the
# checkout builds the module with plain `make KDIR=`, installs it, writes
# rust-project.json and cleans up, and builds the selftests with
# `make -C selftests KSRC=`, against KDIR used as a user's own tree (no
# set-up, no cache, no ccache).  Usage: check-own-tree.sh KDIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kdir=$1
# What the tree was built with (LLVM=1 for 6.12, LLVM=-19 for 7.3), as a user passes it.
llvm=${KMAKE_VARS[0]}
ksrc=$(readlink -f "$kdir/source")
tree="$RASYNC_OUT/own-tree"
rm -rf "$tree" && mkdir -p "$tree"
(cd "$RASYNC_ROOT" && git ls-files -z --cached --others --exclude-standard Makefile Kbuild rust selftests |
	xargs -0 cp --parents -t "$tree")

say() { echo "# own tree: $*"; }
# make as typed in a shell: this script runs under `make check`, whose
# exported MAKELEVEL would tell kselftest's lib.mk it is a sub-make, which
# then leaves OUTPUT empty and builds the programs into /.
user_make() { env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make "$@"; }
bad() { echo "# own tree: FAIL: $*"; exit 1; }

say "make KDIR=$kdir $llvm"
user_make -s -C "$tree" KDIR="$kdir" "$llvm" >"$tree.log" 2>&1 || { cat "$tree.log"; bad "module build"; }
ko=$(cd "$tree" && find . -name rasync.ko)
[ -n "$ko" ] || bad "no rasync.ko after make KDIR="
modinfo -F vermagic "$tree/$ko" | grep -q "^$(cat "$kdir/include/config/kernel.release") " ||
	bad "$ko vermagic is not that of $kdir"

say "make modules_install INSTALL_MOD_PATH=..."
user_make -s -C "$tree" KDIR="$kdir" "$llvm" INSTALL_MOD_PATH="$tree/root" DEPMOD=true \
	modules_install >>"$tree.log" 2>&1 || { cat "$tree.log"; bad "modules_install"; }
find "$tree/root/lib/modules" -name 'rasync.ko*' | grep -q . || bad "modules_install installed no rasync.ko"

say "make rust-analyzer"
user_make -s -C "$tree" KDIR="$kdir" "$llvm" rust-analyzer >>"$tree.log" 2>&1 || { cat "$tree.log"; bad "rust-analyzer"; }
python3 - "$tree" <<'PY' || bad "rust-project.json has no rasync crate depending on kernel"
import json, pathlib, sys
tree = pathlib.Path(sys.argv[1])
[p] = list(tree.rglob("rust-project.json"))
crates = json.load(open(p))["crates"]
names = {i: c.get("display_name") for i, c in enumerate(crates)}
root = [c for c in crates if c["root_module"].endswith("rust/rasync_main.rs")]
assert root and "kernel" in {names[d["crate"]] for d in root[0]["deps"]}
PY

say "make clean"
user_make -s -C "$tree" KDIR="$kdir" "$llvm" clean >>"$tree.log" 2>&1 || { cat "$tree.log"; bad "clean"; }
left=$(cd "$tree" && find . \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' \) | head -3)
[ -z "$left" ] || bad "make clean left $left"

say "make -C selftests KSRC=$ksrc, install, clean"
user_make -s -C "$tree/selftests" KSRC="$ksrc" install INSTALL_PATH="$tree/kselftest" \
	>>"$tree.log" 2>&1 || { cat "$tree.log"; bad "selftests build and install"; }
for f in rasync_read rasync_module.sh run_tests.sh run_entry.sh settings config \
	fio/randread-qd32.fio kselftest/runner.sh kselftest/ktap_helpers.sh; do
	[ -e "$tree/kselftest/$f" ] || bad "selftests install has no $f"
done
# built in place, as a user's make builds them, not elsewhere
[ -x "$tree/selftests/rasync_read" ] || bad "make -C selftests did not build rasync_read in place"
user_make -s -C "$tree/selftests" KSRC="$ksrc" clean >>"$tree.log" 2>&1 || bad "selftests clean"
[ ! -e "$tree/selftests/rasync_read" ] || bad "selftests clean left rasync_read"
say "module, modules_install, rust-analyzer, clean; selftests build, install, clean: all fine"
