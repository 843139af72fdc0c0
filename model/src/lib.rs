// SPDX-License-Identifier: GPL-2.0

//! Host-side loom model check of rasync's async folio-lock protocol.
//!
//! `rust/mm/wait/protocol.rs` is compiled here verbatim; the model
//! (`model.rs`), the broken variants (`broken.rs`) and the loom tests
//! (`tests.rs`) exist only under `cfg(test)`, since loom is a
//! dev-dependency.

// Outside tests nothing uses the protocol; it is here to be checked.
#![cfg_attr(not(test), allow(dead_code))]

// The module's file, verbatim.  `rustfmt::skip`: `cargo fmt` here must not
// rewrite a file that belongs to the kernel build.
#[path = "../../rust/mm/wait/protocol.rs"]
#[rustfmt::skip]
mod protocol;

// The module's ownership shapes, for doctests of misuse that must not
// compile.
pub mod shapes;

#[cfg(test)]
mod broken;
#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
