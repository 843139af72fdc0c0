#!/bin/bash
# Fetch Debian's linux-source-7.3 (the pinned version below) from trixie-backports
# into the rasync cache and print the path of its kernel tarball.
#
# The host's apt sources are not touched: apt runs on a private sources.list,
# lists and cache in a temporary directory.  The suite is reached through the
# Debian mirror the host itself uses for its own release (read from
# /etc/apt/sources.list and /etc/apt/sources.list.d/; RASYNC_DEBIAN_MIRROR
# overrides it).  Verification: apt checks the suite's Release signature with
# debian-archive-keyring; the .deb's SHA256 must match the Packages index apt
# fetched, and the package and version in the .deb must be the pinned ones.
# Idempotent: if the verified tarball is in the cache, nothing is fetched.
#
#   scripts/fetch-linux-7.3.sh          fetch if needed, print the tarball's path
#   scripts/fetch-linux-7.3.sh --path   print the path if it is fetched, else exit 1
#                                       (no network; for make check)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKG=linux-source-7.3
VERSION=7.3.4-1~bpo13+1
SUITE=trixie-backports
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

dir="$RASYNC_CACHE/dl/$PKG-$(echo "$VERSION" | tr '~:' '__')"
tarball="$dir/$PKG.tar.xz"
stamp="$tarball.sha256" # written last, once the .deb it came from is verified

fetched() { [ -f "$stamp" ] && [ -f "$tarball" ] && (cd "$dir" && sha256sum --quiet -c "$stamp" >/dev/null 2>&1); }

case ${1:-} in
--path)
	fetched || exit 1
	echo "$tarball"
	exit 0
	;;
"") ;;
*) die "usage: $0 [--path]" ;;
esac

if fetched; then
	log "$PKG $VERSION already fetched and verified"
	echo "$tarball"
	exit 0
fi

# The archive URI the host uses for its own release (e.g. bookworm), from
# one-line (.list) and deb822 (.sources) files alike.
host_mirror() {
	local codename f
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || return 1
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] uri suite component...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
			awk -v s="$codename" '$1 == "deb" && $3 == s { print $2; exit }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# Stanzas separated by blank lines; Types: deb, Suites: has the codename.
		# (Comment lines go whole: emptied, they would end a stanza.)
		sed -e '/^[[:space:]]*#/d' -e 's/#.*//' "$f" | awk -v s="$codename" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && enabled != "no")
					{ split(uris, u, " "); print u[1]; found = 1 }
				types = suites = uris = enabled = ""
			}
			/^[ \t]*$/ { flush(); if (found) exit; next }
			{ key = tolower($1); $1 = ""; sub(/^ +/, "") }
			key == "types:" { types = $0 }
			key == "suites:" { suites = $0 }
			key == "uris:" { uris = $0 }
			key == "enabled:" { enabled = tolower($0) }
			END { if (!found) flush() }'
	done
}

# (awk, not head: head could SIGPIPE host_mirror, fatal under pipefail.)
mirror=${RASYNC_DEBIAN_MIRROR:-$(host_mirror | awk 'NR == 1')}
[ -n "$mirror" ] || die "no Debian mirror for this release in /etc/apt/sources.list(.d); set RASYNC_DEBIAN_MIRROR"
[ -f "$KEYRING" ] || die "missing $KEYRING (package debian-archive-keyring)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

tmp=$(mktemp -d /tmp/rasync-fetch-7.3.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
echo "deb [signed-by=$KEYRING] $mirror $SUITE main" >"$tmp/sources.list"
# _apt downloads; let it write there (otherwise apt warns and runs unsandboxed).
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
	chmod 755 "$tmp"
	chown -R _apt "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
fi
apt_opts=(
	-o "Dir::Etc::SourceList=$tmp/sources.list"
	-o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$tmp/lists"
	-o "Dir::Cache=$tmp/cache"
	-o Acquire::Languages=none
	-o Acquire::AllowInsecureRepositories=false
	-o APT::Get::AllowUnauthenticated=false
)

log "fetching the $SUITE package index (private apt list; host sources untouched)"
# apt verifies InRelease against the keyring; a bad or missing signature is an
# error (and turns into a W:/E: line, which we refuse too).
apt-get "${apt_opts[@]}" -q update >"$tmp/update.log" 2>&1 ||
	{ cat "$tmp/update.log" >&2; die "apt-get update of $SUITE failed"; }
if grep -E '^(W|E|Err):' "$tmp/update.log" | grep -v 'unsandboxed' >&2; then
	die "apt-get update of $SUITE was not clean (see above)"
fi

# SHA256 and size of the pinned version, from the verified Packages index.
record=$(apt-cache "${apt_opts[@]}" show "$PKG=$VERSION" 2>/dev/null) ||
	die "$PKG $VERSION is not in $SUITE (any more?); pick the current version and update VERSION"
want_sha=$(awk '/^SHA256: / { print $2; exit }' <<<"$record")
[ ${#want_sha} = 64 ] || die "no SHA256 for $PKG $VERSION in the Packages index"

log "downloading $PKG $VERSION (~170 MB)"
(cd "$tmp/deb" && apt-get "${apt_opts[@]}" -q download "$PKG=$VERSION") >"$tmp/download.log" 2>&1 ||
	{ cat "$tmp/download.log" >&2; die "apt-get download $PKG=$VERSION failed"; }
debs=("$tmp"/deb/*.deb)
[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || die "apt-get download left no single .deb"
deb=${debs[0]}

got_sha=$(sha256sum "$deb" | cut -d' ' -f1)
[ "$got_sha" = "$want_sha" ] || die "SHA256 mismatch for $(basename "$deb"): $got_sha, index says $want_sha"
[ "$(dpkg-deb -f "$deb" Package)" = "$PKG" ] || die "$(basename "$deb") is not $PKG"
[ "$(dpkg-deb -f "$deb" Version)" = "$VERSION" ] ||
	die "$(basename "$deb") is version $(dpkg-deb -f "$deb" Version), not the pinned $VERSION"
log "verified $(basename "$deb"): SHA256 $got_sha as in the signed index"

mkdir -p "$dir"
rm -f "$stamp"
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$PKG.tar.xz" >"$tarball.part" ||
	die "no /usr/src/$PKG.tar.xz in $(basename "$deb")"
xz -t "$tarball.part" || die "$PKG.tar.xz from the .deb is not a valid xz file"
mv "$tarball.part" "$tarball"
(cd "$dir" && sha256sum "$(basename "$tarball")" >"$stamp.part" && mv "$stamp.part" "$stamp")
log "$PKG $VERSION: $tarball"
echo "$tarball"
