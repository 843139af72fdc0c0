# SPDX-License-Identifier: GPL-2.0
# Generates Rust's `Stat` from shim/stats_list.h, the one list of rasync's
# counters: each RASYNC_STAT(name) there becomes the variant `Name` (name
# in CamelCase), documented by the one-line comment above it, in order.

function camel(name,    parts, n, i, out) {
	n = split(name, parts, "_")
	for (i = 1; i <= n; i++)
		out = out toupper(substr(parts[i], 1, 1)) substr(parts[i], 2)
	return out
}

BEGIN {
	print "// SPDX-License-Identifier: GPL-2.0"
	print ""
	print "// Generated from stats_list.h by stats_list.awk: do not edit."
	print ""
	print "/// One counter of debugfs `rasync/stats`, in the order of C's `enum rasync_stat`."
	print "#[derive(Clone, Copy)]"
	print "#[repr(u32)]"
	print "#[allow(dead_code, reason = \"the list is C's; Rust counts only some of them\")]"
	print "pub(crate) enum Stat {"
}

/^\/\* .* \*\/$/ {
	doc = substr($0, 4, length($0) - 6)
	next
}

/^RASYNC_STAT\([a-z0-9_]+\)$/ {
	name = substr($0, 13, length($0) - 13)
	if (doc == "") {
		print "stats_list.awk: " FILENAME ":" FNR ": no comment above " name > "/dev/stderr"
		exit 1
	}
	print "    /// " doc
	print "    " camel(name) ","
	doc = ""
	n++
	next
}

/^RASYNC_STAT/ {
	print "stats_list.awk: " FILENAME ":" FNR ": not RASYNC_STAT(name): " $0 > "/dev/stderr"
	exit 1
}

END {
	print "}"
	print ""
	print "impl Stat {"
	print "    /// Number of counters."
	print "    pub(crate) const COUNT: usize = " n ";"
	print "}"
}
