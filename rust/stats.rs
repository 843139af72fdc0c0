// SPDX-License-Identifier: GPL-2.0

//! Counters shown in debugfs `rasync/stats`, kept per CPU by the C shim.

use crate::ffi;

/// One counter; the order is that of `enum rasync_stat` in `rasync_shim.h`.
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Stat {
    /// Reads served by the Rust path.
    Reads,
    /// Bytes those reads returned.
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
