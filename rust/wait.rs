// SPDX-License-Identifier: GPL-2.0

//! Async folio locking on the kernel's hashed folio wait queues: the
//! [`protocol`](crate::protocol) run on real folios with the caller's
//! `wait_page_queue` (io_uring's `kiocb->ki_waitq`).

use kernel::bindings;
use kernel::prelude::*;

use crate::ffi::{self, WaitPageKey, WaitPageQueueRaw};
use crate::folio::Folio;
use crate::protocol::{self, FolioWaitQueue, Outcome};
use crate::stats::Stat;

/// One wait entry armed on one folio's hashed wait queue.
///
/// # Invariants
///
/// `head` is `folio_waitqueue(folio)`, the queue `folio_wake_bit()` walks.
/// `wpq` points to a `wait_page_queue` whose `folio` and `bit_nr` name
/// `folio` and `PG_locked`, whose `wait.func` and `wait.private` were set by
/// its owner, and which stays valid until its callback has run or it is
/// dequeued again.
pub(crate) struct AsyncWait<'a> {
    folio: &'a Folio,
    head: *mut bindings::wait_queue_head,
    wpq: *mut WaitPageQueueRaw,
}

impl<'a> AsyncWait<'a> {
    /// Arms `wpq` for `folio`.
    ///
    /// # Safety
    ///
    /// `wpq` points to a `wait_page_queue` that is on no queue, whose
    /// `wait.func` (a wake function following `wake_page_match()` rules) and
    /// `wait.private` are set, and that stays valid until its callback has
    /// run, or, if it is never queued, for `'a`.
    pub(crate) unsafe fn new(folio: &'a Folio, wpq: *mut WaitPageQueueRaw) -> Self {
        // SAFETY: The caller guarantees `wpq` is valid and not queued, so
        // nobody else reads these fields now.
        unsafe {
            (*wpq).folio = folio.as_ptr();
            (*wpq).bit_nr = ffi::rasync_PG_locked;
        }
        // SAFETY: `folio` is alive (type invariant of `Folio`).
        let head = unsafe { ffi::folio_waitqueue(folio.as_ptr()) };
        // INVARIANT: `head` is the folio's queue and `wpq` names the folio
        // and `PG_locked`, as set just above.
        Self { folio, head, wpq }
    }

    fn entry(&self) -> *mut bindings::wait_queue_entry {
        // SAFETY: `wpq` is valid (type invariant); this only computes an
        // address inside it.
        unsafe { core::ptr::addr_of_mut!((*self.wpq).wait) }
    }
}

// SAFETY: `with_queue_locked` holds `head->lock`, the lock `folio_wake_bit()`
// takes, and the folio bit operations are atomic on `folio->flags`.
unsafe impl FolioWaitQueue for AsyncWait<'_> {
    fn trylock_folio(&self) -> bool {
        self.folio.trylock()
    }

    fn folio_locked(&self) -> bool {
        self.folio.is_locked()
    }

    fn set_waiters(&self) {
        // SAFETY: The folio is alive (type invariant of `Folio`).
        unsafe { ffi::rasync_folio_set_waiters(self.folio.as_ptr()) }
    }

    fn with_queue_locked<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: `head` is a wait queue head of the static folio wait
        // table (type invariant), so it is always valid.
        unsafe { ffi::rasync_wq_lock_irq(self.head) };
        let r = f();
        // SAFETY: Taken just above on the same queue.
        unsafe { ffi::rasync_wq_unlock_irq(self.head) };
        r
    }

    unsafe fn enqueue(&self) {
        // SAFETY: The caller holds `head->lock` and the entry is on no
        // queue; `wpq` is valid (type invariant).
        unsafe { ffi::rasync_wq_add_tail_locked(self.head, self.entry()) }
    }

    unsafe fn dequeue(&self) {
        // SAFETY: The caller holds `head->lock` and the entry is on it.
        unsafe { ffi::rasync_wq_remove_locked(self.head, self.entry()) }
    }
}

/// `lock_page_async()` on a folio: `Ok(())` with the folio lock held, or
/// `EIOCBQUEUED` with the callback of `wait` armed.
pub(crate) fn lock_folio_async(wait: &AsyncWait<'_>) -> Result {
    outcome_to_result(protocol::lock_async(wait), Stat::WaitsLock)
}

/// `wait_on_page_locked_async()` on a folio: `Ok(())` once the folio was
/// seen unlocked (the lock is not taken), or `EIOCBQUEUED` with the
/// callback armed.
pub(crate) fn wait_on_folio_locked_async(wait: &AsyncWait<'_>) -> Result {
    outcome_to_result(protocol::wait_unlocked_async(wait), Stat::WaitsWait)
}

fn outcome_to_result(outcome: Outcome, queued: Stat) -> Result {
    match outcome {
        Outcome::Now => Ok(()),
        Outcome::Late => {
            Stat::LateWins.inc();
            Ok(())
        }
        Outcome::Queued => {
            queued.inc();
            Err(EIOCBQUEUED)
        }
    }
}

/// `wake_page_match()` for wake functions rasync installs itself.
///
/// # Safety
///
/// `wpq` and `key` point to valid objects: the entry being woken and the
/// key `folio_wake_bit()` passes.
pub(crate) unsafe fn wake_page_match(wpq: *const WaitPageQueueRaw, key: *mut WaitPageKey) -> bool {
    // SAFETY: The caller guarantees both pointers are valid; the waker holds
    // the queue lock, so nobody else writes them.
    unsafe {
        protocol::wake_page_match(
            (*wpq).folio,
            (*wpq).bit_nr,
            (*key).folio,
            (*key).bit_nr,
            &mut (*key).page_match,
        )
    }
}
