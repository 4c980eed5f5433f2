//! `hvguard hypervisors compare`: every hypervisor Kata supports side by side — reviewed facts
//! (each with its source), each one's record in the advisory data, and what this host uses —
//! so that the choice of hypervisor is documented from evidence and re-evaluated on demand.
//!
//! Pure: [`compare`] takes the facts, the advisories and a Snapshot and returns a
//! [`Comparison`]; the renderers only read it. docs/choosing-a-hypervisor.md explains the
//! figures and the ranking.

#![forbid(unsafe_code)]

mod choice;
mod compare;
mod configured;
mod error;
pub mod escape;
pub mod facts;
pub mod fix_time;
mod host;
mod integrity;
pub mod model;
mod needs;
pub mod previous;
pub mod record;
pub mod render;

pub use compare::{compare, CompareInput};
pub use error::CompareError;
pub use facts::{shipped_facts, CompareKind, Facts};
pub use model::{Comparison, COMPARE_SCHEMA};
pub use previous::{parse_previous, Since};

/// "Recent" in the ranking and the records: VM-escape-class advisories of the last this many
/// years.
pub const RECENT_YEARS: i64 = 5;
