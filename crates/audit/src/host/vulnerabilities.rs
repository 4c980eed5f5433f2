//! CPU side channels as the kernel reports them: SMT state and the vulnerability files.

use super::{known, location, paths};
use crate::catalogue::Check;
use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{Severity, Snapshot};
use std::collections::BTreeMap;

pub(super) const SMT_ENABLED: Rule = Rule {
    meta: RuleMeta {
        id: "host.smt-enabled",
        title: "Simultaneous multithreading is enabled",
        severity: Severity::Medium,
        fires_when: "/sys/devices/system/cpu/smt/control is `on` (high when a vulnerability file reports `SMT vulnerable`)",
        remediation: "Turn SMT off now with `echo off > /sys/devices/system/cpu/smt/control` and persistently with the kernel parameter `nosmt` (or `mitigations=auto,nosmt`) in GRUB_CMDLINE_LINUX, then `update-grub` and reboot",
        references: &[
            "https://docs.kernel.org/admin-guide/hw-vuln/l1tf.html",
            "https://docs.kernel.org/admin-guide/hw-vuln/mds.html",
            "https://docs.kernel.org/admin-guide/hw-vuln/core-scheduling.html",
        ],
    },
    check: Check::Snapshot(smt_enabled),
};

pub(super) const CPU_VULNERABLE: Rule = Rule {
    meta: RuleMeta {
        id: "host.cpu-vulnerable",
        title: "The kernel reports the CPU vulnerable to a side channel",
        severity: Severity::High,
        fires_when: "a file in /sys/devices/system/cpu/vulnerabilities/ starts with `Vulnerable` (one finding per file)",
        remediation: "Install the latest CPU microcode (`apt install intel-microcode` or `amd64-microcode`; `dnf install microcode_ctl linux-firmware`) and a kernel that mitigates the issue, remove any parameter that disables the mitigation (see host.mitigations-disabled), reboot, and re-read the file",
        references: &[
            "https://docs.kernel.org/admin-guide/hw-vuln/index.html",
            "https://docs.kernel.org/admin-guide/kernel-parameters.html",
            "https://www.kernel.org/doc/Documentation/ABI/testing/sysfs-devices-system-cpu",
        ],
    },
    check: Check::Snapshot(cpu_vulnerable),
};

/// Vulnerability files whose state depends on SMT being off, as the kernel says.
fn smt_vulnerable(files: &BTreeMap<String, String>) -> Vec<&str> {
    files
        .iter()
        .filter(|(_, state)| state.contains("SMT vulnerable"))
        .map(|(name, _)| name.as_str())
        .collect()
}

fn smt_enabled(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let Some(control) = known(&snapshot.host.smt_control, meta, out) else {
        return;
    };
    if control.trim() != "on" {
        return;
    }
    let (severity, message) = match snapshot.host.cpu_vulnerabilities.value() {
        Some(files) if !smt_vulnerable(files).is_empty() => (
            Severity::High,
            format!(
                "SMT is on and the kernel reports `SMT vulnerable` for {}: a guest vCPU sharing a core with another guest or the host can leak its data through the sibling thread",
                smt_vulnerable(files).join(", ")
            ),
        ),
        Some(_) => (
            meta.severity,
            "SMT is on: sibling hyperthreads share core resources, so a vCPU scheduled next to another guest or the host is exposed to cross-thread side channels as new ones are found".to_string(),
        ),
        None => (
            meta.severity,
            "SMT is on (the CPU vulnerability files could not be read, so whether a known issue is SMT-exploitable is unknown): sibling hyperthreads share core resources with other guests and the host".to_string(),
        ),
    };
    let evidence = format!("smt/control = {}", control.trim());
    let hit = Hit::new(severity, message, evidence).at(location(paths::SMT_CONTROL, None));
    out.finding(meta, hit);
}

fn cpu_vulnerable(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let Some(files) = known(&snapshot.host.cpu_vulnerabilities, meta, out) else {
        return;
    };
    let virtual_cpu = snapshot
        .host
        .cpu
        .value()
        .is_some_and(|cpu| cpu.has_flag("hypervisor"));
    for (name, state) in files {
        let state = state.trim();
        if !state.starts_with("Vulnerable") {
            continue;
        }
        let mut message = format!(
            "The kernel reports {name} as \"{state}\": a guest may be able to read host or other guests' memory through this side channel"
        );
        if virtual_cpu {
            message.push_str(" (this host is a VM: the state describes its virtual CPUs; check the physical host too)");
        }
        let path = format!("{}/{name}", paths::VULNERABILITIES);
        let hit = Hit::new(meta.severity, message, format!("{name}: {state}"))
            .at(location(path, Some(name)));
        out.finding(meta, hit);
    }
}
