// SPDX-License-Identifier: GPL-2.0

//! The `rasync:*` trace events (`shim/rasync_trace.h`, fired by
//! `shim/trace.c`) and the reasons a read gives up with `-EAGAIN`, each
//! counted in `stats`; also the stock path's `mm_filemap_get_pages`.
//!
//! What the module reports, used by the read path: the wrappers do not
//! fire events, so that they stay what the kernel crate would take.
//!
//! Every event first reads its tracepoint's static key, as
//! `static_key_false()` does without jump labels: a disabled event costs a
//! load and a branch, never a call.

use kernel::prelude::*;

use crate::compat;
use crate::ffi;
use crate::fs::File;
use crate::mm::mapping::Mapping;
use crate::stats::Stat;

/// Whether the tracepoint `$tp`, a `static` declared in `ffi` (of
/// `shim/trace.c`, or one the kernel exports), is enabled.
macro_rules! enabled {
    ($tp:ident) => {
        // SAFETY: The tracepoint is a static of this module's C object or
        // of the kernel, alive as long as the code reading it; its key's
        // `atomic_t` is written with atomic operations only.
        unsafe {
            core::sync::atomic::AtomicI32::from_ptr(
                core::ptr::addr_of_mut!(
                    $crate::compat::tracepoint_enabled!($crate::ffi::$tp).counter
                )
                .cast(),
            )
        }
        .load(core::sync::atomic::Ordering::Relaxed)
            > 0
    };
}

/// Which file a read was of, taken before the read while the file is ours
/// to look at: `rasync_read` fires after the read returned.
#[derive(Clone, Copy)]
pub(crate) struct FileId {
    dev: u32,
    ino: compat::Ino,
}

/// Whether `rasync:rasync_read` is on; if so, which file `file` is.
#[inline]
pub(crate) fn read_id(file: &File) -> Option<FileId> {
    if !enabled!(__tracepoint_rasync_read) {
        return None;
    }
    let (dev, ino) = file.mapping().host().dev_ino();
    Some(FileId { dev, ino })
}

/// `rasync:rasync_read`: how a read of `count` bytes at `pos` with `flags`
/// ended (`ret`), and whether the stock path served it.
pub(crate) fn read(id: FileId, pos: i64, count: usize, flags: i32, ret: isize, stock: bool) {
    // SAFETY: Plain values; the event copies them.
    unsafe { ffi::rust_do_trace_rasync_read(id.dev, id.ino, pos, count, flags, ret, stock) }
}

/// `rasync:rasync_queued`: an io_uring wait entry went on the folio at
/// `index`, to take its lock (`lock`) or to wait for its unlock.
#[inline]
pub(crate) fn queued(file: &File, index: usize, lock: bool) {
    if enabled!(__tracepoint_rasync_queued) {
        // SAFETY: The file is open (`File`'s invariant).
        unsafe { ffi::rust_do_trace_rasync_queued(file.as_ptr(), index, lock) }
    }
}

/// `rasync:rasync_start_read`: the read started `->read_folio` of a folio
/// it added at `index`.
#[inline]
pub(crate) fn start_read(file: &File, index: usize) {
    if enabled!(__tracepoint_rasync_start_read) {
        // SAFETY: The file is open (`File`'s invariant).
        unsafe { ffi::rust_do_trace_rasync_start_read(file.as_ptr(), index) }
    }
}

/// `trace_mm_filemap_get_pages()`: the stock read path's trace event,
/// with no call unless the event is enabled.
#[inline]
pub(crate) fn trace_get_pages(mapping: &Mapping, index: usize, last_index: usize) {
    if enabled!(__tracepoint_mm_filemap_get_pages) {
        // SAFETY: The mapping is alive (`Mapping`'s invariant).
        unsafe { ffi::rasync_trace_get_pages(mapping.as_ptr(), index, last_index) }
    }
}

/// Whether `rasync:rasync_woken` is on: reads are timed at
/// `-EIOCBQUEUED` only then.
#[inline]
pub(crate) fn woken_enabled() -> bool {
    enabled!(__tracepoint_rasync_woken)
}

/// `rasync:rasync_woken`: io_uring retried a read at `pos` that sat at
/// `-EIOCBQUEUED` for `ns` nanoseconds; also counted in `queued_hist`.
#[inline]
pub(crate) fn woken(file: &File, pos: i64, ns: u64) {
    // SAFETY: No preconditions: a per-CPU increment.
    unsafe { ffi::rasync_queued_hist_add(ns) };
    if woken_enabled() {
        // SAFETY: The file is open (`File`'s invariant).
        unsafe { ffi::rust_do_trace_rasync_woken(file.as_ptr(), pos, ns) }
    }
}

/// Why a read gave up with `-EAGAIN` at the folio `index`: counts `why`
/// (one of the `Eagain*` counters), fires `rasync:rasync_eagain` and
/// returns the error.
#[inline]
pub(crate) fn eagain(file: &File, index: usize, why: Stat) -> Error {
    why.inc();
    if enabled!(__tracepoint_rasync_eagain) {
        // SAFETY: The file is open (`File`'s invariant).
        unsafe { ffi::rust_do_trace_rasync_eagain(file.as_ptr(), index, why as u32) }
    }
    EAGAIN
}
