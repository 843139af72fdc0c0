// SPDX-License-Identifier: GPL-2.0

//! What differs between the kernels rasync builds for, Linux 6.12 (the LTS)
//! and Linux 7.3, in one place.  `rust/Kbuild` passes
//! `--cfg rasync_linux="<VERSION>.<PATCHLEVEL>"` of the tree it builds
//! against; everything else reads the constants and names below, not the
//! cfg, so the read path has one copy for both kernels.  The one other
//! reader is `rasync_main.rs`'s pair of `module!` blocks: a macro's keys
//! (`author` / `authors`) cannot come from a constant.
//!
//! The C side's differences are in `shim/compat.h`.
//!
//! The read path's differences, 6.12 -> 7.3 (`mm/filemap.c`):
//! - `filemap_read()` rejects `ki_pos < 0` ([`REJECT_NEGATIVE_POS`]);
//! - drop-behind reads (`RWF_DONTCACHE`, 6.14): folios the read creates or
//!   reads ahead are marked drop-behind ([`IOCB_DONTCACHE`]), and each
//!   folio is offered to [`end_dropbehind_read`] after the copy;
//! - `filemap_get_pages()` rounds the end of the read up to the mapping's
//!   minimum folio size ([`ROUND_END_TO_MIN_FOLIO`]) and returns the
//!   folios before a not-uptodate last folio as a short read rather than
//!   updating it ([`SHORT_READ_BEFORE_UPDATE`]);
//! - `filemap_create_folio()` takes the kiocb (`shim/compat.h`).

use kernel::bindings;

/// `ARef` and `AlwaysRefCounted` where the kernel crate keeps them: 7.3
/// moved them from `kernel::types` to `kernel::sync::aref` (6.17).
pub(crate) mod aref {
    #[cfg(not(rasync_linux = "6.12"))]
    pub(crate) use kernel::sync::aref::{ARef, AlwaysRefCounted};
    #[cfg(rasync_linux = "6.12")]
    pub(crate) use kernel::types::{ARef, AlwaysRefCounted};
}

/// `IOCB_DONTCACHE`, `(__force int) RWF_DONTCACHE`, a cast bindgen drops
/// (`ffi::layout_ok` checks it against C).  `None` on 6.12, which has no
/// drop-behind reads.
#[cfg(not(rasync_linux = "6.12"))]
pub(crate) const IOCB_DONTCACHE: Option<i32> = Some(0x80);
#[cfg(rasync_linux = "6.12")]
pub(crate) const IOCB_DONTCACHE: Option<i32> = None;

/// The type of `inode->i_ino` in the bindings: `unsigned long` on 6.12, a
/// `u64` on 7.3 (the same 64 bits on the 64-bit kernels rasync builds for).
#[cfg(rasync_linux = "6.12")]
pub(crate) type Ino = usize;
#[cfg(not(rasync_linux = "6.12"))]
pub(crate) type Ino = u64;

/// 7.3's `filemap_read()` returns `-EINVAL` for a negative `ki_pos`.
pub(crate) const REJECT_NEGATIVE_POS: bool = cfg!(not(rasync_linux = "6.12"));

/// 7.3's `filemap_get_pages()`: `last_index = round_up(ki_pos + count,
/// mapping_min_folio_nrbytes(mapping)) >> PAGE_SHIFT`; 6.12 rounds to pages.
pub(crate) const ROUND_END_TO_MIN_FOLIO: bool = cfg!(not(rasync_linux = "6.12"));

/// 7.3's `filemap_get_pages()` drops a not-uptodate last folio of a batch
/// of several and returns the others; 6.12 updates it, under `IOCB_NOWAIT`
/// for an `IOCB_WAITQ` read.
pub(crate) const SHORT_READ_BEFORE_UPDATE: bool = cfg!(not(rasync_linux = "6.12"));

/// `AS_FOLIO_ORDER_MIN`, where `mapping->flags` keeps the minimum folio
/// order; 6.12's bindings lack `pagemap.h`: the same value there, which
/// `ffi::layout_ok` checks against C.
#[cfg(not(rasync_linux = "6.12"))]
pub(crate) const AS_FOLIO_ORDER_MIN: u32 = bindings::mapping_flags_AS_FOLIO_ORDER_MIN;
#[cfg(rasync_linux = "6.12")]
pub(crate) const AS_FOLIO_ORDER_MIN: u32 = 16;
/// `AS_FOLIO_ORDER_BITS`, as [`AS_FOLIO_ORDER_MIN`].
#[cfg(not(rasync_linux = "6.12"))]
pub(crate) const AS_FOLIO_ORDER_BITS: u32 = bindings::mapping_flags_AS_FOLIO_ORDER_BITS;
#[cfg(rasync_linux = "6.12")]
pub(crate) const AS_FOLIO_ORDER_BITS: u32 = 5;

/// `PG_dropbehind` (7.3); `None` on 6.12, which has no such flag.
#[cfg(not(rasync_linux = "6.12"))]
pub(crate) const PG_DROPBEHIND: Option<u32> = Some(bindings::pageflags_PG_dropbehind);
#[cfg(rasync_linux = "6.12")]
pub(crate) const PG_DROPBEHIND: Option<u32> = None;

/// 7.3's `filemap_end_dropbehind_read()` for a folio whose `PG_dropbehind`
/// the caller saw set: the exported `folio_end_dropbehind()` does the same
/// (trylock, then invalidate the folio unless it is dirty, under writeback
/// or mapped).  Never called on 6.12, where [`PG_DROPBEHIND`] is `None`.
///
/// # Safety
///
/// `folio` is a folio on which the caller holds a reference.  (Outside
/// task context the C function does nothing.)
#[inline]
pub(crate) unsafe fn end_dropbehind_read(folio: *mut bindings::folio) {
    #[cfg(not(rasync_linux = "6.12"))]
    // SAFETY: As the caller guarantees.
    unsafe {
        bindings::folio_end_dropbehind(folio)
    };
    #[cfg(rasync_linux = "6.12")]
    let _ = folio;
}

// Fields that bindgen reaches by another path on each kernel, as place
// expressions of a raw pointer `$p`: used inside the caller's `unsafe`
// block, under its SAFETY argument, exactly like the field they stand for.
// 7.3 wraps `folio->flags` in `memdesc_flags_t`, moves `folio->index` into
// a union with `share`, `file->f_path` into a union with `__f_path` (which
// renumbers the union holding `f_ra`), and makes `kiocb->ki_waitq` a plain
// member; tracepoint keys became `static_key_false`.

#[cfg(rasync_linux = "6.12")]
mod fields {
    /// `folio->flags`, an `unsigned long`.
    macro_rules! folio_flags {
        ($p:expr) => {
            (*$p).__bindgen_anon_1.__bindgen_anon_1.flags
        };
    }
    /// `folio->index`.
    macro_rules! folio_index {
        ($p:expr) => {
            (*$p).__bindgen_anon_1.__bindgen_anon_1.index
        };
    }
    /// `file->f_ra`.
    macro_rules! file_f_ra {
        ($p:expr) => {
            (*$p).__bindgen_anon_2.f_ra
        };
    }
    /// `file->f_path`.
    macro_rules! file_f_path {
        ($p:expr) => {
            (*$p).f_path
        };
    }
    /// `iocb->ki_waitq`.
    macro_rules! kiocb_ki_waitq {
        ($p:expr) => {
            (*$p).__bindgen_anon_1.ki_waitq
        };
    }
    /// `tp->key`'s `atomic_t enabled`, of a `struct tracepoint` (a place,
    /// not a pointer).
    macro_rules! tracepoint_enabled {
        ($tp:expr) => {
            $tp.key.enabled
        };
    }
    pub(crate) use {
        file_f_path, file_f_ra, folio_flags, folio_index, kiocb_ki_waitq, tracepoint_enabled,
    };
}

#[cfg(not(rasync_linux = "6.12"))]
mod fields {
    /// `folio->flags.f`, the `unsigned long` of `memdesc_flags_t`.
    macro_rules! folio_flags {
        ($p:expr) => {
            (*$p).__bindgen_anon_1.__bindgen_anon_1.flags.f
        };
    }
    /// `folio->index`.
    macro_rules! folio_index {
        ($p:expr) => {
            (*$p)
                .__bindgen_anon_1
                .__bindgen_anon_1
                .__bindgen_anon_2
                .index
        };
    }
    /// `file->f_ra`.
    macro_rules! file_f_ra {
        ($p:expr) => {
            (*$p).__bindgen_anon_3.f_ra
        };
    }
    /// `file->f_path`.
    macro_rules! file_f_path {
        ($p:expr) => {
            (*$p).__bindgen_anon_1.f_path
        };
    }
    /// `iocb->ki_waitq`.
    macro_rules! kiocb_ki_waitq {
        ($p:expr) => {
            (*$p).ki_waitq
        };
    }
    /// `tp->key.key`'s `atomic_t enabled`, of a `struct tracepoint` (a
    /// place, not a pointer).
    macro_rules! tracepoint_enabled {
        ($tp:expr) => {
            $tp.key.key.enabled
        };
    }
    pub(crate) use {
        file_f_path, file_f_ra, folio_flags, folio_index, kiocb_ki_waitq, tracepoint_enabled,
    };
}

pub(crate) use fields::*;
