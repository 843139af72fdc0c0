// SPDX-License-Identifier: GPL-2.0

//! File systems: wrappers of the VFS objects a read goes through.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)
//!
//! A wrapper layer, laid out as the kernel crate's `rust/kernel/fs.rs` and
//! its `fs/` sub-modules, so that each file could be proposed upstream as
//! it stands.  It imports from `ffi` and from `mm` (a file has a mapping),
//! never from the read path or the module's glue.

pub(crate) mod file;
pub(crate) mod kiocb;

pub(crate) use self::file::{File, Inode};
pub(crate) use self::kiocb::Kiocb;
