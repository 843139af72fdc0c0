// SPDX-License-Identifier: GPL-2.0

//! Async folio locking on the kernel's hashed folio wait queues: the
//! [`protocol`](crate::protocol) run on real folios with the caller's
//! `wait_page_queue` (io_uring's `kiocb->ki_waitq`).
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h),
//! [`include/linux/wait.h`](srctree/include/linux/wait.h)

use core::ptr::addr_of_mut;
use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

use crate::ffi::{self, WaitPageKey, WaitPageQueueRaw};
use crate::folio::{Folio, FolioGuard};
use crate::protocol::{self, FolioWaitQueue, Outcome};
use crate::stats::Stat;

/// A `struct wait_page_queue` whose owner set `wait.func` and
/// `wait.private`: io_uring's `kiocb->ki_waitq`, or a self-test entry.
///
/// # Invariants
///
/// The entry is valid for the lifetime of the borrow and, once queued on a
/// folio wait queue, until its wake function unlinked it or it was dequeued
/// again.  Its wake function follows the `wake_page_match()` rules and
/// unlinks the entry (`list_del_init()`) when it fires.  While the entry is
/// on no queue, only the holder of the borrow reads or writes it.
#[repr(transparent)]
pub(crate) struct WaitPageQueue(Opaque<WaitPageQueueRaw>);

impl WaitPageQueue {
    /// Creates a reference to an armed C wait entry.
    ///
    /// # Safety
    ///
    /// `ptr` points to a `wait_page_queue` that keeps to the type invariant
    /// for `'a`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut WaitPageQueueRaw) -> &'a Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(crate) fn as_ptr(&self) -> *mut WaitPageQueueRaw {
        self.0.get()
    }

    fn entry(&self) -> *mut bindings::wait_queue_entry {
        // SAFETY: Computes an address inside the valid entry.
        unsafe { addr_of_mut!((*self.as_ptr()).wait) }
    }

    /// Whether the entry is on a queue: C's `list_empty_careful()`-style
    /// check of `wait.entry`, with a volatile read because a waker on
    /// another CPU may unlink it concurrently.
    fn is_queued(&self) -> bool {
        // SAFETY: `entry.next` of the valid entry (type invariant).
        let next = unsafe { core::ptr::read_volatile(addr_of_mut!((*self.entry()).entry.next)) };
        // SAFETY: As above, an address computation only.
        next != unsafe { addr_of_mut!((*self.entry()).entry) }
    }

    /// Points the entry at `folio`'s `PG_locked`, ready to be queued; `None`
    /// if the entry is still queued from an earlier wait (a caller bug: the
    /// read path returns `-EIOCBQUEUED` right after queueing).
    pub(crate) fn arm<'a>(&'a self, folio: &'a Folio) -> Option<AsyncWait<'a>> {
        if self.is_queued() {
            return None;
        }
        // SAFETY: The entry is on no queue, so only we access it (type
        // invariant).
        unsafe {
            (*self.as_ptr()).folio = folio.as_ptr();
            (*self.as_ptr()).bit_nr = bindings::pageflags_PG_locked as i32;
        }
        // SAFETY: `folio` is alive (type invariant of `Folio`).
        let head = unsafe { ffi::folio_waitqueue(folio.as_ptr()) };
        // INVARIANT: `head` is the folio's queue and the entry names the
        // folio and `PG_locked`, as set just above.
        Some(AsyncWait {
            folio,
            head,
            wpq: self,
        })
    }
}

/// One wait entry armed on one folio's hashed wait queue.
///
/// # Invariants
///
/// `head` is `folio_waitqueue(folio)`, the queue `folio_wake_bit()` walks,
/// a member of the kernel's static table; `wpq` names `folio` and
/// `PG_locked`.
pub(crate) struct AsyncWait<'a> {
    folio: &'a Folio,
    head: *mut bindings::wait_queue_head,
    wpq: &'a WaitPageQueue,
}

// SAFETY: `with_queue_locked` holds `head->lock`, the lock `folio_wake_bit()`
// takes, and the folio bit operations are atomic on `folio->flags`.
unsafe impl FolioWaitQueue for AsyncWait<'_> {
    fn trylock_folio(&self) -> bool {
        match self.folio.try_lock() {
            Some(guard) => {
                // The protocol's caller takes ownership of the lock on
                // `Now`/`Late` (see `lock_folio_async`).
                core::mem::forget(guard);
                true
            }
            None => false,
        }
    }

    fn folio_locked(&self) -> bool {
        self.folio.is_locked()
    }

    fn set_waiters(&self) {
        self.folio.set_waiters()
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
        // queue (`arm` checked, and only the protocol queues it).
        unsafe { ffi::rasync_wq_add_tail_locked(self.head, self.wpq.entry()) }
    }

    unsafe fn dequeue(&self) {
        // SAFETY: The caller holds `head->lock` and the entry is on it.
        unsafe { ffi::rasync_wq_remove_locked(self.head, self.wpq.entry()) }
    }
}

/// `lock_page_async()` on a folio: the folio lock, or `EIOCBQUEUED` with
/// the entry's callback armed to fire when the folio is unlocked.
pub(crate) fn lock_folio_async<'a>(wait: &AsyncWait<'a>) -> Result<FolioGuard<'a>> {
    outcome_to_result(protocol::lock_async(wait), Stat::WaitsLock)?;
    // SAFETY: `Now` and `Late` mean `trylock_folio` took the lock for us.
    Ok(unsafe { FolioGuard::from_locked(wait.folio) })
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
/// `key` points to the key `folio_wake_bit()` passes, valid for the call;
/// the caller holds the lock of the queue `wpq` is on.
pub(crate) unsafe fn wake_page_match(wpq: &WaitPageQueue, key: *mut WaitPageKey) -> bool {
    // SAFETY: The entry is valid (type invariant) and the caller guarantees
    // `key`; the waker holds the queue lock, so nobody else writes them.
    unsafe {
        protocol::wake_page_match(
            (*wpq.as_ptr()).folio,
            (*wpq.as_ptr()).bit_nr,
            (*key).folio,
            (*key).bit_nr,
            &mut (*key).page_match,
        )
    }
}
