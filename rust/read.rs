// SPDX-License-Identifier: GPL-2.0

//! The buffered read path: `filemap_read()`, `filemap_get_pages()` and
//! `filemap_update_page()` of 6.12, in Rust, with the 2020 series' way of
//! waiting for a folio that is being read.
//!
//! Compared with 6.12's C, one thing is deliberately different and follows
//! the seed (5.9's `generic_file_buffered_read()`): an `IOCB_WAITQ` read that
//! finds a locked, not-uptodate folio first *waits for the lock to go away*
//! with [`wait_on_folio_locked_async`] instead of queueing to take the lock.
//! The lock holder is almost always the read I/O itself; once it unlocks,
//! the retry finds the folio uptodate and copies without locking it.  Only
//! a folio still not uptodate after that is locked, as in 6.12.

use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;
use kernel::bindings;
use kernel::prelude::*;

use crate::ffi::{self, WaitPageQueueRaw};
use crate::folio::Folio;
use crate::stats::{self, Stat};
use crate::wait::{lock_folio_async, wait_on_folio_locked_async, AsyncWait};

const PAGE_SHIFT: u32 = bindings::PAGE_SHIFT;
const PAGE_SIZE: i64 = 1 << PAGE_SHIFT;
const IOCB_WAITQ: i32 = bindings::IOCB_WAITQ as i32;
const IOCB_NOIO: i32 = bindings::IOCB_NOIO as i32;
/// `AOP_TRUNCATED_PAGE`: the folio went away under us, look it up again.
const AOP_TRUNCATED_PAGE: i32 = bindings::positive_aop_returns_AOP_TRUNCATED_PAGE as i32;

fn iocb_nowait() -> i32 {
    // SAFETY: A `const` of the C shim, never written.
    unsafe { ffi::rasync_IOCB_NOWAIT }
}

/// What `filemap_update_page()` tells its caller besides errors.
enum Update {
    /// The folio can be copied from.
    Ready,
    /// The folio was truncated or we slept for it: look it up again.
    Retry,
}

/// A `struct folio_batch` whose folio references this path owns.
///
/// # Invariants
///
/// `nr`, `i` and `percpu_pvec_drained` are initialised, and the first `nr`
/// entries of `folios` are initialised to folios on which we hold one
/// reference each.  Entries past `nr` may be uninitialised: like
/// `folio_batch_init()`, creating a batch does not clear the array.
struct Batch {
    fb: MaybeUninit<bindings::folio_batch>,
}

impl Batch {
    fn new() -> Self {
        let mut fb = MaybeUninit::<bindings::folio_batch>::uninit();
        let p = fb.as_mut_ptr();
        // SAFETY: Writes through a pointer to our own local, field by field,
        // without reading or forming references to uninitialised memory.
        unsafe {
            addr_of_mut!((*p).nr).write(0);
            addr_of_mut!((*p).i).write(0);
            addr_of_mut!((*p).percpu_pvec_drained).write(false);
        }
        // INVARIANT: Empty, with the scalar fields initialised.
        Self { fb }
    }

    fn raw(&self) -> *const bindings::folio_batch {
        self.fb.as_ptr()
    }

    fn len(&self) -> usize {
        // SAFETY: `nr` is initialised (type invariant).
        unsafe { (*self.raw()).nr as usize }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, i: usize) -> &Folio {
        assert!(i < self.len());
        // SAFETY: Entries below `nr` are initialised and hold a reference
        // owned by `self` (type invariant), which outlives the borrow.
        unsafe { Folio::from_raw((*self.raw()).folios[i]) }
    }

    fn last(&self) -> &Folio {
        self.get(self.len() - 1)
    }

    /// Drops the last folio and its reference.
    fn put_last(&mut self) {
        let folio = self.get(self.len() - 1).as_ptr();
        // SAFETY: `nr` is initialised and non-zero (`get` checked it).
        unsafe { (*self.fb.as_mut_ptr()).nr -= 1 };
        // SAFETY: We owned that reference (type invariant) and no longer
        // list the folio.
        unsafe { ffi::rasync_folio_put(folio) };
    }

    /// Appends a folio, as `folio_batch_add()` does.
    ///
    /// # Safety
    ///
    /// The caller gives the batch one reference on `folio`, and the batch
    /// has room.
    unsafe fn push(&mut self, folio: *mut bindings::folio) {
        let n = self.len();
        let p = self.fb.as_mut_ptr();
        // SAFETY: `n` is below the array size (the caller checked there is
        // room); the entry becomes initialised before `nr` covers it.
        unsafe {
            addr_of_mut!((*p).folios[n]).write(folio);
            (*p).nr += 1;
        }
    }

    /// Drops every folio.
    fn clear(&mut self) {
        while !self.is_empty() {
            self.put_last();
        }
    }

    fn as_mut_ptr(&mut self) -> *mut bindings::folio_batch {
        // INVARIANT: The C helpers given this pointer only append folios,
        // with a reference taken for us, and bump `nr`.
        self.fb.as_mut_ptr()
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.clear();
    }
}

/// One `filemap_read()` call.
///
/// # Invariants
///
/// `iocb`, `iter` and the file, mapping, inode and superblock reached from
/// them are valid for the whole call: the VFS caller holds the file.
struct Req {
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
    file: *mut bindings::file,
    mapping: *mut bindings::address_space,
    inode: *mut bindings::inode,
}

impl Req {
    fn flags(&self) -> i32 {
        // SAFETY: `iocb` is valid (type invariant).
        unsafe { (*self.iocb).ki_flags }
    }

    fn set_flags(&self, flags: i32) {
        // SAFETY: `iocb` is valid (type invariant) and only this call uses
        // it now.
        unsafe { (*self.iocb).ki_flags = flags }
    }

    fn pos(&self) -> i64 {
        // SAFETY: `iocb` is valid (type invariant).
        unsafe { (*self.iocb).ki_pos }
    }

    fn advance(&self, bytes: usize) {
        // SAFETY: `iocb` is valid (type invariant).
        unsafe { (*self.iocb).ki_pos += bytes as i64 }
    }

    fn count(&self) -> usize {
        // SAFETY: `iter` is valid (type invariant).
        unsafe { ffi::rasync_iter_count(self.iter) }
    }

    fn isize(&self) -> i64 {
        // SAFETY: `inode` is valid (type invariant).
        unsafe { ffi::rasync_i_size_read(self.inode) }
    }

    /// `kiocb->ki_waitq`, meaningful only while `IOCB_WAITQ` is set.
    fn waitq(&self) -> *mut WaitPageQueueRaw {
        // SAFETY: `iocb` is valid; with IOCB_WAITQ set the union holds
        // `ki_waitq` (io_rw_should_retry() stored it).
        unsafe { (*self.iocb).__bindgen_anon_1.ki_waitq.cast() }
    }

    fn ra_prev_pos(&self) -> *mut i64 {
        // SAFETY: `file` is valid (type invariant); `f_ra` is the member of
        // the union used by every regular file.
        unsafe { addr_of_mut!((*self.file).__bindgen_anon_2.f_ra.prev_pos) }
    }
}

/// `filemap_update_page()`: makes the last folio of a batch uptodate, or
/// says why not.  The caller drops the folio on anything but `Ready`.
fn update_folio(req: &Req, count: usize, folio: &Folio, need_uptodate: bool) -> Result<Update> {
    let flags = req.flags();
    let nowait = flags & iocb_nowait() != 0;
    let waitq = flags & IOCB_WAITQ != 0;

    // The seed's order: wait for the read in flight, don't take its lock.
    if waitq && !nowait {
        // SAFETY: With IOCB_WAITQ, io_uring armed `ki_waitq` (func, private,
        // empty list) for this request and keeps it alive until the callback
        // runs; this call queues it at most once (the path returns
        // -EIOCBQUEUED right after queueing).
        let wait = unsafe { AsyncWait::new(folio, req.waitq()) };
        wait_on_folio_locked_async(&wait)?;
        if folio.is_uptodate() {
            return Ok(Update::Ready);
        }
    }

    // Serialise with truncate and hole punch, as 6.12 does.
    if nowait {
        // SAFETY: `mapping` is valid (type invariant of `Req`).
        if !unsafe { ffi::rasync_invalidate_trylock_shared(req.mapping) } {
            return Err(EAGAIN);
        }
    } else {
        // SAFETY: As above.
        unsafe { ffi::rasync_invalidate_lock_shared(req.mapping) };
    }
    let _invalidate = kernel::types::ScopeGuard::new(|| {
        // SAFETY: Taken just above.
        unsafe { ffi::rasync_invalidate_unlock_shared(req.mapping) }
    });

    if !folio.trylock() {
        if flags & (iocb_nowait() | IOCB_NOIO) != 0 {
            return Err(EAGAIN);
        }
        if !waitq {
            drop(_invalidate);
            // Usually the wait for a readahead submitted earlier.  6.12
            // drops its reference before sleeping; we keep ours (there is no
            // export for the drop-and-wait form) and the caller drops it.
            let _ = folio.wait_unlocked_killable();
            return Ok(Update::Retry);
        }
        // SAFETY: As for the wait above; no entry of this request is queued
        // (a queued wait returned already).
        let wait = unsafe { AsyncWait::new(folio, req.waitq()) };
        lock_folio_async(&wait)?;
    }

    // We own the folio lock from here.  Truncation clears `mapping` under
    // the lock, so this check is stable until we unlock.
    let truncated = folio.mapping().is_null();
    // SAFETY: `mapping` is valid (type invariant of `Req`); the folio is
    // locked and we hold a reference on it.
    let uptodate = !truncated
        && unsafe {
            ffi::filemap_range_uptodate(
                req.mapping,
                req.pos(),
                count,
                folio.as_ptr(),
                need_uptodate,
            )
        };
    if truncated || uptodate || flags & (IOCB_NOIO | iocb_nowait() | IOCB_WAITQ) != 0 {
        // SAFETY: We took the folio lock above and nothing released it.
        unsafe { folio.unlock() };
        return match (truncated, uptodate) {
            (true, _) => Ok(Update::Retry),
            (false, true) => Ok(Update::Ready),
            // No synchronous ->read_folio without permission to block.
            (false, false) => Err(EAGAIN),
        };
    }

    // SAFETY: `mapping` and its `a_ops` are valid; the folio is locked and
    // ->read_folio unlocks it when the read completes.
    let ret = unsafe {
        ffi::filemap_read_folio(req.file, (*(*req.mapping).a_ops).read_folio, folio.as_ptr())
    };
    match ret {
        0 => Ok(Update::Ready),
        AOP_TRUNCATED_PAGE => Ok(Update::Retry),
        e => Err(Error::from_errno(e)),
    }
}

/// `filemap_create_folio()` without its wait: adds a new folio at `pos` to
/// the page cache and starts its read, leaving the folio locked until the
/// read completes.  On `Ready` the folio is the only entry of `batch`.
///
/// Unlike 6.12's helper this does not account a workingset refault as a
/// memory stall (`psi_memstall_enter()`): the read is not waited for here.
fn start_folio_read(req: &Req, pos: i64, batch: &mut Batch) -> Result<Update> {
    // SAFETY: `mapping` and `file` are valid (type invariant of `Req`).
    let read_folio = unsafe { (*(*req.mapping).a_ops).read_folio }.ok_or(EINVAL)?;
    // SAFETY: As above.
    let folio = unsafe { ffi::rasync_filemap_alloc_folio(req.mapping) };
    if folio.is_null() {
        return Err(ENOMEM);
    }
    // Hold off truncate and hole punch while the folio is added and its read
    // submitted, as `filemap_create_folio()` does.
    // SAFETY: As above.
    unsafe { ffi::rasync_invalidate_lock_shared(req.mapping) };
    // SAFETY: `folio` is new, locked by allocation, and ours.
    let ret = match unsafe { ffi::rasync_filemap_add_folio(req.mapping, folio, pos) } {
        // SAFETY: The folio is locked and in the page cache; ->read_folio
        // unlocks it when the read completes (or fails).
        0 => match unsafe { read_folio(req.file, folio) } {
            0 => Ok(Update::Ready),
            AOP_TRUNCATED_PAGE => Ok(Update::Retry),
            e => Err(Error::from_errno(e)),
        },
        e if e == EEXIST.to_errno() => Ok(Update::Retry),
        e => Err(Error::from_errno(e)),
    };
    // SAFETY: Taken above.
    unsafe { ffi::rasync_invalidate_unlock_shared(req.mapping) };
    match ret {
        // SAFETY: The allocation reference is ours to hand to the batch,
        // which is empty.
        Ok(Update::Ready) => unsafe { batch.push(folio) },
        // SAFETY: Drops the allocation reference; the page cache keeps its
        // own if the folio was added.
        _ => unsafe { ffi::rasync_folio_put(folio) },
    }
    ret
}

/// `filemap_get_pages()`: fills `batch` with folios covering the start of
/// the request, reading or waiting as the iocb flags allow.
fn get_pages(req: &Req, count: usize, batch: &mut Batch, need_uptodate: bool) -> Result {
    let pos = req.pos();
    let index = (pos >> PAGE_SHIFT) as usize;
    let last_index = ((pos + count as i64 + PAGE_SIZE - 1) >> PAGE_SHIFT) as usize;

    loop {
        // SAFETY: Reads `current`'s signal state only.
        if unsafe { ffi::rasync_fatal_signal_pending() } {
            return Err(EINTR);
        }
        // SAFETY: `mapping` is valid (type invariant of `Req`); the batch
        // is empty and takes the references the helper hands out.
        unsafe {
            ffi::filemap_get_read_batch(req.mapping, index, last_index - 1, batch.as_mut_ptr())
        };
        if batch.is_empty() {
            if req.flags() & IOCB_NOIO != 0 {
                return Err(EAGAIN);
            }
            let noio = req.flags() & iocb_nowait() != 0;
            // SAFETY: `mapping` and `file` are valid (type invariant).
            unsafe {
                ffi::rasync_sync_readahead(req.mapping, req.file, index, last_index - index, noio)
            };
            // SAFETY: As for the first lookup.
            unsafe {
                ffi::filemap_get_read_batch(req.mapping, index, last_index - 1, batch.as_mut_ptr())
            };
        }
        if batch.is_empty() {
            if req.flags() & iocb_nowait() != 0 {
                return Err(EAGAIN);
            }
            if req.flags() & IOCB_WAITQ != 0 {
                // The seed's `no_cached_page` path: start the read of a new
                // folio and wait for it below like any other.  6.12 returns
                // -EAGAIN here, which punts the request to io-wq.
                if let Update::Retry = start_folio_read(req, pos, batch)? {
                    continue;
                }
            } else {
                // SAFETY: `file` and `mapping` are valid; the batch is empty
                // and receives the new folio's reference.
                match unsafe {
                    ffi::filemap_create_folio(req.file, req.mapping, pos, batch.as_mut_ptr())
                } {
                    0 => return Ok(()),
                    AOP_TRUNCATED_PAGE => continue,
                    e => return Err(Error::from_errno(e)),
                }
            }
        }

        let folio = batch.last();
        let outcome = (|| {
            if folio.is_readahead() {
                if req.flags() & IOCB_NOIO != 0 {
                    return Err(EAGAIN);
                }
                // SAFETY: `mapping` and `file` are valid; we hold a
                // reference on the folio.
                unsafe {
                    ffi::rasync_async_readahead(req.mapping, req.file, folio.as_ptr(), last_index)
                };
            }
            if !folio.is_uptodate() {
                // Folios before this one will be copied: never -EIOCBQUEUED
                // after that, return them as a short read instead.
                if req.flags() & IOCB_WAITQ != 0 && batch.len() > 1 {
                    req.set_flags(req.flags() | iocb_nowait());
                }
                return update_folio(req, count, folio, need_uptodate);
            }
            Ok(Update::Ready)
        })();

        match outcome {
            Ok(Update::Ready) => return Ok(()),
            Ok(Update::Retry) => {
                batch.put_last();
                if !batch.is_empty() {
                    return Ok(());
                }
            }
            Err(e) => {
                batch.put_last();
                return if batch.is_empty() { Err(e) } else { Ok(()) };
            }
        }
    }
}

/// `pos_same_folio()`.
fn same_folio(pos1: i64, pos2: i64, folio: &Folio) -> bool {
    let shift = folio.size().trailing_zeros();
    pos1 >> shift == pos2 >> shift
}

/// `filemap_read()` for a file that opted in to async buffered reads.
///
/// # Safety
///
/// The arguments are those of a `filemap_read()` call: valid for the call.
pub(crate) unsafe fn filemap_read(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
    mut already_read: isize,
) -> isize {
    // SAFETY: The caller passes a valid iocb on an open file; its mapping,
    // host inode and superblock live as long as the open file.
    let req = unsafe {
        let file = (*iocb).ki_filp;
        let mapping = (*file).f_mapping;
        Req {
            iocb,
            iter,
            file,
            mapping,
            inode: (*mapping).host,
        }
    };
    let start = already_read;

    // SAFETY: `inode` and its superblock are valid (type invariant of `Req`).
    let maxbytes = unsafe { (*(*req.inode).i_sb).s_maxbytes };
    // As in C, these early returns drop `already_read`.
    if req.pos() >= maxbytes || req.count() == 0 {
        stats::read_done(0);
        return 0;
    }
    let wanted = req.count();
    // SAFETY: `iter` is valid (type invariant of `Req`).
    unsafe { ffi::rasync_iter_truncate(iter, (maxbytes - req.pos()) as u64) };

    // SAFETY: `ra_prev_pos()` points into the open file.
    let mut last_pos = unsafe { *req.ra_prev_pos() };
    let mut batch = Batch::new();
    let mut error: Result = Ok(());
    let mut isize;

    loop {
        // SAFETY: We hold no spinlock here.
        unsafe { ffi::rasync_cond_resched() };

        // Once data was copied we may no longer return -EIOCBQUEUED.
        if req.flags() & IOCB_WAITQ != 0 && already_read != 0 {
            req.set_flags(req.flags() | iocb_nowait());
        }
        isize = req.isize();
        if req.pos() >= isize {
            break;
        }
        if let Err(e) = get_pages(&req, req.count(), &mut batch, false) {
            error = Err(e);
            break;
        }

        // i_size is read after the folios are known uptodate, so a racing
        // truncate cannot make us copy the zeroed tail past the new size.
        isize = req.isize();
        if req.pos() < isize {
            let end_offset = isize.min(req.pos() + req.count() as i64);
            // SAFETY: `mapping` is valid (type invariant of `Req`).
            let writably_mapped = unsafe { ffi::rasync_mapping_writably_mapped(req.mapping) };

            // Mark a folio accessed once per read, however often it is hit.
            if !same_folio(req.pos(), last_pos - 1, batch.get(0)) {
                batch.get(0).mark_accessed();
            }
            for i in 0..batch.len() {
                let folio = batch.get(i);
                let fsize = folio.size();
                let offset = (req.pos() as usize) & (fsize - 1);
                let bytes = ((end_offset - req.pos()) as usize).min(fsize - offset);

                if end_offset < folio.pos() {
                    break;
                }
                if i > 0 {
                    folio.mark_accessed();
                }
                // SAFETY: We hold a reference on the uptodate folio and
                // `iter` is valid.
                let copied = unsafe {
                    ffi::rasync_copy_folio_to_iter(
                        folio.as_ptr(),
                        offset,
                        bytes,
                        iter,
                        writably_mapped,
                    )
                };
                already_read += copied as isize;
                req.advance(copied);
                last_pos = req.pos();
                if copied < bytes {
                    error = Err(EFAULT);
                    break;
                }
            }
        }
        batch.clear();
        if req.count() == 0 || req.pos() >= isize || error.is_err() {
            break;
        }
    }

    // SAFETY: `file` is valid (type invariant of `Req`).
    unsafe {
        ffi::rasync_file_accessed(req.file);
        *req.ra_prev_pos() = last_pos;
    }

    let copied = already_read - start;
    stats::read_done(copied as u64);
    if copied > 0 && (copied as usize) < wanted && req.pos() < isize {
        Stat::ShortReads.inc();
    }
    match error {
        _ if already_read != 0 => already_read,
        Ok(()) => 0,
        Err(e) => {
            if e == EIOCBQUEUED {
                Stat::Eiocbqueued.inc();
            } else if e == EAGAIN && req.flags() & iocb_nowait() != 0 {
                Stat::NowaitEagain.inc();
            }
            e.to_errno() as isize
        }
    }
}
