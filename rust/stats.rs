// SPDX-License-Identifier: GPL-2.0

//! Counters shown in debugfs `rasync/stats`, kept per CPU by the C shim.

use crate::ffi;

/// One counter; the order is that of `enum rasync_stat` in `rasync_shim.h`.
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Stat {
    /// Reads served by the Rust path.
    #[expect(dead_code, reason = "counted by `read_done()`, a C call of its own")]
    Reads,
    /// `IOCB_NOWAIT` reads that returned `-EAGAIN` with nothing copied.
    NowaitEagain,
    /// Entries queued by the async lock (`lock_page_async`).
    WaitsLock,
    /// Entries queued by the async wait (`wait_on_page_locked_async`).
    WaitsWait,
    /// Lock or wait won on the recheck under the queue lock.
    LateWins,
    /// Reads that returned `-EIOCBQUEUED`.
    Eiocbqueued,
    /// Reads that returned fewer bytes than asked for before EOF.
    ShortReads,
    /// Copies from folios larger than a page (xfs, btrfs, ... with large
    /// folios in the page cache); never counted where folios are pages.
    LargeFolios,
}

impl Stat {
    /// Number of counters.
    pub(crate) const COUNT: usize = Stat::LargeFolios as usize + 1;

    /// Adds one to the counter on this CPU.
    #[inline]
    pub(crate) fn inc(self) {
        // SAFETY: `self as u32` is below `COUNT`, which `ffi::layout_ok()`
        // checked against the C array size at load time.
        unsafe { ffi::rasync_stat_inc(self as u32) }
    }
}

/// Counts one read served by the Rust path: the one per-CPU operation of a
/// read that copies from the cache.
#[inline]
pub(crate) fn read_done() {
    // SAFETY: No preconditions; the C side adds to this CPU's counter.
    unsafe { ffi::rasync_stat_read() }
}
