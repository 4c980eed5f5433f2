//! This host's part: installed binaries with the matcher's open advisories, the configurations
//! with their isolation, guest integrity and choice, on the kata-static + kata-deploy fixture
//! (static Kata 3.20.0, the real 3.20.0 configurations).

mod common;

use std::path::Path;

use hvguard_advisory::matching::match_snapshot;
use hvguard_advisory::policy::Policy;
use hvguard_compare::facts::Feature;
use hvguard_compare::model::ConfigView;
use hvguard_compare::CompareKind;

const RUNTIMES: &str = "/opt/kata/share/defaults/kata-containers/runtimes";

fn config<'a>(c: &'a hvguard_compare::Comparison, path: &str) -> &'a ConfigView {
    c.host
        .configs
        .iter()
        .find(|v| v.path == Path::new(path))
        .unwrap_or_else(|| {
            panic!(
                "{path} not in {:?}",
                c.host.configs.iter().map(|v| &v.path).collect::<Vec<_>>()
            )
        })
}

#[test]
fn installed_binaries_carry_the_matchers_open_advisories() {
    let snapshot = common::fixture_snapshot();
    let advisories = common::shipped();
    let c = common::comparison(&snapshot, &advisories, None);
    let outcome = match_snapshot(&snapshot, &advisories, &Policy::default(), common::today());
    let qemu = c
        .hypervisors
        .iter()
        .find(|h| h.kind == CompareKind::Qemu)
        .expect("qemu");
    assert_eq!(qemu.installed.len(), 1);
    let binary = &qemu.installed[0];
    assert_eq!(binary.path, Path::new("/opt/kata/bin/qemu-system-x86_64"));
    // The same set the matcher reports for that binary: no second matcher.
    let mut expected: Vec<String> = outcome
        .findings
        .iter()
        .filter(|f| f.location.as_ref().is_some_and(|l| l.path == binary.path))
        .filter_map(|f| f.advisory.as_ref().map(|a| a.id.clone()))
        .collect();
    expected.sort();
    expected.dedup();
    let got: Vec<String> = binary
        .open_advisories
        .iter()
        .map(|a| a.id.clone())
        .collect();
    assert!(!got.is_empty());
    assert_eq!(got, expected);
    // The runtimes/qemu configuration names this very binary.
    assert!(binary
        .used_by
        .contains(&Path::new(RUNTIMES).join("qemu/configuration-qemu.toml")));
    let fc = c
        .hypervisors
        .iter()
        .find(|h| h.kind == CompareKind::Firecracker)
        .expect("firecracker");
    assert_eq!(fc.installed[0].version.as_deref(), Some("1.12.1"));
    assert!(c
        .hypervisors
        .iter()
        .find(|h| h.kind == CompareKind::Remote)
        .is_some_and(|h| h.installed.is_empty()));
}

#[test]
fn configurations_are_judged_from_their_own_values() {
    let c = common::comparison(&common::fixture_snapshot(), &common::shipped(), None);
    assert_eq!(c.host.kata_release.as_deref(), Some("3.20.0"));

    let qemu = config(&c, &format!("{RUNTIMES}/qemu/configuration-qemu.toml"));
    assert_eq!(qemu.hypervisor, Some(CompareKind::Qemu));
    assert_eq!(qemu.runtime_classes, ["kata-qemu"]);
    assert_eq!(qemu.needs, [Feature::VirtioFs]);
    // 3.20.0 comments seccompsandbox out.
    assert_eq!(qemu.isolation.seccomp.state, "off");
    assert_eq!(qemu.isolation.jailer.state, "not-applicable");
    // QEMU is not the strongest for virtio-fs: Cloud Hypervisor ranks above it.
    assert_eq!(qemu.choice.strongest, Some(false));
    assert_eq!(
        qemu.choice.candidates.first().map(|c| c.kind),
        Some(CompareKind::CloudHypervisor)
    );
    assert!(qemu
        .choice
        .would_change
        .iter()
        .any(|w| w.contains("seccompsandbox")));
    assert!(qemu
        .choice
        .would_change
        .iter()
        .any(|w| w.starts_with("Firecracker ranks above QEMU on isolation but lacks virtio-fs")));
    // Integrity: no firmware, no confidential guest, and 3.20.0 predates kernel_verity_params.
    assert_eq!(qemu.integrity.firmware.state, "off");
    assert_eq!(qemu.integrity.measured_boot.state, "off");
    let verity = &qemu.integrity.verified_rootfs;
    assert_eq!(verity.state, "off");
    assert!(
        verity
            .to_enable
            .as_deref()
            .is_some_and(|t| t.starts_with("Kata 3.20.0 predates kernel_verity_params (3.27.0)")),
        "{verity:?}"
    );

    let fc = config(&c, &format!("{RUNTIMES}/fc/configuration-fc.toml"));
    assert_eq!(fc.hypervisor, Some(CompareKind::Firecracker));
    assert_eq!(fc.isolation.jailer.state, "on");
    assert_eq!(fc.isolation.seccomp.state, "on");
    assert_eq!(fc.choice.strongest, Some(true));
    assert_eq!(fc.integrity.measured_boot.state, "unsupported");

    let clh = config(&c, &format!("{RUNTIMES}/clh/configuration-clh.toml"));
    assert_eq!(clh.choice.strongest, Some(true));

    let dragonball = config(
        &c,
        &format!("{RUNTIMES}/dragonball/configuration-dragonball.toml"),
    );
    assert_eq!(dragonball.hypervisor, Some(CompareKind::Dragonball));
    assert_eq!(dragonball.runtime, "rs");
    assert_eq!(dragonball.choice.strongest, Some(false));
}

#[test]
fn confidential_computing_is_read_from_the_host_facts() {
    // kata-static is an Intel host whose kvm_intel has no tdx parameter.
    let c = common::comparison(&common::fixture_snapshot(), &common::shipped(), None);
    assert_eq!(c.host.sev_snp.state, "disabled");
    assert!(c.host.sev_snp.evidence.contains("GenuineIntel"));
    assert_eq!(c.host.tdx.state, "disabled");

    // amd-sev-snp-hardened: kvm_amd sev_snp=Y.
    let root = hvguard_core::HostRoot::new(common::hosts("amd-sev-snp-hardened")).expect("root");
    let snapshot = hvguard_host::collect(&root, &hvguard_host::CollectOptions::default());
    let c = common::comparison(&snapshot, &common::shipped(), None);
    assert_eq!(c.host.sev_snp.state, "enabled");
    assert_eq!(c.host.sev_snp.evidence, "kvm_amd sev_snp = Y");
    assert_eq!(c.host.sev_snp.to_enable, None);
    assert!(c
        .host
        .tdx
        .to_enable
        .as_deref()
        .is_some_and(|t| t.contains("Intel CPU")));
    assert!(c.host.configs.is_empty());
}
