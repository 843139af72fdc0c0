// SPDX-License-Identifier: GPL-2.0

//! The destination of a read: `struct iov_iter`.
//!
//! C header: [`include/linux/uio.h`](srctree/include/linux/uio.h)
//!
//! Named and shaped as 7.3's `rust/kernel/iov.rs`.
//!
//! A wrapper, at the top level because the kernel crate keeps it there, so
//! that it could be proposed as it stands; it imports only `ffi` and
//! `mm::folio`.

use core::marker::PhantomData;
use core::ptr::addr_of_mut;
use kernel::bindings;
use kernel::types::Opaque;

use crate::ffi;
use crate::mm::folio::Folio;

/// The caller's destination buffers: 7.3's `kernel::iov::IovIterDest`, with
/// the operations a buffered read needs (`iov_iter_truncate()`,
/// `copy_folio_to_iter()`), for 6.12 and 7.3 alike.
///
/// # Invariants
///
/// Holds a valid `struct iov_iter` with `data_source` set to `ITER_DEST`,
/// used by nobody else for the lifetime of the borrow (the VFS caller hands
/// it to `filemap_read()` for the call); for `'data` it is safe to write to
/// it with the C functions for that.
#[repr(transparent)]
pub(crate) struct IovIterDest<'data> {
    iov: Opaque<bindings::iov_iter>,
    /// Writable data the iterator points at and does not own.
    _dest: PhantomData<&'data mut [u8]>,
}

impl<'data> IovIterDest<'data> {
    /// Obtains an `IovIterDest` from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` is the iterator of a `filemap_read()` call that has not
    /// returned (so `data_source` is `ITER_DEST`), used by nobody else for
    /// `'iov`; for `'data` it is safe to write to it.
    #[inline]
    pub(crate) unsafe fn from_raw<'iov>(ptr: *mut bindings::iov_iter) -> &'iov mut Self {
        // SAFETY: `IovIterDest` is a transparent wrapper of
        // `bindings::iov_iter` (the marker is zero-sized) and the caller
        // guarantees exclusive validity for `'iov`.
        unsafe { &mut *ptr.cast::<Self>() }
    }

    /// The C iterator, to hand the whole read to C.
    #[inline]
    pub(crate) fn as_raw(&mut self) -> *mut bindings::iov_iter {
        self.iov.get()
    }

    #[inline]
    fn count_ptr(&self) -> *mut usize {
        // SAFETY: Computes the address of `count` inside the valid iterator
        // (type invariant).  bindgen models the anonymous union as
        // zero-sized fields at the union's address: the struct holding
        // `count` starts there.
        unsafe {
            let inner = addr_of_mut!((*self.iov.get()).__bindgen_anon_1.__bindgen_anon_1)
                .cast::<bindings::iov_iter__bindgen_ty_1__bindgen_ty_1>();
            addr_of_mut!((*inner).count)
        }
    }

    /// `iov_iter_count()`: bytes left to fill.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        // SAFETY: `count` is a plain field of the valid iterator, written
        // only by its user, us (type invariant).
        unsafe { *self.count_ptr() }
    }

    /// Whether no bytes are left to fill.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `iov_iter_truncate()`.
    #[inline]
    pub(crate) fn truncate(&mut self, count: u64) {
        if self.len() as u64 > count {
            // SAFETY: As in `len`; `count` is below the current value, so
            // it fits `usize`.
            unsafe { *self.count_ptr() = count as usize };
        }
    }

    /// `copy_folio_to_iter()`: copies `bytes` from `offset` in the folio,
    /// returns the bytes copied (fewer on a fault in the destination).
    #[inline]
    pub(crate) fn copy_from_folio(&mut self, folio: &Folio, offset: usize, bytes: usize) -> usize {
        // SAFETY: The iterator is ours and writable (type invariant); the
        // caller holds a reference on the folio (type invariant of
        // `Folio`), which `copy_page_to_iter()` reads through its first
        // page, as `copy_folio_to_iter()` does.
        unsafe { ffi::copy_page_to_iter(folio.as_ptr().cast(), offset, bytes, self.iov.get()) }
    }
}
