//! CPU flags: hardware virtualisation support, and whether this host is itself a VM.

use super::{known, location, paths};
use crate::catalogue::Check;
use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{CpuInfo, Severity, Snapshot};

pub(super) const VIRTUALIZATION_EXTENSIONS_MISSING: Rule = Rule {
    meta: RuleMeta {
        id: "host.virtualization-extensions-missing",
        title: "The CPU exposes no hardware virtualisation extensions",
        severity: Severity::Medium,
        fires_when: "the cpuinfo flags contain neither vmx (Intel VT-x) nor svm (AMD-V)",
        remediation: "Enable Intel VT-x (VMX) or AMD-V (SVM) in the firmware setup; on a VM, enable nested virtualisation on the parent hypervisor (e.g. `kvm_intel nested=1` / `kvm_amd nested=1` there, or the cloud's nested-virtualisation instance option)",
        references: &[
            "https://docs.kernel.org/virt/kvm/x86/running-nested-guests.html",
            "https://github.com/kata-containers/kata-containers#hardware-requirements",
        ],
    },
    check: Check::Snapshot(virtualization_extensions_missing),
};

pub(super) const NESTED_HOST: Rule = Rule {
    meta: RuleMeta {
        id: "host.nested-host",
        title: "This host is itself a virtual machine",
        severity: Severity::Info,
        fires_when: "the cpuinfo flags contain hypervisor",
        remediation: "Nothing to change on this host; judge CPU side-channel exposure on the physical host (its /sys/devices/system/cpu/vulnerabilities and microcode), and ask the provider which mitigations the parent hypervisor applies",
        references: &[
            "https://docs.kernel.org/virt/kvm/x86/running-nested-guests.html",
            "https://docs.kernel.org/admin-guide/hw-vuln/index.html",
        ],
    },
    check: Check::Snapshot(nested_host),
};

/// Hardware virtualisation flags present, for evidence: an empty list is itself the evidence.
fn virt_flags_evidence(cpu: &CpuInfo) -> String {
    let flags = cpu.virtualization_flags();
    if flags.is_empty() {
        "flags: no vmx, svm or hypervisor".to_string()
    } else {
        format!("flags: {}", flags.join(" "))
    }
}

fn virtualization_extensions_missing(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let Some(cpu) = known(&snapshot.host.cpu, meta, out) else {
        return;
    };
    if cpu.has_flag("vmx") || cpu.has_flag("svm") {
        return;
    }
    let mut message = format!(
        "{} ({}) exposes neither vmx nor svm: KVM cannot use hardware-assisted virtualisation",
        cpu.model_name.as_deref().unwrap_or("the CPU"),
        cpu.vendor_id
    );
    // A paravirtual KVM (e.g. kvm_pvm) can still run VMs without vmx/svm; say so rather than
    // claim KVM is impossible.
    let modules = snapshot.host.kvm.modules.value();
    let pv: Vec<&str> = modules
        .map(|m| {
            m.keys()
                .map(String::as_str)
                .filter(|name| {
                    name.starts_with("kvm_") && !matches!(*name, "kvm_intel" | "kvm_amd")
                })
                .collect()
        })
        .unwrap_or_default();
    if pv.is_empty() {
        message.push_str("; Kata Containers needs them to start VMs");
    } else {
        message.push_str(&format!(
            "; KVM is provided by the software/paravirtual module {} instead, with weaker isolation guarantees than VT-x/AMD-V",
            pv.join(", ")
        ));
    }
    let hit = Hit::new(meta.severity, message, virt_flags_evidence(cpu))
        .at(location(paths::CPUINFO, Some("flags")));
    out.finding(meta, hit);
}

fn nested_host(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let Some(cpu) = known(&snapshot.host.cpu, meta, out) else {
        return;
    };
    if !cpu.has_flag("hypervisor") {
        return;
    }
    let message = "The CPU reports the hypervisor flag: this host is a virtual machine, so its CPU vulnerability and mitigation data describe virtual CPUs as the parent hypervisor presents them, not the physical processor; the physical host's mitigations and microcode decide the real side-channel exposure";
    let hit = Hit::new(meta.severity, message, virt_flags_evidence(cpu))
        .at(location(paths::CPUINFO, Some("flags")));
    out.finding(meta, hit);
}
