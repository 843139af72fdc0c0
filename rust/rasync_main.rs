// SPDX-License-Identifier: GPL-2.0

//! rasync: async buffered reads (the 2020 `IOCB_WAITQ` machinery) in Rust.
//!
//! The module serves `filemap_read()` through the read hook added by
//! `patches/0002`, which calls it only for files whose fops carry
//! `FOP_BUFFER_RASYNC`: those take the Rust path in [`read`].
//!
//! The crate root and the module's glue: the hook's entry point, module
//! init and exit.  The layers below are listed with their `mod` lines.

use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::bindings;
use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

// The layers, bottom up: a module imports from its own group and the
// groups before it, never from one after it, with one exception:
// `mm::wait` counts its waits in `stats`.
//
// Declarations of C (and of the C shims in `shim/`), and what differs
// between the kernels this builds for.
mod compat;
mod ffi;
// Wrappers of kernel objects, laid out as the kernel crate's.
mod fs;
mod iov;
mod mm;
mod sched;
// What the module reports: counters and trace events.
mod events;
mod stats;
// The read path.
mod read;
// The module's glue, with this file: time at `-EIOCBQUEUED`, self-test.
mod queued;
mod selftest;

use fs::Kiocb;
use iov::IovIterDest;
use mm::wait::WaitPageQueue;

// 7.3's `module!` takes a list of `authors`; 6.12's one `author`.
#[cfg(rasync_linux = "6.12")]
module! {
    type: Rasync,
    name: "rasync",
    author: "rasync developers",
    description: "Async buffered reads (IOCB_WAITQ) for io_uring, in Rust",
    license: "GPL",
}
#[cfg(not(rasync_linux = "6.12"))]
module! {
    type: Rasync,
    name: "rasync",
    authors: ["rasync developers"],
    description: "Async buffered reads (IOCB_WAITQ) for io_uring, in Rust",
    license: "GPL",
}

/// The hook's entry point, called by `filemap_read()` (inside the hook's
/// SRCU read section on 7.3, holding its `percpu_ref` on 6.12) for files
/// with `FOP_BUFFER_RASYNC`.  The only place raw pointers become types.
///
/// # Safety
///
/// Called by the kernel with the arguments of a `filemap_read()` call.
unsafe extern "C" fn rasync_read(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
    already_read: isize,
) -> isize {
    let hook_only = hook_only();
    let raw = iocb;
    // SAFETY: `filemap_read()` hands us its kiocb, with the file it names
    // open, and its iterator, both used by nobody else until we return
    // (io_uring's wake function, the one exception, is what `Kiocb`'s
    // invariant allows for).
    let (iocb, iter) = unsafe { (Kiocb::from_raw(iocb), IovIterDest::from_raw(iter)) };
    // What `rasync:rasync_read` says, read while the kiocb is ours.
    let traced = events::read_id(iocb.file()).map(|id| (id, iocb.pos(), iter.len(), iocb.flags()));
    let ret = if hook_only {
        // The hook's own cost and nothing more: no queue-time bookkeeping.
        // SAFETY: The caller's arguments, passed on unchanged.
        unsafe { bindings::filemap_read_stock(raw, iter.as_raw(), already_read) }
    } else {
        // SAFETY: The one call for this `filemap_read()`; the stock path,
        // which would use `ki_waitq` itself, is not taken.
        let waitq = unsafe { iocb.wait_page_queue() };
        read_timed(iocb, waitq, iter, already_read)
    };
    if let Some((id, pos, count, flags)) = traced {
        events::read(id, pos, count, flags, ret, hook_only);
    }
    ret
}

/// The `hook_only` parameter: whether the hook passes every read to the
/// stock path.
#[inline]
fn hook_only() -> bool {
    // SAFETY: `rasync_hook_only` is a C `bool` (0 or 1) module parameter
    // that param_set_bool() stores with a plain byte store; a relaxed atomic
    // byte load is the instruction C's READ_ONCE() of it is.
    unsafe { AtomicBool::from_ptr(addr_of_mut!(ffi::rasync_hook_only)) }.load(Ordering::Relaxed)
}

/// rasync's `filemap_read()`, with the time a read sat at `-EIOCBQUEUED`
/// taken on its retry (`queued_hist`, `rasync:rasync_woken`) while that
/// event is enabled: two clock reads and a table look-up per queued read
/// are a cost no read should pay unless someone is looking.
fn read_timed(
    iocb: &Kiocb,
    waitq: Option<WaitPageQueue<'_>>,
    iter: &mut IovIterDest<'_>,
    already_read: isize,
) -> isize {
    let timed = events::woken_enabled();
    let key = queued::key(iocb);
    if timed {
        if let Some(ns) = queued::take(key) {
            events::woken(iocb.file(), iocb.pos(), ns);
        }
    }
    let ret = read::filemap_read(iocb, waitq, iter, already_read);
    // From here on the kiocb may be io_uring's: only its address is used.
    if timed && ret == EIOCBQUEUED_RET {
        queued::note(key);
    }
    ret
}

/// `-EIOCBQUEUED` as `filemap_read()` returns it.
const EIOCBQUEUED_RET: isize = -(bindings::EIOCBQUEUED as isize);

static OPS: bindings::filemap_read_ops = bindings::filemap_read_ops {
    read: Some(rasync_read),
};

/// Whether `OPS` is registered; written under `kernel_param_lock`.
static HOOKED: AtomicBool = AtomicBool::new(false);

/// Registers or unregisters the read hook; called by the C shim under
/// `kernel_param_lock(THIS_MODULE)`, which serialises all callers.
/// Unregistering does not wait for readers: the shim does that with
/// `filemap_read_hook_synchronize()` once it dropped the lock.
#[no_mangle]
extern "C" fn rasync_set_enabled(on: bool) -> c_int {
    if on == HOOKED.load(Ordering::Relaxed) {
        return 0;
    }
    if on {
        // SAFETY: `OPS` is static and outlives the registration: module exit
        // unregisters it and waits for its readers before the module goes.
        let ret = to_result(unsafe { bindings::filemap_read_hook_register(&OPS) });
        if let Err(e) = ret {
            // -EBUSY (readers of the last registration not yet drained) is
            // the writer's to retry, not worth a line in the log each time.
            if e != EBUSY {
                pr_err!(
                    "could not register the filemap read hook: {}\n",
                    e.to_errno()
                );
            }
            return e.to_errno();
        }
    } else {
        // SAFETY: `OPS` is registered (`HOOKED`).
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

/// The parameter-driven read hook: registered while `enabled`, and for good
/// unregistered, with its readers gone, on drop.
struct Hook;

impl Hook {
    fn start() -> Result<Self> {
        // Dropped on failure too: `rasync_shim_start()` may have registered
        // the hook before the self-test failed.
        let hook = Hook;
        // SAFETY: Module init; the shim serialises with parameter writes.
        to_result(unsafe { ffi::rasync_shim_start() })?;
        Ok(hook)
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        // SAFETY: Module exit or failed init: after this no parameter write
        // registers the hook again, and no reader is inside `rasync_read`.
        unsafe { ffi::rasync_shim_stop() };
    }
}

/// The debugfs directory `rasync/` of the C shim, removed on drop.  C's:
/// 6.12's kernel crate has no debugfs, and 7.3's `kernel::debugfs` gives
/// its files no owner, so an open file would not keep the module loaded
/// and its release would run after the module's code went.
struct Debugfs;

impl Debugfs {
    /// # Safety
    ///
    /// Called once, from module init: the shim keeps one directory.
    unsafe fn create() -> Self {
        // SAFETY: The one call (this function's contract), before anything
        // reads the files.
        unsafe { ffi::rasync_debugfs_init() };
        Self
    }
}

impl Drop for Debugfs {
    fn drop(&mut self) {
        // SAFETY: The one `Debugfs` made by `create`; nothing uses the files
        // after module exit.
        unsafe { ffi::rasync_debugfs_exit() };
    }
}

struct Rasync {
    // Taken and dropped first by `Rasync::drop`, before the files it
    // reports in; `None` only there.
    hook: Option<Hook>,
    _debugfs: Debugfs,
}

impl kernel::Module for Rasync {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if !ffi::layout_ok() || !stats::count_matches_c() {
            pr_err!("C and Rust disagree on a struct layout; rebuild against this kernel\n");
            return Err(EINVAL);
        }
        if !mm::folio::order_matches_c()? {
            pr_err!("C and Rust disagree on folio_order(); rebuild against this kernel\n");
            return Err(EINVAL);
        }
        // SAFETY: Module init, the one call.
        let debugfs = unsafe { Debugfs::create() };
        let hook = Hook::start()?;
        pr_info!(
            "loaded, read hook {}\n",
            if rasync_hooked() { "registered" } else { "off" }
        );
        Ok(Rasync {
            hook: Some(hook),
            _debugfs: debugfs,
        })
    }
}

impl Drop for Rasync {
    fn drop(&mut self) {
        pr_info!("unloading\n");
        // Unregisters the hook and waits until no reader runs module code.
        drop(self.hook.take());
        pr_info!("read hook unregistered, readers gone\n");
    }
}
