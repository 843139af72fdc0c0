// SPDX-License-Identifier: GPL-2.0

//! Folios of the page cache: references, flag tests and the folio lock.
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h),
//! [`include/linux/page-flags.h`](srctree/include/linux/page-flags.h),
//! [`include/linux/mm.h`](srctree/include/linux/mm.h)
//!
//! The flag tests, `folio_size()`, `folio_pos()`, `folio_get()` and
//! `folio_put()` are static inlines in C; here they are the same loads and
//! atomic operations on the same fields, so the read path makes no call for
//! them.  On x86-64 an acquire load is a plain load, as `test_bit()` plus
//! `smp_rmb()` is, and `fetch_or`/`fetch_sub` are the `lock`-prefixed
//! instructions the C bitops and `atomic_dec_and_test()` use.
//!
//! A wrapper of `mm`, proposable as it stands: it imports only `ffi`.

use core::ops::Deref;
use core::ptr::{addr_of_mut, NonNull};
use core::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use kernel::bindings;
use kernel::error::{to_result, Result};
use kernel::types::Opaque;

use crate::compat::{
    self,
    aref::{ARef, AlwaysRefCounted},
};
use crate::ffi;

const PAGE_SHIFT: u32 = bindings::PAGE_SHIFT;
const PG_LOCKED: u32 = bindings::pageflags_PG_locked;
const PG_UPTODATE: u32 = bindings::pageflags_PG_uptodate;
const PG_READAHEAD: u32 = bindings::pageflags_PG_readahead;
const PG_WORKINGSET: u32 = bindings::pageflags_PG_workingset;
const PG_WAITERS: u32 = bindings::pageflags_PG_waiters;
const PG_HEAD: u32 = bindings::pageflags_PG_head;

/// A folio.
///
/// # Invariants
///
/// A `&Folio` is only ever created for a folio on which somebody holds a
/// reference for the lifetime of the borrow, so the object stays allocated.
/// The folio may be truncated out of its mapping at any time unless it is
/// locked; `FolioGuard::in_mapping` tells.
#[repr(transparent)]
pub(crate) struct Folio(Opaque<bindings::folio>);

impl Folio {
    /// The C pointer.
    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut bindings::folio {
        self.0.get()
    }

    /// `folio->flags`, which C updates with atomic bit operations.
    #[inline]
    fn flags(&self) -> &AtomicUsize {
        // SAFETY: The folio is alive for `&self` (type invariant); `flags` is
        // an aligned `unsigned long`, the size of `usize`, and once a folio
        // is visible to others every writer uses atomic bit operations on it
        // (the non-atomic `__folio_set_*()` forms are for folios nobody else
        // can see yet: a `NewFolio`, which gives no `&Folio`).
        unsafe { AtomicUsize::from_ptr(addr_of_mut!(compat::folio_flags!(self.as_ptr())).cast()) }
    }

    #[inline]
    fn test(&self, bit: u32, order: Ordering) -> bool {
        self.flags().load(order) & (1 << bit) != 0
    }

    /// `folio_test_locked()`.
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        self.test(PG_LOCKED, Ordering::Relaxed)
    }

    /// `folio_test_uptodate()`: acquire, so that the data read after a
    /// `true` is the data `folio_mark_uptodate()` published.
    #[inline]
    pub(crate) fn is_uptodate(&self) -> bool {
        self.test(PG_UPTODATE, Ordering::Acquire)
    }

    /// 7.3's `filemap_end_dropbehind_read()`, after a read copied from the
    /// folio: a drop-behind folio (created or read ahead for an
    /// `RWF_DONTCACHE` read) leaves the page cache unless it is dirty,
    /// under writeback, mapped or locked.  A flag test when it is not
    /// drop-behind; nothing at all on 6.12.
    #[inline]
    pub(crate) fn end_dropbehind_read(&self) {
        let Some(bit) = compat::PG_DROPBEHIND else {
            return;
        };
        if self.test(bit, Ordering::Relaxed) {
            // SAFETY: The folio is alive and referenced for `&self` (type
            // invariant).
            unsafe { compat::end_dropbehind_read(self.as_ptr()) }
        }
    }

    /// `folio_test_readahead()`.
    #[inline]
    pub(crate) fn is_readahead(&self) -> bool {
        self.test(PG_READAHEAD, Ordering::Relaxed)
    }

    /// `folio_test_workingset()`.
    #[inline]
    pub(crate) fn is_workingset(&self) -> bool {
        self.test(PG_WORKINGSET, Ordering::Relaxed)
    }

    /// `folio_set_waiters()`.
    #[inline]
    pub(crate) fn set_waiters(&self) {
        self.flags().fetch_or(1 << PG_WAITERS, Ordering::Relaxed);
    }

    /// `folio_order()`.
    ///
    /// The flag bit and the byte mask are C's in 6.12 and 7.3 (`PG_head` marks a
    /// large folio, whose order is the low byte of `_flags_1`);
    /// [`order_matches_c`] checks them against C's `folio_order()` on a real
    /// large folio before the module serves any read.
    #[inline]
    pub(crate) fn order(&self) -> u32 {
        if !self.test(PG_HEAD, Ordering::Relaxed) {
            return 0;
        }
        // SAFETY: The folio is alive (type invariant) and, with `PG_head`,
        // large, so `_flags_1` is in its second page: an aligned `unsigned
        // long`.  Other bits of that word change with atomic bit operations
        // (`PG_has_hwpoisoned`, `PG_large_rmappable`, `PG_partially_mapped`),
        // hence the atomic load; the order byte changes only when the folio
        // is split, which first freezes the reference count at the value
        // the splitter expects: our reference makes that fail.
        let flags_1 = unsafe {
            AtomicUsize::from_ptr(
                addr_of_mut!((*self.as_ptr()).__bindgen_anon_2.__bindgen_anon_1._flags_1).cast(),
            )
        }
        .load(Ordering::Relaxed);
        (flags_1 & 0xff) as u32
    }

    /// `folio_shift()`: log2 of [`Folio::size`].
    #[inline]
    pub(crate) fn shift(&self) -> u32 {
        PAGE_SHIFT + self.order()
    }

    /// `folio_size()`: `PAGE_SIZE << order`, C's unchecked shift (an order
    /// is far below the word size).
    #[inline]
    pub(crate) fn size(&self) -> usize {
        1usize.wrapping_shl(self.shift())
    }

    /// `folio->index`: the folio's first page offset in its file.
    #[inline]
    pub(crate) fn index(&self) -> usize {
        // SAFETY: The folio is alive (type invariant); `index` does not
        // change while a reference is held (truncation leaves it, and a
        // split, which our reference prevents, keeps the head's).
        unsafe { compat::folio_index!(self.as_ptr()) }
    }

    /// `folio_pos()`: byte offset of the folio in its file (the C
    /// conversion: `(loff_t)index << PAGE_SHIFT`).
    #[inline]
    pub(crate) fn pos(&self) -> i64 {
        (self.index() as i64).wrapping_shl(PAGE_SHIFT)
    }

    /// `folio_mark_accessed()`.
    #[inline]
    pub(crate) fn mark_accessed(&self) {
        // SAFETY: The folio is alive (type invariant).
        unsafe { ffi::folio_mark_accessed(self.as_ptr()) }
    }

    /// `flush_dcache_folio()`, before reading a folio that user space may
    /// write through another virtual address (a no-op on x86).
    pub(crate) fn flush_dcache(&self) {
        // SAFETY: The folio is alive (type invariant).
        unsafe { ffi::rasync_flush_dcache_folio(self.as_ptr()) }
    }

    /// `folio_trylock()`.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<FolioGuard<'_>> {
        let bit = 1 << PG_LOCKED;
        if self.flags().fetch_or(bit, Ordering::Acquire) & bit != 0 {
            return None;
        }
        // INVARIANT: We set `PG_locked`, so we own the lock.
        Some(FolioGuard { folio: self })
    }

    /// `folio_put_wait_locked(folio, TASK_KILLABLE)`: drops the reference
    /// and sleeps until the folio is unlocked or a fatal signal arrives, so
    /// a sleeper does not pin a folio that migration or reclaim wants.
    pub(crate) fn put_wait_locked(this: ARef<Self>) -> Result {
        let ptr = ARef::into_raw(this).as_ptr().cast::<bindings::folio>();
        // SAFETY: We give up the reference `this` owned, which the C
        // function drops before sleeping; the folio is not touched after.
        to_result(unsafe { ffi::folio_put_wait_locked(ptr, bindings::TASK_KILLABLE as i32) })
    }

    /// `folio->_refcount`.
    #[inline]
    fn refcount(&self) -> &AtomicI32 {
        // SAFETY: The folio is alive (type invariant); `_refcount` is an
        // aligned `atomic_t`, only ever accessed atomically.
        unsafe {
            AtomicI32::from_ptr(
                addr_of_mut!(
                    (*self.as_ptr())
                        .__bindgen_anon_1
                        .__bindgen_anon_1
                        ._refcount
                        .counter
                )
                .cast(),
            )
        }
    }
}

// SAFETY: `inc_ref` and `dec_ref` are `folio_get()` and `folio_put()`: the
// folio is freed (by `__folio_put()`) only when its count drops to zero.
unsafe impl AlwaysRefCounted for Folio {
    #[inline]
    fn inc_ref(&self) {
        if cfg!(CONFIG_DEBUG_VM) || cfg!(CONFIG_DEBUG_PAGE_REF) {
            // SAFETY: The folio is alive (type invariant).
            unsafe { ffi::rasync_folio_get(self.as_ptr()) };
        } else {
            self.refcount().fetch_add(1, Ordering::Relaxed);
        }
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference, so the folio is alive.
        let folio = unsafe { obj.as_ref() };
        if cfg!(CONFIG_DEBUG_VM) || cfg!(CONFIG_DEBUG_PAGE_REF) {
            // SAFETY: The caller gives up one reference it owned.
            unsafe { ffi::rasync_folio_put(folio.as_ptr()) };
        } else if folio.refcount().fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: We dropped the last reference: `__folio_put()` frees
            // the folio, as `folio_put()` does.
            unsafe { ffi::__folio_put(folio.as_ptr()) };
        }
    }
}

/// The lock of a folio, owned.
///
/// Dropping the guard unlocks the folio (`folio_unlock()`), waking its
/// waiters; `->read_folio` takes the guard instead, because the filesystem
/// unlocks the folio when the read completes.
///
/// # Invariants
///
/// The holder owns `PG_locked` of `folio`.
pub(crate) struct FolioGuard<'a> {
    folio: &'a Folio,
}

impl<'a> FolioGuard<'a> {
    /// Takes over a folio lock that C code took.
    ///
    /// # Safety
    ///
    /// The caller owns the lock of `folio` and hands it over.
    pub(crate) unsafe fn from_locked(folio: &'a Folio) -> Self {
        // INVARIANT: The caller hands the lock over.
        Self { folio }
    }

    /// `folio->mapping`: the mapping the folio is in, null once truncation
    /// took it out.  Truncation clears it under the folio lock, so the
    /// answer holds for as long as the guard.
    #[inline]
    pub(crate) fn mapping_ptr(&self) -> *mut bindings::address_space {
        // SAFETY: The folio is alive (type invariant of `Folio`); a
        // volatile read is C's `READ_ONCE(folio->mapping)`.
        unsafe {
            core::ptr::read_volatile(addr_of_mut!(
                (*self.folio.as_ptr())
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .mapping
            ))
        }
    }

    /// Gives the lock to C code that will release it (`->read_folio`).
    pub(crate) fn into_raw(self) -> *mut bindings::folio {
        let ptr = self.folio.as_ptr();
        core::mem::forget(self);
        ptr
    }
}

impl Deref for FolioGuard<'_> {
    type Target = Folio;

    fn deref(&self) -> &Folio {
        self.folio
    }
}

impl Drop for FolioGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: We own the folio lock (type invariant) and the folio is
        // alive (type invariant of `Folio`).
        unsafe { ffi::folio_unlock(self.folio.as_ptr()) }
    }
}

/// A folio fresh from the page allocator: in no mapping, unlocked, and seen
/// by nobody else.  Only [`Mapping::alloc_folio`] makes one and only
/// [`Mapping::add_folio`] uses it (consuming it); it gives no `&Folio`, so
/// no other operation can reach the folio before it is added.
///
/// [`Mapping::alloc_folio`]: crate::mm::mapping::Mapping::alloc_folio
/// [`Mapping::add_folio`]: crate::mm::mapping::Mapping::add_folio
///
/// # Invariants
///
/// The value owns the allocation's reference on the folio, the only one;
/// the folio is in no mapping, not locked, and nobody else knows it, so
/// the non-atomic flag updates C makes on a new folio
/// (`__folio_set_locked()` in `filemap_add_folio()`) race with nothing.
pub(crate) struct NewFolio(ARef<Folio>);

impl NewFolio {
    /// Takes over a folio the page allocator just returned.
    ///
    /// # Safety
    ///
    /// `folio` was just allocated (`filemap_alloc_folio()`), and the caller
    /// hands over its one reference, having given its address to nobody.
    #[inline]
    pub(crate) unsafe fn from_raw(folio: NonNull<bindings::folio>) -> Self {
        // SAFETY: The caller hands over the allocation's reference.
        // INVARIANT: The caller guarantees the rest.
        Self(unsafe { ARef::from_raw(folio.cast()) })
    }

    /// The C pointer, for `filemap_add_folio()`.
    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut bindings::folio {
        self.0.as_ptr()
    }

    /// The reference, once the folio is in the page cache and no longer new.
    #[inline]
    pub(crate) fn into_folio(self) -> ARef<Folio> {
        self.0
    }
}

/// Whether [`Folio::order`] and [`Folio::size`] agree with C's
/// `folio_order()` and `folio_size()` on an order-0 and a large folio of
/// this kernel: their hand-written bit and mask are the only way a layout
/// change in `struct folio` would go unnoticed.
pub(crate) fn order_matches_c() -> Result<bool> {
    // Order 0 has no `PG_head`; order 2 is large, with `_flags_1` in its
    // second page.
    for order in [0, 2] {
        // SAFETY: Allocates a folio; no preconditions.
        let folio = NonNull::new(unsafe { ffi::rasync_alloc_order_folio(order) })
            .ok_or(kernel::error::code::ENOMEM)?;
        // SAFETY: The allocation's reference is ours, dropped at the end of
        // the iteration (`folio_put()` frees the folio).
        let folio: ARef<Folio> = unsafe { ARef::from_raw(folio.cast()) };
        // SAFETY: The folio is alive: we hold its reference.
        let (c_order, c_size) = unsafe {
            (
                ffi::rasync_folio_order(folio.as_ptr()),
                ffi::rasync_folio_size(folio.as_ptr()),
            )
        };
        if folio.order() != order || c_order != order || folio.size() != c_size {
            kernel::pr_err!(
                "folio_order(): Rust {} size {}, C {} size {}, allocated {}\n",
                folio.order(),
                folio.size(),
                c_order,
                c_size,
                order
            );
            return Ok(false);
        }
    }
    Ok(true)
}
