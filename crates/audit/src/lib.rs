//! The rule catalogue: pure functions from a [`Snapshot`] to findings.
//!
//! Rules never touch the disk; everything they need is in the Snapshot. A rule whose facts
//! are unknown emits no finding and records an [`UnknownCheck`] instead, so "no finding"
//! never silently means "not checked".

mod advisory;
mod catalogue;
mod docs;
pub mod emit;
pub mod hardening;
mod host;
mod hypervisor;
mod integrity;
mod kata;

pub use catalogue::{catalogue, evaluate, find_rule, Evaluation, Rule, RuleMeta};
pub use docs::rule_doc;
pub use emit::Emitter;
