//! This host, from the Snapshot: which hypervisor each Kata configuration runs, the installed
//! binaries with the matcher's open advisories, and whether the host can run SEV-SNP or TDX
//! guests (the KVM module parameters and CPU facts the host rules read).

use std::path::PathBuf;

use hvguard_advisory::matching::MatchOutcome;
use hvguard_core::{CpuVendor, KataConfig, Snapshot, SourcedValue};

use crate::facts::{CompareKind, Facts};
use crate::model::{HostCapability, Installed, OpenAdvisory};

/// The hypervisor a configuration runs: the first `[hypervisor.<section>]` the facts know.
pub fn config_kind(facts: &Facts, config: &KataConfig) -> Option<(CompareKind, String)> {
    config.values.keys().find_map(|key| {
        let section = key.strip_prefix("hypervisor.")?.split('.').next()?;
        facts
            .hypervisors
            .iter()
            .find(|h| h.config_sections.iter().any(|s| s == section))
            .map(|h| (h.kind, section.to_owned()))
    })
}

/// The value of `hypervisor.<section>.<name>` in a configuration.
pub fn setting<'a>(config: &'a KataConfig, section: &str, name: &str) -> Option<&'a SourcedValue> {
    config.values.get(&format!("hypervisor.{section}.{name}"))
}

/// `key = value (file:line)`, as evidence.
pub fn describe(section: &str, name: &str, value: &SourcedValue) -> String {
    let shown = match &value.value {
        hvguard_core::ConfigValue::String(s) => format!("{s:?}"),
        hvguard_core::ConfigValue::Bool(b) => b.to_string(),
        hvguard_core::ConfigValue::Integer(i) => i.to_string(),
        hvguard_core::ConfigValue::Float(f) => f.to_string(),
        hvguard_core::ConfigValue::Array(a) => format!("[{} values]", a.len()),
    };
    format!(
        "hypervisor.{section}.{name} = {shown} ({}:{})",
        value.path.display(),
        value.line
    )
}

/// The installed binaries of `kind`, with the configurations using them and the advisories
/// the matcher rates vulnerable for each.
pub fn installed(
    facts: &Facts,
    kind: CompareKind,
    snapshot: &Snapshot,
    matched: &MatchOutcome,
) -> Vec<Installed> {
    let Some(binary_kind) = kind.binary_kind() else {
        return Vec::new();
    };
    let by_section: Vec<PathBuf> = snapshot
        .kata
        .iter()
        .filter(|c| config_kind(facts, c).is_some_and(|(k, _)| k == kind))
        .map(|c| c.main.clone())
        .collect();
    let mut out: Vec<Installed> = snapshot
        .hypervisors
        .iter()
        .filter(|h| h.kind == binary_kind)
        .map(|h| {
            let mut used_by = h.used_by.clone();
            // Dragonball's configurations name no binary (`path = ""`: the VMM is built into
            // the runtime-rs shim), so every Dragonball configuration uses it. Other kinds are
            // used only by the configurations naming that very path.
            if kind == CompareKind::Dragonball {
                used_by.extend(by_section.iter().cloned());
            }
            used_by.sort();
            used_by.dedup();
            Installed {
                path: h.path.clone(),
                version: h.version.clone(),
                version_source: h
                    .version_source
                    .and_then(|s| serde_json::to_value(s).ok())
                    .and_then(|v| v.as_str().map(str::to_owned)),
                package: h
                    .package
                    .as_ref()
                    .map(|p| format!("{} {}", p.name, p.version)),
                used_by,
                open_advisories: open_advisories(&h.path, matched),
            }
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn open_advisories(path: &std::path::Path, matched: &MatchOutcome) -> Vec<OpenAdvisory> {
    let mut open: Vec<OpenAdvisory> = matched
        .findings
        .iter()
        .filter_map(|f| {
            let advisory = f.advisory.as_ref()?;
            let here = f.location.as_ref().is_some_and(|l| l.path == path)
                || advisory.binaries.iter().any(|b| b == path);
            here.then(|| OpenAdvisory {
                id: advisory.id.clone(),
                severity: f.severity.as_str().to_owned(),
                kev: advisory.kev,
                fixed_in: advisory.fixed_in.clone(),
                relevance: advisory.relevance.clone(),
            })
        })
        .collect();
    open.sort_by(|a, b| a.id.cmp(&b.id));
    open.dedup_by(|a, b| a.id == b.id);
    open
}

/// Module parameters are booleans (`Y`/`N`) on most kernels and integers on some.
fn is_on(value: &str) -> bool {
    matches!(value.trim(), "Y" | "y" | "1")
}

/// Whether this host can run AMD SEV-SNP guests.
pub fn sev_snp(snapshot: &Snapshot) -> HostCapability {
    capability(
        snapshot,
        CpuVendor::Amd,
        "kvm_amd",
        "sev_snp",
        "AMD SEV-SNP",
        "enable SEV-SNP in the host BIOS, run a host kernel 6.11 or later with SEV-SNP support, load kvm_amd with sev_snp=1, then use a QEMU SEV-SNP configuration (configuration-qemu-snp.toml: confidential_guest = true, sev_snp_guest = true, firmware AMDSEV.fd)",
    )
}

/// Whether this host can run Intel TDX guests.
pub fn tdx(snapshot: &Snapshot) -> HostCapability {
    capability(
        snapshot,
        CpuVendor::Intel,
        "kvm_intel",
        "tdx",
        "Intel TDX",
        "enable TDX in the host BIOS, run a host kernel with TDX host support, load kvm_intel with tdx=1, then use a QEMU TDX configuration (configuration-qemu-tdx.toml: confidential_guest = true, TDX firmware)",
    )
}

fn capability(
    snapshot: &Snapshot,
    vendor: CpuVendor,
    module: &str,
    param: &str,
    technology: &str,
    steps: &str,
) -> HostCapability {
    let kvm = &snapshot.host.kvm;
    let cpu = snapshot.host.cpu.value();
    if let Some(cpu) = cpu {
        if cpu.vendor != vendor {
            return HostCapability {
                state: "disabled",
                evidence: format!("the CPU is {} ({})", cpu.vendor_id, vendor_word(cpu.vendor)),
                to_enable: Some(format!(
                    "{technology} needs an {} CPU: not possible on this host",
                    vendor_word(vendor)
                )),
            };
        }
    }
    let Some(modules) = kvm.modules.value() else {
        return HostCapability {
            state: "unknown",
            evidence: kvm
                .modules
                .unknown_reason()
                .unwrap_or_else(|| "KVM modules not read".to_owned()),
            to_enable: Some(steps.to_owned()),
        };
    };
    match kvm.param(module, param) {
        Some(value) if is_on(value) => HostCapability {
            state: "enabled",
            evidence: format!("{module} {param} = {}", value.trim()),
            to_enable: None,
        },
        Some(value) => HostCapability {
            state: "disabled",
            evidence: format!("{module} {param} = {}", value.trim()),
            to_enable: Some(steps.to_owned()),
        },
        None if modules.contains_key(module) => HostCapability {
            state: "disabled",
            evidence: format!("{module} is loaded without a {param} parameter (its kernel has no {technology} support)"),
            to_enable: Some(steps.to_owned()),
        },
        None => HostCapability {
            state: if cpu.is_some() { "disabled" } else { "unknown" },
            evidence: format!("{module} is not loaded"),
            to_enable: Some(steps.to_owned()),
        },
    }
}

fn vendor_word(vendor: CpuVendor) -> &'static str {
    match vendor {
        CpuVendor::Amd => "AMD",
        CpuVendor::Intel => "Intel",
        CpuVendor::Other => "non-Intel, non-AMD",
    }
}
