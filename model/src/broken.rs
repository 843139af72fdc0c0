// SPDX-License-Identifier: GPL-2.0

//! Deliberately broken variants of `rust/mm/wait/protocol.rs`, each with
//! exactly one change, that the model must catch.  They are written
//! against the same [`FolioWaitQueue`] trait so that they run on the same
//! model.

use crate::model::{
    callback_unlink_if_match, wake_fn, wake_page_function_with, EntryId, WaitPageKey, World,
};
use crate::protocol::{FolioWaitQueue, Outcome};

/// The v1 race of the 2020 series ("Fix a potential race with
/// __wait_on_page_locked_async()"): test the bit *before* queueing and set
/// `PG_waiters` only when queueing, with no recheck after
/// `SetPageWaiters()`.  An unlock between the failed trylock and
/// `set_waiters` sees no waiters and wakes nobody: a lost wakeup.  (Doing
/// the test under the queue lock would not help: the unlocker takes that
/// lock only after it has seen `PG_waiters`.)
pub(crate) fn lock_async_check_then_add<Q: FolioWaitQueue>(q: Q) -> Outcome {
    if q.trylock_folio() {
        return Outcome::Now;
    }
    q.with_queue_locked(|| {
        // SAFETY: Queue lock held, entry not queued.
        unsafe { q.enqueue() };
        q.set_waiters();
        // BUG: no `trylock_folio()` recheck after setting PG_waiters.
        Outcome::Queued
    })
}

/// The v1 race of the 2020 series, `wait_on_page_locked_async()` flavour
/// (`set == false`): see [`lock_async_check_then_add`].
pub(crate) fn wait_unlocked_async_check_then_add<Q: FolioWaitQueue>(q: Q) -> Outcome {
    if !q.folio_locked() {
        return Outcome::Now;
    }
    q.with_queue_locked(|| {
        // SAFETY: Queue lock held, entry not queued.
        unsafe { q.enqueue() };
        q.set_waiters();
        // BUG: no `folio_locked()` recheck after setting PG_waiters.
        Outcome::Queued
    })
}

/// Race rule 2 broken: the late win does not remove the entry, so the
/// callback can fire for a lock that was already won.
pub(crate) fn lock_async_late_no_dequeue<Q: FolioWaitQueue>(q: Q) -> Outcome {
    if q.trylock_folio() {
        return Outcome::Now;
    }
    q.with_queue_locked(|| {
        // SAFETY: Queue lock held, entry not queued.
        unsafe { q.enqueue() };
        q.set_waiters();
        if q.trylock_folio() {
            // BUG: no `dequeue()`.
            Outcome::Late
        } else {
            Outcome::Queued
        }
    })
}

/// The entry is added to the hashed queue before `q->lock` is taken (the
/// rest is unchanged), racing with any waker walking the same queue, e.g.
/// for another folio that hashes to it.
pub(crate) fn lock_async_enqueue_unlocked<Q: FolioWaitQueue>(q: Q) -> Outcome {
    if q.trylock_folio() {
        return Outcome::Now;
    }
    // BUG: enqueue outside `with_queue_locked` (violates its contract).
    // SAFETY: None; this is the bug under test.
    unsafe { q.enqueue() };
    q.with_queue_locked(|| {
        q.set_waiters();
        if q.trylock_folio() {
            // SAFETY: Queue lock held, entry queued above.
            unsafe { q.dequeue() };
            Outcome::Late
        } else {
            Outcome::Queued
        }
    })
}

/// The v1 hang of the 2020 series ("Fix a hang related to not setting
/// page_match, thus missing a wakeup"): `page_match` is set only on a full
/// (folio *and* bit) match, so a waker for another bit of the same folio
/// believes the folio has no waiters left and clears `PG_waiters`.
pub(crate) fn wake_page_match_full_only<F: PartialEq>(
    folio: F,
    bit: i32,
    key_folio: F,
    key_bit: i32,
    page_match: &mut i32,
) -> bool {
    if folio != key_folio || bit != key_bit {
        // BUG: returns before `*page_match = 1` when only the bit differs.
        return false;
    }
    *page_match = 1;
    true
}

wake_fn! {
    /// `io_async_buf_func()` with [`wake_page_match_full_only`].
    io_async_buf_func_full_match = callback_unlink_if_match(wake_page_match_full_only, 1)
}

wake_fn! {
    /// A non-exclusive sleeper's wake function with
    /// [`wake_page_match_full_only`].
    wake_page_function_full_match = callback_unlink_if_match(wake_page_match_full_only, 0)
}

/// `page_match` read as "an entry of this folio stays queued": it is set
/// only for a folio match that is *not* woken (another bit of the folio),
/// since a woken entry leaves the queue anyway.  That holds while the walk
/// visits the whole queue (every scenario without an exclusive waiter
/// passes with it), but an exclusive wake-up ends the walk: the entries
/// after it are never matched, the woken entry did not set `page_match`,
/// and `folio_wake_bit()` clears `PG_waiters` under the entries left
/// queued.  (The v1 bug, [`wake_page_match_full_only`], cannot break that
/// case: the entry that ends the walk matches the bit too.)
pub(crate) fn wake_page_match_unwoken_only<F: PartialEq>(
    folio: F,
    bit: i32,
    key_folio: F,
    key_bit: i32,
    page_match: &mut i32,
) -> bool {
    if folio != key_folio {
        return false;
    }
    if bit != key_bit {
        *page_match = 1;
        return false;
    }
    // BUG: no `*page_match = 1` for the entry that is woken.
    true
}

wake_fn! {
    /// `io_async_buf_func()` with [`wake_page_match_unwoken_only`].
    io_async_buf_func_unwoken_match = callback_unlink_if_match(wake_page_match_unwoken_only, 1)
}

wake_fn! {
    /// A non-exclusive sleeper's wake function with
    /// [`wake_page_match_unwoken_only`].
    wake_page_function_shared_unwoken_match = callback_unlink_if_match(wake_page_match_unwoken_only, 0)
}

wake_fn! {
    /// `folio_lock()`'s `wake_page_function()` with
    /// [`wake_page_match_unwoken_only`].
    wake_page_function_unwoken_match = wake_page_function_with(wake_page_match_unwoken_only)
}
