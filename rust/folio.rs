// SPDX-License-Identifier: GPL-2.0

//! A thin, safe view of `struct folio` for the read path.

use core::ptr::NonNull;
use kernel::bindings;
use kernel::types::{AlwaysRefCounted, Opaque};

use crate::ffi;

/// A folio of the page cache.
///
/// # Invariants
///
/// A `&Folio` is only ever created for a folio on which the creator holds a
/// reference for the lifetime of the borrow, so the object stays allocated.
/// The folio may be truncated out of its mapping at any time unless it is
/// locked; [`Folio::mapping`] tells.
#[repr(transparent)]
pub(crate) struct Folio(Opaque<bindings::folio>);

impl Folio {
    /// Creates a reference to a C folio.
    ///
    /// # Safety
    ///
    /// `ptr` points to a folio on which the caller holds a reference for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::folio) -> &'a Self {
        // SAFETY: `Folio` is a transparent wrapper of `bindings::folio`, and
        // the caller guarantees the folio stays alive for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The C pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::folio {
        self.0.get()
    }

    /// `folio_trylock()`.
    pub(crate) fn trylock(&self) -> bool {
        // SAFETY: By the type invariant the folio is alive.
        unsafe { ffi::rasync_folio_trylock(self.as_ptr()) }
    }

    /// `folio_test_locked()`.
    pub(crate) fn is_locked(&self) -> bool {
        // SAFETY: By the type invariant the folio is alive.
        unsafe { ffi::rasync_folio_test_locked(self.as_ptr()) }
    }

    /// `folio_test_uptodate()`.
    pub(crate) fn is_uptodate(&self) -> bool {
        // SAFETY: By the type invariant the folio is alive.
        unsafe { ffi::rasync_folio_test_uptodate(self.as_ptr()) }
    }

    /// `folio_test_readahead()`.
    pub(crate) fn is_readahead(&self) -> bool {
        // SAFETY: By the type invariant the folio is alive.
        unsafe { ffi::rasync_folio_test_readahead(self.as_ptr()) }
    }

    /// The mapping the folio belongs to; null once truncated.
    pub(crate) fn mapping(&self) -> *mut bindings::address_space {
        // SAFETY: By the type invariant the folio is alive.
        unsafe { ffi::rasync_folio_mapping(self.as_ptr()) }
    }

    /// `folio_size()`.
    pub(crate) fn size(&self) -> usize {
        // SAFETY: By the type invariant the folio is alive.
        unsafe { ffi::rasync_folio_size(self.as_ptr()) }
    }

    /// `folio_pos()`: byte offset of the folio in its file.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: By the type invariant the folio is alive.
        unsafe { ffi::rasync_folio_pos(self.as_ptr()) }
    }

    /// `folio_mark_accessed()`.
    pub(crate) fn mark_accessed(&self) {
        // SAFETY: By the type invariant the folio is alive.
        unsafe { ffi::folio_mark_accessed(self.as_ptr()) }
    }

    /// Releases the folio lock, waking its waiters.
    ///
    /// # Safety
    ///
    /// The caller owns the folio lock.
    pub(crate) unsafe fn unlock(&self) {
        // SAFETY: The folio is alive (type invariant) and the caller owns
        // its lock.
        unsafe { ffi::folio_unlock(self.as_ptr()) }
    }

    /// Sleeps until the folio lock is released or a fatal signal arrives.
    pub(crate) fn wait_unlocked_killable(&self) -> kernel::error::Result {
        // SAFETY: By the type invariant the folio is alive.
        let ret = unsafe { ffi::folio_wait_bit_killable(self.as_ptr(), ffi::rasync_PG_locked) };
        kernel::error::to_result(ret)
    }
}

// SAFETY: `folio_get()` and `folio_put()` maintain the folio's reference
// count, and the folio is freed only when it drops to zero.
unsafe impl AlwaysRefCounted for Folio {
    fn inc_ref(&self) {
        // SAFETY: By the type invariant the folio is alive.
        unsafe { ffi::rasync_folio_get(self.as_ptr()) }
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one reference it owned.
        unsafe { ffi::rasync_folio_put(obj.cast().as_ptr()) }
    }
}
