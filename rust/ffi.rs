// SPDX-License-Identifier: GPL-2.0

//! Declarations of C functions and objects that `kernel::bindings` lacks:
//! the C shims of this module (`shim_*.c`) and kernel exports declared in
//! `pagemap.h`, which 6.12's bindings do not include.

use kernel::bindings;
use kernel::ffi::{c_int, c_uint};

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
    pub(crate) static rasync_IOCB_NOWAIT: c_int;
    pub(crate) static rasync_PG_locked: c_int;
    static rasync_sizeof_wait_page_queue: usize;
    static rasync_offsetof_wpq_wait: usize;
    static rasync_sizeof_wait_page_key: usize;
    static rasync_offsetof_wpk_page_match: usize;

    // shim_module.c
    pub(crate) fn rasync_shim_start() -> c_int;
    pub(crate) fn rasync_shim_stop();
    pub(crate) fn rasync_stat_add(idx: c_uint, val: u64);
    pub(crate) fn rasync_stat_read(bytes: u64);
    pub(crate) fn rasync_nr_stats() -> c_uint;
    pub(crate) fn rasync_debugfs_init();
    pub(crate) fn rasync_debugfs_exit();

    // shim_mm.c
    pub(crate) fn rasync_file_buffer_rasync(file: *const bindings::file) -> bool;
    pub(crate) fn rasync_folio_trylock(folio: *mut bindings::folio) -> bool;
    pub(crate) fn rasync_folio_test_locked(folio: *mut bindings::folio) -> bool;
    pub(crate) fn rasync_folio_test_uptodate(folio: *mut bindings::folio) -> bool;
    pub(crate) fn rasync_folio_test_readahead(folio: *mut bindings::folio) -> bool;
    pub(crate) fn rasync_folio_set_waiters(folio: *mut bindings::folio);
    pub(crate) fn rasync_folio_get(folio: *mut bindings::folio);
    pub(crate) fn rasync_folio_put(folio: *mut bindings::folio);
    pub(crate) fn rasync_folio_mapping(folio: *mut bindings::folio)
        -> *mut bindings::address_space;
    pub(crate) fn rasync_folio_size(folio: *mut bindings::folio) -> usize;
    pub(crate) fn rasync_folio_pos(folio: *mut bindings::folio) -> i64;
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
    pub(crate) fn rasync_invalidate_lock_shared(mapping: *mut bindings::address_space);
    pub(crate) fn rasync_invalidate_trylock_shared(mapping: *mut bindings::address_space) -> bool;
    pub(crate) fn rasync_invalidate_unlock_shared(mapping: *mut bindings::address_space);
    pub(crate) fn rasync_mapping_writably_mapped(mapping: *mut bindings::address_space) -> bool;
    pub(crate) fn rasync_sync_readahead(
        mapping: *mut bindings::address_space,
        file: *mut bindings::file,
        index: usize,
        nr: usize,
        noio: bool,
    );
    pub(crate) fn rasync_async_readahead(
        mapping: *mut bindings::address_space,
        file: *mut bindings::file,
        folio: *mut bindings::folio,
        last_index: usize,
    );
    pub(crate) fn rasync_iter_count(iter: *const bindings::iov_iter) -> usize;
    pub(crate) fn rasync_iter_truncate(iter: *mut bindings::iov_iter, count: u64);
    pub(crate) fn rasync_copy_folio_to_iter(
        folio: *mut bindings::folio,
        offset: usize,
        bytes: usize,
        iter: *mut bindings::iov_iter,
        writably_mapped: bool,
    ) -> usize;
    pub(crate) fn rasync_i_size_read(inode: *const bindings::inode) -> i64;
    pub(crate) fn rasync_file_accessed(file: *mut bindings::file);
    pub(crate) fn rasync_fatal_signal_pending() -> bool;
    pub(crate) fn rasync_cond_resched();
    pub(crate) fn rasync_alloc_folio() -> *mut bindings::folio;
    pub(crate) fn rasync_filemap_alloc_folio(
        mapping: *mut bindings::address_space,
    ) -> *mut bindings::folio;
    pub(crate) fn rasync_filemap_add_folio(
        mapping: *mut bindings::address_space,
        folio: *mut bindings::folio,
        pos: i64,
    ) -> c_int;

    // Kernel exports declared in pagemap.h (patches 0001 and 0004).
    pub(crate) fn folio_waitqueue(folio: *mut bindings::folio) -> *mut bindings::wait_queue_head;
    pub(crate) fn filemap_get_read_batch(
        mapping: *mut bindings::address_space,
        index: usize,
        max: usize,
        fbatch: *mut bindings::folio_batch,
    );
    pub(crate) fn filemap_create_folio(
        file: *mut bindings::file,
        mapping: *mut bindings::address_space,
        pos: i64,
        fbatch: *mut bindings::folio_batch,
    ) -> c_int;
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
    pub(crate) fn folio_wait_bit_killable(folio: *mut bindings::folio, bit_nr: c_int) -> c_int;
    pub(crate) fn folio_unlock(folio: *mut bindings::folio);
    pub(crate) fn folio_mark_accessed(folio: *mut bindings::folio);
}

/// `filler_t *`: the type of `address_space_operations::read_folio`.
pub(crate) type Filler =
    Option<unsafe extern "C" fn(*mut bindings::file, *mut bindings::folio) -> c_int>;

/// Whether the hand-written mirrors above match the C layouts.
pub(crate) fn layout_ok() -> bool {
    // SAFETY: The statics are `const` objects of the C shim, initialised at
    // compile time and never written.
    unsafe {
        rasync_sizeof_wait_page_queue == core::mem::size_of::<WaitPageQueueRaw>()
            && rasync_offsetof_wpq_wait == core::mem::offset_of!(WaitPageQueueRaw, wait)
            && rasync_sizeof_wait_page_key == core::mem::size_of::<WaitPageKey>()
            && rasync_offsetof_wpk_page_match == core::mem::offset_of!(WaitPageKey, page_match)
            && rasync_nr_stats() as usize == crate::stats::Stat::COUNT
    }
}
