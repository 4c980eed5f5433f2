//! Version schemes and their orderings: one parser per scheme, kept in `hvguard-core` so that
//! every crate (Kata release gates, containerd rules, advisory ranges) reads versions the
//! same way. Re-exported here because advisory ranges are where most comparisons happen.

pub use hvguard_core::version::*;
