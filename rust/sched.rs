// SPDX-License-Identifier: GPL-2.0

//! The two scheduler checks of the read loop.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h),
//! [`include/linux/sched/signal.h`](srctree/include/linux/sched/signal.h)
//!
//! A wrapper, so that the read path asks the scheduler through safe
//! functions and not through `ffi`; it imports only `ffi`.

use crate::ffi;

/// `cond_resched()`.
///
/// Without preemption, `PREEMPT_DYNAMIC`, livepatch and the
/// `might_resched()` debug check, the C macro is exactly a call of the
/// exported `__cond_resched()`, which is made directly; with full
/// preemption and none of the others it is nothing.  Any other build takes
/// the C macro through the shim.
#[inline]
pub(crate) fn cond_resched() {
    #[cfg(not(any(
        CONFIG_PREEMPTION,
        CONFIG_PREEMPT_DYNAMIC,
        CONFIG_LIVEPATCH,
        CONFIG_DEBUG_ATOMIC_SLEEP
    )))]
    // SAFETY: Called from process context without spinlocks held, as
    // `filemap_read()` is.
    unsafe {
        kernel::bindings::__cond_resched();
    }
    #[cfg(any(CONFIG_PREEMPT_DYNAMIC, CONFIG_LIVEPATCH, CONFIG_DEBUG_ATOMIC_SLEEP))]
    // SAFETY: As above.
    unsafe {
        ffi::rasync_cond_resched();
    }
}

/// `fatal_signal_pending(current)`: `current` is a per-CPU read that only
/// C can express, hence the shim.
#[inline]
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: Reads the current task's signal state; no preconditions.
    unsafe { ffi::rasync_fatal_signal_pending() }
}
