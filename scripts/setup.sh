#!/bin/bash
# Install what rasync needs on a Debian 12 host, idempotently, and say what is installed.
# Called by the Makefile targets; safe to run again (it only installs what is missing).
# Both kernels' needs are installed whichever RASYNC_KERNEL is chosen:
# make check builds 7.3 and runs an LTS lane on 6.12.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

APT_PKGS=(
	linux-source-6.12
	qemu-system-x86
	clang lld llvm libclang-dev            # 14: builds 6.12 as it always has
	clang-19 lld-19 llvm-19 libclang-19-dev # 7.3 wants LLVM >= 17.0.1
	busybox-static fio liburing-dev linux-perf
	ccache e2fsprogs xfsprogs btrfs-progs f2fs-tools
	build-essential bc flex bison cpio dwarves kmod libelf-dev libssl-dev
	python3 xz-utils rsync patch gawk
)

say() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

missing=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	say "installing Debian packages: ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "need root to apt-get install: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install failed for: ${missing[*]}"
fi

command -v rustup >/dev/null || die "rustup not found: install the Rust toolchain with rustup"
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	say "installing rustup component rust-src"
	rustup component add rust-src
fi
for c in rustfmt clippy; do
	if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
		say "installing rustup component $c"
		rustup component add "$c"
	fi
done
# bindgen in the cache, not in ~/.cargo/bin: lib.sh puts this version first.
if ! "$BINDGEN_DIR/bin/bindgen" --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
	say "installing bindgen-cli $BINDGEN_VERSION (cargo install, ~80 s)"
	cargo install bindgen-cli --version "$BINDGEN_VERSION" --locked --quiet --root "$BINDGEN_DIR" ||
		die "cargo install bindgen-cli $BINDGEN_VERSION failed"
fi
mkdir -p "$CCACHE_BIN"
[ -L "$CCACHE_BIN/clang-19" ] || ln -sf "$(command -v ccache)" "$CCACHE_BIN/clang-19"

# Linux 7.3 from trixie-backports, without touching the host's apt sources.
bash "$RASYNC_ROOT/scripts/fetch-linux-7.3.sh" >/dev/null

for t in clang clang-19 ld.lld ld.lld-19 qemu-system-x86_64 busybox fio ccache mkfs.ext4 mkfs.xfs mkfs.btrfs mkfs.f2fs bindgen rustc; do
	command -v "$t" >/dev/null || die "missing tool after set-up: $t"
done
ls /usr/src/linux-source-6.12.tar.xz >/dev/null 2>&1 ||
	die "missing /usr/src/linux-source-6.12.tar.xz (package linux-source-6.12)"
say "host ready ($(rustc --version), $(bindgen --version), $(clang --version | head -1), $(clang-19 --version | head -1))"
