// SPDX-License-Identifier: GPL-2.0

//! Async folio locking on the kernel's hashed folio wait queues: the
//! [`protocol`] run on real folios with the caller's
//! `wait_page_queue` (io_uring's `kiocb->ki_waitq`).
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h),
//! [`include/linux/wait.h`](srctree/include/linux/wait.h)
//!
//! A wrapper of `mm`, with its kernel-free logic in the child module
//! [`protocol`], which the loom model compiles on the host.  Its one import
//! above the wrappers is `stats`: it counts its waits.

use core::marker::PhantomData;
use core::ptr::{addr_of_mut, NonNull};
use kernel::bindings;
use kernel::prelude::*;

use crate::ffi::{self, WaitPageKey, WaitPageQueueRaw};
use crate::mm::folio::{Folio, FolioGuard};
use crate::stats::Stat;
use protocol::{FolioWaitQueue, Outcome};

mod protocol;

/// The right to queue one `struct wait_page_queue` whose owner set
/// `wait.func` and `wait.private`: io_uring's `kiocb->ki_waitq`, or a
/// self-test entry.
///
/// The handle is not `Clone` and [`WaitPageQueue::arm`] consumes it; a wait
/// gives it back only if it did not leave the entry queued.  So no safe
/// code can queue the entry twice, or re-point it at another folio while
/// it is queued: a queued entry belongs to its wake function.
///
/// # Invariants
///
/// `ptr` points to an entry that is valid for `'a` and, once queued on a
/// folio wait queue, until its wake function unlinked it.  Its wake
/// function follows the `wake_page_match()` rules and unlinks the entry
/// (`list_del_init()`) when it fires.  The entry is on no queue, and no one
/// but the holder of this handle (the only one for the entry) reads or
/// writes it.
pub(crate) struct WaitPageQueue<'a> {
    ptr: NonNull<WaitPageQueueRaw>,
    _entry: PhantomData<&'a mut WaitPageQueueRaw>,
}

impl<'a> WaitPageQueue<'a> {
    /// Creates the handle of an armed C wait entry.
    ///
    /// # Safety
    ///
    /// `ptr` points to a `wait_page_queue` that keeps to the type invariant
    /// for `'a`: initialised with such a wake function, on no queue, and
    /// reached by no other handle (nor by its owner) until this handle is
    /// gone and, if a wait queued the entry, until its wake function
    /// unlinked it.
    #[inline]
    pub(crate) unsafe fn from_raw(ptr: *mut WaitPageQueueRaw) -> Self {
        // INVARIANT: The caller guarantees the rest; a valid entry is not at
        // address zero.
        Self {
            // SAFETY: The caller guarantees a valid, so non-null, pointer.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            _entry: PhantomData,
        }
    }

    fn as_ptr(&self) -> *mut WaitPageQueueRaw {
        self.ptr.as_ptr()
    }

    fn entry(&self) -> *mut bindings::wait_queue_entry {
        // SAFETY: Computes an address inside the valid entry (type
        // invariant).
        unsafe { addr_of_mut!((*self.as_ptr()).wait) }
    }

    /// Points the entry at `folio`'s `PG_locked`, ready to be queued by
    /// [`lock_folio_async`] or [`wait_on_folio_locked_async`].
    #[inline]
    pub(crate) fn arm<'f>(self, folio: &'f Folio) -> AsyncWait<'a, 'f> {
        // SAFETY: The entry is on no queue and only we access it (type
        // invariant).
        unsafe {
            (*self.as_ptr()).folio = folio.as_ptr();
            (*self.as_ptr()).bit_nr = bindings::pageflags_PG_locked as i32;
        }
        // SAFETY: `folio` is alive (type invariant of `Folio`).
        let head = unsafe { ffi::folio_waitqueue(folio.as_ptr()) };
        // INVARIANT: `head` is the folio's queue and the entry names the
        // folio and `PG_locked`, as set just above; `self` moves in.
        AsyncWait {
            wpq: self,
            folio,
            head,
        }
    }
}

/// One wait entry armed on one folio's hashed wait queue, to be consumed by
/// one [`lock_folio_async`] or [`wait_on_folio_locked_async`].
///
/// # Invariants
///
/// `head` is `folio_waitqueue(folio)`, the queue `folio_wake_bit()` walks,
/// a member of the kernel's static table; the entry of `wpq` names `folio`
/// and `PG_locked`.  `wpq` keeps to its own invariant (on no queue, ours
/// alone) except while a [`Queueing`] made from this value runs: the value
/// is consumed by that run, and `wpq` handed back only if the run left the
/// entry on no queue.
pub(crate) struct AsyncWait<'a, 'f> {
    wpq: WaitPageQueue<'a>,
    folio: &'f Folio,
    head: *mut bindings::wait_queue_head,
}

/// The one protocol run of an [`AsyncWait`]: made only by the two functions
/// below, once each from the `AsyncWait` they consumed, and handed by value
/// to the protocol.
///
/// # Invariants
///
/// When the value is made, the entry is on no queue and nobody else
/// touches it (type invariant of `AsyncWait`); the `AsyncWait` is not used
/// again before the protocol returns, and is consumed with this value.
struct Queueing<'w, 'a, 'f>(&'w AsyncWait<'a, 'f>);

// SAFETY: `with_queue_locked` holds `head->lock`, the lock `folio_wake_bit()`
// takes, and the folio bit operations are atomic on `folio->flags`.  A value
// is made once per consumed `AsyncWait`, whose entry is on no queue.
unsafe impl FolioWaitQueue for Queueing<'_, '_, '_> {
    fn trylock_folio(&self) -> bool {
        match self.0.folio.try_lock() {
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
        self.0.folio.is_locked()
    }

    fn set_waiters(&self) {
        self.0.folio.set_waiters()
    }

    fn with_queue_locked<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: `head` is a wait queue head of the static folio wait
        // table (type invariant of `AsyncWait`), so it is always valid.
        unsafe { ffi::rasync_wq_lock_irq(self.0.head) };
        let r = f();
        // SAFETY: Taken just above on the same queue.
        unsafe { ffi::rasync_wq_unlock_irq(self.0.head) };
        r
    }

    unsafe fn enqueue(&self) {
        // SAFETY: The caller holds `head->lock`; the entry is on no queue
        // (type invariant, and the caller's contract).
        unsafe { ffi::rasync_wq_add_tail_locked(self.0.head, self.0.wpq.entry()) }
    }

    unsafe fn dequeue(&self) {
        // SAFETY: The caller holds `head->lock` and the entry is on it.
        unsafe { ffi::rasync_wq_remove_locked(self.0.head, self.0.wpq.entry()) }
    }
}

/// `lock_page_async()` on a folio: the folio lock and the wait entry back,
/// or `EIOCBQUEUED` with the entry queued, its callback armed to fire when
/// the folio is unlocked; the entry is then the callback's and the caller
/// gets no handle to it.
pub(crate) fn lock_folio_async<'a, 'f>(
    wait: AsyncWait<'a, 'f>,
) -> Result<(FolioGuard<'f>, WaitPageQueue<'a>)> {
    outcome_to_result(protocol::lock_async(Queueing(&wait)), Stat::WaitsLock)?;
    // SAFETY: `Now` and `Late` mean `trylock_folio` took the lock for us.
    let guard = unsafe { FolioGuard::from_locked(wait.folio) };
    // INVARIANT: `Now` and `Late` leave the entry on no queue.
    Ok((guard, wait.wpq))
}

/// `wait_on_page_locked_async()` on a folio: the wait entry back once the
/// folio was seen unlocked (the lock is not taken), or `EIOCBQUEUED` with
/// the entry queued and its callback armed (and no handle to it left).
pub(crate) fn wait_on_folio_locked_async<'a>(wait: AsyncWait<'a, '_>) -> Result<WaitPageQueue<'a>> {
    outcome_to_result(
        protocol::wait_unlocked_async(Queueing(&wait)),
        Stat::WaitsWait,
    )?;
    // INVARIANT: `Now` and `Late` leave the entry on no queue.
    Ok(wait.wpq)
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
/// `wpq` points to a valid entry and `key` to the key `folio_wake_bit()`
/// passes, both valid for the call; the caller holds the lock of the queue
/// the entry is on, or the entry is on no queue and nobody else writes it.
pub(crate) unsafe fn wake_page_match(wpq: *const WaitPageQueueRaw, key: *mut WaitPageKey) -> bool {
    // SAFETY: The caller guarantees both pointers, and that nobody else
    // writes them meanwhile.
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
