// SPDX-License-Identifier: GPL-2.0

//! The wait/wake protocol of async folio locking, free of kernel types.
//!
//! This is the logic of the 2020 series' `__wait_on_page_locked_async()`
//! (`lock_page_async()` and `wait_on_page_locked_async()`) and of
//! `wake_page_match()`.  It is generic over [`FolioWaitQueue`] so that the
//! module runs it on real folios and a host crate can model-check the very
//! same source against a model of the queue lock and the folio bits.
//!
//! Why the order matters (each rule was a bug in the 2020 review):
//! 1. The entry is queued and `PG_waiters` set *before* the lock bit is
//!    rechecked, all under the queue lock.  An unlocker clears `PG_locked`
//!    and reads `PG_waiters` in one atomic operation on the same word, so
//!    either the recheck sees the folio unlocked or the unlocker sees the
//!    waiter and walks the queue (after we drop its lock): no lost wakeup.
//! 2. When the recheck succeeds the entry is removed before the queue lock
//!    is dropped, so the callback never fires for a wait that did not
//!    happen.
//! 3. A wake function on the hashed queues must set `page_match` for any
//!    entry of the same folio, or the waker clears `PG_waiters` while
//!    waiters remain.
//!
//! A child of `mm::wait`, its only user.  It imports nothing, not even
//! `kernel`, because `model/src/lib.rs` compiles this very file on the host
//! (by `#[path]`).

/// How an async lock or wait attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Succeeded at once; nothing was queued.
    Now,
    /// Succeeded on the recheck under the queue lock; the entry was queued
    /// and removed again, the callback will not fire.
    Late,
    /// The entry is queued; its callback fires once when the folio unlocks.
    Queued,
}

/// A folio, its hashed wait queue and one wait entry for it, for one run of
/// [`lock_async`] or [`wait_unlocked_async`], which take it by value.
///
/// # Safety
///
/// Implementations guarantee that code run by [`with_queue_locked`] holds
/// the lock of the queue that the folio's wakers walk, and that
/// `trylock_folio`, `folio_locked` and `set_waiters` are atomic operations
/// on one word (the folio flags), as the unlocker's clear-and-test is.
/// They also guarantee that a value of the type stands for one run: when
/// the value is made its entry is on no queue, nothing but that value
/// queues the entry, and no other value for the same entry is made until
/// this one's run left the entry unqueued (`Now`, `Late`) or its callback
/// unlinked it (`Queued`).  So the type is not `Clone` or `Copy`.
///
/// [`with_queue_locked`]: FolioWaitQueue::with_queue_locked
pub(crate) unsafe trait FolioWaitQueue {
    /// Tries to take the folio lock (acquire semantics).
    fn trylock_folio(&self) -> bool;

    /// Whether the folio lock bit is set.
    fn folio_locked(&self) -> bool;

    /// Sets `PG_waiters` on the folio.
    fn set_waiters(&self);

    /// Runs `f` with the queue lock held.
    fn with_queue_locked<R>(&self, f: impl FnOnce() -> R) -> R;

    /// Adds the entry at the tail of the queue.
    ///
    /// # Safety
    ///
    /// Called inside [`FolioWaitQueue::with_queue_locked`], with the entry
    /// not on any queue.
    unsafe fn enqueue(&self);

    /// Removes the entry from the queue.
    ///
    /// # Safety
    ///
    /// Called inside [`FolioWaitQueue::with_queue_locked`], with the entry on
    /// this queue.
    unsafe fn dequeue(&self);
}

/// `lock_page_async()`: takes the folio lock, or queues the entry so that
/// its callback fires when the lock is released.
///
/// On [`Outcome::Now`] and [`Outcome::Late`] the caller owns the folio lock.
pub(crate) fn lock_async<Q: FolioWaitQueue>(q: Q) -> Outcome {
    if q.trylock_folio() {
        return Outcome::Now;
    }
    q.with_queue_locked(|| {
        // SAFETY: We hold the queue lock.  `q` is ours by value, and by the
        // trait's contract its entry was on no queue when it was made and
        // is queued by nothing but this, its one run: not yet queued.
        unsafe { q.enqueue() };
        q.set_waiters();
        if q.trylock_folio() {
            // SAFETY: Still under the queue lock, so no waker can have
            // unlinked the entry we queued above.
            unsafe { q.dequeue() };
            Outcome::Late
        } else {
            Outcome::Queued
        }
    })
}

/// `wait_on_page_locked_async()`: waits for the folio lock to be released
/// without taking it (the seed's wait for an in-flight read).
///
/// On [`Outcome::Now`] and [`Outcome::Late`] the folio was seen unlocked.
pub(crate) fn wait_unlocked_async<Q: FolioWaitQueue>(q: Q) -> Outcome {
    if !q.folio_locked() {
        return Outcome::Now;
    }
    q.with_queue_locked(|| {
        // SAFETY: As in `lock_async`: queue lock held, and the run of the
        // value we own has not queued the entry yet.
        unsafe { q.enqueue() };
        q.set_waiters();
        if q.folio_locked() {
            Outcome::Queued
        } else {
            // SAFETY: As in `lock_async`: the entry is still on the queue.
            unsafe { q.dequeue() };
            Outcome::Late
        }
    })
}

/// `wake_page_match()`: whether a wake-up described by (`key_folio`,
/// `key_bit`) is for the entry waiting on (`folio`, `bit`).
///
/// Sets `*page_match` for any entry of the same folio, whatever the bit, so
/// the waker knows the folio still has waiters.
pub(crate) fn wake_page_match<F: PartialEq>(
    folio: F,
    bit: i32,
    key_folio: F,
    key_bit: i32,
    page_match: &mut i32,
) -> bool {
    if folio != key_folio {
        return false;
    }
    *page_match = 1;
    bit == key_bit
}
