//! `hvguard harden`: turn a [`HardeningPlan`](hvguard_core::HardeningPlan) into files on disk.
//!
//! The plan is computed elsewhere (purely, from the findings). This module only renders it and
//! writes it, under three promises an operator can rely on:
//!
//! - the operator's own files (main config, other drop-ins) are never modified;
//! - writes are atomic (temporary file, fsync, rename, fsync of the folder), so Kata never reads a
//!   half-written file and a failure leaves nothing behind;
//! - running twice changes nothing the second time, and says so.
//!
//! Kata releases that read `config.d/` get a drop-in ([`write_dropin`]); older ones get a hardened
//! full copy beside the original ([`write_hardened_copy`]) that containerd's `ConfigPath` can point at.

// Tests may unwrap; the library build (also checked by clippy) may not.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod atomic;
mod changes;
mod copy;
mod effective;
mod error;
mod paths;
mod render;
mod support;
mod value;
mod write;

pub use changes::{plan_changes, plan_changes_effective, ChangedKey, Changes};
pub use copy::{
    is_hardened_copy, preview_hardened_copy, write_hardened_copy, HardenedCopy, COPY_SUFFIX,
};
pub use effective::{effective_with_copy, effective_with_dropin, Effective, Undone};
pub use error::HardenError;
pub use paths::{dropin_path, BACKUP_DIR, DROPIN_DIR, DROPIN_NAME};
pub use render::render_dropin;
pub use support::supports_dropins;
pub use value::render as render_value;
pub use write::{preview_dropin, write_dropin, DropinStatus, WriteOutcome};

/// Largest drop-in or main config this module will read: real Kata configs are under 64 KiB.
pub const READ_LIMIT: u64 = 4 << 20;
