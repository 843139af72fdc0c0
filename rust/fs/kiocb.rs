// SPDX-License-Identifier: GPL-2.0

//! The I/O control block of one read: `struct kiocb`.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)
//!
//! Named after the shape later kernels gave it in `rust/kernel/fs/kiocb.rs`,
//! and kept where they keep it, so that it could be proposed as it stands.

use kernel::bindings;
use kernel::types::Opaque;

use crate::compat;
use crate::ffi::IOCB_NOWAIT;
use crate::fs::File;
use crate::mm::wait::WaitPageQueue;

const IOCB_WAITQ: i32 = bindings::IOCB_WAITQ as i32;
const IOCB_NOIO: i32 = bindings::IOCB_NOIO as i32;

/// A `struct kiocb` being read.
///
/// # Invariants
///
/// The kiocb is valid for the lifetime of the borrow, and so is the open
/// file it names (the VFS caller holds a reference on the file).  Only the
/// task running the read accesses it, with one exception: once a wait entry
/// from [`Kiocb::wait_page_queue`] is queued, io_uring's wake function may
/// clear `IOCB_WAITQ` in `ki_flags` from another CPU, so the read path
/// returns `-EIOCBQUEUED` without touching the kiocb again.
#[repr(transparent)]
pub(crate) struct Kiocb(Opaque<bindings::kiocb>);

impl Kiocb {
    /// Creates a reference to a C kiocb.
    ///
    /// # Safety
    ///
    /// `ptr` is the kiocb of a `filemap_read()` call that has not returned,
    /// and the caller keeps to the rules of the type invariant for `'a`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::kiocb) -> &'a Self {
        // SAFETY: `Kiocb` is a transparent wrapper of `bindings::kiocb`, and
        // the caller guarantees validity for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut bindings::kiocb {
        self.0.get()
    }

    /// `ki_flags`.
    #[inline]
    pub(crate) fn flags(&self) -> i32 {
        // SAFETY: The kiocb is valid and no wait entry is queued yet (type
        // invariant), so nobody writes the field concurrently.
        unsafe { (*self.as_ptr()).ki_flags }
    }

    /// `IOCB_NOWAIT`: the caller cannot block.
    #[inline]
    pub(crate) fn is_nowait(&self) -> bool {
        self.flags() & IOCB_NOWAIT != 0
    }

    /// `IOCB_NOIO`: the caller cannot even start I/O.
    #[inline]
    pub(crate) fn is_noio(&self) -> bool {
        self.flags() & IOCB_NOIO != 0
    }

    /// `IOCB_WAITQ`: the caller (io_uring) armed `ki_waitq` and takes
    /// `-EIOCBQUEUED` for "retry me when the folio unlocks".
    #[inline]
    pub(crate) fn is_waitq(&self) -> bool {
        self.flags() & IOCB_WAITQ != 0
    }

    /// `IOCB_DONTCACHE` (`RWF_DONTCACHE`, 7.3): the read's folios are not
    /// to stay in the page cache.  Never set on 6.12.
    #[inline]
    pub(crate) fn is_dontcache(&self) -> bool {
        match compat::IOCB_DONTCACHE {
            Some(flag) => self.flags() & flag != 0,
            None => false,
        }
    }

    /// Sets `IOCB_NOWAIT`: from here on the read may only return what it
    /// has, never block or queue.
    #[inline]
    pub(crate) fn set_nowait(&self) {
        // SAFETY: As in `flags`; only this task writes the field now.
        unsafe { (*self.as_ptr()).ki_flags |= IOCB_NOWAIT }
    }

    /// `ki_pos`.
    #[inline]
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: The kiocb is valid (type invariant).
        unsafe { (*self.as_ptr()).ki_pos }
    }

    /// `ki_pos += bytes`, wrapping as in C (the read is bounded by
    /// `s_maxbytes`, so it never does).
    #[inline]
    pub(crate) fn advance(&self, bytes: usize) {
        // SAFETY: The kiocb is valid (type invariant) and only this task
        // writes `ki_pos`.
        unsafe { (*self.as_ptr()).ki_pos = self.pos().wrapping_add(bytes as i64) }
    }

    /// `ki_filp`.
    #[inline]
    pub(crate) fn file(&self) -> &File {
        // SAFETY: The file is open for as long as the kiocb is borrowed
        // (type invariant).
        unsafe { File::from_raw((*self.as_ptr()).ki_filp) }
    }

    /// `ki_waitq`, the wait entry io_uring armed, under `IOCB_WAITQ` only:
    /// the handle that lets one wait of this read queue it.
    ///
    /// # Safety
    ///
    /// Called at most once per `filemap_read()` call, and not at all if the
    /// kiocb goes to C code that may use `ki_waitq` (`filemap_read_stock()`):
    /// the handle must be the only way to the entry (`WaitPageQueue`'s
    /// invariant), so that once a wait queued it nothing can queue it again.
    #[inline]
    pub(crate) unsafe fn wait_page_queue(&self) -> Option<WaitPageQueue<'_>> {
        if !self.is_waitq() {
            return None;
        }
        // SAFETY: With IOCB_WAITQ set the union holds `ki_waitq`, which
        // io_rw_should_retry() initialised (func, private, empty entry, on
        // no queue) and io_uring keeps alive until the request completes,
        // which is after this read returns and after any callback ran; its
        // wake function `io_async_buf_func()` goes through
        // `wake_page_match()` and unlinks the entry.  The caller takes the
        // one handle of this read.
        Some(unsafe { WaitPageQueue::from_raw(compat::kiocb_ki_waitq!(self.as_ptr()).cast()) })
    }
}
