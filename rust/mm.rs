// SPDX-License-Identifier: GPL-2.0

//! Memory management: wrappers of the page cache, its folios and their
//! wait queues.
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h),
//! [`include/linux/mm.h`](srctree/include/linux/mm.h)
//!
//! A wrapper layer, laid out as the kernel crate's `rust/kernel/mm.rs` and
//! its `mm/` sub-modules, so that each file could be proposed upstream as
//! it stands.  It imports from `ffi` and from `fs` (a mapping has a host
//! inode), never from the read path; `wait` still counts its waits in
//! `stats`.

pub(crate) mod batch;
pub(crate) mod folio;
pub(crate) mod mapping;
pub(crate) mod wait;
