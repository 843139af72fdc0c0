// SPDX-License-Identifier: GPL-2.0

//! The destination of a read: `struct iov_iter`.
//!
//! C header: [`include/linux/uio.h`](srctree/include/linux/uio.h)
//!
//! Named after the shape later kernels gave it in `rust/kernel/iov.rs`.
//!
//! A wrapper, at the top level because the kernel crate keeps it there, so
//! that it could be proposed as it stands; it imports only `ffi` and
//! `mm::folio`.

use core::ptr::addr_of_mut;
use kernel::bindings;
use kernel::types::Opaque;

use crate::ffi;
use crate::mm::folio::Folio;

/// An iterator over the caller's destination buffers.
///
/// # Invariants
///
/// The iterator is valid and used by nobody else for the lifetime of the
/// borrow (the VFS caller hands it to `filemap_read()` for the call).
#[repr(transparent)]
pub(crate) struct IovIter(Opaque<bindings::iov_iter>);

impl IovIter {
    /// Creates a reference to a C iterator.
    ///
    /// # Safety
    ///
    /// `ptr` is the iterator of a `filemap_read()` call that has not
    /// returned, used by nobody else for `'a`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::iov_iter) -> &'a mut Self {
        // SAFETY: `IovIter` is a transparent wrapper of `bindings::iov_iter`
        // and the caller guarantees exclusive validity for `'a`.
        unsafe { &mut *ptr.cast::<Self>() }
    }

    /// The C iterator, to hand the whole read to C.
    #[inline]
    pub(crate) fn as_raw(&mut self) -> *mut bindings::iov_iter {
        self.0.get()
    }

    #[inline]
    fn count_ptr(&self) -> *mut usize {
        // SAFETY: Computes the address of `count` inside the valid iterator
        // (type invariant).  bindgen models the anonymous union as
        // zero-sized fields at the union's address: the struct holding
        // `count` starts there.
        unsafe {
            let inner = addr_of_mut!((*self.0.get()).__bindgen_anon_1.__bindgen_anon_1)
                .cast::<bindings::iov_iter__bindgen_ty_1__bindgen_ty_1>();
            addr_of_mut!((*inner).count)
        }
    }

    /// `iov_iter_count()`: bytes left to fill.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        // SAFETY: `count` is a plain field of the valid iterator, written
        // only by its user, us (type invariant).
        unsafe { *self.count_ptr() }
    }

    /// `iov_iter_truncate()`.
    #[inline]
    pub(crate) fn truncate(&mut self, count: u64) {
        if self.count() as u64 > count {
            // SAFETY: As in `count`; `count` is below the current value, so
            // it fits `usize`.
            unsafe { *self.count_ptr() = count as usize };
        }
    }

    /// `copy_folio_to_iter()`: copies `bytes` from `offset` in the folio,
    /// returns the bytes copied (fewer on a fault in the destination).
    #[inline]
    pub(crate) fn copy_from_folio(&mut self, folio: &Folio, offset: usize, bytes: usize) -> usize {
        // SAFETY: The iterator is ours (type invariant); the caller holds a
        // reference on the folio (type invariant of `Folio`), which
        // `copy_page_to_iter()` reads through its first page, as
        // `copy_folio_to_iter()` does.
        unsafe { ffi::copy_page_to_iter(folio.as_ptr().cast(), offset, bytes, self.0.get()) }
    }
}
