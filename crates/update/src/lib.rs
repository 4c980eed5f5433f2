//! `hvguard update`: hypervisor updates on one node, as transactions.
//!
//! - [`apt`]: the dpkg/apt driver (argv only) and parsers of its output;
//! - [`status`]: per component the installed version, the candidate, what the candidate
//!   fixes (read from the candidate's changelog, joined with the advisory store) and the
//!   SLA of every open advisory;
//! - [`transaction`]: `apply`, `rollback` and `drill`, every stage recorded in the
//!   [`journal`] (tables in the advisory store), with [`artifacts`] to undo them;
//! - [`gate`]: the boot test before install, behind a trait;
//! - [`kata`]: static Kata releases, unpacked side by side and switched atomically;
//! - [`sla`]: remediation deadlines of open advisories (status, and scan's metrics);
//! - [`processes`]: the running VMMs and what they still hold from disk (for
//!   `hypervisor.stale-process`).

#![forbid(unsafe_code)]

pub mod apt;
pub mod artifacts;
pub mod components;
mod error;
pub mod gate;
pub mod journal;
pub mod kata;
pub mod locks;
pub mod processes;
pub mod result;
pub mod sla;
pub mod staging;
pub mod state;
pub mod status;
pub mod transaction;

pub use error::UpdateError;
