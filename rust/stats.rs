// SPDX-License-Identifier: GPL-2.0

//! Counters shown in debugfs `rasync/stats`, kept per CPU by the C shim.

use crate::ffi;

/// One counter; the order is that of `enum rasync_stat` in `rasync_shim.h`.
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Stat {
    /// Reads served by the Rust path.
    #[expect(dead_code, reason = "counted by `read_done()` in one C call")]
    Reads,
    /// Bytes those reads returned.
    #[expect(dead_code, reason = "counted by `read_done()` in one C call")]
    Bytes,
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
    /// Reads passed to the stock path (file without `FOP_BUFFER_RASYNC`).
    Fallbacks,
}

impl Stat {
    /// Number of counters.
    pub(crate) const COUNT: usize = Stat::Fallbacks as usize + 1;

    /// Adds `val` to the counter on this CPU.
    #[inline]
    pub(crate) fn add(self, val: u64) {
        // SAFETY: `self as u32` is below `COUNT`, which `ffi::layout_ok()`
        // checked against the C array size at load time.
        unsafe { ffi::rasync_stat_add(self as u32, val) }
    }

    /// Adds one to the counter on this CPU.
    #[inline]
    pub(crate) fn inc(self) {
        self.add(1)
    }
}

/// Counts one read served by the Rust path and the bytes it returned, in
/// one call across the language boundary (this runs on every read).
#[inline]
pub(crate) fn read_done(bytes: u64) {
    // SAFETY: No preconditions; the C side adds to this CPU's counters.
    unsafe { ffi::rasync_stat_read(bytes) }
}
