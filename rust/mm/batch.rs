// SPDX-License-Identifier: GPL-2.0

//! A batch of folio references: `struct folio_batch`.
//!
//! C header: [`include/linux/pagevec.h`](srctree/include/linux/pagevec.h)
//!
//! A wrapper of `mm`, proposable as it stands: it imports only `mm::folio`.

use core::mem::MaybeUninit;
use core::ptr::{addr_of_mut, NonNull};
use kernel::bindings;

use crate::compat::aref::ARef;
use crate::mm::folio::Folio;

/// A `struct folio_batch` that owns one reference on each folio it lists.
///
/// # Invariants
///
/// `nr`, `i` and `percpu_pvec_drained` are initialised, `nr` is at most the
/// array size, and the first `nr` entries of `folios` point to folios on
/// which the batch owns one reference each.  Entries past `nr` may be
/// uninitialised: like `folio_batch_init()`, creating a batch does not
/// clear the array.
pub(crate) struct FolioBatch {
    fb: MaybeUninit<bindings::folio_batch>,
}

impl FolioBatch {
    /// `folio_batch_init()`.
    #[inline]
    pub(crate) fn new() -> Self {
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

    /// `folio_batch_count()`.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        // SAFETY: `nr` is initialised (type invariant).
        usize::from(unsafe { (*self.fb.as_ptr()).nr })
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The folios, in file order.
    #[inline]
    pub(crate) fn folios(&self) -> &[&Folio] {
        // SAFETY: The first `len()` entries are initialised, non-null and
        // point to folios the batch holds a reference on (type invariant),
        // which outlive the borrow of `self`; `&Folio` has the layout of a
        // non-null `*mut bindings::folio` (`Folio` is transparent).
        unsafe {
            core::slice::from_raw_parts(
                addr_of_mut!((*self.fb.as_ptr().cast_mut()).folios).cast::<&Folio>(),
                self.len(),
            )
        }
    }

    /// The last folio, the one `filemap_get_read_batch()` may leave not
    /// uptodate or marked for readahead.
    #[inline]
    pub(crate) fn last(&self) -> Option<&Folio> {
        self.folios().last().copied()
    }

    /// Removes the last folio and hands its reference to the caller.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<ARef<Folio>> {
        let n = self.len().checked_sub(1)?;
        let p = self.fb.as_mut_ptr();
        // SAFETY: Entry `n` is below `nr`, which is at most the array size,
        // so it is in the array and initialised (type invariant).
        let folio = unsafe {
            addr_of_mut!((*p).folios)
                .cast::<*mut bindings::folio>()
                .add(n)
                .read()
        };
        // SAFETY: `n` fits `nr`'s type, being below it.
        unsafe { (*p).nr = n as u8 };
        // SAFETY: The batch owned a reference on `folio` (type invariant)
        // and, no longer listing it, hands that reference over.
        Some(unsafe { ARef::from_raw(NonNull::new_unchecked(folio.cast::<Folio>())) })
    }

    /// `folio_batch_add()`; gives the folio back if the batch is full.
    #[inline]
    pub(crate) fn push(&mut self, folio: ARef<Folio>) -> Result<(), ARef<Folio>> {
        let n = self.len();
        let p = self.fb.as_mut_ptr();
        // SAFETY: `folios` is an array inside our own local.
        let cap = unsafe { (*p).folios.len() };
        if n >= cap {
            return Err(folio);
        }
        let raw = ARef::into_raw(folio).as_ptr().cast::<bindings::folio>();
        // SAFETY: `n` is below the array size (checked above); the entry is
        // initialised before `nr` covers it, and the reference `folio` owned
        // now belongs to the batch.
        unsafe {
            addr_of_mut!((*p).folios[n]).write(raw);
            (*p).nr += 1;
        }
        Ok(())
    }

    /// `folio_batch_release()`: drops every folio.
    #[inline]
    pub(crate) fn clear(&mut self) {
        while self.pop().is_some() {}
    }

    /// The C batch, for a kernel helper that appends folios with a
    /// reference taken for the caller and bumps `nr` (as
    /// `filemap_get_read_batch()` and `filemap_create_folio()` do).
    pub(crate) fn as_raw(&mut self) -> *mut bindings::folio_batch {
        self.fb.as_mut_ptr()
    }
}

impl Drop for FolioBatch {
    fn drop(&mut self) {
        self.clear();
    }
}
