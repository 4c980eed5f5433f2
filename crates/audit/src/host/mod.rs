//! `host.*` rules: facts read under the root.
//!
//! One module per group of related facts. Every rule reads only `Snapshot.host` (and, for the
//! context-dependent ones, the Kata configs); a fact that is not `Found` makes the rule report
//! itself as unknown instead of passing.

mod cpu;
mod firmware;
mod iommu;
mod kata_context;
mod kernel;
mod kvm;
mod kvm_modules;
mod mitigations;
mod paths;
mod vulnerabilities;

use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{Location, Probe};

/// Every host rule, in id order.
pub(crate) static RULES: &[Rule] = &[
    kvm_modules::CONFIDENTIAL_COMPUTING_UNUSED,
    vulnerabilities::CPU_VULNERABLE,
    iommu::IOMMU_DISABLED,
    kernel::KSM_ENABLED,
    kvm::KVM_DEVICE_PERMISSIONS,
    kvm::KVM_UNAVAILABLE,
    mitigations::MITIGATIONS_DISABLED,
    cpu::NESTED_HOST,
    kvm_modules::NESTED_VIRTUALIZATION_ENABLED,
    kernel::NO_MANDATORY_ACCESS_CONTROL,
    firmware::SECURE_BOOT_DISABLED,
    vulnerabilities::SMT_ENABLED,
    kernel::SWAP_ENABLED,
    kernel::UNPRIVILEGED_BPF,
    cpu::VIRTUALIZATION_EXTENSIONS_MISSING,
];

/// The probed value, or `None` after recording why `meta` could not decide.
///
/// Centralised so that no rule can forget the "unknown is not a pass" contract.
fn known<'a, T>(probe: &'a Probe<T>, meta: &RuleMeta, out: &mut Emitter) -> Option<&'a T> {
    match probe.value() {
        Some(value) => Some(value),
        None => {
            let reason = probe
                .unknown_reason()
                .unwrap_or_else(|| "the fact was not collected".to_string());
            out.unknown(meta, reason);
            None
        }
    }
}

/// A location on the host; `path` is the path as it appears on the host, not under `--root`.
fn location(path: impl Into<std::path::PathBuf>, key: Option<&str>) -> Location {
    Location {
        path: path.into(),
        line: None,
        key: key.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rules_are_listed_in_id_order_and_in_the_host_area() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.meta.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|id| id.starts_with("host.")));
        // The count comes from the catalogue, never from a number written here.
        let catalogued: Vec<&str> = crate::catalogue()
            .iter()
            .map(|r| r.meta.id)
            .filter(|id| id.starts_with("host."))
            .collect();
        assert_eq!(ids, catalogued);
    }
}
