// SPDX-License-Identifier: GPL-2.0

//! The debugfs directory `rasync/` on 7.3, made with the kernel crate's
//! `kernel::debugfs`; 6.12 has none, and the C shim makes the same files
//! there (`compat::debugfs`).  Tests and the bench parse the files, so
//! their names and formats are C's, to the byte:
//!
//! - `stats`: `<name> <sum over CPUs>` per counter, in `shim/stats_list.h`'s
//!   order; a write of `reset` zeroes the counters and `queued_hist`;
//! - `state`: `hooked`, `enabled` and `hook_only`, each `0` or `1`;
//! - `queued_hist`: `<from_ns> <to_ns> <count>` per non-empty bucket.
//!
//! The modes are the API's, which has no others: `stats` is 0600 (C: 0644),
//! the others 0400 (C: 0444); debugfs itself is root's (0700) by default.
//!
//! The counters stay per-CPU in C (`per_cpu()` is a macro): the files read
//! their names and sums through `ffi`, the hook's state from the crate
//! root.

use kernel::debugfs::Scope;
use kernel::fmt;
use kernel::prelude::*;
use kernel::uaccess::UserSliceReader;

use crate::ffi;

/// The directory and its files, removed on drop.  They carry no data of
/// their own: what they show is C's.
pub(crate) struct Debugfs {
    _scope: Pin<KBox<Scope<()>>>,
}

impl Debugfs {
    pub(crate) fn create() -> Result<Self> {
        let scope = Scope::dir((), c"rasync", |data, dir| {
            dir.read_write_callback_file(c"stats", data, &stats_show, &stats_write);
            dir.read_callback_file(c"state", data, &state_show);
            dir.read_callback_file(c"queued_hist", data, &queued_hist_show);
        });
        Ok(Self {
            _scope: KBox::pin_init(scope, GFP_KERNEL)?,
        })
    }
}

fn stats_show(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    // SAFETY: No preconditions; returns a constant of the C shim.
    let nr = unsafe { ffi::rasync_nr_stats() };
    for idx in 0..nr {
        // SAFETY: `idx` is below C's number of counters, and its name is
        // one of C's string literals, which live as long as the module.
        let (name, sum) = unsafe {
            (
                CStr::from_char_ptr(ffi::rasync_stat_name(idx)),
                ffi::rasync_stat_sum(idx),
            )
        };
        writeln!(f, "{} {sum}", name.to_str().map_err(|_| fmt::Error)?)?;
    }
    Ok(())
}

/// As C's `stats_write()` did: one word, `reset`, with or without the
/// newline `echo` adds; anything else is a typo worth an error rather
/// than a write that does nothing.
fn stats_write(_: &(), reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 15];
    let len = reader.len();
    if len == 0 || len > buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..len])?;
    if buf[..len].trim_ascii() != b"reset" {
        return Err(EINVAL);
    }
    // SAFETY: No preconditions; C zeroes the per-CPU counters.
    unsafe { ffi::rasync_stats_reset() };
    Ok(())
}

fn state_show(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    // SAFETY: No preconditions; reads C's `enabled` parameter.
    let enabled = unsafe { ffi::rasync_state_enabled() };
    writeln!(f, "hooked {}", u8::from(crate::rasync_hooked()))?;
    writeln!(f, "enabled {}", u8::from(enabled))?;
    writeln!(f, "hook_only {}", u8::from(crate::hook_only()))
}

fn queued_hist_show(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    // SAFETY: No preconditions; returns a constant of the C shim.
    let buckets = unsafe { ffi::rasync_queued_hist_buckets() };
    for b in 0..buckets {
        // SAFETY: `b` is below the number of buckets C has.
        let count = unsafe { ffi::rasync_queued_hist_sum(b) };
        if count != 0 {
            // Bucket `b` counts times in [2^(b-1), 2^b); bucket 0, zero.
            let from = if b == 0 { 0 } else { 1u64 << (b - 1) };
            let to = (1u64 << b) - 1;
            writeln!(f, "{from} {to} {count}")?;
        }
    }
    Ok(())
}
