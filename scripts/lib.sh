# Shared settings for the rasync host scripts (sourced, not run).
# shellcheck shell=bash

RASYNC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Builds live outside the checkout so a fresh clone reuses them.
RASYNC_CACHE=${RASYNC_CACHE:-$HOME/.cache/rasync}
KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
export PATH="$HOME/.cargo/bin:$PATH"

# One-word ccache wrappers: "ccache clang" would leak into rustc's -Clinker.
KMAKE_VARS=(LLVM=1 CC=/usr/lib/ccache/clang HOSTCC=/usr/lib/ccache/clang)
export CCACHE_DIR="$RASYNC_CACHE/ccache"
export CCACHE_BASEDIR="$RASYNC_CACHE"
export CCACHE_MAXSIZE=8G
# bindgen loads the newest libclang it finds; a newer one than the clang that
# compiles the kernel rejects that clang's flags (clang 14's
# -enable-trivial-auto-var-init-zero-knowing-it-will-be-removed-from-clang).
if [ -z "${LIBCLANG_PATH:-}" ] && command -v clang >/dev/null; then
	LIBCLANG_PATH=/usr/lib/llvm-$(clang -dumpversion | cut -d. -f1)/lib
	[ -d "$LIBCLANG_PATH" ] && export LIBCLANG_PATH || unset LIBCLANG_PATH
fi

die() { echo "rasync: ERROR: $*" >&2; exit 1; }
log() { echo "rasync: $*" >&2; }

kernel_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null ||
		die "linux-source-6.12 is not installed (run scripts/setup.sh)"
}

sha() { sha256sum | cut -c1-12; }

# The patch series in order, without its cover letter (which has no diff).
series() {
	local p
	for p in "$RASYNC_ROOT"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
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
		rustc --version; clang --version | head -1; bindgen --version
	} | sha
}

# Directory layout: k/<srckey>/src and k/<srckey>/<variant>-<buildkey>, so the
# path from a build dir to its source is always ../src and ccache hits across keys.
src_dir() { echo "$RASYNC_CACHE/k/$(kernel_version | tr '~:' '__')-$(src_key)/src"; }
build_dir() { echo "$(dirname "$(src_dir)")/$1-$(build_key "$1")"; }
