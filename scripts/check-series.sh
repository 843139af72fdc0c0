#!/bin/bash
# Check a patch series against the pristine kernel source it is cut for:
#   scripts/check-series.sh <series-dir> <kernel-tarball>
# e.g.  scripts/check-series.sh patches/7.3 "$(scripts/fetch-linux-7.3.sh --path)"
#       scripts/check-series.sh patches /usr/src/linux-source-6.12.tar.xz
#
# Unpacks the files the series touches (plus scripts/, for checkpatch) from
# the tarball into a scratch git tree, commits them, applies the series
# there with `git am` (no fuzz, no 3-way merge), runs the tree's
# checkpatch.pl on each patch, and checks that the cover letter (if any)
# is [PATCH 0/N] and names every patch.  Exits non-zero on any failure.
# Diagnostics are "# " lines, so the output can sit inside TAP.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

[ $# = 2 ] || die "usage: $0 <series-dir> <kernel-tarball>"
dir=$1 tarball=$2
[ -d "$dir" ] || die "no series directory $dir"
[ -f "$tarball" ] || die "no kernel tarball $tarball"
dir=$(cd "$dir" && pwd)

patches=()
for p in "$dir"/[0-9][0-9][0-9][0-9]-*.patch; do
	[ -f "$p" ] && [ "${p##*/}" != 0000-cover-letter.patch ] && patches+=("$p")
done
((${#patches[@]})) || die "no patches in $dir"

say() { echo "# $*"; }
indent() { sed 's/^/#   /'; }
fail=0

tmp=$(mktemp -d /tmp/rasync-series.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
src="$tmp/src"
mkdir -p "$src"

# The files that exist before the series (its "--- a/" sides), and
# checkpatch with its data files.
top=$(tar -tf "$tarball" 2>/dev/null | head -1)
top=${top%%/*}
[ -n "$top" ] || die "cannot list $tarball"
mapfile -t files < <(sed -n 's|^--- a/\(.*\)$|\1|p' "${patches[@]}" | sed 's/\t.*//' | sort -u)
if ! tar -xf "$tarball" -C "$src" --strip-components=1 "$top/scripts" \
	"${files[@]/#/$top/}" 2>"$tmp/tar.log"; then
	say "unpacking $(basename "$tarball") failed (a file the series patches is not in it?):"
	indent <"$tmp/tar.log"
	exit 1
fi

git_() { git -C "$src" -c user.name=rasync -c user.email=rasync@localhost -c core.autocrlf=false "$@"; }
git_ init -q && git_ add -A -f . && git_ commit -q -m pristine ||
	die "could not set up a scratch git tree in $src"

for p in "${patches[@]}"; do
	if git_ am --quiet "$p" >"$tmp/am.log" 2>&1; then
		say "git am $(basename "$p"): ok"
	else
		say "git am $(basename "$p"): FAILED onto $(basename "$tarball") (+ the patches before it)"
		indent <"$tmp/am.log"
		git_ am --abort >/dev/null 2>&1
		fail=1
		break
	fi
done

# From outside any git checkout: checkpatch looks at the git tree it runs in.
for p in "${patches[@]}"; do
	if (cd "$tmp" && perl "$src/scripts/checkpatch.pl" --no-tree -q "$p") >"$tmp/cp.log" 2>&1; then
		say "checkpatch $(basename "$p"): ok"
	else
		say "checkpatch $(basename "$p"): FAILED"
		indent <"$tmp/cp.log"
		fail=1
	fi
done

cover="$dir/0000-cover-letter.patch"
if [ -f "$cover" ]; then
	n=${#patches[@]} bad=0
	grep -q "^Subject: \[PATCH 0/$n\]" "$cover" ||
		{ say "cover letter subject is not [PATCH 0/$n]"; bad=1; }
	for p in "${patches[@]}"; do
		grep -qxF "  $(patch_subject "$p")" "$cover" ||
			{ say "cover letter lacks '$(patch_subject "$p")'"; bad=1; }
	done
	[ $bad = 0 ] && say "cover letter names all $n patches: ok"
	fail=$((fail | bad))
fi

exit $fail
