//! The `host.*` rules against hand-built Snapshots: a benign host where every probe is found
//! and nothing fires, then one fact flipped per test.

// A test that cannot find what it expects should stop right there.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use hvguard_audit::{evaluate, Evaluation};
use hvguard_core::{
    BootMode, ConfigValue, CpuInfo, CpuVendor, FileKind, FileStat, FirmwareFacts, HostFacts,
    IommuFacts, KataConfig, KataRuntime, KvmFacts, OsRelease, Probe, Severity, Snapshot,
    SourcedValue, SNAPSHOT_SCHEMA,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const HOST_RULES: &[&str] = &[
    "host.confidential-computing-unused",
    "host.cpu-vulnerable",
    "host.iommu-disabled",
    "host.ksm-enabled",
    "host.kvm-device-permissions",
    "host.kvm-unavailable",
    "host.mitigations-disabled",
    "host.nested-host",
    "host.nested-virtualization-enabled",
    "host.no-mandatory-access-control",
    "host.secure-boot-disabled",
    "host.smt-enabled",
    "host.swap-enabled",
    "host.unprivileged-bpf",
    "host.virtualization-extensions-missing",
];

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A well-run Intel KVM host: every fact found, nothing for any host rule to report.
fn benign() -> Snapshot {
    let flags: BTreeSet<String> = ["fpu", "vmx", "sse2", "avx2", "md_clear"]
        .iter()
        .map(|f| f.to_string())
        .collect();
    let mut modules = BTreeMap::new();
    modules.insert("kvm".to_string(), params(&[("nx_huge_pages", "Y")]));
    modules.insert(
        "kvm_intel".to_string(),
        params(&[("nested", "N"), ("tdx", "N")]),
    );
    let vulnerabilities = params(&[
        ("l1tf", "Not affected"),
        ("mds", "Mitigation: Clear CPU buffers; SMT disabled"),
        ("meltdown", "Not affected"),
        (
            "spectre_v1",
            "Mitigation: usercopy/swapgs barriers and __user pointer sanitization",
        ),
        (
            "spectre_v2",
            "Mitigation: Enhanced / Automatic IBRS; IBPB: conditional",
        ),
    ]);
    let cmdline = "BOOT_IMAGE=/vmlinuz-6.1.0-40-amd64 root=/dev/mapper/vg-root ro quiet intel_iommu=on iommu=pt mitigations=auto,nosmt";
    Snapshot {
        schema: SNAPSHOT_SCHEMA.to_string(),
        collected_at: "2026-11-27T12:00:00Z".to_string(),
        root: PathBuf::from("/"),
        live: false,
        host: HostFacts {
            hostname: Probe::found("node-1".to_string()),
            os: Probe::found(OsRelease {
                id: "debian".to_string(),
                version_id: Some("12".to_string()),
                version_codename: Some("bookworm".to_string()),
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".to_string()),
            }),
            kernel_release: Probe::found("6.1.0-40-amd64".to_string()),
            cpu: Probe::found(CpuInfo {
                vendor: CpuVendor::Intel,
                vendor_id: "GenuineIntel".to_string(),
                model_name: Some("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz".to_string()),
                logical_cpus: 64,
                flags,
            }),
            kvm: KvmFacts {
                device: Probe::found(FileStat {
                    path: PathBuf::from("/dev/kvm"),
                    kind: FileKind::CharDevice,
                    mode: 0o660,
                    uid: 0,
                    gid: 106,
                }),
                api_version: Probe::found(12),
                modules: Probe::found(modules),
            },
            iommu: IommuFacts {
                groups: Probe::found(42),
                dmar_table: Probe::found(true),
                ivrs_table: Probe::found(false),
                cmdline_flags: vec!["intel_iommu=on".to_string(), "iommu=pt".to_string()],
            },
            firmware: FirmwareFacts {
                boot_mode: Probe::found(BootMode::Uefi),
                secure_boot: Probe::found(true),
            },
            smt_control: Probe::found("off".to_string()),
            cpu_vulnerabilities: Probe::found(vulnerabilities),
            cmdline: Probe::found(cmdline.split_whitespace().map(str::to_string).collect()),
            ksm_run: Probe::found("0".to_string()),
            swaps: Probe::found(Vec::new()),
            unprivileged_bpf_disabled: Probe::found("2".to_string()),
            lsm: Probe::found(
                ["lockdown", "capability", "landlock", "yama", "apparmor"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
        },
        packages: Probe::found(Vec::new()),
        hypervisors: Vec::new(),
        kata_install: Probe::absent("/opt/kata/VERSION"),
        kata: Vec::new(),
        containerd: Vec::new(),
        containerd_binaries: Vec::new(),
        warnings: Vec::new(),
        changelogs: Default::default(),
        vmm_processes: hvguard_core::processes_not_collected(),
        integrity: Default::default(),
        collector_uid: None,
    }
}

/// A Kata config whose values all come from `path`, one per line starting at line 100.
fn kata_config(path: &str, values: &[(&str, ConfigValue)]) -> KataConfig {
    let values = values
        .iter()
        .enumerate()
        .map(|(i, (key, value))| {
            let sourced = SourcedValue {
                value: value.clone(),
                path: PathBuf::from(path),
                line: 100 + i as u32,
                column: 1,
            };
            (key.to_string(), sourced)
        })
        .collect();
    KataConfig {
        runtime: KataRuntime::Go,
        main: PathBuf::from(path),
        dropins: Vec::new(),
        runtime_classes: vec!["kata-qemu".to_string()],
        files: Vec::new(),
        values,
    }
}

fn string(s: &str) -> ConfigValue {
    ConfigValue::String(s.to_string())
}

fn host_findings<'a>(eval: &'a Evaluation, rule: &str) -> Vec<&'a hvguard_core::Finding> {
    eval.findings
        .iter()
        .filter(|f| f.rule.as_str() == rule)
        .collect()
}

fn unknown_reasons<'a>(eval: &'a Evaluation, rule: &str) -> Vec<&'a str> {
    eval.unknown
        .iter()
        .filter(|u| u.rule.as_str() == rule)
        .map(|u| u.reason.as_str())
        .collect()
}

/// Exactly one finding of `rule`, and no unknown entry for it.
fn single<'a>(eval: &'a Evaluation, rule: &str) -> &'a hvguard_core::Finding {
    let found = host_findings(eval, rule);
    assert_eq!(found.len(), 1, "{rule}: {:#?}", eval.findings);
    assert!(
        unknown_reasons(eval, rule).is_empty(),
        "{rule} also unknown"
    );
    found[0]
}

fn silent(eval: &Evaluation, rule: &str) {
    assert!(
        host_findings(eval, rule).is_empty(),
        "{rule} fired: {:#?}",
        eval.findings
    );
    assert!(
        unknown_reasons(eval, rule).is_empty(),
        "{rule} unknown: {:#?}",
        eval.unknown
    );
}

fn loc_path(finding: &hvguard_core::Finding) -> &Path {
    &finding
        .location
        .as_ref()
        .expect("host findings carry a location")
        .path
}

fn loc_key(finding: &hvguard_core::Finding) -> Option<&str> {
    finding.location.as_ref().and_then(|l| l.key.as_deref())
}

#[test]
fn a_benign_host_gives_no_host_finding_and_no_unknown() {
    let eval = evaluate(&benign());
    for rule in HOST_RULES {
        silent(&eval, rule);
    }
}

#[test]
fn every_host_rule_is_in_the_catalogue_with_a_doc_page() {
    for rule in HOST_RULES {
        let found = hvguard_audit::find_rule(rule).unwrap_or_else(|| panic!("{rule} missing"));
        let page = hvguard_audit::rule_doc(rule).unwrap_or_else(|| panic!("{rule} has no page"));
        let title = format!("# {rule}: {}\n", found.meta.title);
        assert!(
            page.starts_with(&title),
            "{rule}: page title differs from the catalogue's"
        );
        assert!(
            page.contains(found.meta.severity.as_str()),
            "{rule} page severity"
        );
    }
    let in_catalogue: Vec<&str> = hvguard_audit::catalogue()
        .iter()
        .map(|r| r.meta.id)
        .filter(|id| id.starts_with("host."))
        .collect();
    assert_eq!(in_catalogue, HOST_RULES);
}

#[test]
fn default_severities_match_rules_md() {
    for (id, severity) in [
        ("host.kvm-unavailable", Severity::High),
        ("host.kvm-device-permissions", Severity::High),
        ("host.virtualization-extensions-missing", Severity::Medium),
        ("host.nested-host", Severity::Info),
        ("host.iommu-disabled", Severity::Low),
        ("host.secure-boot-disabled", Severity::Medium),
        ("host.smt-enabled", Severity::Medium),
        ("host.cpu-vulnerable", Severity::High),
        ("host.mitigations-disabled", Severity::High),
        ("host.ksm-enabled", Severity::Medium),
        ("host.nested-virtualization-enabled", Severity::Low),
        ("host.unprivileged-bpf", Severity::Medium),
        ("host.no-mandatory-access-control", Severity::Medium),
        ("host.swap-enabled", Severity::Low),
        ("host.confidential-computing-unused", Severity::Info),
    ] {
        let rule = hvguard_audit::find_rule(id).unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(rule.meta.severity, severity, "{id}");
    }
}

// --- KVM ---------------------------------------------------------------------------------

#[test]
fn kvm_unavailable_when_dev_kvm_is_absent() {
    let mut s = benign();
    s.host.kvm.device = Probe::absent("/dev/kvm");
    let eval = evaluate(&s);
    let f = single(&eval, "host.kvm-unavailable");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(loc_path(f), Path::new("/dev/kvm"));
    assert_eq!(f.evidence, "/dev/kvm absent");
    // The permissions rule cannot judge a device that is not there.
    assert_eq!(
        unknown_reasons(&eval, "host.kvm-device-permissions").len(),
        1
    );
}

#[test]
fn kvm_unavailable_when_dev_kvm_is_not_a_character_device_on_the_live_host() {
    let mut s = benign();
    s.host.kvm.device = Probe::found(FileStat {
        path: PathBuf::from("/dev/kvm"),
        kind: FileKind::Regular,
        mode: 0o600,
        uid: 0,
        gid: 0,
    });
    // Under --root, images and fixtures rarely keep device nodes: presence is what counts.
    assert!(evaluate(&s)
        .findings
        .iter()
        .all(|f| f.rule.as_str() != "host.kvm-unavailable"));
    s.live = true;
    s.host.kvm.api_version = Probe::found(12);
    let f = single(&evaluate(&s), "host.kvm-unavailable").clone();
    assert!(f.evidence.contains("type=regular file"), "{}", f.evidence);
}

#[test]
fn kvm_unavailable_on_live_host_when_the_ioctl_fails() {
    let mut s = benign();
    s.live = true;
    s.host.kvm.api_version =
        Probe::unsupported("/dev/kvm: KVM_GET_API_VERSION failed: Inappropriate ioctl for device");
    let eval = evaluate(&s);
    let f = single(&eval, "host.kvm-unavailable");
    assert!(
        f.evidence.contains("KVM_GET_API_VERSION failed"),
        "{}",
        f.evidence
    );

    s.host.kvm.api_version = Probe::found(11);
    let eval = evaluate(&s);
    assert_eq!(
        single(&eval, "host.kvm-unavailable").evidence,
        "KVM_GET_API_VERSION = 11"
    );

    s.host.kvm.api_version = Probe::found(12);
    silent(&evaluate(&s), "host.kvm-unavailable");
}

#[test]
fn kvm_api_version_is_ignored_on_a_mounted_root() {
    let mut s = benign();
    s.live = false;
    s.host.kvm.api_version = Probe::unsupported("not the live root");
    silent(&evaluate(&s), "host.kvm-unavailable");
}

#[test]
fn kvm_unavailable_is_unknown_when_dev_kvm_cannot_be_stat() {
    let mut s = benign();
    s.host.kvm.device = Probe::denied("/dev/kvm");
    let eval = evaluate(&s);
    assert!(host_findings(&eval, "host.kvm-unavailable").is_empty());
    assert_eq!(
        unknown_reasons(&eval, "host.kvm-unavailable"),
        ["permission denied reading /dev/kvm"]
    );
}

#[test]
fn kvm_device_permissions_fires_on_other_read_or_write() {
    for (mode, fires) in [
        (0o666, true),
        (0o606, true),
        (0o604, true),
        (0o602, true),
        (0o660, false),
        (0o600, false),
        (0o670, false),
    ] {
        let mut s = benign();
        s.host.kvm.device = Probe::found(FileStat {
            path: PathBuf::from("/dev/kvm"),
            kind: FileKind::CharDevice,
            mode,
            uid: 0,
            gid: 0,
        });
        let eval = evaluate(&s);
        if fires {
            let f = single(&eval, "host.kvm-device-permissions");
            assert_eq!(f.severity, Severity::High);
            assert_eq!(f.evidence, format!("mode={mode:04o} owner=0:0"));
            assert_eq!(loc_path(f), Path::new("/dev/kvm"));
        } else {
            silent(&eval, "host.kvm-device-permissions");
        }
    }
}

// --- CPU ---------------------------------------------------------------------------------

fn with_flags(s: &mut Snapshot, flags: &[&str]) {
    if let Probe::Found { value } = &mut s.host.cpu {
        value.flags = flags.iter().map(|f| f.to_string()).collect();
    }
}

#[test]
fn virtualization_extensions_missing_without_vmx_or_svm() {
    let mut s = benign();
    with_flags(&mut s, &["fpu", "sse2"]);
    let eval = evaluate(&s);
    let f = single(&eval, "host.virtualization-extensions-missing");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(loc_path(f), Path::new("/proc/cpuinfo"));
    assert_eq!(loc_key(f), Some("flags"));

    with_flags(&mut s, &["fpu", "svm"]);
    silent(&evaluate(&s), "host.virtualization-extensions-missing");
}

#[test]
fn virtualization_extensions_missing_names_a_paravirtual_kvm() {
    let mut s = benign();
    with_flags(&mut s, &["fpu", "hypervisor"]);
    if let Probe::Found { value } = &mut s.host.kvm.modules {
        value.clear();
        value.insert("kvm".to_string(), BTreeMap::new());
        value.insert("kvm_pvm".to_string(), params(&[("pvm_native", "Y")]));
    }
    let eval = evaluate(&s);
    let f = single(&eval, "host.virtualization-extensions-missing");
    assert!(f.message.contains("kvm_pvm"), "{}", f.message);
    assert_eq!(f.evidence, "flags: hypervisor");
}

#[test]
fn nested_host_is_info_and_explains_virtual_cpus() {
    let mut s = benign();
    with_flags(&mut s, &["vmx", "hypervisor"]);
    let eval = evaluate(&s);
    let f = single(&eval, "host.nested-host");
    assert_eq!(f.severity, Severity::Info);
    assert!(f.message.contains("virtual CPUs"), "{}", f.message);
    assert!(f.evidence.contains("hypervisor"));
}

#[test]
fn cpu_rules_are_unknown_without_cpuinfo() {
    let mut s = benign();
    s.host.cpu = Probe::unsupported("/proc/cpuinfo has no flags line");
    let eval = evaluate(&s);
    for rule in ["host.virtualization-extensions-missing", "host.nested-host"] {
        assert!(host_findings(&eval, rule).is_empty());
        assert_eq!(
            unknown_reasons(&eval, rule),
            ["/proc/cpuinfo has no flags line"]
        );
    }
}

// --- IOMMU -------------------------------------------------------------------------------

#[test]
fn iommu_disabled_is_low_without_vfio() {
    let mut s = benign();
    s.host.iommu.groups = Probe::found(0);
    s.kata = vec![kata_config(
        "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml",
        &[
            ("hypervisor.qemu.hot_plug_vfio", string("no-port")),
            ("hypervisor.qemu.cold_plug_vfio", string("no-port")),
        ],
    )];
    let eval = evaluate(&s);
    let f = single(&eval, "host.iommu-disabled");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(loc_path(f), Path::new("/sys/kernel/iommu_groups"));
    assert!(f.evidence.starts_with("0 IOMMU groups"), "{}", f.evidence);
    assert!(
        f.evidence.contains("ACPI DMAR table present"),
        "{}",
        f.evidence
    );
}

#[test]
fn iommu_disabled_is_high_when_a_config_enables_vfio_and_names_it() {
    for (key, value) in [
        ("hypervisor.qemu.cold_plug_vfio", string("root-port")),
        ("hypervisor.clh.hot_plug_vfio", string("bridge-port")),
        (
            "hypervisor.qemu.hotplug_vfio_on_root_bus",
            ConfigValue::Bool(true),
        ),
    ] {
        let mut s = benign();
        s.host.iommu.groups = Probe::found(0);
        let path = "/etc/kata-containers/configuration.toml";
        s.kata = vec![kata_config(path, &[(key, value)])];
        let eval = evaluate(&s);
        let f = single(&eval, "host.iommu-disabled");
        assert_eq!(f.severity, Severity::High, "{key}");
        assert!(f.message.contains(&format!("{path}:100")), "{}", f.message);
        assert!(f.message.contains(key), "{}", f.message);
    }
}

#[test]
fn iommu_present_is_silent_even_with_vfio() {
    let mut s = benign();
    s.kata = vec![kata_config(
        "/etc/kata-containers/configuration.toml",
        &[("hypervisor.qemu.cold_plug_vfio", string("root-port"))],
    )];
    silent(&evaluate(&s), "host.iommu-disabled");
}

#[test]
fn iommu_unknown_when_groups_unreadable() {
    let mut s = benign();
    s.host.iommu.groups = Probe::absent("/sys/kernel/iommu_groups");
    let eval = evaluate(&s);
    assert!(host_findings(&eval, "host.iommu-disabled").is_empty());
    assert_eq!(
        unknown_reasons(&eval, "host.iommu-disabled"),
        ["/sys/kernel/iommu_groups does not exist"]
    );
}

// --- Firmware ----------------------------------------------------------------------------

#[test]
fn secure_boot_off_on_uefi_is_medium() {
    let mut s = benign();
    s.host.firmware.secure_boot = Probe::found(false);
    let eval = evaluate(&s);
    let f = single(&eval, "host.secure-boot-disabled");
    assert_eq!(f.severity, Severity::Medium);
    assert!(loc_path(f).ends_with("SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"));
}

#[test]
fn legacy_bios_is_low() {
    let mut s = benign();
    s.host.firmware.boot_mode = Probe::found(BootMode::LegacyBios);
    s.host.firmware.secure_boot = Probe::absent("/sys/firmware/efi");
    let eval = evaluate(&s);
    let f = single(&eval, "host.secure-boot-disabled");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(loc_path(f), Path::new("/sys/firmware/efi"));
    assert_eq!(f.evidence, "no /sys/firmware/efi");
}

#[test]
fn secure_boot_unknown_when_the_variable_is_unreadable() {
    let mut s = benign();
    s.host.firmware.secure_boot =
        Probe::denied("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c");
    let eval = evaluate(&s);
    assert!(host_findings(&eval, "host.secure-boot-disabled").is_empty());
    assert_eq!(unknown_reasons(&eval, "host.secure-boot-disabled").len(), 1);

    let mut s = benign();
    s.host.firmware.boot_mode = Probe::unsupported("cannot tell the boot mode");
    let eval = evaluate(&s);
    assert_eq!(
        unknown_reasons(&eval, "host.secure-boot-disabled"),
        ["cannot tell the boot mode"]
    );
}

// --- SMT and CPU vulnerabilities ---------------------------------------------------------

#[test]
fn smt_on_is_medium_and_high_when_a_file_says_smt_vulnerable() {
    let mut s = benign();
    s.host.smt_control = Probe::found("on".to_string());
    let eval = evaluate(&s);
    let f = single(&eval, "host.smt-enabled");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.evidence, "smt/control = on");
    assert_eq!(
        loc_path(f),
        Path::new("/sys/devices/system/cpu/smt/control")
    );

    if let Probe::Found { value } = &mut s.host.cpu_vulnerabilities {
        value.insert(
            "mds".to_string(),
            "Mitigation: Clear CPU buffers; SMT vulnerable".to_string(),
        );
    }
    let eval = evaluate(&s);
    let f = single(&eval, "host.smt-enabled");
    assert_eq!(f.severity, Severity::High);
    assert!(f.message.contains("mds"), "{}", f.message);
    // "SMT vulnerable" is not "Vulnerable": the CPU rule stays silent.
    silent(&eval, "host.cpu-vulnerable");
}

#[test]
fn smt_other_states_are_silent_and_unknown_is_unknown() {
    for state in ["off", "forceoff", "notsupported", "notimplemented"] {
        let mut s = benign();
        s.host.smt_control = Probe::found(state.to_string());
        silent(&evaluate(&s), "host.smt-enabled");
    }
    let mut s = benign();
    s.host.smt_control = Probe::absent("/sys/devices/system/cpu/smt/control");
    let eval = evaluate(&s);
    assert!(host_findings(&eval, "host.smt-enabled").is_empty());
    assert_eq!(unknown_reasons(&eval, "host.smt-enabled").len(), 1);
}

#[test]
fn cpu_vulnerable_one_finding_per_vulnerable_file() {
    let mut s = benign();
    if let Probe::Found { value } = &mut s.host.cpu_vulnerabilities {
        // From the debian12-nested-pvm capture.
        value.insert(
            "spec_rstack_overflow".to_string(),
            "Vulnerable: Safe RET, no microcode".to_string(),
        );
        value.insert("spec_store_bypass".to_string(), "Vulnerable".to_string());
    }
    let eval = evaluate(&s);
    let found = host_findings(&eval, "host.cpu-vulnerable");
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|f| f.severity == Severity::High));
    let keys: Vec<Option<&str>> = found.iter().map(|f| loc_key(f)).collect();
    assert_eq!(
        keys,
        [Some("spec_rstack_overflow"), Some("spec_store_bypass")]
    );
    assert_eq!(
        loc_path(found[1]),
        Path::new("/sys/devices/system/cpu/vulnerabilities/spec_store_bypass")
    );
    assert_eq!(
        found[0].evidence,
        "spec_rstack_overflow: Vulnerable: Safe RET, no microcode"
    );
}

#[test]
fn cpu_vulnerable_unknown_without_the_directory() {
    let mut s = benign();
    s.host.cpu_vulnerabilities = Probe::absent("/sys/devices/system/cpu/vulnerabilities");
    let eval = evaluate(&s);
    assert!(host_findings(&eval, "host.cpu-vulnerable").is_empty());
    assert_eq!(unknown_reasons(&eval, "host.cpu-vulnerable").len(), 1);
}

// --- Kernel command line -----------------------------------------------------------------

fn with_cmdline(s: &mut Snapshot, cmdline: &str) {
    s.host.cmdline = Probe::found(cmdline.split_whitespace().map(str::to_string).collect());
}

#[test]
fn mitigations_disabled_on_the_real_capture_cmdline() {
    let mut s = benign();
    with_cmdline(
        &mut s,
        "mitigations=auto,no_guest_host,no_guest_guest console=ttyS0 quiet reboot=k panic=1 nomodule",
    );
    let eval = evaluate(&s);
    let f = single(&eval, "host.mitigations-disabled");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.evidence, "mitigations=auto,no_guest_host,no_guest_guest");
    assert_eq!(loc_path(f), Path::new("/proc/cmdline"));
    assert_eq!(loc_key(f), Some("mitigations"));
}

#[test]
fn mitigations_disabled_one_finding_per_token() {
    let mut s = benign();
    with_cmdline(
        &mut s,
        "ro quiet mitigations=off nopti l1tf=off spectre_v2=auto",
    );
    let eval = evaluate(&s);
    let evidence: Vec<&str> = host_findings(&eval, "host.mitigations-disabled")
        .iter()
        .map(|f| f.evidence.as_str())
        .collect();
    assert_eq!(evidence, ["mitigations=off", "nopti", "l1tf=off"]);
}

#[test]
fn mitigations_unknown_without_cmdline() {
    let mut s = benign();
    s.host.cmdline = Probe::denied("/proc/cmdline");
    let eval = evaluate(&s);
    assert!(host_findings(&eval, "host.mitigations-disabled").is_empty());
    assert_eq!(
        unknown_reasons(&eval, "host.mitigations-disabled"),
        ["permission denied reading /proc/cmdline"]
    );
}

// --- Kernel settings ---------------------------------------------------------------------

#[test]
fn ksm_fires_only_when_running() {
    for (run, fires) in [("1", true), ("0", false), ("2", false)] {
        let mut s = benign();
        s.host.ksm_run = Probe::found(run.to_string());
        let eval = evaluate(&s);
        if fires {
            let f = single(&eval, "host.ksm-enabled");
            assert_eq!(f.severity, Severity::Medium);
            assert_eq!(f.evidence, "ksm/run = 1");
            assert_eq!(loc_path(f), Path::new("/sys/kernel/mm/ksm/run"));
        } else {
            silent(&eval, "host.ksm-enabled");
        }
    }
    let mut s = benign();
    s.host.ksm_run = Probe::absent("/sys/kernel/mm/ksm/run");
    assert_eq!(unknown_reasons(&evaluate(&s), "host.ksm-enabled").len(), 1);
}

#[test]
fn unprivileged_bpf_fires_only_on_zero() {
    for (value, fires) in [("0", true), ("1", false), ("2", false)] {
        let mut s = benign();
        s.host.unprivileged_bpf_disabled = Probe::found(value.to_string());
        let eval = evaluate(&s);
        if fires {
            let f = single(&eval, "host.unprivileged-bpf");
            assert_eq!(f.severity, Severity::Medium);
            assert_eq!(
                loc_path(f),
                Path::new("/proc/sys/kernel/unprivileged_bpf_disabled")
            );
        } else {
            silent(&eval, "host.unprivileged-bpf");
        }
    }
    let mut s = benign();
    s.host.unprivileged_bpf_disabled = Probe::unsupported("garbage in unprivileged_bpf_disabled");
    assert_eq!(
        unknown_reasons(&evaluate(&s), "host.unprivileged-bpf").len(),
        1
    );
}

#[test]
fn no_mandatory_access_control_without_apparmor_or_selinux() {
    let mut s = benign();
    s.host.lsm = Probe::found(vec!["lockdown".into(), "capability".into(), "yama".into()]);
    let eval = evaluate(&s);
    let f = single(&eval, "host.no-mandatory-access-control");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.evidence, "lsm = lockdown,capability,yama");
    assert_eq!(loc_path(f), Path::new("/sys/kernel/security/lsm"));

    s.host.lsm = Probe::found(vec!["capability".into(), "selinux".into()]);
    silent(&evaluate(&s), "host.no-mandatory-access-control");

    s.host.lsm = Probe::absent("/sys/kernel/security/lsm");
    let eval = evaluate(&s);
    assert!(host_findings(&eval, "host.no-mandatory-access-control").is_empty());
    assert_eq!(
        unknown_reasons(&eval, "host.no-mandatory-access-control").len(),
        1
    );
}

#[test]
fn swap_fires_when_any_area_is_listed() {
    let mut s = benign();
    s.host.swaps = Probe::found(vec!["/dev/sda2".into(), "/swapfile".into()]);
    let eval = evaluate(&s);
    let f = single(&eval, "host.swap-enabled");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.evidence, "swap areas: /dev/sda2, /swapfile");
    assert_eq!(loc_path(f), Path::new("/proc/swaps"));

    s.host.swaps = Probe::denied("/proc/swaps");
    let eval = evaluate(&s);
    assert!(host_findings(&eval, "host.swap-enabled").is_empty());
    assert_eq!(unknown_reasons(&eval, "host.swap-enabled").len(), 1);
}

// --- KVM module parameters ---------------------------------------------------------------

fn set_param(s: &mut Snapshot, module: &str, name: &str, value: &str) {
    if let Probe::Found { value: modules } = &mut s.host.kvm.modules {
        modules
            .entry(module.to_string())
            .or_default()
            .insert(name.to_string(), value.to_string());
    }
}

#[test]
fn nested_virtualization_fires_on_y_or_1() {
    for (module, value, fires) in [
        ("kvm_intel", "Y", true),
        ("kvm_amd", "1", true),
        ("kvm_intel", "N", false),
        ("kvm_amd", "0", false),
    ] {
        let mut s = benign();
        set_param(&mut s, module, "nested", value);
        let eval = evaluate(&s);
        if fires {
            let f = single(&eval, "host.nested-virtualization-enabled");
            assert_eq!(f.severity, Severity::Low);
            assert_eq!(
                loc_path(f),
                Path::new(&format!("/sys/module/{module}/parameters/nested"))
            );
            assert_eq!(f.evidence, format!("{module} nested = {value}"));
        } else {
            silent(&eval, "host.nested-virtualization-enabled");
        }
    }
}

#[test]
fn module_rules_are_unknown_when_modules_are_unreadable() {
    let mut s = benign();
    s.host.kvm.modules = Probe::denied("/sys/module");
    let eval = evaluate(&s);
    for rule in [
        "host.nested-virtualization-enabled",
        "host.confidential-computing-unused",
    ] {
        assert!(host_findings(&eval, rule).is_empty());
        assert_eq!(
            unknown_reasons(&eval, rule),
            ["permission denied reading /sys/module"]
        );
    }
}

#[test]
fn confidential_computing_unused_when_snp_is_on_and_no_config_uses_it() {
    let mut s = benign();
    set_param(&mut s, "kvm_amd", "sev_snp", "Y");
    s.kata = vec![kata_config(
        "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml",
        &[(
            "hypervisor.qemu.confidential_guest",
            ConfigValue::Bool(false),
        )],
    )];
    let eval = evaluate(&s);
    let f = single(&eval, "host.confidential-computing-unused");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.evidence, "kvm_amd sev_snp = Y");
    assert_eq!(
        loc_path(f),
        Path::new("/sys/module/kvm_amd/parameters/sev_snp")
    );

    s.kata.push(kata_config(
        "/opt/kata/share/defaults/kata-containers/configuration-qemu-snp.toml",
        &[(
            "hypervisor.qemu.confidential_guest",
            ConfigValue::Bool(true),
        )],
    ));
    silent(&evaluate(&s), "host.confidential-computing-unused");
}

#[test]
fn confidential_computing_unused_for_tdx() {
    let mut s = benign();
    set_param(&mut s, "kvm_intel", "tdx", "1");
    let f = single(&evaluate(&s), "host.confidential-computing-unused").clone();
    assert_eq!(f.evidence, "kvm_intel tdx = 1");
}

// --- The real capture, as hand-built facts -----------------------------------------------

/// The facts of `debian12-nested-pvm` (an AMD EPYC VM with a paravirtual KVM), as the host
/// collector should report them.
fn nested_pvm() -> Snapshot {
    let mut s = benign();
    if let Probe::Found { value } = &mut s.host.cpu {
        value.vendor = CpuVendor::Amd;
        value.vendor_id = "AuthenticAMD".to_string();
        value.model_name = Some("AMD EPYC".to_string());
        value.flags = ["fpu", "sse2", "hypervisor", "avx2"]
            .iter()
            .map(|f| f.to_string())
            .collect();
    }
    s.host.kvm.device = Probe::found(FileStat {
        path: PathBuf::from("/dev/kvm"),
        kind: FileKind::CharDevice,
        mode: 0o600,
        uid: 0,
        gid: 0,
    });
    let mut modules = BTreeMap::new();
    modules.insert("kvm".to_string(), params(&[("nx_huge_pages", "N")]));
    modules.insert("kvm_pvm".to_string(), params(&[("pvm_native", "Y")]));
    s.host.kvm.modules = Probe::found(modules);
    s.host.iommu = IommuFacts {
        groups: Probe::found(0),
        dmar_table: Probe::found(false),
        ivrs_table: Probe::found(false),
        cmdline_flags: Vec::new(),
    };
    s.host.firmware = FirmwareFacts {
        boot_mode: Probe::found(BootMode::LegacyBios),
        secure_boot: Probe::absent("/sys/firmware/efi"),
    };
    s.host.smt_control = Probe::found("notsupported".to_string());
    s.host.cpu_vulnerabilities = Probe::found(params(&[
        ("meltdown", "Not affected"),
        ("spec_rstack_overflow", "Vulnerable: Safe RET, no microcode"),
        ("spec_store_bypass", "Vulnerable"),
        ("spectre_v2", "Mitigation: Retpolines; STIBP: disabled; RSB filling; PBRSB-eIBRS: Not affected; BHI: Not affected"),
    ]));
    with_cmdline(
        &mut s,
        "mitigations=auto,no_guest_host,no_guest_guest console=ttyS0 quiet reboot=k panic=1 nomodule rdinit=/process_api -- --firecracker-init",
    );
    s.host.ksm_run = Probe::found("0".to_string());
    s.host.swaps = Probe::found(Vec::new());
    s.host.unprivileged_bpf_disabled = Probe::found("2".to_string());
    s.host.lsm = Probe::absent("/sys/kernel/security/lsm");
    s
}

#[test]
fn nested_pvm_capture_gives_the_expected_host_findings() {
    let eval = evaluate(&nested_pvm());
    let mut fired: Vec<(&str, Severity)> = eval
        .findings
        .iter()
        .filter(|f| f.rule.as_str().starts_with("host."))
        .map(|f| (f.rule.as_str(), f.severity))
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        [
            ("host.cpu-vulnerable", Severity::High),
            ("host.cpu-vulnerable", Severity::High),
            ("host.iommu-disabled", Severity::Low),
            ("host.mitigations-disabled", Severity::High),
            ("host.nested-host", Severity::Info),
            ("host.secure-boot-disabled", Severity::Low),
            ("host.virtualization-extensions-missing", Severity::Medium),
        ]
    );
    let unknown: Vec<&str> = eval
        .unknown
        .iter()
        .filter(|u| u.rule.as_str().starts_with("host."))
        .map(|u| u.rule.as_str())
        .collect();
    assert_eq!(unknown, ["host.no-mandatory-access-control"]);
    // On a VM the CPU data describes virtual CPUs, and the findings say so.
    let vulnerable = host_findings(&eval, "host.cpu-vulnerable");
    assert!(vulnerable[0].message.contains("virtual CPUs"));
}

#[test]
fn every_host_finding_has_a_location_evidence_and_references() {
    let mut s = nested_pvm();
    s.host.ksm_run = Probe::found("1".to_string());
    s.host.swaps = Probe::found(vec!["/swapfile".into()]);
    s.host.unprivileged_bpf_disabled = Probe::found("0".to_string());
    s.host.smt_control = Probe::found("on".to_string());
    let eval = evaluate(&s);
    let host: Vec<_> = eval
        .findings
        .iter()
        .filter(|f| f.rule.as_str().starts_with("host."))
        .collect();
    assert!(host.len() >= 10);
    for f in host {
        let loc = f
            .location
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no location", f.rule.as_str()));
        assert!(loc.path.is_absolute(), "{}", f.rule.as_str());
        assert!(!f.evidence.is_empty() && !f.remediation.is_empty() && !f.message.is_empty());
        assert!(!f.references.is_empty());
    }
}

#[test]
fn evaluation_is_deterministic() {
    let s = nested_pvm();
    let a = evaluate(&s);
    let b = evaluate(&s);
    assert_eq!(a.findings, b.findings);
    assert_eq!(a.unknown, b.unknown);
}

/// Issue 11, item 14: an ordinary user may not open /dev/kvm, which root uses fine. That is
/// unknown (saying the scan ran unprivileged), never "KVM is unavailable" with a firmware fix.
#[test]
fn item14_kvm_refused_to_an_unprivileged_scan_is_unknown_not_a_finding() {
    let mut s = benign();
    s.live = true;
    s.collector_uid = Some(1000);
    s.host.kvm.api_version = Probe::denied("/dev/kvm");
    let eval = evaluate(&s);
    assert!(host_findings(&eval, "host.kvm-unavailable").is_empty());
    assert_eq!(
        unknown_reasons(&eval, "host.kvm-unavailable"),
        vec!["permission denied opening /dev/kvm; the scan ran unprivileged (uid 1000): run hvguard as root to check KVM"]
    );
    // Refused to root (an LSM, say) is unknown too, without the note.
    s.collector_uid = Some(0);
    let eval = evaluate(&s);
    assert!(host_findings(&eval, "host.kvm-unavailable").is_empty());
    assert_eq!(
        unknown_reasons(&eval, "host.kvm-unavailable"),
        vec!["permission denied opening /dev/kvm"]
    );
}
