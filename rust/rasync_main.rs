// SPDX-License-Identifier: GPL-2.0

//! rasync: async buffered reads (the 2020 `IOCB_WAITQ` machinery) in Rust.
//!
//! The module serves `filemap_read()` through the read hook added by
//! `patches/0002`: files whose fops carry `FOP_BUFFER_RASYNC` take the Rust
//! path in [`read`], everything else the stock path.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::bindings;
use kernel::ffi::c_int;
use kernel::prelude::*;

mod ffi;
mod folio;
mod protocol;
mod read;
mod selftest;
mod stats;
mod wait;

use stats::Stat;

module! {
    type: Rasync,
    name: "rasync",
    author: "rasync developers",
    description: "Async buffered reads (IOCB_WAITQ) for io_uring, in Rust",
    license: "GPL",
}

/// The hook's entry point, called by `filemap_read()` under SRCU.
///
/// # Safety
///
/// Called by the kernel with the arguments of a `filemap_read()` call.
unsafe extern "C" fn rasync_read(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
    already_read: isize,
) -> isize {
    // SAFETY: `iocb` is valid for the call and names an open file.
    if unsafe { ffi::rasync_file_buffer_rasync((*iocb).ki_filp) } {
        // SAFETY: The caller's arguments are valid for the call.
        unsafe { read::filemap_read(iocb, iter, already_read) }
    } else {
        Stat::Fallbacks.inc();
        // SAFETY: As above.
        unsafe { bindings::filemap_read_stock(iocb, iter, already_read) }
    }
}

static OPS: bindings::filemap_read_ops = bindings::filemap_read_ops {
    read: Some(rasync_read),
};

/// Whether `OPS` is registered; written under `kernel_param_lock`.
static HOOKED: AtomicBool = AtomicBool::new(false);

/// Registers or unregisters the read hook; called by the C shim under
/// `kernel_param_lock(THIS_MODULE)`, which serialises all callers.
#[no_mangle]
extern "C" fn rasync_set_enabled(on: bool) -> c_int {
    if on == HOOKED.load(Ordering::Relaxed) {
        return 0;
    }
    if on {
        // SAFETY: `OPS` is static and outlives the registration: module exit
        // unregisters it before the module's memory goes.
        let ret = unsafe { bindings::filemap_read_hook_register(&OPS) };
        if ret != 0 {
            pr_err!("could not register the filemap read hook: {}\n", ret);
            return ret;
        }
    } else {
        // SAFETY: `OPS` is registered (`HOOKED`); this waits for readers.
        unsafe { bindings::filemap_read_hook_unregister(&OPS) };
    }
    HOOKED.store(on, Ordering::Relaxed);
    0
}

#[no_mangle]
extern "C" fn rasync_hooked() -> bool {
    HOOKED.load(Ordering::Relaxed)
}

#[no_mangle]
extern "C" fn rasync_run_selftest() -> c_int {
    match selftest::run() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

struct Rasync;

impl kernel::Module for Rasync {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if !ffi::layout_ok() {
            pr_err!("C and Rust disagree on a struct layout; rebuild against this kernel\n");
            return Err(EINVAL);
        }
        // SAFETY: Called once, before anything reads the files.
        unsafe { ffi::rasync_debugfs_init() };
        // SAFETY: Module init; the shim serialises with parameter writes.
        let ret = unsafe { ffi::rasync_shim_start() };
        if ret != 0 {
            // SAFETY: Undoes what `rasync_shim_start` may have done.
            unsafe {
                ffi::rasync_shim_stop();
                ffi::rasync_debugfs_exit();
            }
            return Err(Error::from_errno(ret));
        }
        pr_info!(
            "loaded, read hook {}\n",
            if rasync_hooked() { "registered" } else { "off" }
        );
        Ok(Rasync)
    }
}

impl Drop for Rasync {
    fn drop(&mut self) {
        // SAFETY: Module exit: after this no parameter write can register the
        // hook again, and unregistering waits until no reader is inside
        // `rasync_read`.
        unsafe {
            ffi::rasync_shim_stop();
            ffi::rasync_debugfs_exit();
        }
        pr_info!("unloaded, read hook unregistered\n");
    }
}
