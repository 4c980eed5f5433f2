//! `rpm -qa --qf` output parsing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::PackageManager;
use hvguard_host::packages::rpm::{parse_rpm_qa, split_source_rpm, QA_QUERY_FORMAT};

#[test]
fn rhel9_vectors() {
    let out = "qemu-kvm-core\t17:8.2.0-11.el9_4\tx86_64\tqemu-kvm-8.2.0-11.el9_4.src.rpm\n\
               glibc\t0:2.34-100.el9_4.2\tx86_64\tglibc-2.34-100.el9_4.2.src.rpm\n\
               gpg-pubkey\t0:fd431d51-4ae0493b\t(none)\t(none)\n\
               \n\
               virtiofsd\t0:1.10.1-1.el9\tx86_64\tvirtiofsd-1.10.1-1.el9.src.rpm\n";
    let p = parse_rpm_qa(out).unwrap();
    let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["glibc", "gpg-pubkey", "qemu-kvm-core", "virtiofsd"]);
    let q = &p[2];
    assert_eq!(q.manager, PackageManager::Rpm);
    assert_eq!(q.version, "17:8.2.0-11.el9_4");
    assert_eq!(q.source_name, "qemu-kvm");
    assert_eq!(q.source_version, "17:8.2.0-11.el9_4");
    assert_eq!(q.arch, "x86_64");
    assert_eq!(p[0].version, "2.34-100.el9_4.2");
    assert_eq!(
        (p[1].source_name.as_str(), p[1].arch.as_str()),
        ("gpg-pubkey", "(none)")
    );
    assert_eq!(p[3].source_version, "1.10.1-1.el9");
}

#[test]
fn source_names_with_dashes_and_nosrc() {
    assert_eq!(
        split_source_rpm("qemu-kvm-8.2.0-11.el9_4.src.rpm"),
        Some(("qemu-kvm", "8.2.0-11.el9_4"))
    );
    assert_eq!(
        split_source_rpm("edk2-20231122-6.el9_4.2.nosrc.rpm"),
        Some(("edk2", "20231122-6.el9_4.2"))
    );
    assert_eq!(split_source_rpm("qemu-kvm-8.2.0-11.el9_4.x86_64.rpm"), None);
}

#[test]
fn malformed_lines_name_the_line() {
    let err = parse_rpm_qa("a\t0:1-1\tx86_64\ta-1-1.src.rpm\nbroken line\n").unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = parse_rpm_qa("a\t1-1\tx86_64\ta-1-1.src.rpm\n").unwrap_err();
    assert!(err.to_string().contains("EPOCHNUM"), "{err}");
    let err = parse_rpm_qa("a\tx:1-1\tx86_64\ta-1-1.src.rpm\n").unwrap_err();
    assert!(err.to_string().contains("epoch"), "{err}");
    assert_eq!(parse_rpm_qa("").unwrap(), vec![]);
}

#[test]
fn query_format_matches_the_parser() {
    // Four tab-separated fields, epoch always present: what the parser requires.
    assert_eq!(QA_QUERY_FORMAT.matches("\\t").count(), 3);
    assert!(QA_QUERY_FORMAT.contains("%{EPOCHNUM}:%{VERSION}-%{RELEASE}"));
    assert!(QA_QUERY_FORMAT.ends_with("%{SOURCERPM}\\n"));
}
