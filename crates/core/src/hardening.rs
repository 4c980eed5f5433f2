//! A hardening plan: the secure settings the audit derived, before anything is written.
//! Produced purely by `hvguard-audit`, written to disk by `hvguard-kata`.

use crate::{ConfigValue, RuleId};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The QEMU `-sandbox` value hvguard's hardening sets (`seccompsandbox` in Kata's Go runtime):
/// the seccomp filter on, and the obsolete, process-spawning and resource-control system calls
/// denied. The audit's fix and the boot benchmark of the `sandbox` feature both use it, so the
/// cost measured is the cost of the setting `harden` writes.
pub const QEMU_SECCOMP_SANDBOX: &str = "on,obsolete=deny,spawn=deny,resourcecontrol=deny";

/// One key to set in the hardened drop-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HardeningSetting {
    /// Dotted key: `hypervisor.qemu.seccompsandbox`, `runtime.disable_guest_seccomp`.
    pub key: String,
    pub value: ConfigValue,
    pub rule: RuleId,
    /// Why, in one line: becomes the comment above the setting.
    pub reason: String,
}

/// A change that needs a human decision; written as a commented suggestion, never applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HardeningSuggestion {
    pub key: String,
    pub value: ConfigValue,
    pub rule: RuleId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HardeningPlan {
    /// The main configuration file the plan is for.
    pub config: PathBuf,
    pub settings: Vec<HardeningSetting>,
    pub suggestions: Vec<HardeningSuggestion>,
}
