//! End-to-end: the built binary on every fixture host root, checking findings, exit codes and
//! the three formats (snapshots in tests/snapshots/, timestamps and temp paths redacted).

// Test and bench helpers: a failed setup step should stop with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;

fn host_rules(report: &serde_json::Value) -> Vec<(String, String)> {
    rules_of(report)
        .into_iter()
        .filter(|(rule, _)| rule.starts_with("host."))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = expected
        .iter()
        .map(|(r, s)| (r.to_string(), s.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn intel_node_with_problems() {
    let root = materialise("intel-problems");
    let (code, report) = scan_json(root.path(), &[]);
    assert_eq!(code, 1, "high findings => exit 1");
    assert_eq!(
        host_rules(&report),
        pairs(&[
            ("host.cpu-vulnerable", "high"),
            ("host.iommu-disabled", "low"),
            ("host.ksm-enabled", "medium"),
            ("host.kvm-device-permissions", "high"),
            ("host.mitigations-disabled", "high"),
            ("host.nested-virtualization-enabled", "low"),
            ("host.no-mandatory-access-control", "medium"),
            ("host.secure-boot-disabled", "medium"),
            // SMT on while mds says "SMT vulnerable" => high, not medium.
            ("host.smt-enabled", "high"),
            ("host.swap-enabled", "low"),
            ("host.unprivileged-bpf", "medium"),
        ])
    );
    // mitigations=off and nopti: one finding per offending switch.
    assert_eq!(count_rule(&report, "host.mitigations-disabled"), 2);
    // Every host fact was read; only advisories without a machine-readable range are
    // unknown, and running processes (a fixture root is not a running host).
    assert!(report["unknown"]
        .as_array()
        .expect("unknown")
        .iter()
        .all(|u| u["rule"] == "advisory.vulnerable" || u["rule"] == "hypervisor.stale-process"));
    let perms = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "host.kvm-device-permissions")
        .expect("kvm permissions finding");
    assert_eq!(perms["location"]["path"], "/dev/kvm");
    assert!(perms["evidence"]
        .as_str()
        .expect("evidence")
        .contains("0666"));

    // Debian's QEMU 7.2.22: the CVEs its real changelog names as fixed are not reported
    // (fixed by backport); those the changelog and the tracker are silent on are judged by
    // the upstream range, and the finding says so.
    let advisories: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "advisory.vulnerable")
        .collect();
    let ids: Vec<&str> = advisories
        .iter()
        .map(|f| f["advisory"]["id"].as_str().unwrap_or_default())
        .collect();
    assert!(!ids.is_empty());
    for backported in ["CVE-2024-3446", "CVE-2023-3180", "CVE-2024-4467"] {
        assert!(
            !ids.contains(&backported),
            "{backported} is fixed in the changelog: {ids:?}"
        );
    }
    for finding in &advisories {
        assert_eq!(finding["location"]["path"], "/usr/bin/qemu-system-x86_64");
        assert_eq!(finding["advisory"]["status"], "vulnerable");
        let evidence = finding["evidence"].as_str().unwrap_or_default();
        assert!(evidence.contains("judged by upstream range"), "{evidence}");
    }
}

#[test]
fn amd_sev_snp_node_done_right() {
    let root = materialise("amd-sev-snp-hardened");
    let (code, report) = scan_json(root.path(), &[]);
    // SEV-SNP is on in kvm_amd but no Kata config asks for a confidential guest: info only.
    assert_eq!(
        rules_of(&report),
        pairs(&[("host.confidential-computing-unused", "info")])
    );
    // Ubuntu's QEMU 8.2.2 carries the fixes of every advisory in range (its changelog says
    // so): nothing is reported although upstream 8.2.2 is in several ranges.
    assert_eq!(code, 0);
    // Every host fact was read; only advisories without a machine-readable range are
    // unknown, and running processes (a fixture root is not a running host).
    assert!(report["unknown"]
        .as_array()
        .expect("unknown")
        .iter()
        .all(|u| u["rule"] == "advisory.vulnerable" || u["rule"] == "hypervisor.stale-process"));
}

#[test]
fn cloud_vm_without_kvm() {
    let root = materialise("cloud-vm-no-kvm");
    let (code, report) = scan_json(root.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        host_rules(&report),
        pairs(&[
            ("host.cpu-vulnerable", "high"),
            ("host.iommu-disabled", "low"),
            ("host.kvm-unavailable", "high"),
            ("host.nested-host", "info"),
            ("host.secure-boot-disabled", "low"),
            ("host.virtualization-extensions-missing", "medium"),
        ])
    );
    let qemu = &report["hypervisors"][0];
    assert_eq!(qemu["path"], "/usr/libexec/qemu-kvm");
    assert_eq!(qemu["version"], "8.2.0");
    assert_eq!(qemu["version_source"], "binary-string");
}

#[test]
fn static_kata_install() {
    let root = materialise("kata-static");
    let (_code, report) = scan_json(root.path(), &[]);
    let hypervisors = report["hypervisors"].as_array().expect("hypervisors");
    let find = |path: &str| {
        hypervisors
            .iter()
            .find(|h| h["path"] == path)
            .unwrap_or_else(|| panic!("{path} not in inventory: {hypervisors:#?}"))
    };
    let qemu = find("/opt/kata/bin/qemu-system-x86_64");
    assert_eq!(qemu["kata_release"], "3.20.0");
    assert!(
        qemu["package"].is_null(),
        "the static QEMU belongs to no package"
    );
    // Firecracker embeds no joined version string: the Kata 3.20.0 release table decides.
    let fc = find("/opt/kata/bin/firecracker");
    assert_eq!(fc["version_source"], "kata-versions");
    assert_eq!(fc["version"], "1.12.1");
    assert_eq!(find("/opt/kata/bin/jailer")["kind"], "jailer");
    // usr/local/bin/cloud-hypervisor links to it: the binary is listed once, under the path
    // found first.
    assert_eq!(
        find("/usr/local/bin/cloud-hypervisor")["kind"],
        "cloud-hypervisor"
    );
    assert_eq!(
        hypervisors
            .iter()
            .filter(|h| h["kind"] == "cloud-hypervisor")
            .count(),
        1
    );
    assert_eq!(find("/opt/kata/libexec/virtiofsd")["kind"], "virtiofsd");
}

#[test]
fn real_debian12_capture() {
    let root = materialise("debian12-nested-pvm");
    // STAT.txt of the capture records /dev/kvm as a 0600 root:root character device; git cannot
    // hold it, so stand it in as a file with that mode.
    std::fs::create_dir_all(root.path().join("dev")).expect("mkdir dev");
    std::fs::write(root.path().join("dev/kvm"), "").expect("dev/kvm");
    std::fs::set_permissions(
        root.path().join("dev/kvm"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let (code, report) = scan_json(root.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        host_rules(&report),
        pairs(&[
            // spec_rstack_overflow and spec_store_bypass read "Vulnerable..." in the capture.
            ("host.cpu-vulnerable", "high"),
            ("host.iommu-disabled", "low"),
            // mitigations=auto,no_guest_host,no_guest_guest
            ("host.mitigations-disabled", "high"),
            ("host.nested-host", "info"),
            ("host.secure-boot-disabled", "low"),
            ("host.virtualization-extensions-missing", "medium"),
        ])
    );
    assert_eq!(count_rule(&report, "host.cpu-vulnerable"), 2);
    // The capture has no securityfs and no smt/control readable as on/off => listed unknown.
    let unknown: Vec<&str> = report["unknown"]
        .as_array()
        .expect("unknown")
        .iter()
        .map(|u| u["rule"].as_str().unwrap_or_default())
        .collect();
    assert!(
        unknown.contains(&"host.no-mandatory-access-control"),
        "{unknown:?}"
    );
    assert_eq!(report["host"]["os"], "Debian GNU/Linux 12 (bookworm)");
}

#[test]
fn fail_on_threshold_decides_the_exit_code() {
    let root = materialise("amd-sev-snp-hardened");
    let (code, _) = scan_json(root.path(), &["--fail-on", "info"]);
    assert_eq!(code, 1, "an info finding at --fail-on info => 1");
    let root = materialise("intel-problems");
    let (code, _) = scan_json(root.path(), &["--fail-on", "critical"]);
    assert_eq!(code, 0, "no critical host finding => 0");
}

#[test]
fn collect_then_scan_snapshot_gives_the_same_findings() {
    let root = materialise("intel-problems");
    let collected = hvguard()
        .arg("collect")
        .arg("--root")
        .arg(root.path())
        .output()
        .expect("collect runs");
    assert!(collected.status.success());
    let snap = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(snap.path(), &collected.stdout).expect("write snapshot");
    let from_snapshot = hvguard()
        .args(["scan", "--format", "json", "--snapshot"])
        .arg(snap.path())
        .output()
        .expect("scan runs");
    assert_eq!(from_snapshot.status.code(), Some(1));
    let (_, direct) = scan_json(root.path(), &[]);
    let via: serde_json::Value = serde_json::from_slice(&from_snapshot.stdout).expect("json");
    assert_eq!(via["findings"], direct["findings"]);
    assert_eq!(via["unknown"], direct["unknown"]);
}

fn snapshot_of(fixture: &str, format: &str) -> String {
    let root = materialise(fixture);
    let output = hvguard()
        .arg("scan")
        .arg("--root")
        .arg(root.path())
        .args(["--format", format, "--color", "never"])
        .output()
        .expect("runs");
    normalise(&String::from_utf8_lossy(&output.stdout), root.path())
}

#[test]
fn formats_snapshot_intel_problems() {
    insta::assert_snapshot!("intel-problems.txt", snapshot_of("intel-problems", "text"));
    insta::assert_snapshot!("intel-problems.json", snapshot_of("intel-problems", "json"));
    insta::assert_snapshot!(
        "intel-problems.sarif",
        snapshot_of("intel-problems", "sarif")
    );
}

#[test]
fn formats_snapshot_other_fixtures() {
    for fixture in ["amd-sev-snp-hardened", "cloud-vm-no-kvm", "kata-static"] {
        insta::assert_snapshot!(format!("{fixture}.json"), snapshot_of(fixture, "json"));
    }
}

#[test]
fn sarif_is_valid_shape() {
    let root = materialise("intel-problems");
    let output = hvguard()
        .arg("scan")
        .arg("--root")
        .arg(root.path())
        .args(["--format", "sarif"])
        .output()
        .expect("runs");
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert!(rules
        .iter()
        .all(|r| r["helpUri"].as_str().is_some_and(|u| u.ends_with(".md"))));
    let results = run["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for result in results {
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
}
