# Shared settings for the rasync host scripts (sourced, not run).
# shellcheck shell=bash

RASYNC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Builds live outside the checkout so a fresh clone reuses them.
RASYNC_CACHE=${RASYNC_CACHE:-$HOME/.cache/rasync}
export PATH="$HOME/.cargo/bin:$PATH"

# The kernel rasync is built for: 7.3 (default; Debian trixie-backports'
# linux-source-7.3, fetched by scripts/fetch-linux-7.3.sh) or 6.12 (the LTS,
# bookworm's linux-source-6.12).  Everything below that differs by kernel
# is decided here, once.
RASYNC_KERNEL=${RASYNC_KERNEL:-7.3}
export RASYNC_KERNEL
LINUX73_VERSION=7.3.4-1~bpo13+1
# One bindgen for both kernels: 7.3 wants >= 0.71.1, and 6.12 accepts it.
BINDGEN_VERSION=0.72.1
BINDGEN_DIR="$RASYNC_CACHE/tools/bindgen-$BINDGEN_VERSION"
export PATH="$BINDGEN_DIR/bin:$PATH"
# ccache's one-word wrappers (a symlink named like the compiler): "ccache
# clang" would leak into rustc's -Clinker.  Debian ships /usr/lib/ccache/
# links for its default clang only, so set-up makes ours.
CCACHE_BIN="$RASYNC_CACHE/ccache-bin"
case $RASYNC_KERNEL in
6.12)
	KSRC_PKG=linux-source-6.12
	KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
	KCLANG=clang-14 # bookworm's clang: the LTS builds stay as they were
	KMAKE_VARS=(LLVM=1 CC=/usr/lib/ccache/clang HOSTCC=/usr/lib/ccache/clang)
	;;
7.3)
	KSRC_PKG=linux-source-7.3
	KSRC_TARBALL="$RASYNC_CACHE/dl/linux-source-7.3-$(echo "$LINUX73_VERSION" | tr '~:' '__')/linux-source-7.3.tar.xz"
	KCLANG=clang-19 # 7.3 wants LLVM >= 17.0.1: bookworm's clang-19
	KMAKE_VARS=(LLVM=-19 CC="$CCACHE_BIN/clang-19" HOSTCC="$CCACHE_BIN/clang-19")
	;;
*)
	echo "rasync: ERROR: RASYNC_KERNEL=$RASYNC_KERNEL: this tree builds for 7.3 or 6.12" >&2
	exit 1
	;;
esac
# bindgen loads the newest libclang it finds; it must be the one of the
# clang that compiles the kernel, or it rejects that clang's flags.
LIBCLANG_PATH=/usr/lib/llvm-${KCLANG#clang-}/lib
export LIBCLANG_PATH
# Per-kernel build products: out/<kernel>/<variant>/...
RASYNC_OUT="$RASYNC_ROOT/out/$RASYNC_KERNEL"
PATCH_DIR="$RASYNC_ROOT/patches/$RASYNC_KERNEL"

export CCACHE_DIR="$RASYNC_CACHE/ccache"
export CCACHE_BASEDIR="$RASYNC_CACHE"
export CCACHE_MAXSIZE=8G

# The TCG thread mode qemu/boot.sh uses for the kernel built in $1 (see
# there why): RASYNC_TCG_THREAD, else single for a kernel with
# CONFIG_JUMP_LABEL, else multi.
tcg_thread_for() {
	if [ -n "${RASYNC_TCG_THREAD:-}" ]; then
		echo "$RASYNC_TCG_THREAD"
	elif grep -qsx 'CONFIG_JUMP_LABEL=y' "$1/.config"; then
		echo single
	else
		echo multi
	fi
}

die() { echo "rasync: ERROR: $*" >&2; exit 1; }
log() { echo "rasync: $*" >&2; }

# The Debian version of the kernel source.
kernel_version() {
	case $RASYNC_KERNEL in
	6.12)
		dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null ||
			die "linux-source-6.12 is not installed (run scripts/setup.sh)"
		;;
	7.3)
		[ -f "$KSRC_TARBALL" ] || die "linux-source-7.3 is not fetched (run scripts/setup.sh)"
		echo "$LINUX73_VERSION"
		;;
	esac
}

sha() { sha256sum | cut -c1-12; }

# The patch series in order, without its cover letter (which has no diff).
series() {
	local p
	for p in "$PATCH_DIR"/[0-9][0-9][0-9][0-9]-*.patch; do
		[ "${p##*/}" = 0000-cover-letter.patch ] || echo "$p"
	done
}

# A patch's subject line, unfolded, without its "[PATCH n/m] " prefix.
patch_subject() {
	awk '/^Subject: / { s = $0; getline; while (/^ /) { s = s $0; getline } print s; exit }' "$1" |
		sed -e 's/^Subject: *//' -e 's/^\[PATCH[^]]*\] *//'
}

# Source key: Debian source version + the patch series.
src_key() {
	{ kernel_version; series | xargs cat; } | sha
}

# The config fragments of a kernel variant, merged onto tinyconfig in order.
config_fragments() {
	echo "$RASYNC_ROOT/qemu/config/base.config"
	echo "$RASYNC_ROOT/qemu/config/$RASYNC_KERNEL.config"
	case $1 in
	debug | distro) echo "$RASYNC_ROOT/qemu/config/$1.config" ;;
	esac
}

# Build key: source key + config fragments + the toolchain that compiles them.
build_key() {
	local variant=$1
	{
		src_key
		config_fragments "$variant" | xargs cat
		rustc --version; $KCLANG --version | head -1; bindgen --version
	} | sha
}

# Directory layout: k/<srckey>/src and k/<srckey>/<variant>-<buildkey>, so the
# path from a build dir to its source is always ../src and ccache hits across keys.
src_dir() { echo "$RASYNC_CACHE/k/$(kernel_version | tr '~:' '__')-$(src_key)/src"; }
build_dir() { echo "$(dirname "$(src_dir)")/$1-$(build_key "$1")"; }
