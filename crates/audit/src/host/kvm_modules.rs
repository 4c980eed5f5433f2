//! KVM module parameters: nested virtualisation and confidential-computing support.

use super::kata_context::confidential_guests;
use super::{known, location, paths};
use crate::catalogue::Check;
use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{Severity, Snapshot};

pub(super) const NESTED_VIRTUALIZATION_ENABLED: Rule = Rule {
    meta: RuleMeta {
        id: "host.nested-virtualization-enabled",
        title: "KVM allows guests to run their own hypervisor",
        severity: Severity::Low,
        fires_when: "/sys/module/kvm_intel/parameters/nested or /sys/module/kvm_amd/parameters/nested is Y or 1",
        remediation: "Disable nested virtualisation unless guests need it: `echo 'options kvm_intel nested=0' > /etc/modprobe.d/kvm-nested.conf` (AMD: `options kvm_amd nested=0`), then reload the module with no VM running (`modprobe -r kvm_intel && modprobe kvm_intel`) or reboot",
        references: &[
            "https://docs.kernel.org/virt/kvm/x86/running-nested-guests.html",
            "https://www.cve.org/CVERecord?id=CVE-2021-29657",
            "https://www.cve.org/CVERecord?id=CVE-2021-3653",
        ],
    },
    check: Check::Snapshot(nested_virtualization_enabled),
};

pub(super) const CONFIDENTIAL_COMPUTING_UNUSED: Rule = Rule {
    meta: RuleMeta {
        id: "host.confidential-computing-unused",
        title: "The host supports confidential VMs but no Kata config uses them",
        severity: Severity::Info,
        fires_when: "/sys/module/kvm_amd/parameters/sev_snp or /sys/module/kvm_intel/parameters/tdx is Y or 1 while no Kata config sets confidential_guest = true",
        remediation: "Offer a confidential runtime class: set `confidential_guest = true` in the hypervisor section of a dedicated Kata config (e.g. configuration-qemu-snp.toml or configuration-qemu-tdx.toml) and register it as a containerd runtime / Kubernetes RuntimeClass",
        references: &[
            "https://github.com/kata-containers/kata-containers/blob/main/docs/how-to/how-to-run-kata-containers-with-SNP-VMs.md",
            "https://docs.kernel.org/virt/kvm/x86/amd-memory-encryption.html",
            "https://docs.kernel.org/arch/x86/tdx.html",
            "https://confidentialcontainers.org/docs/",
        ],
    },
    check: Check::Snapshot(confidential_computing_unused),
};

/// Module parameters are booleans (`Y`/`N`) on most kernels and integers on some.
fn is_on(value: &str) -> bool {
    matches!(value.trim(), "Y" | "y" | "1")
}

fn nested_virtualization_enabled(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let kvm = &snapshot.host.kvm;
    if known(&kvm.modules, meta, out).is_none() {
        return;
    }
    for module in ["kvm_amd", "kvm_intel"] {
        let Some(value) = kvm.param(module, "nested").filter(|v| is_on(v)) else {
            continue;
        };
        let message = format!(
            "{module} lets guests use hardware virtualisation themselves (nested={}): a guest can drive KVM's nested VMX/SVM emulation, a large and historically escape-prone attack surface",
            value.trim()
        );
        let hit = Hit::new(
            meta.severity,
            message,
            format!("{module} nested = {}", value.trim()),
        )
        .at(location(
            paths::module_param(module, "nested"),
            Some("nested"),
        ));
        out.finding(meta, hit);
    }
}

fn confidential_computing_unused(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let kvm = &snapshot.host.kvm;
    if known(&kvm.modules, meta, out).is_none() {
        return;
    }
    if !confidential_guests(&snapshot.kata).is_empty() {
        return;
    }
    for (module, param, technology) in [
        ("kvm_amd", "sev_snp", "AMD SEV-SNP"),
        ("kvm_intel", "tdx", "Intel TDX"),
    ] {
        let Some(value) = kvm.param(module, param).filter(|v| is_on(v)) else {
            continue;
        };
        let message = format!(
            "KVM has {technology} enabled, yet none of the {} Kata config(s) sets confidential_guest = true: guests run without memory encryption and integrity that this host could give them against a compromised host or VMM",
            snapshot.kata.len()
        );
        let hit = Hit::new(
            meta.severity,
            message,
            format!("{module} {param} = {}", value.trim()),
        )
        .at(location(paths::module_param(module, param), Some(param)));
        out.finding(meta, hit);
    }
}
