// SPDX-License-Identifier: GPL-2.0

//! The ownership shapes of the module's wait and folio types, so that
//! doctests can show the misuses that no longer compile: the kernel crate
//! cannot run doctests, and its types need a kernel.
//!
//! The names and signatures are those of `rust/mm/wait.rs`,
//! `rust/mm/folio.rs` and `rust/mm/mapping.rs` (`Err(Queued)` stands for
//! `Err(EIOCBQUEUED)`); the bodies are stand-ins.  Each `compile_fail` example has a legal
//! twin that compiles, so it fails for the reason it names and not for a
//! typo.
//!
//! # A wait entry is queued at most once, on one folio
//!
//! Legal: wait for one folio to unlock, get the handle back, then lock
//! another one; after `Queued` the read can only return.
//!
//! ```
//! use rasync_model::shapes::*;
//! let (f, g) = (Folio::default(), Folio::default());
//! let wpq = WaitPageQueue::io_uring();
//! let wpq = wait_on_folio_locked_async(wpq.arm(&f)).unwrap();
//! match lock_folio_async(wpq.arm(&g)) {
//!     Ok((_guard, _wpq)) => {}
//!     Err(Queued) => {}
//! }
//! ```
//!
//! The armed wait is consumed: it cannot be queued twice.
//!
//! ```compile_fail,E0382
//! use rasync_model::shapes::*;
//! let f = Folio::default();
//! let wait = WaitPageQueue::io_uring().arm(&f);
//! let _ = wait_on_folio_locked_async(wait);
//! let _ = wait_on_folio_locked_async(wait); // use of moved value
//! ```
//!
//! Arming consumes the handle: no two armed waits, on F and on G, for one
//! entry.
//!
//! ```compile_fail,E0382
//! use rasync_model::shapes::*;
//! let (f, g) = (Folio::default(), Folio::default());
//! let wpq = WaitPageQueue::io_uring();
//! let on_f = wpq.arm(&f);
//! let on_g = wpq.arm(&g); // use of moved value
//! ```
//!
//! After `Queued` there is no handle left to arm again: the entry is the
//! wake function's.
//!
//! ```compile_fail,E0382
//! use rasync_model::shapes::*;
//! let f = Folio::default();
//! let wpq = WaitPageQueue::io_uring();
//! let armed = wpq.arm(&f);
//! if let Err(Queued) = lock_folio_async(armed) {
//!     let _ = lock_folio_async(wpq.arm(&f)); // use of moved value
//! }
//! ```
//!
//! Nor can the handle be copied beforehand.
//!
//! ```compile_fail,E0599
//! use rasync_model::shapes::*;
//! let wpq = WaitPageQueue::io_uring();
//! let spare = wpq.clone(); // no method `clone`
//! ```
//!
//! # Only a new folio is added to a mapping, once
//!
//! Legal: allocate, add, start the read.
//!
//! ```
//! use rasync_model::shapes::*;
//! let (m, file) = (Mapping::default(), File::default());
//! let added = m.add_folio(m.alloc_folio()).unwrap();
//! let _folio = added.start_read(&file);
//! ```
//!
//! A `NewFolio` is consumed by `add_folio`.
//!
//! ```compile_fail,E0382
//! use rasync_model::shapes::*;
//! let m = Mapping::default();
//! let new = m.alloc_folio();
//! let _ = m.add_folio(new);
//! let _ = m.add_folio(new); // use of moved value
//! ```
//!
//! An existing folio cannot become a `NewFolio`.
//!
//! ```compile_fail,E0423
//! use rasync_model::shapes::*;
//! let f = Folio::default();
//! let m = Mapping::default();
//! let _ = m.add_folio(NewFolio(f)); // private constructor
//! ```
//!
//! # `->read_folio` gets only a locked folio of its mapping
//!
//! Legal: check the mapping under the lock, then read.
//!
//! ```
//! use rasync_model::shapes::*;
//! let (f, m, file) = (Folio::default(), Mapping::default(), File::default());
//! if let Some(locked) = f.try_lock().unwrap().in_mapping(&m) {
//!     let _ = locked.read(&file);
//! }
//! ```
//!
//! A plain lock guard, which may be of a truncated folio or of another
//! mapping, has no `read`.
//!
//! ```compile_fail,E0599
//! use rasync_model::shapes::*;
//! let (f, file) = (Folio::default(), File::default());
//! let _ = f.try_lock().unwrap().read(&file); // no method `read`
//! ```

use core::marker::PhantomData;

/// `Folio` (stand-in).
#[derive(Default)]
pub struct Folio {
    _p: (),
}

/// `Mapping` (stand-in).
#[derive(Default)]
pub struct Mapping {
    _p: (),
}

/// `File` (stand-in).
#[derive(Default)]
pub struct File {
    _p: (),
}

/// `Err(EIOCBQUEUED)`: the entry was queued and is the wake function's.
#[derive(Debug)]
pub struct Queued;

/// `wait::WaitPageQueue`: the right to queue the entry once.
pub struct WaitPageQueue<'a>(PhantomData<&'a mut ()>);

impl WaitPageQueue<'static> {
    /// `Kiocb::wait_page_queue()`, an `unsafe fn` called once per read by
    /// the module's trampoline.
    pub fn io_uring() -> Self {
        WaitPageQueue(PhantomData)
    }
}

impl<'a> WaitPageQueue<'a> {
    /// `WaitPageQueue::arm`.
    pub fn arm<'f>(self, folio: &'f Folio) -> AsyncWait<'a, 'f> {
        AsyncWait { wpq: self, folio }
    }
}

/// `wait::AsyncWait`.
pub struct AsyncWait<'a, 'f> {
    wpq: WaitPageQueue<'a>,
    folio: &'f Folio,
}

/// `wait::lock_folio_async`.
pub fn lock_folio_async<'a, 'f>(
    wait: AsyncWait<'a, 'f>,
) -> Result<(FolioGuard<'f>, WaitPageQueue<'a>), Queued> {
    Ok((FolioGuard(wait.folio), wait.wpq))
}

/// `wait::wait_on_folio_locked_async`.
pub fn wait_on_folio_locked_async<'a>(
    wait: AsyncWait<'a, '_>,
) -> Result<WaitPageQueue<'a>, Queued> {
    Ok(wait.wpq)
}

/// `folio::FolioGuard`.
pub struct FolioGuard<'a>(&'a Folio);

impl Folio {
    /// `Folio::try_lock`.
    pub fn try_lock(&self) -> Option<FolioGuard<'_>> {
        Some(FolioGuard(self))
    }
}

impl<'a> FolioGuard<'a> {
    /// `FolioGuard::in_mapping`.
    pub fn in_mapping(self, mapping: &Mapping) -> Option<MappedFolioGuard<'a, '_>> {
        Some(MappedFolioGuard {
            _guard: self,
            _mapping: mapping,
        })
    }
}

/// `mapping::MappedFolioGuard`.
pub struct MappedFolioGuard<'a, 'm> {
    _guard: FolioGuard<'a>,
    _mapping: &'m Mapping,
}

impl MappedFolioGuard<'_, '_> {
    /// `MappedFolioGuard::read`.
    pub fn read(self, _file: &File) -> Result<(), ()> {
        Ok(())
    }
}

/// `folio::NewFolio`: its field is private, as in the module.
pub struct NewFolio(Folio);

/// `mapping::AddedFolio`.
pub struct AddedFolio<'m> {
    folio: Folio,
    _mapping: &'m Mapping,
}

impl AddedFolio<'_> {
    /// `AddedFolio::start_read`, which gives the reference back.
    pub fn start_read(self, _file: &File) -> Result<Folio, ()> {
        Ok(self.folio)
    }
}

impl Mapping {
    /// `Mapping::alloc_folio`.
    pub fn alloc_folio(&self) -> NewFolio {
        NewFolio(Folio::default())
    }

    /// `Mapping::add_folio`.
    pub fn add_folio(&self, folio: NewFolio) -> Result<AddedFolio<'_>, ()> {
        Ok(AddedFolio {
            folio: folio.0,
            _mapping: self,
        })
    }
}
