//! The hardening plan: for one Kata configuration, the secure value of every key an audit rule
//! objects to. Pure: it reads the merged configuration and writes nothing; `hvguard-kata`
//! turns the plan into a drop-in.
//!
//! Settings are what a hardening drop-in may set without a human decision; suggestions change
//! what workloads can do (rootless VMM, virtio-fs instead of 9p, resource caps, vIOMMU, machine
//! type, block devices, the Firecracker jailer) and are only written as comments.

use crate::kata::{config_offences, FixKind};
use hvguard_core::{HardeningPlan, HardeningSetting, HardeningSuggestion, KataConfig};
use std::collections::BTreeMap;

/// The plan for `config`, in its runtime's key spelling, sorted by key.
///
/// When two rules would set the same key (they never disagree on a value today), the first
/// rule in catalogue order wins and the plan names it.
pub fn plan(config: &KataConfig) -> HardeningPlan {
    let mut settings: BTreeMap<String, HardeningSetting> = BTreeMap::new();
    let mut suggestions: BTreeMap<String, HardeningSuggestion> = BTreeMap::new();
    for (meta, offence) in config_offences(config) {
        let Some(fix) = offence.fix else { continue };
        match fix.kind {
            FixKind::Apply => {
                settings.entry(fix.key.clone()).or_insert(HardeningSetting {
                    key: fix.key,
                    value: fix.value,
                    rule: meta.rule_id(),
                    reason: fix.reason,
                });
            }
            FixKind::Suggest => {
                suggestions
                    .entry(fix.key.clone())
                    .or_insert(HardeningSuggestion {
                        key: fix.key,
                        value: fix.value,
                        rule: meta.rule_id(),
                        reason: fix.reason,
                    });
            }
        }
    }
    HardeningPlan {
        config: config.main.clone(),
        settings: settings.into_values().collect(),
        suggestions: suggestions.into_values().collect(),
    }
}
