//! The IOMMU: without it, a device passed through to a guest can DMA anywhere in host memory.

use super::kata_context::vfio_enablers;
use super::{known, location, paths};
use crate::catalogue::Check;
use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{IommuFacts, Probe, Severity, Snapshot};

pub(super) const IOMMU_DISABLED: Rule = Rule {
    meta: RuleMeta {
        id: "host.iommu-disabled",
        title: "No IOMMU is active",
        severity: Severity::Low,
        fires_when: "there is no IOMMU group under /sys/kernel/iommu_groups (high when a Kata config enables VFIO passthrough)",
        remediation: "Enable VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the firmware, add `intel_iommu=on iommu=pt` (Intel) or `amd_iommu=on iommu=pt` (AMD) to GRUB_CMDLINE_LINUX in /etc/default/grub, run `update-grub` (or `grub2-mkconfig -o /boot/grub2/grub.cfg`) and reboot; check with `ls /sys/kernel/iommu_groups`",
        references: &[
            "https://docs.kernel.org/driver-api/vfio.html",
            "https://docs.kernel.org/admin-guide/kernel-parameters.html",
            "https://github.com/kata-containers/kata-containers/blob/main/docs/use-cases/GPU-passthrough-and-Kata.md",
        ],
    },
    check: Check::Snapshot(iommu_disabled),
};

fn table(probe: &Probe<bool>, name: &str) -> String {
    match probe {
        Probe::Found { value: true } => format!("ACPI {name} table present"),
        Probe::Found { value: false } => format!("ACPI {name} table absent"),
        _ => format!("ACPI {name} table unknown"),
    }
}

fn evidence(groups: u32, iommu: &IommuFacts) -> String {
    let flags = if iommu.cmdline_flags.is_empty() {
        "no IOMMU kernel parameters".to_string()
    } else {
        format!("kernel parameters: {}", iommu.cmdline_flags.join(" "))
    };
    format!(
        "{groups} IOMMU groups; {}; {}; {flags}",
        table(&iommu.dmar_table, "DMAR"),
        table(&iommu.ivrs_table, "IVRS")
    )
}

fn iommu_disabled(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let iommu = &snapshot.host.iommu;
    let Some(&groups) = known(&iommu.groups, meta, out) else {
        return;
    };
    if groups > 0 {
        return;
    }
    let vfio = vfio_enablers(&snapshot.kata);
    let (severity, message) = if vfio.is_empty() {
        (
            meta.severity,
            "No IOMMU group exists, so the IOMMU is off or absent: no Kata config enables VFIO passthrough today, but any device later passed to a guest could DMA into all host memory".to_string(),
        )
    } else {
        let who: Vec<String> = vfio.iter().map(ToString::to_string).collect();
        (
            Severity::High,
            format!(
                "No IOMMU group exists while VFIO passthrough is enabled ({}): a device assigned to a guest can DMA into all host memory, a direct VM escape",
                who.join("; ")
            ),
        )
    };
    let hit = Hit::new(severity, message, evidence(groups, iommu))
        .at(location(paths::IOMMU_GROUPS, None));
    out.finding(meta, hit);
}
