// SPDX-License-Identifier: GPL-2.0

//! The page cache of a file: `struct address_space`.
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h),
//! [`include/linux/fs.h`](srctree/include/linux/fs.h)

use core::ptr::{addr_of_mut, NonNull};
use core::sync::atomic::{AtomicI32, Ordering};
use kernel::bindings;
use kernel::error::{code::*, Error, Result};
use kernel::types::{ARef, Opaque};

use crate::batch::FolioBatch;
use crate::events;
use crate::ffi;
use crate::folio::{Folio, FolioGuard};
use crate::fs::{File, Inode};

/// `AOP_TRUNCATED_PAGE`: the folio went away under us, look it up again.
const AOP_TRUNCATED_PAGE: i32 = bindings::positive_aop_returns_AOP_TRUNCATED_PAGE as i32;

/// How a folio read that may have raced with truncation ended.
pub(crate) enum Read {
    /// The folio is uptodate (or its read was started, for the async form).
    Done,
    /// `AOP_TRUNCATED_PAGE`: the folio was truncated; look it up again.
    Truncated,
}

fn read_result(ret: i32) -> Result<Read> {
    match ret {
        0 => Ok(Read::Done),
        AOP_TRUNCATED_PAGE => Ok(Read::Truncated),
        e => Err(Error::from_errno(e)),
    }
}

/// A file's page cache.
///
/// # Invariants
///
/// The mapping is alive for the lifetime of the borrow, and so are its host
/// inode and its `a_ops`.
#[repr(transparent)]
pub(crate) struct Mapping(Opaque<bindings::address_space>);

impl Mapping {
    /// Creates a reference to a C mapping.
    ///
    /// # Safety
    ///
    /// `ptr` points to a mapping that stays alive for `'a`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::address_space) -> &'a Self {
        // SAFETY: `Mapping` is a transparent wrapper of
        // `bindings::address_space`; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    #[inline]
    fn as_ptr(&self) -> *mut bindings::address_space {
        self.0.get()
    }

    /// `host`: the inode whose data this is.
    #[inline]
    pub(crate) fn host(&self) -> &Inode {
        // SAFETY: The host lives as long as the mapping (type invariant).
        unsafe { Inode::from_raw((*self.as_ptr()).host) }
    }

    /// `filemap_get_read_batch()`: appends the folios cached from `index`
    /// to `max`, stopping after the first one not uptodate or marked for
    /// readahead.
    #[inline]
    pub(crate) fn read_batch(&self, index: usize, max: usize, batch: &mut FolioBatch) {
        // SAFETY: The mapping is alive (type invariant); the helper appends
        // folios with a reference taken for the batch, within its size.
        unsafe { ffi::filemap_get_read_batch(self.as_ptr(), index, max, batch.as_raw()) }
    }

    /// `page_cache_sync_readahead()`, under `memalloc_noio_save()` when
    /// `noio` (an `IOCB_NOWAIT` read must not recurse into I/O).
    pub(crate) fn sync_readahead(&self, file: &File, index: usize, nr: usize, noio: bool) {
        // SAFETY: Mapping and file are alive (type invariants).
        unsafe { ffi::rasync_sync_readahead(self.as_ptr(), file.as_ptr(), index, nr, noio) }
    }

    /// `page_cache_async_ra()` from `folio`, which carried `PG_readahead`.
    pub(crate) fn async_readahead(&self, file: &File, folio: &Folio, last_index: usize) {
        // SAFETY: Mapping, file and folio are alive (type invariants).
        unsafe {
            ffi::rasync_async_readahead(self.as_ptr(), file.as_ptr(), folio.as_ptr(), last_index)
        }
    }

    /// `filemap_range_uptodate()`: whether `count` bytes at `pos` can be
    /// copied from the locked folio (all of it uptodate, or that range per
    /// `->is_partially_uptodate`).
    pub(crate) fn range_uptodate(
        &self,
        pos: i64,
        count: usize,
        folio: &FolioGuard<'_>,
        need_uptodate: bool,
    ) -> bool {
        // SAFETY: The mapping is alive (type invariant) and the folio is
        // locked by us (type invariant of `FolioGuard`).
        unsafe {
            ffi::filemap_range_uptodate(self.as_ptr(), pos, count, folio.as_ptr(), need_uptodate)
        }
    }

    /// `mapping_writably_mapped()`: whether user space may write the data
    /// through a shared mapping while we copy it.
    #[inline]
    pub(crate) fn writably_mapped(&self) -> bool {
        // SAFETY: The mapping is alive (type invariant); `i_mmap_writable`
        // is an `atomic_t`, read here as `atomic_read()` does.
        let w = unsafe {
            AtomicI32::from_ptr(addr_of_mut!((*self.as_ptr()).i_mmap_writable.counter).cast())
        };
        w.load(Ordering::Relaxed) > 0
    }

    #[inline]
    fn invalidate_lock(&self) -> *mut bindings::rw_semaphore {
        // SAFETY: Computes an address inside the live mapping.
        unsafe { addr_of_mut!((*self.as_ptr()).invalidate_lock) }
    }

    /// `filemap_invalidate_lock_shared()`: holds off truncation and hole
    /// punching until the guard is dropped.
    pub(crate) fn invalidate_lock_shared(&self) -> InvalidateGuard<'_> {
        // SAFETY: `invalidate_lock` is an initialised rwsem of the live
        // mapping.
        unsafe { bindings::down_read(self.invalidate_lock()) };
        // INVARIANT: Taken just above.
        InvalidateGuard { mapping: self }
    }

    /// `filemap_invalidate_trylock_shared()`.
    pub(crate) fn try_invalidate_lock_shared(&self) -> Option<InvalidateGuard<'_>> {
        // SAFETY: As in `invalidate_lock_shared`.
        if unsafe { bindings::down_read_trylock(self.invalidate_lock()) } == 0 {
            return None;
        }
        // INVARIANT: Taken just above.
        Some(InvalidateGuard { mapping: self })
    }

    /// `filemap_alloc_folio()` with the mapping's gfp mask and minimum
    /// order.  The new folio is not locked and not in the page cache.
    pub(crate) fn alloc_folio(&self) -> Result<ARef<Folio>> {
        // SAFETY: The mapping is alive (type invariant).
        let folio = NonNull::new(unsafe { ffi::rasync_filemap_alloc_folio(self.as_ptr()) })
            .ok_or(ENOMEM)?;
        // SAFETY: The allocation's reference is ours.
        Ok(unsafe { ARef::from_raw(folio.cast()) })
    }

    /// `filemap_add_folio()` at the index of `pos`: the folio is locked
    /// and inserted (`-EEXIST` if another one is there already).
    pub(crate) fn add_folio<'a>(
        &self,
        folio: &'a Folio,
        pos: i64,
        _invalidate: &InvalidateGuard<'_>,
    ) -> Result<FolioGuard<'a>> {
        // SAFETY: The mapping is alive, the folio is new and unlocked, and
        // the caller holds `invalidate_lock` as `filemap_add_folio()`'s page
        // cache callers do.
        let ret = unsafe { ffi::rasync_filemap_add_folio(self.as_ptr(), folio.as_ptr(), pos) };
        kernel::error::to_result(ret)?;
        // SAFETY: `filemap_add_folio()` returned 0: it locked the folio
        // (`__folio_set_locked()`) for us before inserting it.
        Ok(unsafe { FolioGuard::from_locked(folio) })
    }

    /// `->read_folio`: starts the read of the locked folio, which the
    /// filesystem unlocks when the read completes or fails, and does not
    /// wait.  Accounted as a memory stall for a refault, as
    /// `filemap_read_folio()` does.
    pub(crate) fn start_read_folio(&self, file: &File, folio: FolioGuard<'_>) -> Result<Read> {
        // SAFETY: `a_ops` of a live mapping is valid (type invariant).
        let read_folio = unsafe { (*(*self.as_ptr()).a_ops).read_folio }.ok_or(EINVAL)?;
        let _stall = folio.is_workingset().then(MemStall::enter);
        let ptr = folio.into_raw();
        // SAFETY: The folio is locked and in this mapping; `->read_folio`
        // takes over the lock (`into_raw`) and unlocks it.
        read_result(unsafe { read_folio(file.as_ptr(), ptr) })
    }

    /// `filemap_read_folio()`: `->read_folio` and a killable wait for it;
    /// `Done` only if the folio is then uptodate (`EIO` if not).
    pub(crate) fn read_folio(&self, file: &File, folio: FolioGuard<'_>) -> Result<Read> {
        // SAFETY: As in `start_read_folio`.
        let read_folio = unsafe { (*(*self.as_ptr()).a_ops).read_folio };
        if read_folio.is_none() {
            return Err(EINVAL);
        }
        let ptr = folio.into_raw();
        // SAFETY: The folio is locked and in this mapping; the helper hands
        // the lock to `->read_folio`, which is not null.
        read_result(unsafe { ffi::filemap_read_folio(file.as_ptr(), read_folio, ptr) })
    }

    /// `filemap_create_folio()`: allocates, adds and synchronously reads
    /// a folio at `pos`; on `Done` it is the only entry of `batch`.
    pub(crate) fn create_folio(
        &self,
        file: &File,
        pos: i64,
        batch: &mut FolioBatch,
    ) -> Result<Read> {
        // SAFETY: File and mapping are alive (type invariants); the helper
        // appends the folio with a reference for the (empty) batch.
        read_result(unsafe {
            ffi::filemap_create_folio(file.as_ptr(), self.as_ptr(), pos, batch.as_raw())
        })
    }

    /// `trace_mm_filemap_get_pages()`: the stock read path's trace event,
    /// with no call unless the event is enabled.
    #[inline]
    pub(crate) fn trace_get_pages(&self, index: usize, last_index: usize) {
        if events::enabled!(__tracepoint_mm_filemap_get_pages) {
            // SAFETY: The mapping is alive (type invariant).
            unsafe { ffi::rasync_trace_get_pages(self.as_ptr(), index, last_index) }
        }
    }
}

/// `mapping->invalidate_lock` held shared.
///
/// # Invariants
///
/// The holder owns one shared hold of `mapping`'s `invalidate_lock`.
pub(crate) struct InvalidateGuard<'a> {
    mapping: &'a Mapping,
}

impl Drop for InvalidateGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: We hold the lock shared (type invariant).
        unsafe { bindings::up_read(self.mapping.invalidate_lock()) }
    }
}

/// A `psi_memstall_enter()` section: the task waits for memory, here a
/// refault read.
struct MemStall(kernel::ffi::c_ulong);

impl MemStall {
    fn enter() -> Self {
        let mut flags = 0;
        // SAFETY: `flags` is ours; `psi_memstall_leave()` is called on drop.
        unsafe { ffi::rasync_psi_memstall_enter(&mut flags) };
        Self(flags)
    }
}

impl Drop for MemStall {
    fn drop(&mut self) {
        // SAFETY: Entered in `enter` with these flags.
        unsafe { ffi::rasync_psi_memstall_leave(&mut self.0) }
    }
}
