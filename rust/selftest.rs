// SPDX-License-Identifier: GPL-2.0

//! In-kernel self-test of the async folio primitives (`selftest=1`), in the
//! style of `lib/test_*.c`: KTAP lines in the kernel log.
//!
//! It runs on a private folio that no mapping or other task knows, so the
//! test alone decides when the folio is locked and unlocked and can check
//! exactly when the callback fires.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::bindings;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;

use crate::ffi::{self, WaitPageKey, WaitPageQueueRaw};
use crate::folio::Folio;
use crate::wait::{self, lock_folio_async, wait_on_folio_locked_async, AsyncWait};

/// A wait entry with a wake function that counts its calls.
#[repr(C)]
struct Waiter {
    wpq: WaitPageQueueRaw,
    fired: AtomicU32,
}

/// Wake function of [`Waiter`]: `wake_page_match()` rules, then count and
/// unlink, as io_uring's `io_async_buf_func()` does.
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
    // this function), and `wpq` is the first field of the `repr(C)` struct.
    let waiter = unsafe {
        kernel::container_of!(entry, WaitPageQueueRaw, wait)
            .cast_mut()
            .cast::<Waiter>()
    };
    // SAFETY: Both live for the call (see the function's contract).
    if !unsafe { wait::wake_page_match(&(*waiter).wpq, key.cast::<WaitPageKey>()) } {
        return 0;
    }
    // SAFETY: `waiter` is live; the waker holds the queue lock of the folio
    // named by the key, the queue the entry is on.
    unsafe {
        (*waiter).fired.fetch_add(1, Ordering::Relaxed);
        let head = ffi::folio_waitqueue((*key.cast::<WaitPageKey>()).folio);
        ffi::rasync_wq_remove_locked(head, entry);
    }
    1
}

impl Waiter {
    fn new() -> Result<Pin<KBox<Self>>> {
        let w = KBox::pin(
            Waiter {
                wpq: WaitPageQueueRaw {
                    folio: core::ptr::null_mut(),
                    bit_nr: 0,
                    wait: bindings::wait_queue_entry::default(),
                },
                fired: AtomicU32::new(0),
            },
            GFP_KERNEL,
        )?;
        let entry = core::ptr::addr_of!(w.wpq.wait).cast_mut();
        // SAFETY: `entry` is inside the pinned, live box and on no queue.
        unsafe {
            bindings::init_wait_entry(entry, 0);
            (*entry).func = Some(waiter_wake);
        }
        Ok(w)
    }

    fn wpq(&self) -> *mut WaitPageQueueRaw {
        core::ptr::addr_of!(self.wpq).cast_mut()
    }

    fn fired(&self) -> u32 {
        self.fired.load(Ordering::Relaxed)
    }
}

/// A folio owned by the test and by nobody else.
struct PrivateFolio(*mut bindings::folio);

impl PrivateFolio {
    fn new() -> Result<Self> {
        // SAFETY: Allocates an order-0 folio; no preconditions.
        let f = unsafe { ffi::rasync_alloc_folio() };
        if f.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self(f))
    }

    fn folio(&self) -> &Folio {
        // SAFETY: We hold the allocation reference until drop.
        unsafe { Folio::from_raw(self.0) }
    }
}

impl Drop for PrivateFolio {
    fn drop(&mut self) {
        // SAFETY: Drops the allocation reference; the folio is unlocked and
        // no entry is queued for it (each case checks before returning).
        unsafe { ffi::rasync_folio_put(self.0) }
    }
}

type Case = fn(&Folio, &Waiter) -> core::result::Result<(), &'static str>;

fn ensure(cond: bool, what: &'static str) -> core::result::Result<(), &'static str> {
    if cond {
        Ok(())
    } else {
        Err(what)
    }
}

fn lock_held_queues_then_fires_once(
    f: &Folio,
    w: &Waiter,
) -> core::result::Result<(), &'static str> {
    ensure(f.trylock(), "could not lock the private folio")?;
    // SAFETY: The entry is on no queue and lives until the end of the case.
    let wait = unsafe { AsyncWait::new(f, w.wpq()) };
    ensure(
        lock_folio_async(&wait) == Err(EIOCBQUEUED),
        "lock held: not -EIOCBQUEUED",
    )?;
    ensure(w.fired() == 0, "callback fired before unlock")?;
    // SAFETY: The test took the lock above.
    unsafe { f.unlock() };
    ensure(
        w.fired() == 1,
        "callback did not fire exactly once on unlock",
    )?;
    ensure(!f.is_locked(), "the async waiter took the lock")?;
    ensure(f.trylock(), "relock failed")?;
    // SAFETY: Locked just above.
    unsafe { f.unlock() };
    ensure(w.fired() == 1, "callback fired again after it was unlinked")
}

fn lock_free_acquires_without_callback(
    f: &Folio,
    w: &Waiter,
) -> core::result::Result<(), &'static str> {
    // SAFETY: As above.
    let wait = unsafe { AsyncWait::new(f, w.wpq()) };
    ensure(lock_folio_async(&wait) == Ok(()), "lock free: not 0")?;
    ensure(f.is_locked(), "returned 0 without the lock")?;
    // SAFETY: `lock_folio_async` returned 0: we own the lock.
    unsafe { f.unlock() };
    ensure(w.fired() == 0, "callback fired although the lock was won")
}

fn wait_held_queues_then_fires_once(
    f: &Folio,
    w: &Waiter,
) -> core::result::Result<(), &'static str> {
    ensure(f.trylock(), "could not lock the private folio")?;
    // SAFETY: As above.
    let wait = unsafe { AsyncWait::new(f, w.wpq()) };
    ensure(
        wait_on_folio_locked_async(&wait) == Err(EIOCBQUEUED),
        "locked: not -EIOCBQUEUED",
    )?;
    ensure(w.fired() == 0, "callback fired before unlock")?;
    // SAFETY: The test took the lock above.
    unsafe { f.unlock() };
    ensure(
        w.fired() == 1,
        "callback did not fire exactly once on unlock",
    )?;
    ensure(!f.is_locked(), "the wait-only variant took the lock")
}

fn wait_free_returns_without_lock(f: &Folio, w: &Waiter) -> core::result::Result<(), &'static str> {
    // SAFETY: As above.
    let wait = unsafe { AsyncWait::new(f, w.wpq()) };
    ensure(
        wait_on_folio_locked_async(&wait) == Ok(()),
        "unlocked: not 0",
    )?;
    ensure(!f.is_locked(), "the wait-only variant took the lock")?;
    ensure(f.trylock(), "relock failed")?;
    // SAFETY: Locked just above.
    unsafe { f.unlock() };
    ensure(w.fired() == 0, "callback fired although nothing was queued")
}

fn wake_page_match_rules(f: &Folio, w: &Waiter) -> core::result::Result<(), &'static str> {
    // SAFETY: As above; nothing is queued by this case.
    let _wait = unsafe { AsyncWait::new(f, w.wpq()) };
    let other = PrivateFolio::new().map_err(|_| "no memory for a second folio")?;
    let key = |folio: *mut bindings::folio, bit| WaitPageKey {
        folio,
        bit_nr: bit,
        page_match: 0,
    };
    // SAFETY: `rasync_PG_locked` is a C `const`.
    let locked = unsafe { ffi::rasync_PG_locked };
    // Each key is fed to the match the way `folio_wake_bit()` would.
    let try_key = |folio, bit| {
        let mut k = key(folio, bit);
        // SAFETY: `w.wpq()` is the live entry of `w`, `k` a live key.
        let matched = unsafe { wait::wake_page_match(w.wpq(), &mut k) };
        (matched, k.page_match)
    };
    ensure(
        try_key(other.0, locked) == (false, 0),
        "other folio: matched or page_match set",
    )?;
    ensure(
        try_key(f.as_ptr(), locked + 1) == (false, 1),
        "same folio, other bit: wrong",
    )?;
    ensure(
        try_key(f.as_ptr(), locked) == (true, 1),
        "own key: no match or no page_match",
    )
}

const CASES: [(&str, Case); 5] = [
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
];

/// Runs every case; `Err(EIO)` if any failed.
pub(crate) fn run() -> Result {
    pr_info!("rasync_selftest: KTAP version 1\n");
    pr_info!("rasync_selftest: 1..{}\n", CASES.len());
    let mut failed = 0;
    for (n, (name, case)) in CASES.iter().enumerate() {
        let folio = PrivateFolio::new()?;
        let waiter = Waiter::new()?;
        match case(folio.folio(), &waiter) {
            Ok(()) => pr_info!("rasync_selftest: ok {} {}\n", n + 1, name),
            Err(why) => {
                failed += 1;
                pr_info!("rasync_selftest: # {}: {}\n", name, why);
                pr_info!("rasync_selftest: not ok {} {}\n", n + 1, name);
                // Leave nothing behind that a later unlock could wake.
                if folio.folio().is_locked() {
                    // SAFETY: Only this test locks the private folio.
                    unsafe { folio.folio().unlock() };
                }
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
