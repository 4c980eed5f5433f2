//! `host_facts` on every fixture host root gives the facts written into it, and the real
//! Debian 12 capture gives the real host's facts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{BootMode, CpuVendor, FileKind, HostFacts, HostRoot, Probe};
use hvguard_host::facts::host_facts;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name)
}

/// git keeps no mode bits but the executable one, so the intended `/dev/kvm` mode is set here,
/// on a private copy: chmod-ing the checkout would race with tests reading the same fixture.
fn facts_with_kvm_mode(name: &str, kvm_mode: Option<u32>) -> HostFacts {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&fixture(name), copy.path());
    if let Some(mode) = kvm_mode {
        std::fs::set_permissions(
            copy.path().join("dev/kvm"),
            std::fs::Permissions::from_mode(mode),
        )
        .unwrap();
    }
    host_facts(&HostRoot::new(copy.path()).unwrap())
}

/// Copies a fixture tree, keeping symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        let dest = to.join(entry.file_name());
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &dest).unwrap();
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn intel_problems() {
    let f = facts_with_kvm_mode("intel-problems", Some(0o666));
    assert_eq!(f.hostname.value().unwrap(), "kvm-host-07");
    let os = f.os.value().unwrap();
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("debian", Some("12"))
    );
    assert_eq!(f.kernel_release.value().unwrap(), "6.1.0-28-amd64");

    let cpu = f.cpu.value().unwrap();
    assert_eq!(cpu.vendor, CpuVendor::Intel);
    assert_eq!(
        cpu.model_name.as_deref(),
        Some("Intel(R) Xeon(R) Silver 4114 CPU @ 2.20GHz")
    );
    assert_eq!(cpu.logical_cpus, 20);
    assert!(cpu.has_flag("vmx") && !cpu.has_flag("svm") && !cpu.has_flag("hypervisor"));
    // `vmx flags` is a separate line; its entries must not leak into the flag set.
    assert!(!cpu.has_flag("preemption_timer"));

    let kvm = f.kvm.device.value().unwrap();
    assert_eq!((kvm.kind, kvm.mode), (FileKind::Regular, 0o666));
    assert!(kvm.accessible_by_others());
    assert_eq!(
        f.kvm.api_version,
        Probe::unsupported("not checked: --root is not the live host")
    );
    assert_eq!(f.kvm.param("kvm_intel", "nested"), Some("Y"));
    assert_eq!(f.kvm.param("kvm", "nx_huge_pages"), Some("N"));
    assert_eq!(
        f.kvm.modules.value().unwrap().keys().collect::<Vec<_>>(),
        ["kvm", "kvm_intel"]
    );

    assert_eq!(f.iommu.groups, Probe::found(0));
    assert_eq!(f.iommu.dmar_table, Probe::found(false));
    assert_eq!(f.iommu.ivrs_table, Probe::found(false));
    assert!(f.iommu.cmdline_flags.is_empty());

    assert_eq!(f.firmware.boot_mode, Probe::found(BootMode::Uefi));
    assert_eq!(f.firmware.secure_boot, Probe::found(false));
    assert_eq!(f.smt_control.value().unwrap(), "on");
    let vulns = f.cpu_vulnerabilities.value().unwrap();
    assert_eq!(vulns.len(), 14);
    assert_eq!(
        vulns["mds"],
        "Vulnerable: Clear CPU buffers attempted, no microcode; SMT vulnerable"
    );
    assert_eq!(vulns["meltdown"], "Vulnerable");
    let cmdline = f.cmdline.value().unwrap();
    assert!(cmdline.contains(&"mitigations=off".to_string()));
    assert!(cmdline.contains(&"nopti".to_string()));
    assert_eq!(f.ksm_run.value().unwrap(), "1");
    assert_eq!(f.swaps.value().unwrap(), &strings(&["/dev/sda3"]));
    assert_eq!(f.unprivileged_bpf_disabled.value().unwrap(), "0");
    assert_eq!(
        f.lsm.value().unwrap(),
        &strings(&["lockdown", "capability", "yama"])
    );
}

#[test]
fn amd_sev_snp_hardened() {
    let f = facts_with_kvm_mode("amd-sev-snp-hardened", Some(0o660));
    assert_eq!(f.hostname.value().unwrap(), "sev-node-01");
    let os = f.os.value().unwrap();
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("ubuntu", Some("24.04"))
    );
    assert_eq!(os.version_codename.as_deref(), Some("noble"));
    assert_eq!(f.kernel_release.value().unwrap(), "6.14.0-29-generic");

    let cpu = f.cpu.value().unwrap();
    assert_eq!(cpu.vendor, CpuVendor::Amd);
    assert_eq!(
        cpu.model_name.as_deref(),
        Some("AMD EPYC 7313 16-Core Processor")
    );
    assert_eq!(cpu.logical_cpus, 16);
    assert_eq!(
        cpu.virtualization_flags(),
        ["sev", "sev_es", "sev_snp", "svm"]
    );

    assert!(!f.kvm.device.value().unwrap().accessible_by_others());
    assert_eq!(f.kvm.param("kvm_amd", "nested"), Some("0"));
    assert_eq!(f.kvm.param("kvm_amd", "sev"), Some("Y"));
    assert_eq!(f.kvm.param("kvm_amd", "sev_es"), Some("Y"));
    assert_eq!(f.kvm.param("kvm_amd", "sev_snp"), Some("Y"));
    assert_eq!(
        f.kvm.param("kvm_amd", "avic"),
        None,
        "only the parameters that matter are read"
    );

    assert_eq!(f.iommu.groups, Probe::found(24));
    assert_eq!(f.iommu.ivrs_table, Probe::found(true));
    assert_eq!(f.iommu.dmar_table, Probe::found(false));
    assert_eq!(
        f.iommu.cmdline_flags,
        strings(&["amd_iommu=on", "iommu=pt"])
    );

    assert_eq!(f.firmware.boot_mode, Probe::found(BootMode::Uefi));
    assert_eq!(f.firmware.secure_boot, Probe::found(true));
    assert_eq!(f.smt_control.value().unwrap(), "forceoff");
    let vulns = f.cpu_vulnerabilities.value().unwrap();
    assert!(vulns
        .values()
        .all(|v| v == "Not affected" || v.starts_with("Mitigation: ")));
    assert_eq!(vulns["spec_rstack_overflow"], "Mitigation: Safe RET");
    assert_eq!(f.ksm_run.value().unwrap(), "0");
    assert_eq!(f.swaps, Probe::found(vec![]));
    assert_eq!(f.unprivileged_bpf_disabled.value().unwrap(), "2");
    assert!(f.lsm.value().unwrap().contains(&"apparmor".to_string()));
}

#[test]
fn cloud_vm_without_kvm() {
    let f = facts_with_kvm_mode("cloud-vm-no-kvm", None);
    assert_eq!(f.hostname.value().unwrap(), "ip-10-0-12-34.ec2.internal");
    let os = f.os.value().unwrap();
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("rocky", Some("9.4"))
    );
    assert_eq!(
        os.pretty_name.as_deref(),
        Some("Rocky Linux 9.4 (Blue Onyx)")
    );
    assert_eq!(
        f.kernel_release.value().unwrap(),
        "5.14.0-427.13.1.el9_4.x86_64"
    );

    let cpu = f.cpu.value().unwrap();
    assert_eq!(cpu.vendor, CpuVendor::Intel);
    assert_eq!(cpu.virtualization_flags(), ["hypervisor"]);
    assert_eq!(f.kvm.device, Probe::absent("/dev/kvm"));
    assert_eq!(f.kvm.modules, Probe::found(Default::default()));
    assert_eq!(f.firmware.boot_mode, Probe::found(BootMode::LegacyBios));
    assert_eq!(f.firmware.secure_boot, Probe::found(false));
    assert_eq!(f.iommu.groups, Probe::found(0));
    assert_eq!(f.iommu.dmar_table, Probe::found(false));
    assert_eq!(f.smt_control.value().unwrap(), "notsupported");
    let vulns = f.cpu_vulnerabilities.value().unwrap();
    assert_eq!(
        vulns["mmio_stale_data"],
        "Vulnerable: Clear CPU buffers attempted, no microcode; SMT Host state unknown"
    );
    assert!(vulns["retbleed"].starts_with("Vulnerable"));
    assert_eq!(f.swaps, Probe::found(vec![]));
    assert!(f.lsm.value().unwrap().contains(&"selinux".to_string()));
    // crashkernel=1G-4G:192M,... and console=ttyS0,115200n8 stay whole parameters.
    assert!(f
        .cmdline
        .value()
        .unwrap()
        .contains(&"console=ttyS0,115200n8".to_string()));
}

#[test]
fn kata_static_node() {
    let f = facts_with_kvm_mode("kata-static", Some(0o660));
    assert_eq!(f.hostname.value().unwrap(), "kata-worker-2");
    let os = f.os.value().unwrap();
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("ubuntu", Some("22.04"))
    );
    let cpu = f.cpu.value().unwrap();
    assert!(cpu.has_flag("vmx") && !cpu.has_flag("hypervisor"));
    assert_eq!(cpu.logical_cpus, 8);
    assert_eq!(f.kvm.param("kvm_intel", "nested"), Some("N"));
    assert_eq!(f.iommu.groups, Probe::found(12));
    assert_eq!(f.iommu.dmar_table, Probe::found(true));
    assert_eq!(f.iommu.cmdline_flags, strings(&["intel_iommu=on"]));
    assert_eq!(f.firmware.secure_boot, Probe::found(true));
    assert_eq!(f.ksm_run.value().unwrap(), "0");
    assert!(f.lsm.value().unwrap().contains(&"apparmor".to_string()));
}

#[test]
fn real_debian12_nested_pvm_capture() {
    let f = facts_with_kvm_mode("debian12-nested-pvm", None);
    let os = f.os.value().unwrap();
    assert_eq!(os.id, "debian");
    assert_eq!(os.version_id.as_deref(), Some("12"));
    assert_eq!(os.version_codename.as_deref(), Some("bookworm"));
    assert_eq!(f.kernel_release.value().unwrap(), "6.18.44-fc-v669");
    // The capture has neither proc/sys/kernel/hostname nor etc/hostname.
    assert_eq!(f.hostname, Probe::absent("/etc/hostname"));

    let cpu = f.cpu.value().unwrap();
    assert_eq!(cpu.vendor, CpuVendor::Amd);
    assert_eq!(cpu.vendor_id, "AuthenticAMD");
    assert_eq!(cpu.model_name.as_deref(), Some("AMD EPYC"));
    assert_eq!(cpu.logical_cpus, 2);
    assert_eq!(cpu.virtualization_flags(), ["hypervisor"]);

    // STAT.txt records /dev/kvm; the capture itself has no dev/ folder.
    assert_eq!(f.kvm.device, Probe::absent("/dev/kvm"));
    let modules = f.kvm.modules.value().unwrap();
    assert_eq!(modules.keys().collect::<Vec<_>>(), ["kvm", "kvm_pvm"]);
    assert_eq!(f.kvm.param("kvm", "nx_huge_pages"), Some("N"));
    assert!(
        modules["kvm_pvm"].is_empty(),
        "kvm_pvm has none of the parameters that matter"
    );

    assert_eq!(f.iommu.groups, Probe::found(0));
    assert_eq!(
        f.iommu.dmar_table,
        Probe::absent("/sys/firmware/acpi/tables")
    );
    assert_eq!(f.firmware.boot_mode, Probe::found(BootMode::LegacyBios));
    assert_eq!(f.smt_control.value().unwrap(), "notsupported");

    let cmdline = f.cmdline.value().unwrap();
    assert_eq!(cmdline[0], "mitigations=auto,no_guest_host,no_guest_guest");
    assert_eq!(
        cmdline.last().unwrap(),
        "rdinit=/process_api",
        "init's arguments after `--` are not kernel parameters"
    );
    let vulns = f.cpu_vulnerabilities.value().unwrap();
    assert_eq!(vulns.len(), 19);
    assert_eq!(
        vulns["spec_rstack_overflow"],
        "Vulnerable: Safe RET, no microcode"
    );
    assert_eq!(vulns["spec_store_bypass"], "Vulnerable");
    assert_eq!(f.ksm_run.value().unwrap(), "0");
    assert_eq!(f.swaps, Probe::found(vec![]));
    assert_eq!(f.unprivileged_bpf_disabled.value().unwrap(), "2");
    assert_eq!(f.lsm, Probe::absent("/sys/kernel/security/lsm"));
}

#[test]
fn facts_serialise_deterministically() {
    let root = HostRoot::new(fixture("kata-static")).unwrap();
    let a = serde_json::to_string(&host_facts(&root)).unwrap();
    let b = serde_json::to_string(&host_facts(&root)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn live_host_facts_are_truthful_and_quick() {
    let root = HostRoot::live();
    let start = std::time::Instant::now();
    let f = host_facts(&root);
    let elapsed = start.elapsed();
    // Printed, not asserted: timings depend on the machine.
    println!(
        "live host facts in {elapsed:?}: cpu={:?} kvm={:?} api={:?}",
        f.cpu.value().map(|c| c.virtualization_flags()),
        f.kvm.device,
        f.kvm.api_version
    );
    match &f.kvm.api_version {
        Probe::Found { value } => assert_eq!(*value, 12),
        other => assert!(other.unknown_reason().is_some()),
    }
    assert!(f.kernel_release.value().is_some(), "{:?}", f.kernel_release);
}
