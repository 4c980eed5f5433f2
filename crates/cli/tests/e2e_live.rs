//! Tests on the machine the suite runs on: the live root and Debian's real QEMU.

// Test and bench helpers: a failed setup step should stop with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;

#[test]
fn live_scan_names_this_hosts_real_facts() {
    let (code, report) = scan_json(std::path::Path::new("/"), &[]);
    assert!(matches!(code, 0 | 1), "exit {code}");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    assert_eq!(report["host"]["kernel"], kernel.trim());
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(report["host"]["hostname"], hostname.trim());
    assert_eq!(report["host"]["root"], "/");
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("cpuinfo");
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let rules = rules_of(&report);
    let fired = |id: &str| rules.iter().any(|(r, _)| r == id);
    assert_eq!(fired("host.nested-host"), has("hypervisor"));
    assert_eq!(
        fired("host.virtualization-extensions-missing"),
        !has("vmx") && !has("svm")
    );
    eprintln!("live scan: exit {code:?}, findings {rules:?}");
}

#[test]
fn debian_qemu_version_comes_from_the_binary() {
    hvguard_testkit::require!(
        hvguard_testkit::file_exists("/usr/bin/qemu-system-x86_64"),
        "Debian's qemu-system-x86 (/usr/bin/qemu-system-x86_64)",
        "apt-get install qemu-system-x86; .ci/run installs it"
    );
    let (_, report) = scan_json(std::path::Path::new("/"), &[]);
    let qemu = report["hypervisors"]
        .as_array()
        .expect("hypervisors")
        .iter()
        .find(|h| h["path"] == "/usr/bin/qemu-system-x86_64")
        .expect("Debian's QEMU in the inventory");
    assert_eq!(qemu["version_source"], "binary-string");
    let evidence = qemu["version_evidence"].as_str().expect("evidence");
    assert!(evidence.starts_with("QEMU emulator version "), "{evidence}");
    assert!(evidence.contains(qemu["version"].as_str().expect("version")));
    assert_eq!(qemu["package"]["name"], "qemu-system-x86");
    assert_eq!(qemu["package"]["source"], "qemu");
}

#[test]
fn no_cve_debian_lists_as_fixed_is_reported_for_the_live_qemu() {
    let changelog = "/usr/share/doc/qemu-system-x86/changelog.Debian.gz";
    hvguard_testkit::require!(
        hvguard_testkit::file_exists(changelog),
        "Debian's qemu-system-x86 changelog (/usr/share/doc/qemu-system-x86/changelog.Debian.gz)",
        "apt-get install qemu-system-x86; .ci/run installs it"
    );
    hvguard_testkit::require!(
        hvguard_testkit::tool_on_path("zcat"),
        "zcat (Debian package gzip)",
        "apt-get install gzip"
    );
    // Read the changelog independently of hvguard's own parser.
    let text = std::process::Command::new("zcat")
        .arg(changelog)
        .output()
        .expect("zcat runs");
    let text = String::from_utf8_lossy(&text.stdout);
    let fixed: std::collections::BTreeSet<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("CVE-") && w.len() >= 13)
        .map(str::to_string)
        .collect();
    assert!(
        fixed.len() > 10,
        "the changelog names CVEs: {}",
        fixed.len()
    );
    let (_, report) = scan_json(std::path::Path::new("/"), &[]);
    let reported: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "advisory.vulnerable")
        .filter(|f| {
            f["location"]["path"]
                .as_str()
                .is_some_and(|p| p.contains("qemu-system"))
        })
        .map(|f| f["advisory"]["id"].as_str().unwrap_or_default().to_string())
        .collect();
    for id in &reported {
        assert!(
            !fixed.contains(id),
            "{id} is fixed per Debian's changelog but reported"
        );
    }
    eprintln!(
        "live QEMU: {} CVEs fixed per changelog, reported: {reported:?}",
        fixed.len()
    );
}
