//! Hand-built reports shared by the integration tests.

#![allow(dead_code)] // each test binary uses a different part of this module

use hvguard_core::{
    AdvisoryRef, AdvisoryStatus, Finding, Hypervisor, HypervisorKind, Location, PackageManager,
    PackageRef, Report, ReportHost, RuleId, Severity, UnknownCheck, VersionSource,
};
use hvguard_report::SarifRule;
use std::path::PathBuf;

pub const GENERATED_AT: &str = "2026-11-27T12:00:00Z";
pub const DOCS_BASE: &str = "https://github.com/hvguard/hvguard/blob/main/docs/rules/";
const KATA_CONFIG: &str = "/etc/kata-containers/configuration.toml";

fn id(s: &str) -> RuleId {
    match RuleId::new(s) {
        Ok(id) => id,
        Err(e) => panic!("test rule id {s}: {e}"),
    }
}

fn at(path: &str, line: Option<u32>, key: Option<&str>) -> Option<Location> {
    Some(Location {
        path: PathBuf::from(path),
        line,
        key: key.map(str::to_string),
    })
}

fn finding(
    rule: &str,
    severity: Severity,
    title: &str,
    message: &str,
    location: Option<Location>,
    evidence: &str,
    remediation: &str,
) -> Finding {
    Finding {
        rule: id(rule),
        severity,
        title: title.to_string(),
        message: message.to_string(),
        location,
        evidence: evidence.to_string(),
        remediation: remediation.to_string(),
        references: vec![format!("https://example.org/hvguard/{rule}")],
        advisory: None,
    }
}

/// A Kata node with problems at every severity, an advisory, a host finding without a file,
/// unknown checks and two hypervisors. Findings are given unsorted: `Report::new` sorts.
pub fn sample_report() -> Report {
    let mut advisory = finding(
        "advisory.vulnerable",
        Severity::High,
        "Installed hypervisor is affected by a published advisory",
        "QEMU 8.2.0 under /opt/kata/bin is in the affected range of CVE-2024-3446 (fixed in 8.2.3).",
        at("/opt/kata/bin/qemu-system-x86_64", None, None),
        "QEMU emulator version 8.2.0 (kata-static)",
        "Upgrade the Kata static release to one that bundles QEMU 8.2.3 or later.",
    );
    advisory.advisory = Some(AdvisoryRef {
        id: "CVE-2024-3446".to_string(),
        aliases: vec!["GHSA-9c6w-2qxx-3c9m".to_string()],
        cvss: Some(8.2),
        kev: false,
        epss: Some(0.0012),
        fixed_in: Some("8.2.3".to_string()),
        status: AdvisoryStatus::Vulnerable,
        relevance: "virtio devices are reachable from every Kata guest: VM-escape path".to_string(),
        component: "virtio".to_string(),
        components: Vec::new(),
        binaries: Vec::new(),
    });
    let findings =
        vec![
        finding(
            "host.nested-host",
            Severity::Info,
            "This host is itself a virtual machine",
            "The CPU flags contain `hypervisor`: CPU vulnerability data describes virtual CPUs.",
            None,
            "flags: ... hypervisor ...",
            "Check the physical host's mitigations as well.",
        ),
        finding(
            "host.ksm-enabled",
            Severity::Medium,
            "Kernel same-page merging is on",
            "KSM merges identical pages across VMs, which enables cross-VM side channels.",
            at("/sys/kernel/mm/ksm/run", None, None),
            "1",
            "echo 0 > /sys/kernel/mm/ksm/run and disable ksmtuned.",
        ),
        finding(
            "qemu.seccomp-sandbox-off",
            Severity::High,
            "QEMU runs without its seccomp sandbox",
            "hypervisor.qemu sets an empty seccompsandbox, so QEMU may call any syscall.",
            at(KATA_CONFIG, Some(212), Some("hypervisor.qemu.seccompsandbox")),
            "seccompsandbox = \"\"",
            "seccompsandbox = \"on,obsolete=deny,spawn=deny,resourcecontrol=deny\"",
        ),
        finding(
            "kata.vmm-seccomp-disabled",
            Severity::Critical,
            "The VMM seccomp filter is disabled",
            "disable_seccomp = true removes the syscall filter around the VMM process.",
            at(KATA_CONFIG, Some(198), Some("hypervisor.qemu.disable_seccomp")),
            "disable_seccomp = true",
            "Set disable_seccomp = false (the default).",
        ),
        finding(
            "host.kvm-device-permissions",
            Severity::High,
            "/dev/kvm is accessible to every user",
            "Any local user can create VMs and reach KVM's attack surface.",
            at("/dev/kvm", None, None),
            "crw-rw-rw- root:kvm (0666)",
            "chmod 0660 /dev/kvm and keep it owned by root:kvm.",
        ),
        finding(
            "host.cpu-vulnerable",
            Severity::High,
            "The kernel reports a CPU vulnerability as unmitigated",
            "spectre_v2 is reported Vulnerable.",
            at(
                "/sys/devices/system/cpu/vulnerabilities/spectre_v2",
                None,
                Some("spectre_v2"),
            ),
            "Vulnerable: eIBRS with unprivileged eBPF",
            "Update microcode and kernel; set kernel.unprivileged_bpf_disabled = 1.",
        ),
        advisory,
        finding(
            "kata.annotations-dangerous",
            Severity::Critical,
            "Pod annotations can set dangerous hypervisor options",
            "enable_annotations holds a catch-all: a pod author can choose the hypervisor binary.",
            at(
                "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml",
                Some(47),
                Some("hypervisor.qemu.enable_annotations"),
            ),
            "enable_annotations = [\".*\"]",
            "enable_annotations = [\"enable_iommu\"] or an empty list.",
        ),
        finding(
            "host.nested-virtualization-enabled",
            Severity::Low,
            "Nested virtualisation is enabled",
            "kvm_intel's nested parameter is Y.",
            at("/sys/module/kvm_intel/parameters/nested", None, None),
            "Y",
            "options kvm_intel nested=0 in /etc/modprobe.d/kvm.conf",
        ),
    ];
    let unknown = vec![
        UnknownCheck {
            rule: id("host.unprivileged-bpf"),
            reason: "proc/sys/kernel/unprivileged_bpf_disabled: permission denied".to_string(),
            advisory: None,
        },
        UnknownCheck {
            rule: id("host.secure-boot-disabled"),
            reason: "no EFI variables under /sys/firmware/efi".to_string(),
            advisory: None,
        },
    ];
    let hypervisors = vec![
        Hypervisor {
            kind: HypervisorKind::Qemu,
            path: PathBuf::from("/usr/bin/qemu-system-x86_64"),
            version: Some("7.2.22".to_string()),
            version_source: Some(VersionSource::BinaryString),
            version_evidence: Some(
                "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".to_string(),
            ),
            package: Some(PackageRef {
                manager: PackageManager::Dpkg,
                name: "qemu-system-x86".to_string(),
                source: "qemu".to_string(),
                version: "1:7.2+dfsg-7+deb12u18+b3".to_string(),
                source_version: "1:7.2+dfsg-7+deb12u18".to_string(),
            }),
            kata_release: None,
            stat: None,
            used_by: vec![PathBuf::from(KATA_CONFIG)],
            parent_dirs: Vec::new(),
            version_note: None,
            devices: None,
        },
        Hypervisor {
            kind: HypervisorKind::Qemu,
            path: PathBuf::from("/opt/kata/bin/qemu-system-x86_64"),
            version: Some("8.2.0".to_string()),
            version_source: Some(VersionSource::KataVersions),
            version_evidence: None,
            package: None,
            kata_release: Some("3.3.0".to_string()),
            stat: None,
            used_by: vec![],
            parent_dirs: Vec::new(),
            version_note: None,
            devices: None,
        },
    ];
    Report::new(
        GENERATED_AT.to_string(),
        ReportHost {
            hostname: Some("kata-node-07".to_string()),
            root: "/".to_string(),
            kernel: Some("6.1.0-41-amd64".to_string()),
            os: Some("Debian GNU/Linux 12 (bookworm)".to_string()),
        },
        findings,
        unknown,
        hypervisors,
    )
}

/// A host with nothing found, nothing unknown and no hypervisor.
pub fn empty_report() -> Report {
    Report::new(
        GENERATED_AT.to_string(),
        ReportHost {
            hostname: Some("clean-node".to_string()),
            root: "/".to_string(),
            kernel: Some("6.12.0".to_string()),
            os: Some("Debian GNU/Linux 13 (trixie)".to_string()),
        },
        vec![],
        vec![],
        vec![],
    )
}

fn rule(id: &str, title: &str, severity: Severity, fires_when: &str, fix: &str) -> SarifRule {
    SarifRule {
        id: id.to_string(),
        title: title.to_string(),
        severity,
        fires_when: fires_when.to_string(),
        remediation: fix.to_string(),
        references: vec![format!("https://example.org/hvguard/{id}")],
    }
}

/// Part of the catalogue, as the CLI would map it: `advisory.vulnerable` and
/// `host.unprivileged-bpf` are left out on purpose to exercise stand-in descriptors.
pub fn catalogue() -> Vec<SarifRule> {
    vec![
        rule(
            "host.cpu-vulnerable",
            "The kernel reports a CPU vulnerability as unmitigated",
            Severity::High,
            "a file in sys/devices/system/cpu/vulnerabilities/ starts with `Vulnerable`",
            "Update microcode and kernel.",
        ),
        rule(
            "host.ksm-enabled",
            "Kernel same-page merging is on",
            Severity::Medium,
            "sys/kernel/mm/ksm/run is 1",
            "echo 0 > /sys/kernel/mm/ksm/run",
        ),
        rule(
            "host.kvm-device-permissions",
            "/dev/kvm is accessible to every user",
            Severity::High,
            "/dev/kvm is accessible to others (mode o+r or o+w)",
            "chmod 0660 /dev/kvm",
        ),
        rule(
            "host.nested-host",
            "This host is itself a virtual machine",
            Severity::Info,
            "cpuinfo flags contain `hypervisor`",
            "Check the physical host too.",
        ),
        rule(
            "host.nested-virtualization-enabled",
            "Nested virtualisation is enabled",
            Severity::Low,
            "kvm_intel or kvm_amd nested parameter is Y or 1",
            "options kvm_intel nested=0",
        ),
        rule(
            "host.secure-boot-disabled",
            "Secure Boot is off",
            Severity::Medium,
            "the SecureBoot EFI variable is 0, or there is no EFI",
            "Enable Secure Boot in the firmware.",
        ),
        rule(
            "host.swap-enabled",
            "Swap is enabled",
            Severity::Low,
            "proc/swaps lists at least one swap area",
            "swapoff -a and remove swap from /etc/fstab",
        ),
        rule(
            "kata.annotations-dangerous",
            "Pod annotations can set dangerous hypervisor options",
            Severity::Critical,
            "enable_annotations matches a binary path option or is a catch-all",
            "enable_annotations = []",
        ),
        rule(
            "kata.vmm-seccomp-disabled",
            "The VMM seccomp filter is disabled",
            Severity::Critical,
            "disable_seccomp = true in a section",
            "disable_seccomp = false",
        ),
        rule(
            "qemu.seccomp-sandbox-off",
            "QEMU runs without its seccomp sandbox",
            Severity::High,
            "a QEMU section's seccompsandbox is missing, empty or off",
            "seccompsandbox = \"on,obsolete=deny,spawn=deny,resourcecontrol=deny\"",
        ),
    ]
}

/// A program the test needs (promtool, ...): its path, or `None` with a visible SKIPPED
/// line. With `CI=true` a missing prerequisite fails the test instead (.ci/run installs it).
pub fn required_tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{name} is missing: install Debian's {package} (.ci/run does)");
        }
        eprintln!("\n*** SKIPPED: {name} not found (apt-get install {package}); this test did not run ***\n");
    }
    found
}
