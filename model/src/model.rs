// SPDX-License-Identifier: GPL-2.0

//! A loom model of what `rust/mm/wait/protocol.rs` runs against in the
//! kernel: the folio flags word, the hashed folio wait queues
//! (`folio_wait_table`) and their waker (`folio_unlock()` /
//! `folio_end_writeback()` -> `folio_wake_bit()` -> `__wake_up_locked_key()`
//! -> wake functions).
//!
//! Memory orderings follow the kernel's bit operations on x86 and arm64
//! alike, as weak as the kernel allows: `folio_trylock()` is
//! `test_and_set_bit_lock()` (acquire), `folio_test_locked()` is `test_bit()`
//! (relaxed), `folio_set_waiters()` / `folio_clear_waiters()` are
//! `set_bit()` / `clear_bit()` (relaxed RMW), `folio_unlock()` and
//! `__folio_end_writeback()` are `folio_xor_flags_has_waiters()` (release RMW
//! returning the old flags).  The exclusive waiters of `folio_lock()` add
//! `test_and_set_bit()` (fully ordered RMW: acq-rel here) for the handoff
//! and the sleeper's own lock attempts, `wait->flags` written by the waker
//! with `smp_store_release()` and read by the sleeper with
//! `smp_load_acquire()` (plain reads and writes elsewhere: loom
//! `unsync_load` and relaxed stores), and `list_del_init_careful()` /
//! `list_empty_careful()` (release / acquire) between the waker's unlink
//! and the sleeper's `finish_wait()`.
//!
//! Every model operation appends to a ghost trace (a std mutex, invisible to
//! loom's scheduler), which the post-condition checks print when they fail:
//! a failing check is a counterexample with its interleaving.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;

use loom::cell::UnsafeCell;
use loom::sync::atomic::AtomicBool;
use loom::sync::atomic::AtomicU32;
use loom::sync::atomic::AtomicUsize;
use loom::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use loom::sync::{Mutex, MutexGuard, Notify};

use crate::protocol::{self, FolioWaitQueue, Outcome};

/// Defines the wake function `$name`: `$with` with the match function `$m`
/// (wake functions are plain `fn` pointers, one function per variant).
macro_rules! wake_fn {
    ($(#[$doc:meta])* $name:ident = $with:ident($m:path $(, $arg:expr)*)) => {
        $(#[$doc])*
        pub(crate) fn $name(
            w: &World,
            id: EntryId,
            list: &mut Vec<EntryId>,
            key: &mut WaitPageKey,
        ) -> i32 {
            $with($m, w, id, list, key $(, $arg)*)
        }
    };
}
pub(crate) use wake_fn;

/// `PG_locked`.
pub(crate) const PG_LOCKED: i32 = 0;
/// `PG_writeback`: a second bit that has waiters on the same queues.
pub(crate) const PG_WRITEBACK: i32 = 1;
/// `PG_waiters` (bit 7 in the kernel too).
pub(crate) const PG_WAITERS: i32 = 7;

/// The mask of folio flag `nr`.
pub(crate) const fn bit(nr: i32) -> u32 {
    1 << nr
}

pub(crate) const LOCKED: u32 = bit(PG_LOCKED);
pub(crate) const WRITEBACK: u32 = bit(PG_WRITEBACK);
pub(crate) const WAITERS: u32 = bit(PG_WAITERS);

/// `wait_queue_entry_t::flags`, include/linux/wait.h.
pub(crate) const WQ_FLAG_EXCLUSIVE: u32 = 0x01;
pub(crate) const WQ_FLAG_WOKEN: u32 = 0x02;
pub(crate) const WQ_FLAG_CUSTOM: u32 = 0x04;
pub(crate) const WQ_FLAG_DONE: u32 = 0x08;

/// Index of a folio in [`World::folios`]; stands for `struct folio *`.
pub(crate) type FolioId = usize;
/// Index of a wait entry in [`World::entries`].
pub(crate) type EntryId = usize;

const FOLIO_NAMES: [&str; 2] = ["X", "Y"];

/// `struct wait_page_key`.
pub(crate) struct WaitPageKey {
    pub(crate) folio: FolioId,
    pub(crate) bit_nr: i32,
    pub(crate) page_match: i32,
}

/// `wait_queue_func_t`: called by the waker with the queue lock held and the
/// queue's list, which it may unlink its own entry from.
pub(crate) type WakeFn = fn(&World, EntryId, &mut Vec<EntryId>, &mut WaitPageKey) -> i32;

/// The signature of `protocol::wake_page_match()`, so that wake functions
/// can be instantiated with a broken variant of it.
pub(crate) type MatchFn = fn(FolioId, i32, FolioId, i32, &mut i32) -> bool;

/// A folio: its flags word and, as ghost state, who holds `PG_locked`.
pub(crate) struct Folio {
    flags: AtomicU32,
    /// Written only by the holder of `PG_locked`, in a loom `UnsafeCell`, so
    /// loom also checks that the bit lock orders its critical sections
    /// (acquire on trylock, release on unlock).
    owner: UnsafeCell<Option<&'static str>>,
}

/// `struct wait_page_queue`: the folio and bit waited on, the wake function
/// and (ghost) how often the callback ran.
pub(crate) struct Entry {
    pub(crate) name: &'static str,
    pub(crate) folio: FolioId,
    pub(crate) bit_nr: i32,
    func: WakeFn,
    callbacks: AtomicUsize,
    /// The task_work the callback queues (the retry waits for it), or the
    /// `wake_up_state()` of a sleeping task.
    task_work: Notify,
    /// `wait->flags` (`WQ_FLAG_*`).  Always 0 for io_uring's entries; set by
    /// a `folio_lock()` sleeper before it queues and updated by its waker.
    flags: AtomicU32,
    /// `!list_empty_careful(&wait->entry)`, as a lockless reader sees it.
    /// Maintained for `folio_lock()` sleepers, the only entries whose
    /// `finish_wait()` tests it.
    linked: AtomicBool,
}

/// `wait_queue_head_t`: `q->lock` and the list it protects.  The list is a
/// loom `UnsafeCell`, so any access without the lock that races with a
/// waker is reported by loom as a causality violation.
pub(crate) struct WaitQueueHead {
    lock: Mutex<()>,
    list: UnsafeCell<Vec<EntryId>>,
}

/// Everything shared by the threads of one model execution.
pub(crate) struct World {
    folios: Vec<Folio>,
    queues: Vec<WaitQueueHead>,
    /// `folio_waitqueue()`: the hash from folio to queue.
    hash: Vec<usize>,
    pub(crate) entries: Vec<Entry>,
    trace: std::sync::Mutex<Vec<String>>,
}

pub(crate) fn fmt_flags(flags: u32) -> String {
    let mut names = Vec::new();
    for (mask, name) in [
        (LOCKED, "locked"),
        (WRITEBACK, "writeback"),
        (WAITERS, "waiters"),
    ] {
        if flags & mask != 0 {
            names.push(name);
        }
    }
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

fn fmt_wq_flags(flags: u32) -> String {
    let names: Vec<_> = [
        (WQ_FLAG_EXCLUSIVE, "EXCLUSIVE"),
        (WQ_FLAG_WOKEN, "WOKEN"),
        (WQ_FLAG_CUSTOM, "CUSTOM"),
        (WQ_FLAG_DONE, "DONE"),
    ]
    .into_iter()
    .filter(|&(mask, _)| flags & mask != 0)
    .map(|(_, name)| name)
    .collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

fn bit_name(nr: i32) -> &'static str {
    match nr {
        PG_LOCKED => "PG_locked",
        PG_WRITEBACK => "PG_writeback",
        PG_WAITERS => "PG_waiters",
        _ => "?",
    }
}

impl World {
    /// `nr_folios` folios hashed to queues by `hash`, with wait entries
    /// `(name, folio, bit_nr, wake function)`.
    pub(crate) fn new(hash: &[usize], entries: &[(&'static str, FolioId, i32, WakeFn)]) -> Self {
        let nr_queues = hash.iter().max().map_or(0, |m| m + 1);
        World {
            folios: hash
                .iter()
                .map(|_| Folio {
                    flags: AtomicU32::new(0),
                    owner: UnsafeCell::new(None),
                })
                .collect(),
            queues: (0..nr_queues)
                .map(|_| WaitQueueHead {
                    lock: Mutex::new(()),
                    list: UnsafeCell::new(Vec::new()),
                })
                .collect(),
            hash: hash.to_vec(),
            entries: entries
                .iter()
                .map(|&(name, folio, bit_nr, func)| Entry {
                    name,
                    folio,
                    bit_nr,
                    func,
                    callbacks: AtomicUsize::new(0),
                    task_work: Notify::new(),
                    flags: AtomicU32::new(0),
                    linked: AtomicBool::new(false),
                })
                .collect(),
            trace: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn log(&self, line: String) {
        self.trace.lock().unwrap().push(line);
    }

    /// The interleaving so far, one operation a line.
    pub(crate) fn trace(&self) -> String {
        let mut s = String::new();
        for (i, line) in self.trace.lock().unwrap().iter().enumerate() {
            let _ = writeln!(s, "  {i:2}. {line}");
        }
        s
    }

    /// Whether the trace so far has a line containing `s`.
    pub(crate) fn traced(&self, s: &str) -> bool {
        self.trace.lock().unwrap().iter().any(|l| l.contains(s))
    }

    /// Fails with `msg` and the interleaving that led here.
    #[track_caller]
    pub(crate) fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\ncounterexample interleaving:\n{}", self.trace())
    }

    pub(crate) fn folio_name(&self, folio: FolioId) -> &'static str {
        FOLIO_NAMES[folio]
    }

    pub(crate) fn flags(&self, folio: FolioId) -> u32 {
        self.folios[folio].flags.load(Relaxed)
    }

    pub(crate) fn owner(&self, folio: FolioId) -> Option<&'static str> {
        // SAFETY: Called by the checks after every thread was joined, or by
        // the lock holder.
        self.folios[folio].owner.with(|o| unsafe { *o })
    }

    /// Waits until the callback of `entry` has run `n` times in all, as the
    /// io_uring retry waits for its task_work (loom's `Notify` may wake
    /// spuriously; loom reports a deadlock if the callback never comes).
    pub(crate) fn wait_task_work(&self, entry: EntryId, n: usize) {
        while self.callbacks(entry) < n {
            self.entries[entry].task_work.wait();
        }
    }

    /// How often the callback of `entry` ran (acquire: as task_work does).
    pub(crate) fn callbacks(&self, entry: EntryId) -> usize {
        self.entries[entry].callbacks.load(Acquire)
    }

    fn queue_of(&self, folio: FolioId) -> &WaitQueueHead {
        &self.queues[self.hash[folio]]
    }

    /// Whether `entry` is on its folio's queue (takes the queue lock).
    pub(crate) fn is_queued(&self, entry: EntryId) -> bool {
        let q = self.queue_of(self.entries[entry].folio);
        let _g = q.lock.lock().unwrap();
        // SAFETY: `q.lock` is held.
        q.list.with(|l| unsafe { (*l).contains(&entry) })
    }

    /// Setup, before any thread runs: sets folio flags.
    pub(crate) fn init_flags(&self, folio: FolioId, flags: u32) {
        self.folios[folio].flags.store(flags, Relaxed);
        self.log(format!(
            "setup: folio {} flags = {}",
            self.folio_name(folio),
            fmt_flags(flags)
        ));
    }

    /// Setup: `who` holds the lock of `folio` (which must be set LOCKED).
    pub(crate) fn init_owner(&self, folio: FolioId, who: &'static str) {
        // SAFETY: Setup runs before any other thread exists.
        self.folios[folio]
            .owner
            .with_mut(|o| unsafe { *o = Some(who) });
    }

    /// Setup: `entry` is already waiting, as after an earlier wait that
    /// queued it (entry on the queue, `PG_waiters` set).
    pub(crate) fn init_queued(&self, entry: EntryId) {
        let e = &self.entries[entry];
        let q = self.queue_of(e.folio);
        let _g = q.lock.lock().unwrap();
        // SAFETY: `q.lock` is held.
        q.list.with_mut(|l| unsafe { (*l).push(entry) });
        self.folios[e.folio].flags.fetch_or(WAITERS, Relaxed);
        self.log(format!(
            "setup: {} queued on {}'s {}, PG_waiters set",
            e.name,
            self.folio_name(e.folio),
            bit_name(e.bit_nr)
        ));
    }

    /// Setup: `entry` already sleeps in `folio_lock()` (see
    /// [`World::folio_lock`]): exclusive, a lock handoff if `handoff`,
    /// queued (at the tail) with `PG_waiters` set.
    pub(crate) fn init_queued_exclusive(&self, entry: EntryId, handoff: bool) {
        let e = &self.entries[entry];
        let flags = folio_lock_wq_flags(handoff);
        e.flags.store(flags, Relaxed);
        e.linked.store(true, Relaxed);
        self.log(format!(
            "setup: {} sleeps in folio_lock({}), wait->flags {}",
            e.name,
            self.folio_name(e.folio),
            fmt_wq_flags(flags)
        ));
        self.init_queued(entry);
    }

    /// `test_bit()` (relaxed) of the waker's key, in `wake_page_function()`.
    fn test_bit(&self, folio: FolioId, nr: i32) -> bool {
        self.folios[folio].flags.load(Relaxed) & bit(nr) != 0
    }

    /// `test_and_set_bit(PG_locked)` (fully ordered) by `who`, taking the
    /// lock for `owner`: `who` itself, or the sleeper a waker hands it to.
    /// Returns the old bit, as the kernel does.
    fn test_and_set_locked(&self, folio: FolioId, who: &str, owner: &'static str) -> bool {
        let f = &self.folios[folio];
        let old = f.flags.fetch_or(LOCKED, AcqRel);
        let was_set = old & LOCKED != 0;
        self.log(format!(
            "{who}: test_and_set_bit({}, PG_locked) for {owner} -> {} (old flags {})",
            self.folio_name(folio),
            if was_set { "failed" } else { "won" },
            fmt_flags(old)
        ));
        if !was_set {
            // SAFETY: `owner` holds PG_locked now, taken by `who` for it.
            f.owner.with_mut(|o| unsafe {
                assert_eq!(*o, None, "two holders of PG_locked");
                *o = Some(owner);
            });
        }
        was_set
    }

    /// `folio_lock()` by the sleeper `entry` (its `bit_nr` is PG_locked):
    /// `folio_trylock()`, else [`World::folio_lock_wait`].  Returns how often
    /// the entry was queued.
    pub(crate) fn folio_lock(&self, entry: EntryId, handoff: bool) -> usize {
        let e = &self.entries[entry];
        if self.folio_trylock(e.folio, e.name) {
            return 0;
        }
        self.folio_lock_wait(entry, handoff, false)
    }

    /// `__folio_lock()` -> `folio_wait_bit_common(folio, PG_locked, ...,
    /// EXCLUSIVE)`, mm/filemap.c: under q->lock set `PG_waiters` and
    /// `folio_trylock_flag()` (`test_and_set_bit()`), queue at the tail if
    /// that failed; sleep until `WQ_FLAG_WOKEN`; done if the waker handed
    /// over the lock (`WQ_FLAG_DONE`), else `test_and_set_bit()` and
    /// `goto repeat` if that fails; `finish_wait()`.  `handoff` stands for
    /// `--unfairness < 0` (`WQ_FLAG_CUSTOM`) on every pass; `queued` starts
    /// in the sleep of [`World::init_queued_exclusive`].  Returns holding
    /// the lock, and how often the entry was queued.
    pub(crate) fn folio_lock_wait(&self, entry: EntryId, handoff: bool, queued: bool) -> usize {
        let e = &self.entries[entry];
        let (folio, who) = (e.folio, e.name);
        let q = self.queue_of(folio);
        let mut nr_queued = usize::from(queued);
        let mut skip_queueing = queued;
        'repeat: loop {
            if !skip_queueing {
                let flags = folio_lock_wq_flags(handoff);
                e.flags.store(flags, Relaxed);
                let _g = q.lock.lock().unwrap();
                let old = self.folios[folio].flags.fetch_or(WAITERS, Relaxed);
                self.log(format!(
                    "{who}: folio_lock({}) slow path: queue lock, set PG_waiters (old flags {})",
                    self.folio_name(folio),
                    fmt_flags(old)
                ));
                // folio_trylock_flag()
                if self.test_and_set_locked(folio, who, who) {
                    // SAFETY: `q.lock` is held.
                    q.list.with_mut(|l| unsafe { (*l).push(entry) });
                    e.linked.store(true, Relaxed);
                    nr_queued += 1;
                    self.log(format!(
                        "{who}: queued exclusive at the tail, wait->flags {}",
                        fmt_wq_flags(flags)
                    ));
                } else {
                    e.flags.store(flags | WQ_FLAG_WOKEN | WQ_FLAG_DONE, Relaxed);
                }
            }
            skip_queueing = false;
            loop {
                let flags = e.flags.load(Acquire);
                if flags & WQ_FLAG_WOKEN == 0 {
                    e.task_work.wait();
                    continue;
                }
                if flags & WQ_FLAG_DONE != 0 {
                    break 'repeat;
                }
                if self.test_and_set_locked(folio, who, who) {
                    continue 'repeat;
                }
                e.flags.store(flags | WQ_FLAG_DONE, Relaxed);
                break 'repeat;
            }
        }
        // finish_wait(): unlink unless list_empty_careful().
        if e.linked.load(Acquire) {
            let _g = q.lock.lock().unwrap();
            // SAFETY: `q.lock` is held.
            q.list.with_mut(|l| unsafe { (*l).retain(|&x| x != entry) });
            e.linked.store(false, Relaxed);
            self.log(format!("{who}: finish_wait() under the queue lock"));
        }
        let owner = self.owner(folio);
        self.log(format!(
            "{who}: folio_lock({}) returns after {nr_queued} queueings, owner {owner:?}",
            self.folio_name(folio)
        ));
        if owner != Some(who) {
            self.fail(&format!(
                "{who}: folio_lock() returned but {who} does not hold the lock"
            ));
        }
        nr_queued
    }

    /// `list_del_init_careful(&wait->entry)`: unlink, then publish the
    /// empty entry to a lockless `list_empty_careful()` (release).
    fn list_del_init_careful(&self, list: &mut Vec<EntryId>, id: EntryId) {
        list_del(list, id);
        self.entries[id].linked.store(false, Release);
    }

    /// `folio_trylock()` (`test_and_set_bit_lock()`, acquire) by `who`.
    pub(crate) fn folio_trylock(&self, folio: FolioId, who: &'static str) -> bool {
        let f = &self.folios[folio];
        let old = f.flags.fetch_or(LOCKED, Acquire);
        let won = old & LOCKED == 0;
        self.log(format!(
            "{who}: trylock({}) -> {} (old flags {})",
            self.folio_name(folio),
            if won { "won" } else { "failed" },
            fmt_flags(old)
        ));
        if won {
            // SAFETY: `who` holds PG_locked now.
            f.owner.with_mut(|o| unsafe {
                assert_eq!(*o, None, "two holders of PG_locked");
                *o = Some(who);
            });
        }
        won
    }

    /// `folio_unlock()`: clear `PG_locked` and test `PG_waiters` in one
    /// release RMW, then `folio_wake_bit()` if there were waiters.
    pub(crate) fn folio_unlock(&self, folio: FolioId, who: &'static str) {
        let f = &self.folios[folio];
        // SAFETY: `who` holds PG_locked, and the owner is only written by
        // the holder; loom checks that claim.
        f.owner.with_mut(|o| unsafe {
            assert_eq!(*o, Some(who), "folio_unlock() by a non-owner");
            *o = None;
        });
        self.clear_bit_and_wake(folio, (PG_LOCKED, "PG_locked"), "folio_unlock", who);
    }

    /// `folio_end_writeback()`: clear `PG_writeback` and test `PG_waiters`
    /// in one release RMW (`__folio_end_writeback()`), then wake.
    pub(crate) fn folio_end_writeback(&self, folio: FolioId, who: &'static str) {
        self.clear_bit_and_wake(
            folio,
            (PG_WRITEBACK, "PG_writeback"),
            "folio_end_writeback",
            who,
        );
    }

    /// Clear bit `nr` (called `name`) and test `PG_waiters` in one release
    /// RMW, as `caller` does, then wake the bit's waiters if there are any.
    fn clear_bit_and_wake(
        &self,
        folio: FolioId,
        (nr, name): (i32, &str),
        caller: &str,
        who: &'static str,
    ) {
        let old = self.folios[folio].flags.fetch_and(!bit(nr), Release);
        self.log(format!(
            "{who}: {caller}({}): clear {name}, old flags {}",
            self.folio_name(folio),
            fmt_flags(old)
        ));
        assert!(old & bit(nr) != 0, "{caller}() with {name} already clear");
        if old & WAITERS != 0 {
            self.folio_wake_bit(folio, nr, who);
        }
    }

    /// `folio_wake_bit()`, mm/filemap.c.
    pub(crate) fn folio_wake_bit(&self, folio: FolioId, bit_nr: i32, who: &'static str) {
        let q = self.queue_of(folio);
        let mut key = WaitPageKey {
            folio,
            bit_nr,
            page_match: 0,
        };
        let _g = q.lock.lock().unwrap();
        self.log(format!(
            "{who}: folio_wake_bit({}, {}): took the queue lock",
            self.folio_name(folio),
            bit_name(bit_nr)
        ));
        // SAFETY: `q.lock` is held.
        q.list.with_mut(|l| {
            let list = unsafe { &mut *l };
            self.wake_up_locked_key(list, &mut key, who);
            // "if (!waitqueue_active(q) || !key.page_match)"
            if list.is_empty() || key.page_match == 0 {
                let old = self.folios[folio].flags.fetch_and(!WAITERS, Relaxed);
                self.log(format!(
                    "{who}: folio_wake_bit({}): queue {}, page_match={} -> clear PG_waiters (old {})",
                    self.folio_name(folio),
                    if list.is_empty() { "empty" } else { "not empty" },
                    key.page_match,
                    fmt_flags(old)
                ));
            } else {
                self.log(format!(
                    "{who}: folio_wake_bit({}): queue not empty, page_match=1 -> keep PG_waiters",
                    self.folio_name(folio)
                ));
            }
        });
    }

    /// `__wake_up_locked_key()` -> `__wake_up_common()` with
    /// `nr_exclusive` = 1: walk the list "safely" (the current entry may
    /// unlink itself); stop on a negative return, or after the first entry
    /// that was `WQ_FLAG_EXCLUSIVE` (read before its wake function ran) and
    /// returned a positive value.  Entries after the stop are not visited,
    /// so their `wake_page_match()` does not set `page_match`.
    fn wake_up_locked_key(&self, list: &mut Vec<EntryId>, key: &mut WaitPageKey, who: &str) {
        let mut nr_exclusive = 1;
        let mut i = 0;
        while i < list.len() {
            let id = list[i];
            let e = &self.entries[id];
            // "unsigned flags = curr->flags": a plain read under q->lock.
            // SAFETY: A sleeper writes its flags before it queues (under
            // q->lock, so before this walk) or after its waker set
            // WQ_FLAG_WOKEN (and, under this lock, unlinked it); loom's
            // `unsync_load` reports any store not ordered before this read.
            let flags = unsafe { e.flags.unsync_load() };
            let ret = (e.func)(self, id, list, key);
            if list.get(i) == Some(&id) {
                i += 1;
            } else {
                assert!(!list.contains(&id), "wake function unlinked another entry");
            }
            let stop = if ret < 0 {
                Some("returned -1")
            } else if ret > 0 && flags & WQ_FLAG_EXCLUSIVE != 0 {
                nr_exclusive -= 1;
                (nr_exclusive == 0).then_some("exclusive wake-up, nr_exclusive 0")
            } else {
                None
            };
            if let Some(why) = stop {
                let rest: Vec<_> = list[i..].iter().map(|&r| self.entries[r].name).collect();
                self.log(format!(
                    "{who}: walk stops at {} ({why}); not visited: [{}]",
                    e.name,
                    rest.join(", ")
                ));
                break;
            }
        }
    }

    /// The wake-function side effect: io_uring's `io_req_task_queue()` or
    /// the sleeper's wake-up, counted (release: the retry that runs from
    /// task_work sees everything before the callback).  The outcome checks
    /// compare the count with the number of `Queued` outcomes.
    pub(crate) fn callback(&self, entry: EntryId, key: &WaitPageKey) {
        let e = &self.entries[entry];
        e.callbacks.fetch_add(1, Release);
        e.task_work.notify();
        self.log(format!(
            "  wake {}: {}'s {} matches key ({}, {}) -> callback, unlink",
            e.name,
            self.folio_name(e.folio),
            bit_name(e.bit_nr),
            self.folio_name(key.folio),
            bit_name(key.bit_nr)
        ));
    }

    /// Post-condition when all threads are done: every entry still queued
    /// waits on a bit that is still set, on a folio with `PG_waiters` set.
    /// Otherwise nobody will ever wake it (a hang).
    pub(crate) fn check_quiescent(&self) {
        for q in &self.queues {
            let _g = q.lock.lock().unwrap();
            // SAFETY: `q.lock` is held.
            let list = q.list.with(|l| unsafe { (*l).clone() });
            for id in list {
                let e = &self.entries[id];
                let flags = self.flags(e.folio);
                if flags & bit(e.bit_nr) == 0 {
                    self.fail(&format!(
                        "hang: {} is still queued on {}'s {}, but that bit is clear (flags {}): \
                         its wake-up was lost",
                        e.name,
                        self.folio_name(e.folio),
                        bit_name(e.bit_nr),
                        fmt_flags(flags)
                    ));
                }
                if flags & WAITERS == 0 {
                    self.fail(&format!(
                        "hang: {} is still queued on {}'s {}, but PG_waiters is clear (flags {}): \
                         the next waker will not walk the queue",
                        e.name,
                        self.folio_name(e.folio),
                        bit_name(e.bit_nr),
                        fmt_flags(flags)
                    ));
                }
            }
        }
    }
}

/// The `wait->flags` of `folio_wait_bit_common()`'s EXCLUSIVE behaviour:
/// `WQ_FLAG_EXCLUSIVE`, plus `WQ_FLAG_CUSTOM` (lock handoff) once
/// `--unfairness < 0`.
fn folio_lock_wq_flags(handoff: bool) -> u32 {
    WQ_FLAG_EXCLUSIVE | if handoff { WQ_FLAG_CUSTOM } else { 0 }
}

/// `wake_page_match(wait_page, key)` of entry `id`, with the match
/// function `m` (the protocol's or a broken variant).
fn matches(m: MatchFn, w: &World, id: EntryId, key: &mut WaitPageKey) -> bool {
    let e = &w.entries[id];
    m(
        e.folio,
        e.bit_nr,
        key.folio,
        key.bit_nr,
        &mut key.page_match,
    )
}

wake_fn! {
    /// io_uring's `io_async_buf_func()` (io_uring/rw.c): `wake_page_match()`
    /// from `rust/mm/wait/protocol.rs`; on a match, clear IOCB_WAITQ and
    /// queue the retry (the counted callback), unlink the entry, return 1.
    io_async_buf_func = callback_unlink_if_match(protocol::wake_page_match, 1)
}

/// On a match (by `m`), the counted callback, unlink and `ret`; else 0.
pub(crate) fn callback_unlink_if_match(
    m: MatchFn,
    w: &World,
    id: EntryId,
    list: &mut Vec<EntryId>,
    key: &mut WaitPageKey,
    ret: i32,
) -> i32 {
    if !matches(m, w, id, key) {
        return 0;
    }
    w.callback(id, key);
    list_del(list, id);
    ret
}

wake_fn! {
    /// `wake_page_function()` for a non-exclusive sleeper that is not a thread
    /// of the model, e.g. a `folio_wait_writeback()` waiter: `wake_page_match()`,
    /// wake, unlink, return 0 (not exclusive).  [`wake_page_function`] with
    /// `wait->flags` 0, less the `WQ_FLAG_WOKEN` store that only a modelled
    /// sleeping thread would read.
    wake_page_function_shared = callback_unlink_if_match(protocol::wake_page_match, 0)
}

wake_fn! {
    /// `wake_page_function()`, mm/filemap.c, as `folio_lock()`'s sleepers
    /// ([`World::folio_lock`]) use it: on a match, an exclusive entry stops the
    /// walk (-1, staying queued) if the bit is set again; a lock handoff entry
    /// (`WQ_FLAG_CUSTOM`) has the waker take the bit for it (-1 if that fails)
    /// and gets `WQ_FLAG_DONE`; then store `WQ_FLAG_WOKEN` (release), wake the
    /// task, unlink (`list_del_init_careful()`), return whether exclusive.
    wake_page_function = wake_page_function_with(protocol::wake_page_match)
}

/// [`wake_page_function`] with the match function `m`.
pub(crate) fn wake_page_function_with(
    m: MatchFn,
    w: &World,
    id: EntryId,
    list: &mut Vec<EntryId>,
    key: &mut WaitPageKey,
) -> i32 {
    if !matches(m, w, id, key) {
        return 0;
    }
    let e = &w.entries[id];
    // SAFETY: As for the walk's read in `wake_up_locked_key`.
    let mut flags = unsafe { e.flags.unsync_load() };
    if flags & WQ_FLAG_EXCLUSIVE != 0 {
        if w.test_bit(key.folio, key.bit_nr) {
            w.log(format!(
                "  wake {}: matches, exclusive, but {} is set again -> -1, stays queued",
                e.name,
                bit_name(key.bit_nr)
            ));
            return -1;
        }
        if flags & WQ_FLAG_CUSTOM != 0 {
            assert_eq!(key.bit_nr, PG_LOCKED, "lock handoff of another bit");
            if w.test_and_set_locked(key.folio, "  wake", e.name) {
                w.log(format!(
                    "  wake {}: handoff failed -> -1, stays queued",
                    e.name
                ));
                return -1;
            }
            flags |= WQ_FLAG_DONE;
        }
    }
    e.flags.store(flags | WQ_FLAG_WOKEN, Release);
    w.callback(id, key);
    w.list_del_init_careful(list, id);
    i32::from(flags & WQ_FLAG_EXCLUSIVE != 0)
}

/// `list_del_init(&wait->entry)`.
pub(crate) fn list_del(list: &mut Vec<EntryId>, id: EntryId) {
    let pos = list
        .iter()
        .position(|&e| e == id)
        .expect("list_del of an entry not on the list");
    list.remove(pos);
}

/// The module's `AsyncWait` in the model: one wait entry (`bit_nr` =
/// `PG_locked`) armed on one folio, implementing the protocol's trait.
pub(crate) struct AsyncWait<'a> {
    w: &'a World,
    entry: EntryId,
    folio: FolioId,
    /// The queue lock guard while `with_queue_locked` runs.
    guard: RefCell<Option<MutexGuard<'a, ()>>>,
    /// Assert the `enqueue`/`dequeue` contract (queue lock held).  Off only
    /// for the broken variant that must be caught by loom's race detector
    /// rather than by this assertion.
    check_lock_held: bool,
    /// Ghost: the last `folio_locked()` result was "unlocked".
    saw_unlocked: Cell<bool>,
}

impl<'a> AsyncWait<'a> {
    pub(crate) fn new(w: &'a World, entry: EntryId) -> Self {
        let e = &w.entries[entry];
        assert_eq!(e.bit_nr, PG_LOCKED);
        AsyncWait {
            w,
            entry,
            folio: e.folio,
            guard: RefCell::new(None),
            check_lock_held: true,
            saw_unlocked: Cell::new(false),
        }
    }

    /// As [`AsyncWait::new`], without asserting that the queue lock is held
    /// in `enqueue`/`dequeue`.
    pub(crate) fn new_unchecked(w: &'a World, entry: EntryId) -> Self {
        AsyncWait {
            check_lock_held: false,
            ..Self::new(w, entry)
        }
    }

    pub(crate) fn saw_unlocked(&self) -> bool {
        self.saw_unlocked.get()
    }

    fn name(&self) -> &'static str {
        self.w.entries[self.entry].name
    }

    fn fname(&self) -> &'static str {
        self.w.folio_name(self.folio)
    }

    fn queue(&self) -> &'a WaitQueueHead {
        self.w.queue_of(self.folio)
    }

    fn check_locked(&self, what: &str) {
        if self.check_lock_held && self.guard.borrow().is_none() {
            self.w.fail(&format!(
                "{}: {what} without the queue lock (contract of FolioWaitQueue::{what})",
                self.name()
            ));
        }
    }
}

/// One protocol run of an [`AsyncWait`], which the protocol takes by value
/// (the module's `wait::Queueing`): the tests make one per attempt.
pub(crate) struct Attempt<'q, 'a>(pub(crate) &'q AsyncWait<'a>);

// SAFETY: `with_queue_locked` holds the lock of `folio_waitqueue(folio)`,
// the queue `folio_wake_bit()` walks; the folio operations are atomic RMWs
// or loads of the one flags word.  The scenarios make one `Attempt` per
// arming of an entry on no queue, re-arming only after its callback
// unlinked it; `enqueue` fails the run ("entry queued twice") otherwise.
unsafe impl FolioWaitQueue for Attempt<'_, '_> {
    fn trylock_folio(&self) -> bool {
        self.0.trylock_folio()
    }

    fn folio_locked(&self) -> bool {
        self.0.folio_locked()
    }

    fn set_waiters(&self) {
        self.0.set_waiters()
    }

    fn with_queue_locked<R>(&self, f: impl FnOnce() -> R) -> R {
        self.0.with_queue_locked(f)
    }

    unsafe fn enqueue(&self) {
        // SAFETY: The caller's contract is `AsyncWait::enqueue`'s.
        unsafe { self.0.enqueue() }
    }

    unsafe fn dequeue(&self) {
        // SAFETY: The caller's contract is `AsyncWait::dequeue`'s.
        unsafe { self.0.dequeue() }
    }
}

/// The folio, queue and entry operations of [`FolioWaitQueue`], with its
/// contract, for [`Attempt`].
impl AsyncWait<'_> {
    fn trylock_folio(&self) -> bool {
        self.w.folio_trylock(self.folio, self.name())
    }

    fn folio_locked(&self) -> bool {
        let flags = self.w.folios[self.folio].flags.load(Relaxed);
        self.w.log(format!(
            "{}: test_locked({}) reads flags {}",
            self.name(),
            self.fname(),
            fmt_flags(flags)
        ));
        let locked = flags & LOCKED != 0;
        self.saw_unlocked.set(!locked);
        locked
    }

    fn set_waiters(&self) {
        let old = self.w.folios[self.folio].flags.fetch_or(WAITERS, Relaxed);
        self.w.log(format!(
            "{}: set PG_waiters on {} (old flags {})",
            self.name(),
            self.fname(),
            fmt_flags(old)
        ));
    }

    fn with_queue_locked<R>(&self, f: impl FnOnce() -> R) -> R {
        let g = self.queue().lock.lock().unwrap();
        self.w.log(format!("{}: queue lock", self.name()));
        let prev = self.guard.borrow_mut().replace(g);
        assert!(prev.is_none(), "queue lock taken recursively");
        let r = f();
        self.w.log(format!("{}: queue unlock", self.name()));
        drop(self.guard.borrow_mut().take());
        r
    }

    /// # Safety
    ///
    /// As [`FolioWaitQueue::enqueue`].
    unsafe fn enqueue(&self) {
        self.check_locked("enqueue");
        let id = self.entry;
        // SAFETY: The caller holds the queue lock (checked above unless
        // disabled; loom reports a race otherwise).
        self.queue().list.with_mut(|l| unsafe {
            if (*l).contains(&id) {
                self.w.fail(&format!("{}: entry queued twice", self.name()));
            }
            (*l).push(id);
        });
        self.w.log(format!(
            "{}: enqueue on {}'s queue",
            self.name(),
            self.fname()
        ));
    }

    /// # Safety
    ///
    /// As [`FolioWaitQueue::dequeue`].
    unsafe fn dequeue(&self) {
        self.check_locked("dequeue");
        let id = self.entry;
        // SAFETY: As in `enqueue`.
        self.queue().list.with_mut(|l| unsafe {
            match (*l).iter().position(|&e| e == id) {
                Some(pos) => {
                    (*l).remove(pos);
                }
                None => self
                    .w
                    .fail(&format!("{}: dequeue of an entry not queued", self.name())),
            }
        });
        self.w.log(format!("{}: dequeue", self.name()));
    }
}

/// What an outcome check reads of an entry once its attempt has returned.
struct Seen {
    name: &'static str,
    /// Times its callback ran.
    cb: usize,
    /// Whether its entry is still on the wait queue.
    queued: bool,
    /// Who holds its folio's lock.
    owner: Option<&'static str>,
    folio: FolioId,
}

impl Seen {
    fn of(w: &World, id: EntryId) -> Self {
        let e = &w.entries[id];
        Seen {
            name: e.name,
            cb: w.callbacks(id),
            queued: w.is_queued(id),
            owner: w.owner(e.folio),
            folio: e.folio,
        }
    }
}

/// Post-condition of a lock attempt by `entry` that won (`out` is `Now` or
/// `Late`) after `queued` earlier `Queued` outcomes, checked by the winner
/// while it holds the lock.
pub(crate) fn check_lock_outcome_after(w: &World, id: EntryId, out: Outcome, queued: usize) {
    let Seen {
        name,
        cb,
        queued: queued_now,
        owner,
        ..
    } = Seen::of(w, id);
    w.log(format!(
        "{name}: got {out:?} after {queued} Queued; callbacks={cb}, queued={queued_now}, owner {owner:?}"
    ));
    if out == Outcome::Queued || owner != Some(name) {
        w.fail(&format!("{name} got {out:?} but does not hold the lock"));
    }
    if cb != queued {
        w.fail(&format!(
            "{name} got {out:?} after {queued} Queued outcomes, but callbacks={cb}"
        ));
    }
    if queued_now {
        w.fail(&format!("{name} got {out:?} but its entry is still queued"));
    }
}

/// Post-condition of a lock attempt by `entry` that ended with `out`,
/// checked after all threads are done, when nobody unlocks the folio after
/// the attempt could have won it.
pub(crate) fn check_lock_outcome(w: &World, id: EntryId, out: Outcome) {
    let Seen {
        name,
        cb,
        queued,
        owner,
        folio,
    } = Seen::of(w, id);
    let flags = w.flags(folio);
    w.log(format!(
        "end: {name} got {out:?}; callbacks={cb}, queued={queued}, {} flags {}, owner {owner:?}",
        w.folio_name(folio),
        fmt_flags(flags)
    ));
    match out {
        Outcome::Queued if owner == Some(name) => {
            w.fail(&format!("{name}: Outcome::Queued but it holds the lock"));
        }
        Outcome::Now | Outcome::Late if flags & LOCKED == 0 || owner != Some(name) => {
            w.fail(&format!(
                "{name} got {out:?} but does not hold the folio lock (owner {owner:?})"
            ));
        }
        _ => {}
    }
    check_callback(w, name, out, cb, queued, "lock that was won");
}

/// Post-condition of a wait for unlock by `entry` that ended with `out`;
/// `saw_unlocked` is [`AsyncWait::saw_unlocked`] at its return.
pub(crate) fn check_wait_outcome(w: &World, id: EntryId, out: Outcome, saw_unlocked: bool) {
    let Seen {
        name,
        cb,
        queued,
        owner,
        ..
    } = Seen::of(w, id);
    w.log(format!(
        "end: {name} got {out:?}; callbacks={cb}, queued={queued}, saw_unlocked={saw_unlocked}"
    ));
    if owner == Some(name) {
        w.fail(&format!("{name}: a wait for unlock took the lock"));
    }
    if matches!(out, Outcome::Now | Outcome::Late) && !saw_unlocked {
        w.fail(&format!(
            "{name} got {out:?} without seeing the folio unlocked"
        ));
    }
    check_callback(w, name, out, cb, queued, "wait that completed");
}

/// What any outcome says of the entry's callback (fired `cb` times) and
/// whether it is still `queued`: `Outcome::Queued` is called back once and
/// unlinked; `Now` and `Late` (a `done` thing) are never called back and
/// leave nothing queued.
fn check_callback(w: &World, name: &str, out: Outcome, cb: usize, queued: bool, done: &str) {
    match out {
        Outcome::Queued => {
            if cb != 1 {
                w.fail(&format!(
                    "lost wakeup: {name} got Outcome::Queued but its callback fired {cb} times"
                ));
            }
            if queued {
                w.fail(&format!("{name}: called back but still queued"));
            }
        }
        Outcome::Now | Outcome::Late => {
            if cb != 0 {
                w.fail(&format!(
                    "callback fired for a {done}: {name} got {out:?}, callbacks={cb}"
                ));
            }
            if queued {
                w.fail(&format!("{name} got {out:?} but its entry is still queued"));
            }
        }
    }
}

// SAFETY: The `UnsafeCell`s of a `World` are only accessed under the lock
// that protects them (a queue's list under its `lock`, a folio's owner under
// PG_locked) or after every other thread was joined; loom checks exactly
// that, and reports any other access as a causality violation.
unsafe impl Sync for World {}
