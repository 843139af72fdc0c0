// SPDX-License-Identifier: GPL-2.0

//! In-kernel self-test of the async folio primitives (`selftest=1`), in the
//! style of `lib/test_*.c`: KTAP lines in the kernel log.
//!
//! It runs on a private folio that no mapping or other task knows, so the
//! test alone decides when the folio is locked and unlocked and can check
//! exactly when the callback fires.
//!
//! Module glue: it tests `mm::wait` on a folio of its own, beside the
//! wrappers rather than inside them, so they carry no test code.

use core::ptr::{addr_of_mut, NonNull};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::bindings;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::types::Opaque;

use crate::compat::aref::ARef;
use crate::ffi::{self, WaitPageKey, WaitPageQueueRaw};
use crate::mm::folio::Folio;
use crate::mm::wait::{self, lock_folio_async, wait_on_folio_locked_async, WaitPageQueue};

const PG_LOCKED: c_int = bindings::pageflags_PG_locked as c_int;

/// A wait entry with a wake function that counts its calls.
///
/// # Invariants
///
/// `wpq` was initialised by [`Waiter::new`] (`init_wait_entry()`, with
/// [`waiter_wake`] as its function) and, being `Opaque`, is only written
/// through raw pointers: by the protocol, and by wakers under the lock of
/// the queue it is on.
#[repr(C)]
struct Waiter {
    wpq: Opaque<WaitPageQueueRaw>,
    fired: AtomicU32,
}

/// Wake function of [`Waiter`]: `wake_page_match()` rules, then count and
/// unlink (`list_del_init()`), as io_uring's `io_async_buf_func()` does.
///
/// # Safety
///
/// Called by `folio_wake_bit()` under the queue lock, for an entry that is
/// the `wpq.wait` of a live `Waiter`, with a `wait_page_key`.
unsafe extern "C" fn waiter_wake(
    entry: *mut bindings::wait_queue_entry,
    _mode: c_uint,
    _sync: c_int,
    key: *mut c_void,
) -> c_int {
    // SAFETY: `entry` is `wpq.wait` of a `Waiter` (the only entries with
    // this function); `wpq` is the first field of the `repr(C)` struct and
    // `Opaque` is transparent.
    let waiter = unsafe { &*kernel::container_of!(entry, WaitPageQueueRaw, wait).cast::<Waiter>() };
    // SAFETY: The entry and key are valid for the call and the waker holds
    // the lock of the queue the entry is on (the function's contract).
    if !unsafe { wait::wake_page_match(waiter.wpq.get(), key.cast::<WaitPageKey>()) } {
        return 0;
    }
    waiter.fired.fetch_add(1, Ordering::Relaxed);
    // SAFETY: The waker holds the lock of the folio's queue, which the
    // entry is on (it matched the key).
    unsafe {
        let head = ffi::folio_waitqueue((*key.cast::<WaitPageKey>()).folio);
        ffi::rasync_wq_remove_locked(head, entry);
    }
    1
}

impl Waiter {
    fn new() -> Result<Pin<KBox<Self>>> {
        let w = KBox::pin(
            Waiter {
                wpq: Opaque::uninit(),
                fired: AtomicU32::new(0),
            },
            GFP_KERNEL,
        )?;
        let wpq = w.wpq.get();
        // SAFETY: `wpq` is inside the pinned, live box, on no queue, and
        // written field by field before anything reads it.
        unsafe {
            addr_of_mut!((*wpq).folio).write(core::ptr::null_mut());
            addr_of_mut!((*wpq).bit_nr).write(0);
            let entry = addr_of_mut!((*wpq).wait);
            bindings::init_wait_entry(entry, 0);
            (*entry).func = Some(waiter_wake);
        }
        // INVARIANT: Initialised above with `waiter_wake`.
        Ok(w)
    }

    /// The handle that lets one wait queue the entry.
    ///
    /// # Safety
    ///
    /// The entry is on no queue, and no other handle of it is alive or made
    /// before [`Waiter::unqueue`] took the entry off any queue again.
    unsafe fn handle(&self) -> WaitPageQueue<'_> {
        // SAFETY: The entry is initialised and its wake function follows
        // the `wake_page_match()` rules and unlinks it (type invariant); it
        // lives as long as `self`, which `run_case()` unqueues before it is
        // freed; the caller guarantees the rest.
        unsafe { WaitPageQueue::from_raw(self.wpq.get()) }
    }

    fn fired(&self) -> u32 {
        self.fired.load(Ordering::Relaxed)
    }

    /// Takes the entry off `folio`'s queue if a failed case left it there,
    /// so that no later wake of that shared hashed queue touches it.
    fn unqueue(&self, folio: &Folio) {
        // SAFETY: The folio is alive; its queue is a static table entry.
        let head = unsafe { ffi::folio_waitqueue(folio.as_ptr()) };
        // SAFETY: `wpq` is initialised (type invariant); the queue lock
        // serialises with wakers, and `list_del_init()` of an entry that
        // is on no queue (pointing to itself) changes nothing.
        unsafe {
            ffi::rasync_wq_lock_irq(head);
            ffi::rasync_wq_remove_locked(head, addr_of_mut!((*self.wpq.get()).wait));
            ffi::rasync_wq_unlock_irq(head);
        }
    }

    /// Whether the entry is on `folio`'s queue (on any queue, in fact).
    fn is_queued(&self, folio: &Folio) -> bool {
        // SAFETY: As in `unqueue`.
        let head = unsafe { ffi::folio_waitqueue(folio.as_ptr()) };
        // SAFETY: `wpq` is initialised (type invariant); under the queue
        // lock no waker rewrites the entry's links while they are read.
        unsafe {
            ffi::rasync_wq_lock_irq(head);
            let entry = addr_of_mut!((*self.wpq.get()).wait.entry);
            let queued = (*entry).next != entry;
            ffi::rasync_wq_unlock_irq(head);
            queued
        }
    }
}

/// A folio owned by the test and by nobody else.
fn private_folio() -> Result<ARef<Folio>> {
    // SAFETY: Allocates an order-0 folio; no preconditions.
    let f = NonNull::new(unsafe { ffi::rasync_alloc_folio() }).ok_or(ENOMEM)?;
    // SAFETY: The allocation's reference is ours.
    Ok(unsafe { ARef::from_raw(f.cast()) })
}

type Outcome = core::result::Result<(), &'static str>;
/// A case gets the entry's one handle: it can queue the entry once.
type Case = fn(&Folio, &Waiter, WaitPageQueue<'_>) -> Outcome;

fn ensure(cond: bool, what: &'static str) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(what)
    }
}

fn lock_held_queues_then_fires_once(f: &Folio, w: &Waiter, wpq: WaitPageQueue<'_>) -> Outcome {
    let held = f.try_lock().ok_or("could not lock the private folio")?;
    ensure(
        matches!(lock_folio_async(wpq.arm(f)), Err(e) if e == EIOCBQUEUED),
        "lock held: not -EIOCBQUEUED",
    )?;
    ensure(w.fired() == 0, "callback fired before unlock")?;
    drop(held);
    ensure(
        w.fired() == 1,
        "callback did not fire exactly once on unlock",
    )?;
    ensure(!f.is_locked(), "the async waiter took the lock")?;
    drop(f.try_lock().ok_or("relock failed")?);
    ensure(w.fired() == 1, "callback fired again after it was unlinked")
}

fn lock_free_acquires_without_callback(f: &Folio, w: &Waiter, wpq: WaitPageQueue<'_>) -> Outcome {
    let (held, _wpq) = lock_folio_async(wpq.arm(f)).map_err(|_| "lock free: not 0")?;
    ensure(f.is_locked(), "returned 0 without the lock")?;
    drop(held);
    ensure(w.fired() == 0, "callback fired although the lock was won")
}

fn wait_held_queues_then_fires_once(f: &Folio, w: &Waiter, wpq: WaitPageQueue<'_>) -> Outcome {
    let held = f.try_lock().ok_or("could not lock the private folio")?;
    ensure(
        matches!(wait_on_folio_locked_async(wpq.arm(f)), Err(e) if e == EIOCBQUEUED),
        "locked: not -EIOCBQUEUED",
    )?;
    ensure(w.fired() == 0, "callback fired before unlock")?;
    drop(held);
    ensure(
        w.fired() == 1,
        "callback did not fire exactly once on unlock",
    )?;
    ensure(!f.is_locked(), "the wait-only variant took the lock")
}

fn wait_free_returns_without_lock(f: &Folio, w: &Waiter, wpq: WaitPageQueue<'_>) -> Outcome {
    ensure(
        wait_on_folio_locked_async(wpq.arm(f)).is_ok(),
        "unlocked: not 0",
    )?;
    ensure(!f.is_locked(), "the wait-only variant took the lock")?;
    drop(f.try_lock().ok_or("relock failed")?);
    ensure(w.fired() == 0, "callback fired although nothing was queued")
}

fn wake_page_match_rules(f: &Folio, w: &Waiter, wpq: WaitPageQueue<'_>) -> Outcome {
    // Nothing is queued by this case; arming points the entry at `f`.
    let _wait = wpq.arm(f);
    let other = private_folio().map_err(|_| "no memory for a second folio")?;
    // Each key is fed to the match the way `folio_wake_bit()` would.
    let try_key = |folio: *mut bindings::folio, bit| {
        let mut k = WaitPageKey {
            folio,
            bit_nr: bit,
            page_match: 0,
        };
        // SAFETY: `k` is a live key and the entry is initialised (type
        // invariant of `Waiter`); it is on no queue, so nobody else
        // accesses it.
        let matched = unsafe { wait::wake_page_match(w.wpq.get(), &mut k) };
        (matched, k.page_match)
    };
    ensure(
        try_key(other.as_ptr(), PG_LOCKED) == (false, 0),
        "other folio: matched or page_match set",
    )?;
    ensure(
        try_key(f.as_ptr(), PG_LOCKED + 1) == (false, 1),
        "same folio, other bit: wrong",
    )?;
    ensure(
        try_key(f.as_ptr(), PG_LOCKED) == (true, 1),
        "own key: no match or no page_match",
    )
}

/// Not a case of its own: queues on a folio the caller holds locked, then
/// fails, as a broken case would.
fn fails_with_entry_queued(f: &Folio, _w: &Waiter, wpq: WaitPageQueue<'_>) -> Outcome {
    ensure(
        matches!(wait_on_folio_locked_async(wpq.arm(f)), Err(e) if e == EIOCBQUEUED),
        "locked: not -EIOCBQUEUED",
    )?;
    Err("failed on purpose with its entry queued")
}

/// `run_case()`'s clean-up: a case that fails with its entry queued on the
/// shared hashed queue leaves nothing there that the next wake could reach
/// after the entry is freed.
fn failed_case_leaves_nothing_queued(f: &Folio, w: &Waiter, wpq: WaitPageQueue<'_>) -> Outcome {
    let held = f.try_lock().ok_or("could not lock the private folio")?;
    ensure(
        run_case(fails_with_entry_queued, f, w, wpq).is_err(),
        "the failing case passed",
    )?;
    ensure(!w.is_queued(f), "the failed case's entry is still queued")?;
    drop(held);
    ensure(w.fired() == 0, "the unlock woke the failed case's entry")
}

const CASES: [(&str, Case); 6] = [
    (
        "lock_held_queues_then_fires_once",
        lock_held_queues_then_fires_once,
    ),
    (
        "lock_free_acquires_without_callback",
        lock_free_acquires_without_callback,
    ),
    (
        "wait_held_queues_then_fires_once",
        wait_held_queues_then_fires_once,
    ),
    (
        "wait_free_returns_without_lock",
        wait_free_returns_without_lock,
    ),
    ("wake_page_match_rules", wake_page_match_rules),
    (
        "failed_case_leaves_nothing_queued",
        failed_case_leaves_nothing_queued,
    ),
];

/// Runs `case`, then leaves nothing behind that a later wake could reach: a
/// failed case may have left the entry queued (a guard it held unlocked the
/// folio on the way out, or the folio is still locked).
fn run_case(case: Case, folio: &Folio, waiter: &Waiter, wpq: WaitPageQueue<'_>) -> Outcome {
    let result = case(folio, waiter, wpq);
    waiter.unqueue(folio);
    result
}

/// Runs every case; `Err(EIO)` if any failed.
pub(crate) fn run() -> Result {
    pr_info!("rasync_selftest: KTAP version 1\n");
    pr_info!("rasync_selftest: 1..{}\n", CASES.len());
    let mut failed = 0;
    for (n, (name, case)) in CASES.iter().enumerate() {
        let folio = private_folio()?;
        let waiter = Waiter::new()?;
        // SAFETY: The entry is new, so on no queue, and this is its one
        // handle; `run_case` unqueues it before `waiter` is freed.
        let wpq = unsafe { waiter.handle() };
        match run_case(*case, &folio, &waiter, wpq) {
            Ok(()) => pr_info!("rasync_selftest: ok {} {}\n", n + 1, name),
            Err(why) => {
                failed += 1;
                pr_info!("rasync_selftest: # {}: {}\n", name, why);
                pr_info!("rasync_selftest: not ok {} {}\n", n + 1, name);
            }
        }
    }
    pr_info!(
        "rasync_selftest: # totals: pass:{} fail:{} xfail:0 xpass:0 skip:0 error:0\n",
        CASES.len() - failed,
        failed
    );
    if failed == 0 {
        Ok(())
    } else {
        Err(EIO)
    }
}
