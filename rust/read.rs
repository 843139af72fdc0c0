// SPDX-License-Identifier: GPL-2.0

//! The buffered read path: `filemap_read()`, `filemap_get_pages()` and
//! `filemap_update_page()` of 7.3 and of 6.12 (where they differ,
//! [`compat`] says which this build follows), in Rust, with the 2020
//! series' way of waiting for a folio that is being read.
//!
//! Compared with the kernels' C, two things are deliberately different and
//! follow the seed (5.9's `generic_file_buffered_read()`):
//! - an `IOCB_WAITQ` read that finds a locked, not-uptodate folio first
//!   *waits for the lock to go away* ([`wait_on_folio_locked_async`])
//!   instead of queueing to take the lock.  The lock holder is almost always
//!   the read I/O itself; once it unlocks, the retry finds the folio
//!   uptodate and copies without locking it.  Only a folio still not
//!   uptodate after that is locked, as in C;
//! - when readahead left no folio (the seed's `no_cached_page`), an
//!   `IOCB_WAITQ` read creates the folio, starts its read and waits for it
//!   asynchronously, where C returns `-EAGAIN` and io_uring punts the
//!   request to an io-wq worker.
//!
//! Offsets and counts follow C's arithmetic: `loff_t` plus `size_t` is
//! unsigned and wraps, so they use the explicit wrapping forms (none of
//! them can reach the wrap, since the iterator is truncated to
//! `s_maxbytes`); nothing here can panic on overflow.
//!
//! The read path: the layer above the wrappers (`fs`, `iov`, `mm`,
//! `sched`).  Every raw operation it needs sits in a wrapper, next to the
//! invariant that makes it sound, so none is written here.  It reports
//! through `events` and `stats`.

use kernel::bindings;
use kernel::prelude::*;

use crate::compat;
use crate::events;
use crate::fs::Kiocb;
use crate::iov::IovIterDest;
use crate::mm::batch::FolioBatch;
use crate::mm::folio::Folio;
use crate::mm::mapping::{Mapping, Read};
use crate::mm::wait::{lock_folio_async, wait_on_folio_locked_async, WaitPageQueue};
use crate::sched;
use crate::stats::{self, Stat};

const PAGE_SHIFT: u32 = bindings::PAGE_SHIFT;
const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// What [`update_folio`] found, besides errors.
enum Update {
    /// The folio can be copied from.
    Ready,
    /// The folio was truncated: look it up again.
    Retry,
    /// The folio is locked, most likely by readahead I/O: sleep until it
    /// is unlocked, without pinning it, then look it up again.
    WaitUnlocked,
}

/// `filemap_update_page()`: makes the last folio of a batch uptodate, or
/// says why not.  `waitq` is the read's io_uring wait entry while no wait
/// queued it (`None` when the read is not `IOCB_WAITQ`, or once queued).
fn update_folio(
    iocb: &Kiocb,
    waitq: &mut Option<WaitPageQueue<'_>>,
    mapping: &Mapping,
    count: usize,
    folio: &Folio,
    need_uptodate: bool,
) -> Result<Update> {
    let file = iocb.file();
    // The seed's order: wait for the read in flight, don't take its lock.
    if !iocb.is_nowait() {
        if let Some(wpq) = waitq.take() {
            match wait_on_folio_locked_async(wpq.arm(folio)) {
                Ok(wpq) => *waitq = Some(wpq),
                Err(e) => {
                    if e == EIOCBQUEUED {
                        events::queued(file, folio.index(), false);
                    }
                    return Err(e);
                }
            }
            if folio.is_uptodate() {
                return Ok(Update::Ready);
            }
        }
    }

    // Serialise with truncate and hole punch, as 6.12 does, but never sleep
    // for it in io_uring's submitter: -EAGAIN sends the read to io-wq.
    let _invalidate = if iocb.is_nowait() || iocb.is_waitq() {
        mapping
            .try_invalidate_lock_shared()
            .ok_or_else(|| events::eagain(file, folio.index(), Stat::EagainInvalidateLock))?
    } else {
        mapping.invalidate_lock_shared()
    };

    let locked = match folio.try_lock() {
        Some(locked) => locked,
        None if iocb.is_nowait() || iocb.is_noio() => {
            return Err(events::eagain(file, folio.index(), Stat::EagainLockBusy))
        }
        None => match waitq.take() {
            Some(wpq) => match lock_folio_async(wpq.arm(folio)) {
                Ok((locked, wpq)) => {
                    *waitq = Some(wpq);
                    locked
                }
                Err(e) => {
                    if e == EIOCBQUEUED {
                        events::queued(file, folio.index(), true);
                    }
                    return Err(e);
                }
            },
            // The caller sleeps, after `invalidate_lock` is dropped.
            None => return Ok(Update::WaitUnlocked),
        },
    };

    // Truncated: look it up again.
    let Some(locked) = locked.in_mapping(mapping) else {
        return Ok(Update::Retry);
    };
    if locked.range_uptodate(iocb.pos(), count, need_uptodate) {
        return Ok(Update::Ready);
    }
    // No synchronous ->read_folio without permission to block.
    if iocb.is_noio() || iocb.is_nowait() || iocb.is_waitq() {
        return Err(events::eagain(file, folio.index(), Stat::EagainNeedsRead));
    }
    match locked.read(file)? {
        Read::Done => Ok(Update::Ready),
        Read::Truncated => Ok(Update::Retry),
    }
}

/// The seed's `no_cached_page` for an `IOCB_WAITQ` read: adds a new folio
/// at the read position (page `index`) and starts its read, leaving the
/// folio locked until the read completes; `Ok(true)` with the folio as the
/// only entry of the (empty) `batch`, `Ok(false)` if somebody else added
/// one first.
fn start_folio_read(
    iocb: &Kiocb,
    mapping: &Mapping,
    index: usize,
    batch: &mut FolioBatch,
) -> Result<bool> {
    let file = iocb.file();
    let folio = mapping.alloc_folio(iocb.is_dontcache())?;
    // Hold off truncate and hole punch while the folio is added and its
    // read submitted, as `filemap_create_folio()` does; in io_uring's
    // submitter only if that needs no sleep: io-wq may sleep for it.
    let invalidate = mapping
        .try_invalidate_lock_shared()
        .ok_or_else(|| events::eagain(file, index, Stat::EagainInvalidateLock))?;
    let added = match mapping.add_folio(folio, iocb.pos(), &invalidate) {
        Ok(added) => added,
        Err(e) if e == EEXIST => return Ok(false),
        Err(e) => return Err(e),
    };
    let index = added.index();
    let folio = match added.start_read(file)? {
        (Read::Done, folio) => folio,
        (Read::Truncated, _) => return Ok(false),
    };
    events::start_read(file, index);
    drop(invalidate);
    Ok(batch.push(folio).is_ok())
}

/// `filemap_get_pages()`: fills `batch` with folios covering the start of
/// the request, reading or waiting as the iocb flags allow.  Inlined into
/// its one caller for the reason [`filemap_read`] is.
#[inline(always)]
fn get_pages(
    iocb: &Kiocb,
    waitq: &mut Option<WaitPageQueue<'_>>,
    count: usize,
    batch: &mut FolioBatch,
    need_uptodate: bool,
) -> Result {
    let file = iocb.file();
    let mapping = file.mapping();
    let pos = iocb.pos();
    let index = (pos >> PAGE_SHIFT) as usize;
    // The index of the folio beyond the end of the read: C's
    // `round_up(ki_pos + count, mapping_min_folio_nrbytes(mapping)) >>
    // PAGE_SHIFT` on 7.3, `DIV_ROUND_UP(ki_pos + count, PAGE_SIZE)` on 6.12,
    // in C's unsigned arithmetic.
    let unit = if compat::ROUND_END_TO_MIN_FOLIO {
        PAGE_SIZE << mapping.min_folio_order()
    } else {
        PAGE_SIZE
    };
    let last_index = ((pos as u64)
        .wrapping_add(count as u64)
        .wrapping_add(unit - 1)
        & !(unit - 1))
        >> PAGE_SHIFT;
    let last_index = last_index as usize;
    let max = last_index.wrapping_sub(1);
    let dropbehind = iocb.is_dontcache();

    loop {
        if sched::fatal_signal_pending() {
            return Err(EINTR);
        }
        mapping.read_batch(index, max, batch);
        if batch.is_empty() {
            if iocb.is_noio() {
                return Err(events::eagain(file, index, Stat::EagainNoio));
            }
            let nr = last_index.wrapping_sub(index);
            mapping.sync_readahead(file, index, nr, iocb.is_nowait(), dropbehind);
            mapping.read_batch(index, max, batch);
        }
        if batch.is_empty() {
            if iocb.is_nowait() {
                return Err(events::eagain(file, index, Stat::EagainNotCached));
            }
            if iocb.is_waitq() {
                // Waited for below like any folio under read.
                if !start_folio_read(iocb, mapping, index, batch)? {
                    continue;
                }
            } else {
                match mapping.create_folio(iocb, batch)? {
                    Read::Done => return Ok(()),
                    Read::Truncated => continue,
                }
            }
        }

        let Some(folio) = batch.last() else { continue };
        let mut result = Ok(());
        if folio.is_readahead() {
            if iocb.is_noio() {
                result = Err(events::eagain(file, folio.index(), Stat::EagainNoio));
            } else {
                mapping.async_readahead(file, folio, last_index, dropbehind);
            }
        }
        if result.is_ok() && !folio.is_uptodate() {
            // Folios before this one will be copied: 7.3 returns them as a
            // short read at once; 6.12 tries this one without blocking, and
            // never -EIOCBQUEUED after that.
            if compat::SHORT_READ_BEFORE_UPDATE && batch.len() > 1 {
                drop(batch.pop());
                return Ok(());
            }
            if iocb.is_waitq() && batch.len() > 1 {
                iocb.set_nowait();
            }
            if let Some(folio) = batch.pop() {
                match update_folio(iocb, waitq, mapping, count, &folio, need_uptodate) {
                    Ok(Update::Ready) => {
                        // Back where it was: the batch had room for it.
                        let _ = batch.push(folio);
                    }
                    Ok(again) => {
                        if let Update::WaitUnlocked = again {
                            // This is where we usually end up waiting for a
                            // previously submitted readahead to finish.  The
                            // reference goes before we sleep, as in 6.12.
                            let _ = Folio::put_wait_locked(folio);
                        }
                        if batch.is_empty() {
                            continue;
                        }
                        return Ok(());
                    }
                    Err(e) => return if batch.is_empty() { Err(e) } else { Ok(()) },
                }
            }
        }
        if let Err(e) = result {
            drop(batch.pop());
            return if batch.is_empty() { Err(e) } else { Ok(()) };
        }
        events::trace_get_pages(mapping, index, max);
        return Ok(());
    }
}

/// `pos_same_folio()`.
fn same_folio(pos1: i64, pos2: i64, folio: &Folio) -> bool {
    let shift = folio.shift();
    pos1.wrapping_shr(shift) == pos2.wrapping_shr(shift)
}

/// `filemap_read()` for a file that opted in to async buffered reads.
/// `waitq` is io_uring's wait entry of an `IOCB_WAITQ` read.
///
/// Inlined into its one caller (`read_timed`, itself inlined into the
/// hook's entry point): at `opt-level=s` rustc kept it apart, and the
/// second call, frame and saved registers cost every read about as much as
/// the hook itself.
#[inline(always)]
pub(crate) fn filemap_read(
    iocb: &Kiocb,
    mut waitq: Option<WaitPageQueue<'_>>,
    iter: &mut IovIterDest<'_>,
    mut already_read: isize,
) -> isize {
    let file = iocb.file();
    let mapping = file.mapping();
    let inode = mapping.host();
    let start = already_read;
    let mut last_pos = file.ra_prev_pos();
    let max_bytes = inode.max_bytes();

    // As in C, these early returns drop `already_read`.
    if compat::REJECT_NEGATIVE_POS && iocb.pos() < 0 {
        stats::read_done();
        return EINVAL.to_errno() as isize;
    }
    if iocb.pos() >= max_bytes || iter.is_empty() {
        stats::read_done();
        return 0;
    }
    let wanted = iter.len();
    iter.truncate(max_bytes.wrapping_sub(iocb.pos()) as u64);

    let mut batch = FolioBatch::new();
    let mut error: Result = Ok(());
    let mut isize;

    loop {
        sched::cond_resched();

        // Once data was copied we may no longer return -EIOCBQUEUED.
        if iocb.is_waitq() && already_read != 0 {
            iocb.set_nowait();
        }
        isize = inode.size();
        if iocb.pos() >= isize {
            break;
        }
        if let Err(e) = get_pages(iocb, &mut waitq, iter.len(), &mut batch, false) {
            error = Err(e);
            break;
        }

        // i_size is read after the folios are known uptodate, so a racing
        // truncate cannot make us copy the zeroed tail past the new size.
        isize = inode.size();
        if iocb.pos() < isize {
            let end_offset = isize.min(iocb.pos().wrapping_add(iter.len() as i64));
            let writably_mapped = mapping.writably_mapped();
            let folios = batch.folios();

            // Mark a folio accessed once per read, however often it is hit.
            if let Some(first) = folios.first() {
                if !same_folio(iocb.pos(), last_pos.wrapping_sub(1), first) {
                    first.mark_accessed();
                }
            }
            for (i, folio) in folios.iter().enumerate() {
                let fsize = folio.size();
                let offset = (iocb.pos() as usize) & fsize.wrapping_sub(1);
                let bytes =
                    (end_offset.wrapping_sub(iocb.pos()) as usize).min(fsize.wrapping_sub(offset));

                if end_offset < folio.pos() {
                    break;
                }
                if i > 0 {
                    folio.mark_accessed();
                }
                if fsize > PAGE_SIZE as usize {
                    Stat::LargeFolios.inc();
                }
                if writably_mapped {
                    // Users may write the folio through other virtual
                    // addresses: take care of aliasing before we read it.
                    folio.flush_dcache();
                }
                let copied = iter.copy_from_folio(folio, offset, bytes);
                already_read = already_read.wrapping_add(copied as isize);
                iocb.advance(copied);
                last_pos = iocb.pos();
                if copied < bytes {
                    error = Err(EFAULT);
                    break;
                }
            }
        }
        for folio in batch.folios() {
            folio.end_dropbehind_read();
        }
        batch.clear();
        if iter.is_empty() || iocb.pos() >= isize || error.is_err() {
            break;
        }
    }

    file.accessed();
    file.set_ra_prev_pos(last_pos);
    stats::read_done();

    let copied = already_read.wrapping_sub(start);
    if copied > 0 && (copied as usize) < wanted && iocb.pos() < isize {
        Stat::ShortReads.inc();
    }
    match error {
        _ if already_read != 0 => already_read,
        Ok(()) => 0,
        Err(e) => {
            if e == EIOCBQUEUED {
                // The kiocb belongs to io_uring's wake function now.
                Stat::Eiocbqueued.inc();
            } else if e == EAGAIN && iocb.is_nowait() {
                Stat::NowaitEagain.inc();
            }
            e.to_errno() as isize
        }
    }
}
