// SPDX-License-Identifier: GPL-2.0

//! Loom tests: the protocol of `rust/mm/wait/protocol.rs` against the
//! model, and the broken variants of `broken.rs`, which the model must
//! reject.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering};
use std::sync::Mutex as StdMutex;
use std::time::Instant;

use loom::model::Builder;
use loom::sync::Arc;
use loom::thread;

use crate::broken;
use crate::model::{
    check_lock_outcome, check_lock_outcome_after, check_wait_outcome, io_async_buf_func,
    wake_page_function, wake_page_function_shared, AsyncWait, Attempt, EntryId, WakeFn, World,
    LOCKED, PG_LOCKED, PG_WRITEBACK, WRITEBACK,
};
use crate::protocol::{self, Outcome};

const X: usize = 0;
const Y: usize = 1;

type AttemptFn = fn(&AsyncWait<'_>) -> Outcome;

fn lock_async(q: &AsyncWait<'_>) -> Outcome {
    protocol::lock_async(Attempt(q))
}

fn wait_unlocked_async(q: &AsyncWait<'_>) -> Outcome {
    protocol::wait_unlocked_async(Attempt(q))
}

/// The code under test: the protocol or one broken variant of it.
#[derive(Clone, Copy)]
struct Variant {
    lock: AttemptFn,
    wait: AttemptFn,
    /// Wake function of the async (io_uring) entries.
    async_func: WakeFn,
    /// Wake function of other sleepers (the writeback waiter).
    sleeper_func: WakeFn,
    /// Wake function of `folio_lock()`'s exclusive sleepers.
    excl_func: WakeFn,
    /// Assert the queue lock in `enqueue`/`dequeue`.
    check_lock_held: bool,
}

const PROTOCOL: Variant = Variant {
    lock: lock_async,
    wait: wait_unlocked_async,
    async_func: io_async_buf_func,
    sleeper_func: wake_page_function_shared,
    excl_func: wake_page_function,
    check_lock_held: true,
};

impl Variant {
    fn entry<'a>(&self, w: &'a World, id: EntryId) -> AsyncWait<'a> {
        if self.check_lock_held {
            AsyncWait::new(w, id)
        } else {
            AsyncWait::new_unchecked(w, id)
        }
    }

    /// Runs the lock attempt of entry `id` in a new loom thread.
    fn spawn_lock(self, w: &Arc<World>, id: EntryId) -> thread::JoinHandle<Outcome> {
        let w = w.clone();
        thread::spawn(move || (self.lock)(&self.entry(&w, id)))
    }
}

fn spawn_unlock(w: &Arc<World>, folio: usize, who: &'static str) -> thread::JoinHandle<()> {
    let w = w.clone();
    thread::spawn(move || w.folio_unlock(folio, who))
}

/// Ghost record, across all executions of one test, of the outcomes
/// reached (e.g. "B:Late"), to show that no check holds vacuously.
type Seen = std::sync::Arc<StdMutex<BTreeSet<String>>>;

fn saw(seen: &Seen, what: String) {
    seen.lock().unwrap().insert(what);
}

/// Explores every interleaving of `f` (up to `bound` preemptions if set,
/// unless `LOOM_MAX_PREEMPTIONS` overrides it) and reports how many there
/// were and which outcomes they reached.
fn explore<F>(name: &str, bound: Option<usize>, f: F) -> Result<BTreeSet<String>, String>
where
    F: Fn(&Seen) + Sync + Send + 'static,
{
    let count = std::sync::Arc::new(StdAtomicUsize::new(0));
    let seen: Seen = Default::default();
    let (c, s) = (count.clone(), seen.clone());
    let mut builder = Builder::new();
    if bound.is_some() && std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = bound;
    }
    let bound = builder.preemption_bound;
    let start = Instant::now();
    let res = catch_unwind(AssertUnwindSafe(|| {
        builder.check(move || {
            c.fetch_add(1, Ordering::Relaxed);
            f(&s)
        })
    }));
    let n = count.load(Ordering::Relaxed);
    let seen = seen.lock().unwrap().clone();
    eprintln!(
        "[{name}] {n} executions, {:.2?}, preemption bound {}: {}; outcomes {seen:?}",
        start.elapsed(),
        bound.map_or("none".to_string(), |b| b.to_string()),
        if res.is_ok() {
            "no violation"
        } else {
            "VIOLATION"
        },
    );
    res.map(|()| seen).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "<non-string panic>".into())
    })
}

/// The protocol must pass, and reach every outcome in `expect`.
fn verify<F>(name: &str, bound: Option<usize>, expect: &[&str], f: F)
where
    F: Fn(&Seen) + Sync + Send + 'static,
{
    match explore(name, bound, f) {
        Err(msg) => panic!("[{name}] the model found a violation:\n{msg}"),
        Ok(seen) => {
            for e in expect {
                assert!(seen.contains(*e), "[{name}] outcome {e} never reached");
            }
        }
    }
}

/// A broken variant must fail, with `expected` in the message.
fn expect_violation<F>(name: &str, bound: Option<usize>, expected: &str, f: F)
where
    F: Fn(&Seen) + Sync + Send + 'static,
{
    match explore(name, bound, f) {
        Ok(_) => panic!("[{name}] broken variant NOT caught"),
        Err(msg) => {
            assert!(
                msg.contains(expected),
                "[{name}] caught, but not by the expected check {expected:?}:\n{msg}"
            );
            eprintln!("[{name}] caught as expected:\n{msg}");
        }
    }
}

// ---------------------------------------------------------------------------
// Scenarios, parameterised by the variant under test.

/// a. A holds X's lock and unlocks it; B runs `lock_async` on X.
fn lock_vs_unlock(v: Variant) -> impl Fn(&Seen) + Sync + Send + 'static {
    move |seen| {
        let w = Arc::new(World::new(&[0], &[("B", X, PG_LOCKED, v.async_func)]));
        w.init_flags(X, LOCKED);
        w.init_owner(X, "A");
        let a = spawn_unlock(&w, X, "A");
        let b = v.spawn_lock(&w, 0);
        a.join().unwrap();
        let out = b.join().unwrap();
        check_lock_outcome(&w, 0, out);
        w.check_quiescent();
        saw(seen, format!("B:{out:?}"));
    }
}

/// b. A holds X's lock and unlocks it; B waits for X to be unlocked.
fn wait_vs_unlock(v: Variant) -> impl Fn(&Seen) + Sync + Send + 'static {
    move |seen| {
        let w = Arc::new(World::new(&[0], &[("B", X, PG_LOCKED, v.async_func)]));
        w.init_flags(X, LOCKED);
        w.init_owner(X, "A");
        let a = spawn_unlock(&w, X, "A");
        let wb = w.clone();
        let b = thread::spawn(move || {
            let q = v.entry(&wb, 0);
            let out = (v.wait)(&q);
            (out, q.saw_unlocked())
        });
        a.join().unwrap();
        let (out, saw_unlocked) = b.join().unwrap();
        check_wait_outcome(&w, 0, out, saw_unlocked);
        saw(seen, format!("B:{out:?}"));
        if w.flags(X) & LOCKED != 0 {
            w.fail("X is locked at the end, but nobody should hold it");
        }
        w.check_quiescent();
    }
}

/// c. X and Y hash to the same queue.  WX already waits (queued) for X's
/// lock; AX unlocks X and AY unlocks Y while B runs `lock_async` on Y.
fn hash_collision(v: Variant) -> impl Fn(&Seen) + Sync + Send + 'static {
    move |seen| {
        let w = Arc::new(World::new(
            &[0, 0],
            &[
                ("WX", X, PG_LOCKED, v.async_func),
                ("B", Y, PG_LOCKED, v.async_func),
            ],
        ));
        w.init_flags(X, LOCKED);
        w.init_owner(X, "AX");
        w.init_flags(Y, LOCKED);
        w.init_owner(Y, "AY");
        w.init_queued(0);
        let ax = spawn_unlock(&w, X, "AX");
        let ay = spawn_unlock(&w, Y, "AY");
        let b = v.spawn_lock(&w, 1);
        ax.join().unwrap();
        ay.join().unwrap();
        let out = b.join().unwrap();
        if w.callbacks(0) != 1 {
            w.fail(&format!(
                "lost wakeup: WX (on X) was called back {} times",
                w.callbacks(0)
            ));
        }
        check_lock_outcome(&w, 1, out);
        w.check_quiescent();
        saw(seen, format!("B:{out:?}"));
    }
}

/// c'. As c, but both waiters race: BX runs `lock_async` on X and BY on Y
/// while AX and AY unlock them (four threads).
fn hash_collision_both_racing(v: Variant) -> impl Fn(&Seen) + Sync + Send + 'static {
    move |seen| {
        let w = Arc::new(World::new(
            &[0, 0],
            &[
                ("BX", X, PG_LOCKED, v.async_func),
                ("BY", Y, PG_LOCKED, v.async_func),
            ],
        ));
        w.init_flags(X, LOCKED);
        w.init_owner(X, "AX");
        w.init_flags(Y, LOCKED);
        w.init_owner(Y, "AY");
        let ax = spawn_unlock(&w, X, "AX");
        let ay = spawn_unlock(&w, Y, "AY");
        let bx = v.spawn_lock(&w, 0);
        let by = v.spawn_lock(&w, 1);
        ax.join().unwrap();
        ay.join().unwrap();
        let out_x = bx.join().unwrap();
        let out_y = by.join().unwrap();
        check_lock_outcome(&w, 0, out_x);
        check_lock_outcome(&w, 1, out_y);
        w.check_quiescent();
        saw(seen, format!("BX:{out_x:?}"));
        saw(seen, format!("BY:{out_y:?}"));
    }
}

/// d. X is locked and under writeback; WB already sleeps on X's
/// PG_writeback.  A unlocks X while B runs `lock_async` on X.  Afterwards
/// WB must still be queued with PG_waiters set, and the end of writeback
/// must reach it.
fn page_match_unlock(v: Variant) -> impl Fn(&Seen) + Sync + Send + 'static {
    move |seen| {
        let w = Arc::new(World::new(
            &[0],
            &[
                ("WB", X, PG_WRITEBACK, v.sleeper_func),
                ("B", X, PG_LOCKED, v.async_func),
            ],
        ));
        w.init_flags(X, LOCKED | WRITEBACK);
        w.init_owner(X, "A");
        w.init_queued(0);
        let a = spawn_unlock(&w, X, "A");
        let b = v.spawn_lock(&w, 1);
        a.join().unwrap();
        let out = b.join().unwrap();
        check_lock_outcome(&w, 1, out);
        saw(seen, format!("B:{out:?}"));
        if w.traced("A: folio_wake_bit(X): queue not empty, page_match=1 -> keep PG_waiters") {
            saw(seen, "A:kept-waiters".into());
        }
        if !w.is_queued(0) {
            w.fail("WB left the queue before writeback ended");
        }
        // WB still queued: PG_writeback and PG_waiters must both be set.
        w.check_quiescent();
        w.folio_end_writeback(X, "E");
        if w.callbacks(0) != 1 {
            w.fail(&format!(
                "lost wakeup: end of writeback called WB back {} times",
                w.callbacks(0)
            ));
        }
        w.check_quiescent();
    }
}

/// d'. The other direction, concurrently: X is locked and under writeback;
/// A unlocks X, E ends writeback on X, B runs `lock_async` on X.  The
/// writeback wake passes B's PG_locked entry and must not clear PG_waiters
/// while it is queued.
fn page_match_end_writeback(v: Variant) -> impl Fn(&Seen) + Sync + Send + 'static {
    move |seen| {
        let w = Arc::new(World::new(&[0], &[("B", X, PG_LOCKED, v.async_func)]));
        w.init_flags(X, LOCKED | WRITEBACK);
        w.init_owner(X, "A");
        let a = spawn_unlock(&w, X, "A");
        let we = w.clone();
        let e = thread::spawn(move || we.folio_end_writeback(X, "E"));
        let b = v.spawn_lock(&w, 0);
        a.join().unwrap();
        e.join().unwrap();
        let out = b.join().unwrap();
        check_lock_outcome(&w, 0, out);
        w.check_quiescent();
        saw(seen, format!("B:{out:?}"));
        if w.traced("E: folio_wake_bit(X): queue not empty, page_match=1 -> keep PG_waiters") {
            saw(seen, "E:kept-waiters".into());
        }
    }
}

/// e. io_uring's retry loop, with a lock stealer: A unlocks X; C tries once
/// to take X and, if it got it, unlocks it again; B runs `lock_async` until
/// it wins, re-arming the same entry after each callback (the retry from
/// task_work; a lost wakeup shows up as a loom deadlock), then unlocks X.  Every `Queued` is called back exactly once,
/// re-arming never finds the entry still queued (asserted in `enqueue`), and
/// the win leaves nothing queued.
fn retry_loop(v: Variant) -> impl Fn(&Seen) + Sync + Send + 'static {
    move |seen| {
        let w = Arc::new(World::new(&[0], &[("B", X, PG_LOCKED, v.async_func)]));
        w.init_flags(X, LOCKED);
        w.init_owner(X, "A");
        let a = spawn_unlock(&w, X, "A");
        let wc = w.clone();
        let c = thread::spawn(move || {
            if wc.folio_trylock(X, "C") {
                wc.folio_unlock(X, "C");
            }
        });
        let wb = w.clone();
        let b = thread::spawn(move || {
            let q = v.entry(&wb, 0);
            let mut queued = 0;
            loop {
                match (v.lock)(&q) {
                    Outcome::Queued => {
                        queued += 1;
                        // The retry runs from task_work, after the callback.
                        wb.wait_task_work(0, queued);
                    }
                    out => {
                        check_lock_outcome_after(&wb, 0, out, queued);
                        wb.folio_unlock(X, "B");
                        return (out, queued);
                    }
                }
            }
        });
        a.join().unwrap();
        c.join().unwrap();
        let (out, queued) = b.join().unwrap();
        if w.callbacks(0) != queued {
            w.fail(&format!(
                "B was queued {queued} times but called back {} times",
                w.callbacks(0)
            ));
        }
        w.check_quiescent();
        saw(seen, format!("B:{out:?} after {queued} Queued"));
    }
}

/// How S, the `folio_lock()` sleeper of f, waits.
#[derive(Clone, Copy)]
struct Sleeper {
    /// Already queued (ahead of R) when the threads start; else S runs
    /// `folio_lock()` from the start, racing with T0 and R.
    queued: bool,
    /// Lock handoff (`WQ_FLAG_CUSTOM`), else a plain exclusive waiter that
    /// takes the lock itself once woken (and requeues if that fails).
    handoff: bool,
}

/// f. Exclusive waiters.  T0 holds X's lock and unlocks it; S sleeps in
/// `folio_lock(X)` and, once it holds X, unlocks it; R, io_uring's entry,
/// runs `lock_async` on X (unlocking X if it won) if `r_locks`, else
/// `wait_unlocked_async`.  When a walk wakes S it stops there, so R queued
/// behind S is not visited: only S's `page_match` keeps `PG_waiters` set
/// for R, and S's unlock must call R back.  R is called back once per
/// `Queued`, S is woken once per queueing (a lost wake-up of S is a loom
/// deadlock), the lock has one owner at a time (ghost owner, asserted on
/// every lock and unlock), and at the end X is unlocked with nothing queued.
fn exclusive_sleeper(
    v: Variant,
    r_locks: bool,
    sl: Sleeper,
) -> impl Fn(&Seen) + Sync + Send + 'static {
    const S: EntryId = 0;
    const R: EntryId = 1;
    move |seen| {
        let w = Arc::new(World::new(
            &[0],
            &[
                ("S", X, PG_LOCKED, v.excl_func),
                ("R", X, PG_LOCKED, v.async_func),
            ],
        ));
        w.init_flags(X, LOCKED);
        w.init_owner(X, "T0");
        if sl.queued {
            w.init_queued_exclusive(S, sl.handoff);
        }
        let t0 = spawn_unlock(&w, X, "T0");
        let ws = w.clone();
        let s = thread::spawn(move || {
            let queued = if sl.queued {
                ws.folio_lock_wait(S, sl.handoff, true)
            } else {
                ws.folio_lock(S, sl.handoff)
            };
            ws.folio_unlock(X, "S");
            queued
        });
        let wr = w.clone();
        let r = thread::spawn(move || {
            let q = v.entry(&wr, R);
            if r_locks {
                let out = (v.lock)(&q);
                if out != Outcome::Queued {
                    check_lock_outcome_after(&wr, R, out, 0);
                    wr.folio_unlock(X, "R");
                }
                (out, false)
            } else {
                let out = (v.wait)(&q);
                (out, q.saw_unlocked())
            }
        });
        t0.join().unwrap();
        let s_queued = s.join().unwrap();
        let (out, saw_unlocked) = r.join().unwrap();
        if !r_locks {
            check_wait_outcome(&w, R, out, saw_unlocked);
        } else if out == Outcome::Queued {
            check_lock_outcome(&w, R, out);
        } else if w.callbacks(R) != 0 || w.is_queued(R) {
            w.fail(&format!(
                "R got {out:?}, but was called back or is still queued"
            ));
        }
        if w.callbacks(S) != s_queued {
            w.fail(&format!(
                "S was queued {s_queued} times but woken {} times",
                w.callbacks(S)
            ));
        }
        if w.flags(X) & LOCKED != 0 || w.owner(X).is_some() || w.is_queued(S) || w.is_queued(R) {
            w.fail("X is still locked, or an entry is still queued, at the end");
        }
        w.check_quiescent();
        saw(seen, format!("R:{out:?}"));
        if w.traced("T0: walk stops at S (exclusive wake-up, nr_exclusive 0); not visited: [R]")
            && w.traced("T0: folio_wake_bit(X): queue not empty, page_match=1 -> keep PG_waiters")
        {
            saw(seen, "T0:stopped-at-S-before-R,kept-waiters".into());
        }
        if w.traced("(returned -1)") {
            saw(seen, "walk:-1".into());
        }
        if w.traced("wake: test_and_set_bit(X, PG_locked) for S -> won") {
            saw(seen, "S:handed-off".into());
        }
        saw(seen, format!("S:queued-{s_queued}"));
    }
}

// ---------------------------------------------------------------------------
// The protocol of rust/mm/wait/protocol.rs: every interleaving is correct.

#[test]
fn a_lock_async_vs_unlock() {
    verify(
        "a_lock_async_vs_unlock",
        None,
        &["B:Now", "B:Late", "B:Queued"],
        lock_vs_unlock(PROTOCOL),
    );
}

#[test]
fn b_wait_unlocked_async_vs_unlock() {
    verify(
        "b_wait_unlocked_async_vs_unlock",
        None,
        &["B:Now", "B:Late", "B:Queued"],
        wait_vs_unlock(PROTOCOL),
    );
}

#[test]
fn c_hash_collision() {
    verify(
        "c_hash_collision",
        None,
        &["B:Now", "B:Late", "B:Queued"],
        hash_collision(PROTOCOL),
    );
}

#[test]
fn c_hash_collision_both_racing() {
    verify(
        "c_hash_collision_both_racing",
        Some(3),
        &[
            "BX:Now",
            "BX:Late",
            "BX:Queued",
            "BY:Now",
            "BY:Late",
            "BY:Queued",
        ],
        hash_collision_both_racing(PROTOCOL),
    );
}

#[test]
fn e_retry_loop_with_lock_stealer() {
    verify(
        "e_retry_loop_with_lock_stealer",
        Some(4),
        &[
            "B:Now after 0 Queued",
            "B:Late after 1 Queued",
            "B:Now after 2 Queued",
        ],
        retry_loop(PROTOCOL),
    );
}

#[test]
fn d_page_match_unlock_keeps_writeback_waiter() {
    verify(
        "d_page_match_unlock_keeps_writeback_waiter",
        None,
        &["B:Now", "B:Late", "B:Queued", "A:kept-waiters"],
        page_match_unlock(PROTOCOL),
    );
}

#[test]
fn d_page_match_end_writeback_keeps_lock_waiter() {
    verify(
        "d_page_match_end_writeback_keeps_lock_waiter",
        None,
        &["B:Now", "B:Late", "B:Queued", "E:kept-waiters"],
        page_match_end_writeback(PROTOCOL),
    );
}

const HANDOFF_QUEUED: Sleeper = Sleeper {
    queued: true,
    handoff: true,
};

#[test]
fn f_exclusive_handoff_lock_async() {
    verify(
        "f_exclusive_handoff_lock_async",
        Some(3),
        &[
            "R:Now",
            "R:Late",
            "R:Queued",
            "T0:stopped-at-S-before-R,kept-waiters",
            "S:handed-off",
            "walk:-1",
        ],
        exclusive_sleeper(PROTOCOL, true, HANDOFF_QUEUED),
    );
}

#[test]
fn f_exclusive_handoff_wait_unlocked_async() {
    verify(
        "f_exclusive_handoff_wait_unlocked_async",
        Some(2),
        &[
            "R:Now",
            "R:Late",
            "R:Queued",
            "T0:stopped-at-S-before-R,kept-waiters",
            "S:handed-off",
        ],
        exclusive_sleeper(PROTOCOL, false, HANDOFF_QUEUED),
    );
}

#[test]
fn f_exclusive_handoff_racing_lock_async() {
    // S runs folio_lock() from the start: fast path, trylock under the
    // queue lock, or queued (behind or ahead of R).
    verify(
        "f_exclusive_handoff_racing_lock_async",
        Some(3),
        &[
            "R:Now",
            "R:Late",
            "R:Queued",
            "S:queued-0",
            "S:queued-1",
            "T0:stopped-at-S-before-R,kept-waiters",
            "S:handed-off",
            "walk:-1",
        ],
        exclusive_sleeper(
            PROTOCOL,
            true,
            Sleeper {
                queued: false,
                handoff: true,
            },
        ),
    );
}

#[test]
fn f_exclusive_no_handoff_lock_async() {
    // folio_lock() before its unfairness budget runs out: woken without the
    // lock, S takes it itself and requeues when R got there first.
    verify(
        "f_exclusive_no_handoff_lock_async",
        Some(2),
        &[
            "R:Now",
            "R:Late",
            "R:Queued",
            "S:queued-1",
            "S:queued-2",
            "T0:stopped-at-S-before-R,kept-waiters",
            "walk:-1",
        ],
        exclusive_sleeper(
            PROTOCOL,
            true,
            Sleeper {
                queued: true,
                handoff: false,
            },
        ),
    );
}

// ---------------------------------------------------------------------------
// Broken variants: the model must find the violation.

#[test]
fn broken_v1_check_then_add_lock() {
    expect_violation(
        "broken_v1_check_then_add_lock",
        None,
        "lost wakeup",
        lock_vs_unlock(Variant {
            lock: |q: &AsyncWait<'_>| broken::lock_async_check_then_add(Attempt(q)),
            ..PROTOCOL
        }),
    );
}

#[test]
fn broken_v1_check_then_add_wait() {
    expect_violation(
        "broken_v1_check_then_add_wait",
        None,
        "lost wakeup",
        wait_vs_unlock(Variant {
            wait: |q: &AsyncWait<'_>| broken::wait_unlocked_async_check_then_add(Attempt(q)),
            ..PROTOCOL
        }),
    );
}

#[test]
fn broken_v1_page_match_io_async_buf_func() {
    // The 2020 hang: only io_uring's wake function gets page_match wrong.
    expect_violation(
        "broken_v1_page_match_io_async_buf_func",
        None,
        "lost wakeup",
        page_match_end_writeback(Variant {
            async_func: broken::io_async_buf_func_full_match,
            ..PROTOCOL
        }),
    );
}

#[test]
fn broken_page_match_writeback_waiter() {
    // Race rule 3 for every wake function on the hashed queues: the
    // writeback sleeper's wake function gets page_match wrong.
    expect_violation(
        "broken_page_match_writeback_waiter",
        None,
        "PG_waiters is clear",
        page_match_unlock(Variant {
            async_func: broken::io_async_buf_func_full_match,
            sleeper_func: broken::wake_page_function_full_match,
            ..PROTOCOL
        }),
    );
}

#[test]
fn broken_late_win_without_dequeue() {
    expect_violation(
        "broken_late_win_without_dequeue",
        None,
        "got Late",
        lock_vs_unlock(Variant {
            lock: |q: &AsyncWait<'_>| broken::lock_async_late_no_dequeue(Attempt(q)),
            ..PROTOCOL
        }),
    );
}

#[test]
fn broken_enqueue_outside_queue_lock() {
    // The contract assertion is off: loom's race detector must find it.
    expect_violation(
        "broken_enqueue_outside_queue_lock",
        None,
        "Causality violation",
        hash_collision(Variant {
            lock: |q: &AsyncWait<'_>| broken::lock_async_enqueue_unlocked(Attempt(q)),
            check_lock_held: false,
            ..PROTOCOL
        }),
    );
}

#[test]
fn broken_page_match_unwoken_only_exclusive() {
    // Passes without exclusive waiters; with S's handoff ending the walk
    // before R, PG_waiters is cleared under R.
    let unwoken = Variant {
        async_func: broken::io_async_buf_func_unwoken_match,
        sleeper_func: broken::wake_page_function_shared_unwoken_match,
        excl_func: broken::wake_page_function_unwoken_match,
        ..PROTOCOL
    };
    expect_violation(
        "broken_page_match_unwoken_only_exclusive",
        Some(2),
        "lost wakeup: R got Outcome::Queued but its callback fired 0 times",
        exclusive_sleeper(unwoken, false, HANDOFF_QUEUED),
    );
}
