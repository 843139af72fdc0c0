// SPDX-License-Identifier: GPL-2.0

//! The page cache of a file: `struct address_space`.
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h),
//! [`include/linux/fs.h`](srctree/include/linux/fs.h)
//!
//! A wrapper of `mm`: it imports `ffi`, the other `mm` wrappers and `fs` (a
//! mapping has a host inode and is read for a file), nothing above them.

use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::ptr::{addr_of_mut, NonNull};
use core::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use kernel::bindings;
use kernel::error::{code::*, Error, Result};
use kernel::types::Opaque;

use crate::compat::{self, aref::ARef};
use crate::ffi;
use crate::fs::{File, Inode, Kiocb};
use crate::mm::batch::FolioBatch;
use crate::mm::folio::{Folio, FolioGuard, NewFolio};

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
    pub(crate) fn as_ptr(&self) -> *mut bindings::address_space {
        self.0.get()
    }

    /// `host`: the inode whose data this is.
    #[inline]
    pub(crate) fn host(&self) -> &Inode {
        // SAFETY: The host lives as long as the mapping (type invariant).
        unsafe { Inode::from_raw((*self.as_ptr()).host) }
    }

    /// `filemap_get_read_batch()`: fills the empty `batch` with the folios
    /// cached from `index` to `max`, stopping after the first one not
    /// uptodate or marked for readahead.  A batch that is not empty is left
    /// as it is.
    #[inline]
    pub(crate) fn read_batch(&self, index: usize, max: usize, batch: &mut FolioBatch) {
        // The helper stores a folio *before* it tests for room
        // (`folio_batch_add()` has no bound check), so it must never see a
        // full batch; an empty one it fills at most to the brim.
        if !batch.is_empty() {
            return;
        }
        // SAFETY: The mapping is alive (type invariant); the batch is empty,
        // so the helper stops when it is full, having appended folios each
        // with a reference taken for the batch.
        unsafe { ffi::filemap_get_read_batch(self.as_ptr(), index, max, batch.as_raw()) }
    }

    /// `page_cache_sync_ra()`, under `memalloc_noio_save()` when `noio` (an
    /// `IOCB_NOWAIT` read must not recurse into I/O), marking the folios it
    /// adds drop-behind if `dropbehind` (7.3).  Nothing if `file` does not
    /// read through this mapping.
    pub(crate) fn sync_readahead(
        &self,
        file: &File,
        index: usize,
        nr: usize,
        noio: bool,
        dropbehind: bool,
    ) {
        if !self.is_of(file) {
            return;
        }
        // SAFETY: Mapping and file are alive (type invariants) and belong
        // together, as `->readahead` expects.
        unsafe {
            ffi::rasync_sync_readahead(self.as_ptr(), file.as_ptr(), index, nr, noio, dropbehind)
        }
    }

    /// `page_cache_async_ra()` from `folio`, which carried `PG_readahead`,
    /// marking the folios it adds drop-behind if `dropbehind` (7.3).
    /// Nothing if `file` does not read through this mapping.
    pub(crate) fn async_readahead(
        &self,
        file: &File,
        folio: &Folio,
        last_index: usize,
        dropbehind: bool,
    ) {
        if !self.is_of(file) {
            return;
        }
        // SAFETY: Mapping, file and folio are alive (type invariants);
        // mapping and file belong together, as `->readahead` expects.
        unsafe {
            ffi::rasync_async_readahead(
                self.as_ptr(),
                file.as_ptr(),
                folio.as_ptr(),
                last_index,
                dropbehind,
            )
        }
    }

    /// `mapping_min_folio_order()`: no folio of this file is smaller
    /// (block size > page size).
    #[inline]
    pub(crate) fn min_folio_order(&self) -> u32 {
        // SAFETY: The mapping is alive (type invariant); `flags` is an
        // aligned `unsigned long` that others change with atomic bit
        // operations: a relaxed atomic load is C's plain read of it.
        let flags = unsafe { AtomicUsize::from_ptr(addr_of_mut!((*self.as_ptr()).flags).cast()) }
            .load(Ordering::Relaxed);
        ((flags >> compat::AS_FOLIO_ORDER_MIN) & ((1 << compat::AS_FOLIO_ORDER_BITS) - 1)) as u32
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
    /// order, marked drop-behind if `dropbehind` (7.3).  The new folio is
    /// not locked and not in the page cache.
    pub(crate) fn alloc_folio(&self, dropbehind: bool) -> Result<NewFolio> {
        // SAFETY: The mapping is alive (type invariant).
        let folio =
            NonNull::new(unsafe { ffi::rasync_filemap_alloc_folio(self.as_ptr(), dropbehind) })
                .ok_or(ENOMEM)?;
        // SAFETY: Just allocated; the allocation's reference is ours and the
        // address is known to nobody else.
        Ok(unsafe { NewFolio::from_raw(folio) })
    }

    /// `filemap_add_folio()` at the index of `pos`: the folio is locked
    /// and inserted (`-EEXIST` if another one is there already; the new
    /// one is then freed).
    pub(crate) fn add_folio(
        &self,
        folio: NewFolio,
        pos: i64,
        _invalidate: &InvalidateGuard<'_>,
    ) -> Result<AddedFolio<'_>> {
        // SAFETY: The mapping is alive (type invariant); the folio is new,
        // unlocked, in no mapping and known to nobody else (type invariant
        // of `NewFolio`), as `filemap_add_folio()`'s non-atomic
        // `__folio_set_locked()` needs; the caller holds `invalidate_lock`
        // as `filemap_add_folio()`'s page cache callers do.
        let ret = unsafe { ffi::rasync_filemap_add_folio(self.as_ptr(), folio.as_ptr(), pos) };
        kernel::error::to_result(ret)?;
        // INVARIANT: `filemap_add_folio()` returned 0: it locked the folio
        // (`__folio_set_locked()`) for us and put it in this mapping.
        Ok(AddedFolio {
            folio: ManuallyDrop::new(folio.into_folio()),
            mapping: self,
        })
    }

    /// `a_ops->read_folio`.
    #[inline]
    fn read_folio_op(&self) -> ffi::Filler {
        // SAFETY: `a_ops` of a live mapping is valid and not written (type
        // invariant).
        unsafe { (*(*self.as_ptr()).a_ops).read_folio }
    }

    /// Whether `file` reads through this mapping: `->read_folio` and
    /// friends take a file whose private data the filesystem interprets.
    #[inline]
    fn is_of(&self, file: &File) -> bool {
        core::ptr::eq(file.mapping(), self)
    }

    /// `filemap_create_folio()`: allocates, adds and synchronously reads
    /// a folio at `iocb`'s position (on 7.3, `-EAGAIN` for `IOCB_NOWAIT` or
    /// `IOCB_WAITQ`, drop-behind for `IOCB_DONTCACHE`); on `Done` it is the
    /// only entry of `batch`, which must be empty (`EINVAL` if not), as
    /// must `iocb`'s file read through this mapping.
    pub(crate) fn create_folio(&self, iocb: &Kiocb, batch: &mut FolioBatch) -> Result<Read> {
        // The helper appends with `folio_batch_add()`, which has no bound
        // check.
        if !batch.is_empty() || !self.is_of(iocb.file()) {
            return Err(EINVAL);
        }
        // SAFETY: The kiocb and its file are alive (type invariants) and the
        // file reads through this mapping; the helper appends one folio,
        // with a reference for the batch, which is empty.
        read_result(unsafe { ffi::rasync_filemap_create_folio(iocb.as_ptr(), batch.as_raw()) })
    }
}

/// A folio that [`Mapping::add_folio`] just put in the page cache, with a
/// reference and the folio lock, both owned.  Dropping it unlocks the folio
/// and drops the reference.
///
/// # Invariants
///
/// The value owns one reference on `folio` and its `PG_locked`, held since
/// `filemap_add_folio()` inserted it into `mapping`, so the folio is still
/// in `mapping` (truncation takes the folio lock).  `folio` is dropped only
/// by `Drop` or moved out by [`AddedFolio::start_read`].
pub(crate) struct AddedFolio<'m> {
    folio: ManuallyDrop<ARef<Folio>>,
    mapping: &'m Mapping,
}

impl AddedFolio<'_> {
    /// `->read_folio`: starts the read of the new folio, handing the lock
    /// to the filesystem, which unlocks the folio when the read completes or
    /// fails, and does not wait; gives the reference back.  Accounted as a
    /// memory stall for a refault, as `filemap_read_folio()` does.  `EINVAL`
    /// if `file` does not read through the folio's mapping.
    pub(crate) fn start_read(self, file: &File) -> Result<(Read, ARef<Folio>)> {
        let Some(read_folio) = self.mapping.read_folio_op() else {
            return Err(EINVAL);
        };
        if !self.mapping.is_of(file) {
            return Err(EINVAL);
        }
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the reference is moved out
        // exactly once (type invariant).
        let folio = unsafe { ManuallyDrop::take(&mut this.folio) };
        let _stall = folio.is_workingset().then(MemStall::enter);
        // SAFETY: The folio is locked by us and in the mapping (type
        // invariant), which `file` reads through (checked above);
        // `->read_folio` takes over the lock, which `this` no longer
        // releases, and unlocks it.
        let read = read_result(unsafe { read_folio(file.as_ptr(), folio.as_ptr()) })?;
        Ok((read, folio))
    }
}

impl Deref for AddedFolio<'_> {
    type Target = Folio;

    fn deref(&self) -> &Folio {
        &self.folio
    }
}

impl Drop for AddedFolio<'_> {
    fn drop(&mut self) {
        // SAFETY: We own the folio lock (type invariant) and the folio is
        // alive (we hold a reference).
        unsafe { ffi::folio_unlock(self.folio.as_ptr()) };
        // SAFETY: The reference is still ours and dropped only here (type
        // invariant).
        unsafe { ManuallyDrop::drop(&mut self.folio) };
    }
}

/// The lock of a folio that is in a known mapping: what `->read_folio` and
/// `->is_partially_uptodate` may be given.
///
/// # Invariants
///
/// `guard` holds the folio lock, and `folio->mapping` was `mapping` when
/// checked under that lock; truncation takes the lock to change it, so it
/// still is.
pub(crate) struct MappedFolioGuard<'a, 'm> {
    guard: FolioGuard<'a>,
    mapping: &'m Mapping,
}

impl<'a> FolioGuard<'a> {
    /// The guard of a folio in `mapping`, or `None` (and the folio unlocked)
    /// if it is not: truncation took it out (`folio->mapping` is null), or
    /// it never was in `mapping`.
    #[inline]
    pub(crate) fn in_mapping(self, mapping: &Mapping) -> Option<MappedFolioGuard<'a, '_>> {
        if self.mapping_ptr() != mapping.as_ptr() {
            return None;
        }
        // INVARIANT: Checked just above, under the lock `self` holds.
        Some(MappedFolioGuard {
            guard: self,
            mapping,
        })
    }
}

impl MappedFolioGuard<'_, '_> {
    /// `filemap_range_uptodate()`: whether `count` bytes at `pos` can be
    /// copied from the folio (all of it uptodate, or that range per
    /// `->is_partially_uptodate`).
    pub(crate) fn range_uptodate(&self, pos: i64, count: usize, need_uptodate: bool) -> bool {
        // SAFETY: The mapping is alive (type invariant of `Mapping`) and the
        // folio is locked by us and in it (type invariant).
        unsafe {
            ffi::filemap_range_uptodate(
                self.mapping.as_ptr(),
                pos,
                count,
                self.guard.as_ptr(),
                need_uptodate,
            )
        }
    }

    /// `filemap_read_folio()`: `->read_folio` and a killable wait for it;
    /// `Done` only if the folio is then uptodate (`EIO` if not).  `EINVAL`
    /// if `file` does not read through the folio's mapping.
    pub(crate) fn read(self, file: &File) -> Result<Read> {
        let read_folio = self.mapping.read_folio_op();
        if read_folio.is_none() || !self.mapping.is_of(file) {
            return Err(EINVAL);
        }
        let ptr = self.guard.into_raw();
        // SAFETY: The folio is locked, in this mapping (type invariant),
        // which `file` reads through; the helper hands the lock to
        // `->read_folio`, which is not null.
        read_result(unsafe { ffi::filemap_read_folio(file.as_ptr(), read_folio, ptr) })
    }
}

impl Deref for MappedFolioGuard<'_, '_> {
    type Target = Folio;

    fn deref(&self) -> &Folio {
        &self.guard
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
