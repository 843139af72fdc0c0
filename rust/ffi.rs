// SPDX-License-Identifier: GPL-2.0

//! Declarations of C functions and objects that `kernel::bindings` lacks:
//! the C shims of this module (`shim/*.c`) and kernel exports declared in
//! `pagemap.h` and `swap.h`, which 6.12's bindings do not include.
//!
//! The bottom layer: it imports nothing of this crate, only `kernel` and
//! `core`, so every other module can use it and none is tied to it in a
//! circle.

use kernel::bindings;
use kernel::ffi::{c_int, c_uint, c_ulong};

use crate::compat;

/// `IOCB_NOWAIT`: `(__force int) RWF_NOWAIT`, a cast bindgen cannot
/// evaluate; [`layout_ok`] checks it against C at load time.
pub(crate) const IOCB_NOWAIT: i32 = 0x8;

/// `struct wait_page_queue` from `pagemap.h` (opaque in `kernel::bindings`).
///
/// Checked against the C layout by [`layout_ok`] before the module serves
/// any read.
#[repr(C)]
pub(crate) struct WaitPageQueueRaw {
    pub(crate) folio: *mut bindings::folio,
    pub(crate) bit_nr: c_int,
    pub(crate) wait: bindings::wait_queue_entry,
}

/// `struct wait_page_key` from `pagemap.h`: what `folio_wake_bit()` passes
/// to every wake function on a hashed folio wait queue.
#[repr(C)]
pub(crate) struct WaitPageKey {
    pub(crate) folio: *mut bindings::folio,
    pub(crate) bit_nr: c_int,
    pub(crate) page_match: c_int,
}

// bindgen gives some kernel structs (behind these pointers) empty
// placeholder members, which the lint flags although only pointers cross.
#[allow(improper_ctypes)]
extern "C" {
    static rasync_IOCB_NOWAIT: c_int;
    static rasync_IOCB_DONTCACHE: c_int;
    static rasync_sizeof_wait_page_queue: usize;
    static rasync_offsetof_wpq_wait: usize;
    static rasync_sizeof_wait_page_key: usize;
    static rasync_offsetof_wpk_page_match: usize;
    static rasync_AS_FOLIO_ORDER_MIN: c_uint;
    static rasync_AS_FOLIO_ORDER_BITS: c_uint;

    // shim/module.c
    pub(crate) fn rasync_shim_start() -> c_int;
    pub(crate) fn rasync_shim_stop();
    pub(crate) fn rasync_stat_inc(idx: c_uint);
    pub(crate) fn rasync_stat_read();
    pub(crate) fn rasync_nr_stats() -> c_uint;
    pub(crate) fn rasync_debugfs_init();
    pub(crate) fn rasync_debugfs_exit();
    pub(crate) static mut rasync_hook_only: bool;

    // shim/helpers.c
    pub(crate) fn rasync_folio_get(folio: *mut bindings::folio);
    pub(crate) fn rasync_folio_put(folio: *mut bindings::folio);
    pub(crate) fn rasync_flush_dcache_folio(folio: *mut bindings::folio);
    pub(crate) fn rasync_wq_lock_irq(q: *mut bindings::wait_queue_head);
    pub(crate) fn rasync_wq_unlock_irq(q: *mut bindings::wait_queue_head);
    pub(crate) fn rasync_wq_add_tail_locked(
        q: *mut bindings::wait_queue_head,
        wait: *mut bindings::wait_queue_entry,
    );
    pub(crate) fn rasync_wq_remove_locked(
        q: *mut bindings::wait_queue_head,
        wait: *mut bindings::wait_queue_entry,
    );
    pub(crate) fn rasync_sync_readahead(
        mapping: *mut bindings::address_space,
        file: *mut bindings::file,
        index: usize,
        nr: usize,
        noio: bool,
        dropbehind: bool,
    );
    pub(crate) fn rasync_async_readahead(
        mapping: *mut bindings::address_space,
        file: *mut bindings::file,
        folio: *mut bindings::folio,
        last_index: usize,
        dropbehind: bool,
    );
    pub(crate) fn rasync_fatal_signal_pending() -> bool;
    #[cfg(any(CONFIG_PREEMPT_DYNAMIC, CONFIG_LIVEPATCH, CONFIG_DEBUG_ATOMIC_SLEEP))]
    pub(crate) fn rasync_cond_resched();
    pub(crate) fn rasync_psi_memstall_enter(flags: *mut c_ulong);
    pub(crate) fn rasync_psi_memstall_leave(flags: *mut c_ulong);
    pub(crate) fn rasync_alloc_folio() -> *mut bindings::folio;
    pub(crate) fn rasync_alloc_order_folio(order: c_uint) -> *mut bindings::folio;
    pub(crate) fn rasync_folio_order(folio: *mut bindings::folio) -> c_uint;
    pub(crate) fn rasync_folio_size(folio: *mut bindings::folio) -> usize;
    pub(crate) fn rasync_filemap_alloc_folio(
        mapping: *mut bindings::address_space,
        dropbehind: bool,
    ) -> *mut bindings::folio;
    pub(crate) fn rasync_filemap_create_folio(
        iocb: *mut bindings::kiocb,
        fbatch: *mut bindings::folio_batch,
    ) -> c_int;
    pub(crate) fn rasync_filemap_add_folio(
        mapping: *mut bindings::address_space,
        folio: *mut bindings::folio,
        pos: i64,
    ) -> c_int;
    pub(crate) fn rasync_trace_get_pages(
        mapping: *mut bindings::address_space,
        index: usize,
        last_index: usize,
    );

    pub(crate) fn rasync_queued_hist_add(ns: u64);

    // shim/trace.c: the rasync:* events, their tracepoints and the calls
    // that fire them (generated on 7.3, as for `declare_trace!`).
    pub(crate) fn rust_do_trace_rasync_read(
        dev: u32,
        ino: compat::Ino,
        pos: i64,
        count: usize,
        flags: c_int,
        ret: isize,
        stock: bool,
    );
    pub(crate) fn rust_do_trace_rasync_queued(file: *mut bindings::file, index: usize, lock: bool);
    pub(crate) fn rust_do_trace_rasync_eagain(
        file: *mut bindings::file,
        index: usize,
        reason: c_uint,
    );
    pub(crate) fn rust_do_trace_rasync_start_read(file: *mut bindings::file, index: usize);
    pub(crate) fn rust_do_trace_rasync_woken(file: *mut bindings::file, pos: i64, queued_ns: u64);
    pub(crate) static mut __tracepoint_rasync_read: bindings::tracepoint;
    pub(crate) static mut __tracepoint_rasync_queued: bindings::tracepoint;
    pub(crate) static mut __tracepoint_rasync_eagain: bindings::tracepoint;
    pub(crate) static mut __tracepoint_rasync_start_read: bindings::tracepoint;
    pub(crate) static mut __tracepoint_rasync_woken: bindings::tracepoint;

    // Kernel exports declared in pagemap.h (patches 0001 and 0004) and
    // swap.h, and the tracepoint patch 0004 exports.
    pub(crate) static mut __tracepoint_mm_filemap_get_pages: bindings::tracepoint;
    pub(crate) fn folio_waitqueue(folio: *mut bindings::folio) -> *mut bindings::wait_queue_head;
    pub(crate) fn filemap_get_read_batch(
        mapping: *mut bindings::address_space,
        index: usize,
        max: usize,
        fbatch: *mut bindings::folio_batch,
    );
    pub(crate) fn filemap_read_folio(
        file: *mut bindings::file,
        filler: Filler,
        folio: *mut bindings::folio,
    ) -> c_int;
    pub(crate) fn filemap_range_uptodate(
        mapping: *mut bindings::address_space,
        pos: i64,
        count: usize,
        folio: *mut bindings::folio,
        need_uptodate: bool,
    ) -> bool;
    pub(crate) fn folio_put_wait_locked(folio: *mut bindings::folio, state: c_int) -> c_int;
    pub(crate) fn folio_unlock(folio: *mut bindings::folio);
    pub(crate) fn folio_mark_accessed(folio: *mut bindings::folio);
}

pub(crate) use bindings::{__folio_put, copy_page_to_iter, touch_atime};

/// `filler_t *`: the type of `address_space_operations::read_folio`.
pub(crate) type Filler =
    Option<unsafe extern "C" fn(*mut bindings::file, *mut bindings::folio) -> c_int>;

/// Whether the hand-written mirrors and constants match C.
pub(crate) fn layout_ok() -> bool {
    // SAFETY: The statics are `const` objects of the C shim, initialised at
    // compile time and never written.
    unsafe {
        rasync_IOCB_NOWAIT == IOCB_NOWAIT
            && rasync_IOCB_DONTCACHE == compat::IOCB_DONTCACHE.unwrap_or(0)
            && rasync_sizeof_wait_page_queue == core::mem::size_of::<WaitPageQueueRaw>()
            && rasync_offsetof_wpq_wait == core::mem::offset_of!(WaitPageQueueRaw, wait)
            && rasync_sizeof_wait_page_key == core::mem::size_of::<WaitPageKey>()
            && rasync_offsetof_wpk_page_match == core::mem::offset_of!(WaitPageKey, page_match)
            && rasync_AS_FOLIO_ORDER_MIN == compat::AS_FOLIO_ORDER_MIN
            && rasync_AS_FOLIO_ORDER_BITS == compat::AS_FOLIO_ORDER_BITS
    }
}
