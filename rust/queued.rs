// SPDX-License-Identifier: GPL-2.0

//! How long a read sat at `-EIOCBQUEUED`: the time is noted, by the
//! address of its kiocb, when the read returns `-EIOCBQUEUED`, and taken
//! when the same kiocb enters the read path again, which is io_uring's
//! retry after the wake.
//!
//! The retry is task_work of the submitting task (`io_req_task_queue()`),
//! so it cannot begin before the queueing read has returned and noted the
//! time.  A hashed table of two-way buckets keeps the notes: with both
//! ways of a bucket taken, a new note replaces the first (that read gives
//! no sample); a request cancelled while queued leaves its note until it is
//! replaced or a new request at the same address takes it (one wrong
//! sample).  It is a statistic, never a decision.
//!
//! Module glue, called by the hook's entry point around the read path and
//! never by it: a statistic must not shape a read.  Called only while
//! `rasync:rasync_woken` is enabled, so that untraced reads pay for neither
//! clock read nor look-up.  So a read queued just before the event is
//! turned off and retried after leaves its note too: once the event is on
//! again, a new request at that address may take it (a wrong sample each,
//! at most one per request queued at that moment).

use core::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use kernel::bindings;

use crate::fs::Kiocb;

const BUCKETS_SHIFT: u32 = 7;

struct Slot {
    kiocb: AtomicUsize,
    since: AtomicI64,
}

static SLOTS: [[Slot; 2]; 1 << BUCKETS_SHIFT] = [const {
    [const {
        Slot {
            kiocb: AtomicUsize::new(0),
            since: AtomicI64::new(0),
        }
    }; 2]
}; 1 << BUCKETS_SHIFT];

fn bucket(key: usize) -> &'static [Slot; 2] {
    // Fibonacci hashing of the address, without its low (alignment) bits.
    let h = ((key >> 6) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - BUCKETS_SHIFT);
    &SLOTS[h as usize]
}

fn now_ns() -> i64 {
    // SAFETY: No preconditions; reads the monotonic clock.
    unsafe { bindings::ktime_get() }
}

/// The key of a kiocb: its address, never dereferenced through this.
#[inline]
pub(crate) fn key(iocb: &Kiocb) -> usize {
    core::ptr::from_ref(iocb) as usize
}

/// Notes that the read of kiocb `key` returned `-EIOCBQUEUED` now.
pub(crate) fn note(key: usize) {
    let b = bucket(key);
    let s = b
        .iter()
        .find(|s| s.kiocb.load(Ordering::Relaxed) == 0)
        .unwrap_or(&b[0]);
    s.since.store(now_ns(), Ordering::Relaxed);
    s.kiocb.store(key, Ordering::Release);
}

/// If kiocb `key` was noted as queued, forgets it and returns how many
/// nanoseconds ago; two loads from one cache line when it was not.
#[inline]
pub(crate) fn take(key: usize) -> Option<u64> {
    let s = bucket(key)
        .iter()
        .find(|s| s.kiocb.load(Ordering::Relaxed) == key)?;
    s.kiocb
        .compare_exchange(key, 0, Ordering::Acquire, Ordering::Relaxed)
        .ok()?;
    Some(
        now_ns()
            .wrapping_sub(s.since.load(Ordering::Relaxed))
            .max(0) as u64,
    )
}
