// SPDX-License-Identifier: GPL-2.0

//! Open files and inodes: `struct file`, `struct inode`.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)
//!
//! Where `rust/kernel/fs/file.rs` keeps `File`, so that the wrappers could
//! be proposed as they stand.

use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicI64, Ordering};
use kernel::bindings;
use kernel::types::Opaque;

use crate::compat;
use crate::ffi;
use crate::mm::mapping::Mapping;

/// An open file.
///
/// # Invariants
///
/// The file is open for the lifetime of the borrow; so are its mapping and
/// the mapping's host inode and superblock, which live at least as long.
/// Its readahead state is only written by readers of the file, which
/// `filemap_read()` allows to race (as C does, the values are hints).
#[repr(transparent)]
pub(crate) struct File(Opaque<bindings::file>);

impl File {
    /// Creates a reference to an open C file.
    ///
    /// # Safety
    ///
    /// `ptr` points to a file that stays open for `'a`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::file) -> &'a Self {
        // SAFETY: `File` is a transparent wrapper of `bindings::file` and the
        // caller guarantees validity for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.0.get()
    }

    /// `f_mapping`.
    #[inline]
    pub(crate) fn mapping(&self) -> &Mapping {
        // SAFETY: The mapping lives as long as the open file (type
        // invariant); `f_mapping` does not change while the file is read.
        unsafe { Mapping::from_raw((*self.as_ptr()).f_mapping) }
    }

    #[inline]
    fn ra_prev_pos_ptr(&self) -> *mut i64 {
        // SAFETY: Computes an address inside the open file (type
        // invariant); `f_ra` is the member of the union that regular files
        // use.
        unsafe { addr_of_mut!(compat::file_f_ra!(self.as_ptr()).prev_pos) }
    }

    /// `f_ra.prev_pos`: where the previous read of this file ended.
    #[inline]
    pub(crate) fn ra_prev_pos(&self) -> i64 {
        // SAFETY: The field is inside the open file (type invariant).
        // Readers of one file race on it, as in C, where it is a hint: the
        // volatile access is C's READ_ONCE(), a whole aligned word.
        unsafe { core::ptr::read_volatile(self.ra_prev_pos_ptr()) }
    }

    /// Sets `f_ra.prev_pos`.
    #[inline]
    pub(crate) fn set_ra_prev_pos(&self, pos: i64) {
        // SAFETY: As in `ra_prev_pos`; C's WRITE_ONCE().
        unsafe { core::ptr::write_volatile(self.ra_prev_pos_ptr(), pos) }
    }

    /// `file_accessed()`: updates the access time unless `O_NOATIME`.
    #[inline]
    pub(crate) fn accessed(&self) {
        // SAFETY: The file is open (type invariant).  fcntl(F_SETFL) may
        // change `f_flags` meanwhile (under `f_lock`, which C's
        // file_accessed() does not take either): a volatile read, C's
        // READ_ONCE(), of one aligned word.
        let flags = unsafe { core::ptr::read_volatile(addr_of_mut!((*self.as_ptr()).f_flags)) };
        if flags & bindings::O_NOATIME == 0 {
            // SAFETY: `f_path` of an open file is valid.
            unsafe { ffi::touch_atime(addr_of_mut!(compat::file_f_path!(self.as_ptr()))) }
        }
    }
}

// `Inode::size` is `i_size_read()` only where that is one acquire load of
// the 64-bit `i_size`: 32-bit SMP kernels read it under a seqcount (and
// 32-bit preemptible ones with preemption off), which it does not do.
#[cfg(not(target_pointer_width = "64"))]
compile_error!("Inode::size() ports i_size_read() of 64-bit kernels only");

/// An inode.
///
/// # Invariants
///
/// The inode is alive for the lifetime of the borrow, and so is its
/// superblock.
#[repr(transparent)]
pub(crate) struct Inode(Opaque<bindings::inode>);

impl Inode {
    /// Creates a reference to a C inode.
    ///
    /// # Safety
    ///
    /// `ptr` points to an inode that stays alive for `'a`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::inode) -> &'a Self {
        // SAFETY: `Inode` is a transparent wrapper of `bindings::inode` and
        // the caller guarantees validity for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// `i_size_read()`: on 64-bit, the only kind of kernel this module
    /// builds for, an acquire load that pairs with `i_size_write()`'s
    /// release store.
    #[inline]
    pub(crate) fn size(&self) -> i64 {
        // SAFETY: The inode is alive (type invariant); `i_size` is an
        // aligned `loff_t`, written with `smp_store_release()`.
        unsafe { AtomicI64::from_ptr(addr_of_mut!((*self.0.get()).i_size)) }.load(Ordering::Acquire)
    }

    /// `i_sb->s_dev` and `i_ino`: which file this is, for trace events.
    #[inline]
    pub(crate) fn dev_ino(&self) -> (u32, compat::Ino) {
        // SAFETY: The inode and its superblock are alive (type invariant);
        // both fields are set before the inode is visible and never change.
        unsafe { ((*(*self.0.get()).i_sb).s_dev, (*self.0.get()).i_ino) }
    }

    /// `i_sb->s_maxbytes`: the largest file size the filesystem allows.
    #[inline]
    pub(crate) fn max_bytes(&self) -> i64 {
        // SAFETY: The superblock outlives its inodes (type invariant).
        unsafe { (*(*self.0.get()).i_sb).s_maxbytes }
    }
}
