//! Behaviour of the text report beyond its snapshot.

mod common;

use hvguard_core::{Finding, Location, Report, RuleId, Severity};
use hvguard_report::{render_text, TextStyle};
use std::path::PathBuf;

const OFF: TextStyle = TextStyle {
    colour: false,
    verbose: false,
};
const ON: TextStyle = TextStyle {
    colour: true,
    verbose: false,
};

#[test]
fn empty_report_says_no_findings_cleanly() {
    let text = render_text(&common::empty_report(), OFF);
    assert!(text.contains("\nNo findings.\n"), "{text}");
    assert!(text.contains("Hypervisors: none found"), "{text}");
    assert!(text.contains("Unknown checks: none"), "{text}");
    assert!(
        text.ends_with("Summary: 0 critical, 0 high, 0 medium, 0 low, 0 info \u{2014} 0 findings, 0 checks unknown\n"),
        "{text}"
    );
    assert!(
        !text.contains("CRITICAL") && !text.contains("INFO ("),
        "{text}"
    );
}

#[test]
fn no_escape_codes_without_colour_and_some_with_it() {
    let report = common::sample_report();
    assert!(!render_text(&report, OFF).contains('\u{1b}'));
    let coloured = render_text(&report, ON);
    assert!(coloured.contains('\u{1b}'));
    // Colour only decorates: stripping the codes gives the plain report back.
    assert_eq!(strip_ansi(&coloured), render_text(&report, OFF));
}

#[test]
fn groups_most_severe_first_with_everything_under_each_finding() {
    let text = render_text(&common::sample_report(), OFF);
    let order: Vec<usize> = [
        "CRITICAL (2)",
        "HIGH (4)",
        "MEDIUM (1)",
        "LOW (1)",
        "INFO (1)",
    ]
    .iter()
    .map(|h| {
        text.find(h)
            .unwrap_or_else(|| panic!("missing {h} in\n{text}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    for needle in [
        "kata-node-07",
        "root: /",
        "os: Debian GNU/Linux 12 (bookworm)",
        "kernel: 6.1.0-41-amd64",
        "at: /etc/kata-containers/configuration.toml:212 (key hypervisor.qemu.seccompsandbox)",
        "evidence: seccompsandbox = \"\"",
        "fix: seccompsandbox = \"on,obsolete=deny,spawn=deny,resourcecontrol=deny\"",
        "ref: https://example.org/hvguard/qemu.seccomp-sandbox-off",
        "advisory: CVE-2024-3446 (vulnerable; aliases GHSA-9c6w-2qxx-3c9m; CVSS 8.2",
        "unknown host.secure-boot-disabled: no EFI variables under /sys/firmware/efi",
        "version: 7.2.22 (from embedded version string)",
        "package: qemu-system-x86 1:7.2+dfsg-7+deb12u18+b3 (dpkg; source qemu 1:7.2+dfsg-7+deb12u18)",
        "version: 8.2.0 (from Kata release table)",
        "kata release: 3.3.0",
        "Summary: 2 critical, 4 high, 1 medium, 1 low, 1 info \u{2014} 9 findings, 2 checks unknown",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
}

#[test]
fn host_text_cannot_drive_the_terminal() {
    let mut report: Report = common::empty_report();
    report.findings.push(Finding {
        rule: RuleId::new("kata.guest-hook-path-set").unwrap_or_else(|e| panic!("{e}")),
        severity: Severity::Medium,
        title: "guest hooks".to_string(),
        message: "first line\nsecond line".to_string(),
        location: Some(Location {
            path: PathBuf::from("/etc/kata-containers/\u{1b}[2Jevil.toml"),
            line: Some(3),
            key: None,
        }),
        evidence: "guest_hook_path = \"\u{1b}]0;owned\u{7}\"".to_string(),
        remediation: "remove it".to_string(),
        references: vec![],
        advisory: None,
    });
    report.summary = hvguard_core::Summary::of(&report.findings);
    let text = render_text(&report, OFF);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text}"
    );
    assert!(text.contains("\\u{1b}[2Jevil.toml:3"), "{text}");
    // A multi-line message stays under its label instead of breaking the layout.
    assert!(
        text.contains("    message: first line\n      second line\n"),
        "{text}"
    );
    assert!(text.contains("1 finding, 0 checks unknown"), "{text}");
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Advisories that could not be judged: one line per package by default, every one with its
/// reason with `verbose`; other unknown checks are always listed.
#[test]
fn unknown_advisories_are_summarised_per_package_unless_verbose() {
    use hvguard_core::{Report, ReportHost, RuleId, UnknownAdvisory, UnknownCheck};
    let rule = RuleId::new("advisory.vulnerable").unwrap();
    let binaries: Vec<std::path::PathBuf> = vec![
        "/usr/bin/qemu-system-x86_64".into(),
        "/usr/bin/qemu-system-x86_64-microvm".into(),
    ];
    let unknown = |id: &str| UnknownCheck {
        rule: rule.clone(),
        reason: format!("{id} on qemu-system-x86 (2 binaries): no affected range"),
        advisory: Some(UnknownAdvisory {
            id: id.into(),
            product: "qemu".into(),
            package: Some("qemu-system-x86".into()),
            binaries: binaries.clone(),
            reason: "no affected range".into(),
        }),
    };
    let mut checks = vec![unknown("CVE-2023-1386"), unknown("CVE-2024-8612")];
    checks.push(UnknownCheck::new(
        RuleId::new("host.secure-boot-disabled").unwrap(),
        "no EFI variables",
    ));
    let report = Report::new(
        "2026-11-27T12:00:00Z".into(),
        ReportHost {
            hostname: Some("h".into()),
            root: "/".into(),
            kernel: None,
            os: None,
        },
        Vec::new(),
        checks,
        Vec::new(),
    );
    let short = render_text(&report, OFF);
    assert!(short.contains("Unknown checks (3)"), "{short}");
    assert!(
        short.contains("unknown host.secure-boot-disabled: no EFI variables"),
        "{short}"
    );
    assert!(
        short.contains("unknown advisory.vulnerable: 2 advisories on qemu-system-x86 (/usr/bin/qemu-system-x86_64 and 1 more binaries) could not be judged (no usable range, or none for this version): CVE-2023-1386, CVE-2024-8612 (`--verbose` lists each reason)"),
        "{short}"
    );
    let long = render_text(
        &report,
        TextStyle {
            colour: false,
            verbose: true,
        },
    );
    assert!(
        long.contains("CVE-2023-1386 on qemu-system-x86 (2 binaries): no affected range"),
        "{long}"
    );
    assert!(
        long.contains("CVE-2024-8612 on qemu-system-x86 (2 binaries): no affected range"),
        "{long}"
    );
    assert!(!long.contains("`--verbose` lists"), "{long}");
}
